// Replaying dead letters through the consumer's own request builder, sink and tokens: one letter
// with a few quick retries, batches of them for the admin API, and the consumer's answer to the
// replay command the admin function sends it.
import { type DeadLetter, type DeadLetterRef, letterToRecord } from "../core/dead-letters.ts";
import { ConflictError, NotFoundError, SecretUnavailableError } from "../core/errors.ts";
import { createRequestBuilder, type SinkRequest, sinkTarget } from "../core/invocation.ts";
import type { Subscription } from "../core/model.ts";
import { type Logger, logJson } from "../core/outcome.ts";
import { checkRecord, deliveryMode, type RecordLimits } from "../core/plan.ts";
import type { CatalogReader } from "../core/ports.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";
import {
  deliverInOrder,
  type LetterBatchDelivery,
  type LetterOutcome,
  MIN_REPLAY_START_MS,
} from "../core/replay.ts";
import {
  DEFAULT_REPLAY_BUDGET_MS,
  decodeReplayCommand,
  type ReplayCommandReply,
} from "../core/replay-command.ts";
import {
  attemptTimeout,
  DEFAULT_BACKOFF,
  type Deliver,
  type DeliveryResult,
  exponentialDelays,
  type RetryPolicy,
  retrying,
  sleep,
} from "../core/retry.ts";
import { routeRecord, routingOf } from "../core/routing.ts";
import type { SecretResolver } from "../core/secrets.ts";
import { type AuthorizedDeliver, authorizedDeliver } from "./authorized-deliver.ts";

/** The sink a replay sends through, and how to release it when the replay is done. */
export interface ClosableSink {
  readonly deliver: Deliver<SinkRequest>;
  readonly close: () => Promise<void>;
}

export interface SinkReplayOptions {
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
  readonly sink: ClosableSink;
  readonly now?: () => number;
}

/**
 * Delivers one letter (`letter` may be a `spilled` stub: it is read whole) with retries, every
 * attempt finishing by `deadline` (epoch ms). A letter whose first attempt cannot start or finish
 * before it is `deferred`; once an attempt has failed, running out of time is a failure.
 */
export type LetterDelivery = (letter: DeadLetter, deadline: number) => Promise<LetterOutcome>;

/**
 * Replays through one sink. The service definition is read when a delivery is opened, so a fixed
 * endpoint or handler declaration applies to the replay that follows.
 */
export interface SinkReplay {
  /** Batches of one subscription's letters. Throws NotFoundError when its service is gone. */
  forSubscription(subscription: Subscription): Promise<LetterBatchDelivery>;
  /** One letter at a time (the consumer's side of a replay command). */
  letterDelivery(subscription: Subscription): Promise<LetterDelivery>;
  close(): Promise<void>;
}

/** Why an attempt was not made or did not count: the replay's deadline came first. */
const OUT_OF_TIME = Symbol("out of time");

/** A failed attempt's answer, thrown out of an attempt so that `retrying` paces the next one. */
const isFailedDelivery = (
  value: unknown,
): value is Exclude<DeliveryResult, { readonly kind: "success" }> =>
  typeof value === "object" &&
  value !== null &&
  "kind" in value &&
  (value.kind === "retryable" || value.kind === "terminal");

/**
 * Each letter goes out as the consumer would send its record — path, `kafka.*` metadata headers,
 * the same `idempotency-key` (so a Restate ingress that already ran the record does not run it
 * twice), forwarded record headers — with the consumer's token handling (authorized-deliver.ts).
 */
export function createSinkReplay(options: SinkReplayOptions): SinkReplay {
  const { sink } = options;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryDelays = exponentialDelays({
    baseMs: options.retryDelayMs ?? 200,
    maxMs: Number.POSITIVE_INFINITY,
  });
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

    const routing = routingOf(subscription.options);
    return async (letter, deadline) => {
      const stored = letterToRecord(await options.deadLetters.whole(letter));
      // Routed again from the value, as the consumer routed it: the same keys, the same lane.
      const record = stored && routing ? routeRecord(stored, routing) : stored;
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
      let attempts = 0;
      // Out of time: a failure once an attempt has failed (a sink that hangs is reported, not
      // retried call after call), else the letter waits for the next replay.
      const outOfTime = (): LetterOutcome =>
        reason === undefined
          ? { outcome: "deferred" }
          : { outcome: "failed", reason: `${reason} (then the replay ran out of time)` };
      try {
        await retrying(
          async (attempt) => {
            attempts = attempt;
            const startedAt = now();
            const timeoutMs = attemptTimeout(startedAt, deadline, policy);
            if (timeoutMs === undefined) throw OUT_OF_TIME;
            const result = await authorized.deliver(request, { timeoutMs });
            if (result.kind === "success") return;
            const cutShort =
              timeoutMs < options.requestTimeoutMs &&
              result.kind === "retryable" &&
              now() - startedAt >= timeoutMs - 1;
            if (cutShort) throw OUT_OF_TIME;
            reason = result.reason;
            throw result;
          },
          {
            maxAttempts,
            delayMs: retryDelays,
            // A retry is only worth its wait if an attempt can still start after it.
            deadlineMs: deadline - policy.minAttemptMs,
            now,
            sleep,
            isRetryable: (failure) => isFailedDelivery(failure) && failure.kind === "retryable",
          },
        );
        return { outcome: "delivered" };
      } catch (failure) {
        if (failure === OUT_OF_TIME) return outOfTime();
        if (!isFailedDelivery(failure)) throw failure;
        // A retryable failure with attempts left: the deadline stopped the retries.
        if (failure.kind === "retryable" && attempts < maxAttempts) return outOfTime();
        return { outcome: "failed", reason: failure.reason };
      }
    };
  }

  async function forSubscription(subscription: Subscription): Promise<LetterBatchDelivery> {
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

export interface ReplayCommandRunnerDeps {
  readonly catalog: Pick<CatalogReader, "getSubscription">;
  /** Where the letters are; without it, commands naming letters are refused. */
  readonly deadLetters: Pick<DeadLetterStore, "get"> | undefined;
  /** Replays whose attempts take at most `requestTimeoutMs` (default: the consumer's). */
  readonly sinkReplay: (requestTimeoutMs?: number) => Pick<SinkReplay, "letterDelivery">;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * Runs one replay command; `remainingMs` is what the invocation may still take (the command's
 * budget is cut to it). Throws InvalidCommandError for a payload it cannot read.
 */
export type ReplayCommandRunner = (
  payload: unknown,
  remainingMs?: number,
) => Promise<ReplayCommandReply>;

/**
 * The consumer's side of a replay: it reads the subscription, its service and each named letter
 * from its own stores and delivers them in order within the time the command carries, answering
 * with one outcome per letter.
 */
export function createReplayCommandRunner(deps: ReplayCommandRunnerDeps): ReplayCommandRunner {
  const now = deps.now ?? Date.now;
  return async (payload, remainingMs) => {
    const startedAt = now();
    const command = decodeReplayCommand(payload);
    const store = deps.deadLetters;
    if (command.letters !== undefined && store === undefined) {
      return { refused: "conflict", message: "this consumer has no dead-letter store" };
    }
    const subscription = await deps.catalog.getSubscription(command.subscriptionId);
    if (subscription === undefined) {
      return { refused: "not_found", message: `subscription ${command.subscriptionId} not found` };
    }
    let deliver: LetterDelivery;
    try {
      deliver = await deps.sinkReplay(command.requestTimeoutMs).letterDelivery(subscription);
    } catch (error) {
      if (error instanceof NotFoundError) return { refused: "not_found", message: error.message };
      if (error instanceof ConflictError) return { refused: "conflict", message: error.message };
      throw error;
    }
    if (command.letters === undefined || store === undefined) return { ok: true };
    const budget = command.budgetMs ?? DEFAULT_REPLAY_BUDGET_MS;
    const deadline = startedAt + Math.min(budget, remainingMs ?? budget);
    const outcomes = await deliverInOrder(
      command.letters,
      async (ref: DeadLetterRef) => {
        const letter = await store.get(subscription.id, ref);
        return letter === undefined ? { outcome: "gone" } : deliver(letter, deadline);
      },
      { ordered: command.ordered ?? false, deadline, now },
    );
    const results = command.letters.map((ref, index) => ({
      partitionId: ref.partitionId,
      offset: ref.offset,
      ...(outcomes[index] ?? { outcome: "deferred" as const }),
    }));
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    const failures = results.flatMap((r) =>
      r.outcome === "failed" ? [`${r.partitionId}@${r.offset}: ${r.reason}`] : [],
    );
    logJson(deps.log, {
      level: failures.length > 0 ? "warn" : "info",
      msg: "dead letters replayed",
      subscription: subscription.id,
      delivered: count("delivered"),
      failed: failures.length,
      deferred: count("deferred"),
      ...(failures.length > 0 ? { failures: failures.slice(0, 5) } : {}),
    });
    return { results };
  };
}
