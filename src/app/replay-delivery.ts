// Delivery of dead letters on replay (admin API): the same request the consumer sends — path,
// `kafka.*` metadata headers, the same `idempotency-key` (so a Restate ingress that already ran
// the record does not run it twice), forwarded record headers — built by the consumer's own
// request builder and sent through the consumer's HTTP sink, with a few quick retries for
// retryable failures. The service definition is read when the replay starts, so a fixed endpoint
// or handler declaration applies.
import { createHttpSink, type HttpSink } from "../adapters/http-sink.ts";
import { letterToRecord } from "../core/dead-letters.ts";
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { createRequestBuilder, sinkTarget } from "../core/invocation.ts";
import type { Subscription } from "../core/model.ts";
import { checkRecord, DEFAULT_MAX_REQUEST_BYTES, deliveryMode } from "../core/plan.ts";
import type { CatalogReader } from "../core/ports.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";
import {
  authorizationFor,
  authorizationRefusal,
  type SecretResolver,
  SecretUnavailableError,
  type SinkAuthorization,
} from "../core/secrets.ts";
import type { ReplayDelivery } from "./dead-letter-replay.ts";

export interface ReplayDeliveryOptions {
  readonly catalog: Pick<CatalogReader, "getService">;
  /** Reads a spilled (large) letter whole before it is delivered. */
  readonly deadLetters: Pick<DeadLetterStore, "whole">;
  /** Time one attempt may take. */
  readonly requestTimeoutMs: number;
  /** Attempts per letter for retryable failures (408, 429, 5xx, connection errors); default 3. */
  readonly maxAttempts?: number;
  /** Wait before the first retry, doubled per retry; default 200 ms. */
  readonly retryDelayMs?: number;
  /**
   * Bearer tokens of services that declare `auth`. Without one (the admin function on AWS, whose
   * role may not read sink secrets), replaying to such a service answers 409 saying why.
   */
  readonly secrets?: SecretResolver;
  /** Largest value replayed, as the consumer's MAX_REQUEST_BYTES (default 6 MiB). */
  readonly maxRequestBytes?: number;
  /** Test seam: the HTTP sink (default: a small undici pool). */
  readonly sink?: HttpSink;
}

export interface ReplayDeliveries {
  /** The delivery for one subscription's letters. Throws NotFoundError when its service is gone. */
  forSubscription(subscription: Subscription): Promise<ReplayDelivery>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createReplayDeliveries(options: ReplayDeliveryOptions): ReplayDeliveries {
  const sink =
    options.sink ?? createHttpSink({ connections: 4, requestTimeoutMs: options.requestTimeoutMs });
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 200;

  async function forSubscription(subscription: Subscription): Promise<ReplayDelivery> {
    const service = await options.catalog.getService(subscription.service);
    const handler = service?.handlers[subscription.handler];
    if (service === undefined || handler === undefined) {
      throw new NotFoundError(
        `service://${subscription.service}/${subscription.handler} is no longer registered`,
      );
    }
    const mode = deliveryMode(service.type, handler);
    let authorization: SinkAuthorization | undefined;
    try {
      authorization = await authorizationFor(service.auth, options.secrets);
    } catch (error) {
      if (!(error instanceof SecretUnavailableError)) throw error;
      throw new ConflictError(
        `service ${service.name} authenticates with a bearer token, but ${error.message}` +
          (options.secrets ? "" : " (this deployment does not read sink secrets for replays)"),
      );
    }
    let build = createRequestBuilder(
      sinkTarget(subscription, service, mode, authorization?.header),
    );
    const secretRef = service.auth?.bearer_token_secret;
    const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;

    return async (letter) => {
      const record = letterToRecord(await options.deadLetters.whole(letter));
      if (record === undefined) {
        return {
          ok: false,
          reason:
            "the letter does not hold the whole record (stored by an earlier version with its value behind a pointer): re-read it from Kafka, or discard it",
        };
      }
      // What the consumer refuses up front is refused here too, with the same reasons.
      const checked = checkRecord(record, mode, maxRequestBytes);
      if ("reason" in checked) return { ok: false, reason: checked.reason };
      const { objectKey } = checked;
      let request = build(record, objectKey);
      let reason = "not attempted";
      let tokenReread = false;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        // As in the consumer: the token goes only where its secret binds it, else nothing is sent.
        const refused = authorization && authorizationRefusal(authorization, request.url);
        if (refused) return { ok: false, reason: refused };
        const result = await sink.deliver(request, { timeoutMs: options.requestTimeoutMs });
        if (result.kind === "success") return { ok: true };
        reason = result.reason;
        if (result.status === 401 && secretRef !== undefined && options.secrets && !tokenReread) {
          // As in the consumer: the token may have been rotated; read it again, retry at once.
          tokenReread = true;
          options.secrets.forget?.(secretRef);
          try {
            authorization = await authorizationFor(service.auth, options.secrets);
          } catch (error) {
            return { ok: false, reason: `${reason}; the token could not be read again: ${error}` };
          }
          build = createRequestBuilder(
            sinkTarget(subscription, service, mode, authorization?.header),
          );
          request = build(record, objectKey);
          attempt--; // the re-read token gets its own attempt
          continue;
        }
        if (result.kind === "terminal") break;
        if (attempt < maxAttempts) await sleep(retryDelayMs * 2 ** (attempt - 1));
      }
      return { ok: false, reason };
    };
  }

  return { forSubscription, close: () => (options.sink ? Promise.resolve() : sink.close()) };
}
