// Delivery of dead letters on replay (admin API): the same request the consumer sends — path,
// `kafka.*` metadata headers, the same `idempotency-key` (so a Restate ingress that already ran
// the record does not run it twice), forwarded record headers — built by the consumer's own
// request builder and sent through the sink it is given (the consumer's HTTP sink) with the
// consumer's token handling (authorized-deliver.ts), with a few quick retries for retryable
// failures, all within the replay's deadline. The service definition is read when the replay
// starts, so a fixed endpoint or handler declaration applies.
import { type DeadLetter, letterToRecord } from "../core/dead-letters.ts";
import { ConflictError, NotFoundError, SecretUnavailableError } from "../core/errors.ts";
import { createRequestBuilder, type SinkRequest, sinkTarget } from "../core/invocation.ts";
import type { Subscription } from "../core/model.ts";
import { checkRecord, deliveryMode, type RecordLimits } from "../core/plan.ts";
import type { CatalogReader } from "../core/ports.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";
import { deliverInOrder, type LetterOutcome, MIN_REPLAY_START_MS } from "../core/replay-batch.ts";
import type { ReplayDelivery } from "../core/replay-ports.ts";
import {
  attemptTimeout,
  DEFAULT_BACKOFF,
  type Deliver,
  type RetryPolicy,
  sleep,
} from "../core/retry.ts";
import type { SecretResolver } from "../core/secrets.ts";
import { type AuthorizedDeliver, authorizedDeliver } from "./authorized-deliver.ts";

/** The sink a replay sends through, and how to release it when the replay is done. */
export interface ReplaySink {
  readonly deliver: Deliver<SinkRequest>;
  readonly close: () => Promise<void>;
}

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
  /** The consumer's MAX_REQUEST_BYTES and MAX_KEY_URL_BYTES (defaults 6 MiB and 2 KiB). */
  readonly limits?: RecordLimits;
  /** Where requests go: the consumer's HTTP sink (see wiring/consumer.ts). */
  readonly sink: ReplaySink;
  readonly now?: () => number;
}

/**
 * Delivers one letter (`letter` may be a `spilled` stub: it is read whole) with retries, every
 * attempt finishing by `deadline` (epoch ms). A letter whose first attempt cannot start or finish
 * before it is `deferred`; once an attempt has failed, running out of time is a failure.
 */
export type LetterDelivery = (letter: DeadLetter, deadline: number) => Promise<LetterOutcome>;

export interface ReplayDeliveries {
  /** Batches of one subscription's letters. Throws NotFoundError when its service is gone. */
  forSubscription(subscription: Subscription): Promise<ReplayDelivery>;
  /** One letter at a time (the consumer's side of a replay command). */
  letterDelivery(subscription: Subscription): Promise<LetterDelivery>;
  close(): Promise<void>;
}

export function createReplayDeliveries(options: ReplayDeliveryOptions): ReplayDeliveries {
  const { sink } = options;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 200;
  const now = options.now ?? Date.now;
  const policy: RetryPolicy = {
    ...DEFAULT_BACKOFF,
    maxAttempts,
    requestTimeoutMs: options.requestTimeoutMs,
    minAttemptMs: Math.min(MIN_REPLAY_START_MS, options.requestTimeoutMs),
  };

  async function letterDelivery(subscription: Subscription): Promise<LetterDelivery> {
    const service = await options.catalog.getService(subscription.service);
    const handler = service?.handlers[subscription.handler];
    if (service === undefined || handler === undefined) {
      throw new NotFoundError(
        `service://${subscription.service}/${subscription.handler} is no longer registered`,
      );
    }
    const mode = deliveryMode(service.type, handler);
    let authorized: AuthorizedDeliver;
    try {
      authorized = await authorizedDeliver({
        auth: service.auth,
        secrets: options.secrets,
        deliver: sink.deliver,
        // A token still refused after its re-read fails the letter, which stays a letter.
        rejectedToken: "as-answered",
        now,
      });
    } catch (error) {
      if (!(error instanceof SecretUnavailableError)) throw error;
      throw new ConflictError(
        `service ${service.name} authenticates with a bearer token, but ${error.message}` +
          (options.secrets ? "" : " (this deployment does not read sink secrets for replays)"),
      );
    }
    const build = createRequestBuilder(sinkTarget(subscription, service, mode));

    return async (letter, deadline) => {
      const record = letterToRecord(await options.deadLetters.whole(letter));
      if (record === undefined) {
        return {
          outcome: "failed",
          reason:
            "the letter does not hold the whole record (stored by an earlier version with its value behind a pointer): re-read it from Kafka, or discard it",
        };
      }
      // What the consumer refuses up front is refused here too, with the same reasons.
      const checked = checkRecord(record, mode, options.limits);
      if ("reason" in checked) return { outcome: "failed", reason: checked.reason };
      const request = build(record, checked.objectKey);
      let reason: string | undefined;
      // Out of time: a failure once an attempt has failed (a sink that hangs is reported, not
      // retried call after call), else the letter waits for the next replay.
      const outOfTime = (): LetterOutcome =>
        reason === undefined
          ? { outcome: "deferred" }
          : { outcome: "failed", reason: `${reason} (then the replay ran out of time)` };
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const startedAt = now();
        const timeoutMs = attemptTimeout(startedAt, deadline, policy);
        if (timeoutMs === undefined) return outOfTime();
        const result = await authorized.deliver(request, { timeoutMs });
        if (result.kind === "success") return { outcome: "delivered" };
        const cutShort =
          timeoutMs < options.requestTimeoutMs &&
          result.kind === "retryable" &&
          now() - startedAt >= timeoutMs - 1;
        if (cutShort) return outOfTime();
        reason = result.reason;
        if (result.kind === "terminal") break;
        if (attempt < maxAttempts) {
          const delay = retryDelayMs * 2 ** (attempt - 1);
          if (now() + delay + policy.minAttemptMs > deadline) return outOfTime();
          await sleep(delay);
        }
      }
      return { outcome: "failed", reason: reason ?? "not attempted" };
    };
  }

  async function forSubscription(subscription: Subscription): Promise<ReplayDelivery> {
    const one = await letterDelivery(subscription);
    return (letters, batch) =>
      deliverInOrder(letters, (letter) => one(letter, batch.deadline), { ...batch, now });
  }

  return {
    forSubscription,
    letterDelivery,
    close: () => sink.close(),
  };
}
