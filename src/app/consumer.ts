// The consumer: one ESM batch in, every record delivered to the subscription's handler, the outcome
// reported back. The pipeline reads top to bottom: decode → resolve the target → authorize →
// load progress → plan → dispatch → settle → commit → report → respond; each step's module says
// what it does (subscription-resolution, authorized-deliver, reliability-flow, batch-report, and
// core's event, plan, dispatch, reliability and outcome).
import type { ConsumerConfig } from "../config.ts";
import { deadLetterSettings } from "../core/dead-letters.ts";
import { dispatchLanes } from "../core/dispatch.ts";
import type { EndpointAllowList } from "../core/endpoint-policy.ts";
import { SecretUnavailableError } from "../core/errors.ts";
import { decodeKafkaEvent } from "../core/event.ts";
import { createRequestBuilder, type SinkRequest, sinkTarget } from "../core/invocation.ts";
import type { MetricsWriter } from "../core/metrics.ts";
import {
  type BatchResponse,
  buildBatchResponse,
  consoleLogger,
  type Logger,
} from "../core/outcome.ts";
import { deliveryMode, planBatch, type RecordLimits } from "../core/plan.ts";
import type { CatalogReader } from "../core/ports.ts";
import { preDispatch } from "../core/reliability.ts";
import {
  DEFAULT_BACKOFF,
  type Deliver,
  type RetryPolicy,
  sleep as realSleep,
} from "../core/retry.ts";
import { routeEvent, routingOf } from "../core/routing.ts";
import type { SecretResolver } from "../core/secrets.ts";
import { OPTION_REPORT_BATCH_ITEM_FAILURES } from "../core/subscription-options.ts";
import { type AuthorizedDeliver, authorizedDeliver } from "./authorized-deliver.ts";
import { reportBatch } from "./batch-report.ts";
import { cachedCatalog } from "./catalog-cache.ts";
import { noReliability, type Reliability } from "./reliability-flow.ts";
import { type BatchTarget, createTargetResolver } from "./subscription-resolution.ts";

/** The part of the Lambda context the consumer uses. */
export interface InvocationContext {
  readonly invokedFunctionArn: string;
  getRemainingTimeInMillis(): number;
}

/** The settings the consumer runs with, every one given (config.ts's CONSUMER_DEFAULTS fill them). */
export type ConsumerSettings = Pick<
  ConsumerConfig,
  | "MAX_CONCURRENCY"
  | "CATALOG_CACHE_TTL_MS"
  | "MAX_ATTEMPTS"
  | "REQUEST_TIMEOUT_MS"
  | "DEADLINE_MARGIN_MS"
  | "COMMIT_MARGIN_MS"
  | "CHECKPOINT_INTERVAL_MS"
  | "RETRY_BASE_DELAY_MS"
  | "RETRY_MAX_DELAY_MS"
  | "MAX_REQUEST_BYTES"
  | "MAX_KEY_URL_BYTES"
> & {
  /** Undefined: any host but the always-refused ones (core/endpoint-policy.ts). */
  readonly SERVICE_ENDPOINT_ALLOW?: EndpointAllowList | undefined;
};

export interface ConsumerDeps {
  readonly catalog: CatalogReader;
  readonly config: ConsumerSettings;
  readonly deliver: Deliver<SinkRequest>;
  /** Reads the bearer tokens of services that declare `auth`; without it such services fail. */
  readonly secrets?: SecretResolver | undefined;
  /**
   * What is remembered between invocations (app/reliability-flow.ts). storedReliability: a
   * redelivered batch skips what was already delivered and a record that keeps failing is
   * dead-lettered; noReliability (the default): every record of a redelivered batch is sent again
   * and failures block their lane until they succeed.
   */
  readonly reliability?: Reliability | undefined;
  readonly now?: (() => number) | undefined;
  readonly log?: Logger | undefined;
  /** Where each batch's EMF line goes: stdout in the Lambda (see core/metrics.ts); default `log`. */
  readonly metrics?: MetricsWriter | undefined;
  /** See ResolutionOptions.requireAlias. */
  readonly requireAlias?: boolean | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly random?: (() => number) | undefined;
}

export interface Consumer {
  processEvent(event: unknown, context: InvocationContext): Promise<BatchResponse | undefined>;
}

/** The record checks' limits from the settings. */
export function recordLimits(config: ConsumerSettings): Required<RecordLimits> {
  return { maxRequestBytes: config.MAX_REQUEST_BYTES, maxKeyUrlBytes: config.MAX_KEY_URL_BYTES };
}

/** The per-record retry policy of one invocation, from the settings. */
function retryPolicy(config: ConsumerSettings): RetryPolicy {
  return {
    ...DEFAULT_BACKOFF,
    maxAttempts: config.MAX_ATTEMPTS,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    baseDelayMs: config.RETRY_BASE_DELAY_MS,
    maxDelayMs: config.RETRY_MAX_DELAY_MS,
  };
}

export function createConsumer(deps: ConsumerDeps): Consumer {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? consoleLogger;
  const metrics = deps.metrics ?? log;
  const sleep = deps.sleep ?? realSleep;
  const random = deps.random ?? Math.random;
  const reliability = deps.reliability ?? noReliability;
  const catalog = cachedCatalog(deps.catalog, config.CATALOG_CACHE_TTL_MS, now);
  const resolveTarget = createTargetResolver(catalog, { requireAlias: deps.requireAlias === true });
  const policy = retryPolicy(config);

  /** Read past the cache: a subscription being deleted must get no more writes (the DELETE
   * looks for dead letters once the feed is gone and in-flight commits have settled). */
  async function stillActive(id: string): Promise<boolean> {
    const current = await deps.catalog.getSubscription(id);
    return current !== undefined && current.status !== "deleting";
  }

  /**
   * Before anything is delivered or saved: without its token no record of the batch can go out,
   * so the invocation fails and the event source retries the batch (no record is terminal for
   * it). The message names the secret's ARN, never its value.
   */
  async function authorize({ subscription, service }: BatchTarget): Promise<AuthorizedDeliver> {
    try {
      return await authorizedDeliver({
        auth: service.auth,
        secrets: deps.secrets,
        deliver: deps.deliver,
        // A token the sink keeps rejecting is no fault of the record: it keeps its lane.
        rejectedToken: "retryable",
        now,
      });
    } catch (error) {
      if (!(error instanceof SecretUnavailableError)) throw error;
      throw new SecretUnavailableError(
        error.secretRef,
        `Service ${service.name} (subscription ${subscription.id}) authenticates with a bearer ` +
          `token, but ${error.message}; the batch will be retried`,
      );
    }
  }

  async function processEvent(
    rawEvent: unknown,
    context: InvocationContext,
  ): Promise<BatchResponse | undefined> {
    const startedAt = now();
    const endMs = startedAt + context.getRemainingTimeInMillis();
    // Deliveries stop DEADLINE_MARGIN_MS before the end; the commit (and its store retries) has
    // that margin less COMMIT_MARGIN_MS, so a throttled write at the end of a long batch is
    // retried instead of failing the invocation.
    const deadlineMs = endMs - config.DEADLINE_MARGIN_MS;
    const commitDeadlineMs = Math.max(deadlineMs, endMs - config.COMMIT_MARGIN_MS);

    // Decode, and find where the batch goes.
    const decoded = decodeKafkaEvent(rawEvent);
    if (decoded.partitions.every((p) => p.records.length === 0)) return undefined;
    const target = await resolveTarget(decoded, context.invokedFunctionArn);
    const { subscription, service } = target;
    const routing = routingOf(subscription.options);
    const event = routing ? routeEvent(decoded, routing) : decoded;
    const mode = deliveryMode(service.type, target.handler);
    const authorized = await authorize(target);

    // Load progress: records settled earlier are skipped, those behind a parked key held.
    const state = await reliability.load(subscription.id, event, mode.ordered);
    const pre = preDispatch({ event, ...state, ordered: mode.ordered });

    // Plan and dispatch.
    const plan = planBatch(pre.toDispatch, mode, recordLimits(config));
    const build = createRequestBuilder(sinkTarget(subscription, service, mode));
    const checkpoints = reliability.checkpoints(subscription.id, event, state, {
      intervalMs: config.CHECKPOINT_INTERVAL_MS,
      now,
      log,
      accepting: () => stillActive(subscription.id),
    });
    const delivered = await dispatchLanes(
      plan.lanes,
      {
        buildRequest: (p) => build(p.record, p.objectKey),
        deliver: authorized.deliver,
        sleep,
        now,
        random,
        onOutcome: checkpoints.onOutcome,
      },
      { maxConcurrency: config.MAX_CONCURRENCY, policy, deadlineMs },
    );
    await checkpoints.settle();
    authorized.finish();
    const dispatched = plan.rejected.length > 0 ? [...plan.rejected, ...delivered] : delivered;

    // Settle and commit: dead letters first, then progress.
    const partialBatchResponse = subscription.options[OPTION_REPORT_BATCH_ITEM_FAILURES] === "true";
    const settlement = reliability.settle({
      subscriptionId: subscription.id,
      event,
      pre,
      outcomes: dispatched,
      progress: state.progress,
      settings: deadLetterSettings(subscription.options),
      ordered: mode.ordered,
      partialBatchResponse,
      now: now(),
    });
    await settlement.commit({
      deadlineMs: commitDeadlineMs,
      accepting: () => stillActive(subscription.id),
      now,
      sleep,
      log,
    });

    // Report and respond.
    reportBatch(
      {
        subscriptionId: subscription.id,
        invokedFunctionArn: context.invokedFunctionArn,
        event,
        lanes: plan.lanes.length,
        dispatched,
        outcomes: settlement.outcomes,
        reliability: settlement.counts,
        startedAt,
        durationMs: now() - startedAt,
      },
      { log, metrics },
    );
    return buildBatchResponse(settlement.outcomes, {
      partialBatchResponse,
      partitionOrder: event.partitions.map((p) => p.id),
      subscriptionId: subscription.id,
    });
  }

  return { processEvent };
}
