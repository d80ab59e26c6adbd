// The consumer: one ESM batch in, every record delivered to the subscription's handler, the outcome
// reported back. Follow one record: decodeKafkaEvent → planBatch (lane) → dispatchLanes →
// createRequestBuilder (HTTP request) → deliver → RecordOutcome → buildBatchResponse.
import type { ConsumerConfig } from "../config.ts";
import { bootstrapServerList, PROP_MSK_CLUSTER_ARN } from "../core/cluster-properties.ts";
import { deadLetterSettings } from "../core/dead-letters.ts";
import { dispatchLanes } from "../core/dispatch.ts";
import {
  ConflictError,
  DependencyError,
  SecretUnavailableError,
  SubscriptionResolutionError,
} from "../core/errors.ts";
import { type DecodedEvent, decodeKafkaEvent, type EventSourceInfo } from "../core/event.ts";
import { createRequestBuilder, type SinkRequest, sinkTarget } from "../core/invocation.ts";
import { batchMetrics, functionNameFromArn, type MetricsWriter } from "../core/metrics.ts";
import type { KafkaCluster, ServiceDefinition, Subscription } from "../core/model.ts";
import {
  type BatchResponse,
  buildBatchResponse,
  consoleLogger,
  countOutcomes,
  type Logger,
  logJson,
  logTerminalOutcomes,
} from "../core/outcome.ts";
import { deliveryMode, planBatch, type RecordLimits } from "../core/plan.ts";
import type { CatalogReader } from "../core/ports.ts";
import { postDispatch, preDispatch } from "../core/reliability.ts";
import { DEFAULT_BACKOFF, type Deliver, type RetryPolicy } from "../core/retry.ts";
import {
  authorizationFor,
  authorizationRefusal,
  type SecretResolver,
  type SinkAuthorization,
} from "../core/secrets.ts";
import { OPTION_REPORT_BATCH_ITEM_FAILURES } from "../core/subscription-options.ts";
import { cachedCatalog } from "./catalog-cache.ts";
import {
  commitReliability,
  createCheckpointer,
  type LoadedReliabilityState,
  loadReliabilityState,
  type ReliabilityStores,
} from "./reliability-flow.ts";

/** The part of the Lambda context the consumer uses. */
export interface InvocationContext {
  readonly invokedFunctionArn: string;
  getRemainingTimeInMillis(): number;
}

export type ConsumerSettings = Pick<
  ConsumerConfig,
  | "MAX_CONCURRENCY"
  | "CATALOG_CACHE_TTL_MS"
  | "MAX_ATTEMPTS"
  | "REQUEST_TIMEOUT_MS"
  | "DEADLINE_MARGIN_MS"
> &
  Partial<
    Pick<
      ConsumerConfig,
      | "RETRY_BASE_DELAY_MS"
      | "RETRY_MAX_DELAY_MS"
      | "MAX_REQUEST_BYTES"
      | "COMMIT_MARGIN_MS"
      | "CHECKPOINT_INTERVAL_MS"
      | "MAX_KEY_URL_BYTES"
      | "SERVICE_ENDPOINT_ALLOW"
    >
  >;

export interface ConsumerDeps {
  readonly catalog: CatalogReader;
  readonly config: ConsumerSettings;
  readonly deliver: Deliver<SinkRequest>;
  /** Reads the bearer tokens of services that declare `auth`; without it such services fail. */
  readonly secrets?: SecretResolver;
  /**
   * Where settled offsets and dead letters live. With them, a redelivered batch skips what was
   * already delivered and a record that keeps failing is dead-lettered; without, every record
   * of a redelivered batch is sent again and failures block their lane until they succeed.
   */
  readonly reliability?: ReliabilityStores;
  readonly now?: () => number;
  readonly log?: Logger;
  /** Where each batch's EMF line goes: stdout in the Lambda (see core/metrics.ts); default `log`. */
  readonly metrics?: MetricsWriter;
  /**
   * Refuse batches that do not come through a subscription's alias (on AWS every event source
   * mapping the admin creates invokes one): a batch sent to the bare function — by anyone allowed
   * to invoke it — is not taken for a subscription's by its cluster and topic.
   */
  readonly requireAlias?: boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface Consumer {
  processEvent(event: unknown, context: InvocationContext): Promise<BatchResponse | undefined>;
}

const SUBSCRIPTION_ID = /^sub_[0-9A-Za-z]+$/;

/** The record checks' limits from the settings (the core's defaults for those not set). */
export function recordLimits(config: ConsumerSettings): RecordLimits {
  return {
    ...(config.MAX_REQUEST_BYTES === undefined
      ? {}
      : { maxRequestBytes: config.MAX_REQUEST_BYTES }),
    ...(config.MAX_KEY_URL_BYTES === undefined ? {} : { maxKeyUrlBytes: config.MAX_KEY_URL_BYTES }),
  };
}

/** `arn:aws:lambda:<region>:<account>:function:<name>:<sub_id>` → `sub_id`, else undefined. */
export function subscriptionIdFromArn(arn: string): string | undefined {
  const parts = arn.split(":");
  if (parts.length !== 8 || parts[0] !== "arn" || parts[5] !== "function") return undefined;
  const qualifier = parts[7];
  return qualifier !== undefined && SUBSCRIPTION_ID.test(qualifier) ? qualifier : undefined;
}

/** `PLAINTEXT://Broker-1:9092` → `broker-1:9092`. */
function normalizeServer(server: string): string {
  return server
    .trim()
    .replace(/^[a-z0-9_]+:\/\//i, "")
    .toLowerCase();
}

/** Does this cluster's configuration describe the event's source? */
export function clusterMatchesSource(cluster: KafkaCluster, source: EventSourceInfo): boolean {
  const arn = cluster.properties[PROP_MSK_CLUSTER_ARN];
  if (source.clusterArn !== undefined && arn !== undefined && arn === source.clusterArn)
    return true;
  const eventServers = new Set(source.bootstrapServers.map(normalizeServer));
  return bootstrapServerList(cluster.properties).some((s) => eventServers.has(normalizeServer(s)));
}

/**
 * Saving what was delivered is what keeps a redelivered batch from being delivered again, so a
 * throttled or briefly unavailable store is retried (beyond the SDK's own retries) while the
 * invocation has time; only then does the error fail the invocation.
 */
async function withStoreRetries(
  action: () => Promise<void>,
  options: { deadlineMs: number; now: () => number; sleep: (ms: number) => Promise<void> },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      const delayMs = Math.min(1_000, 50 * 2 ** (attempt - 1));
      const retryable = error instanceof DependencyError || error instanceof ConflictError;
      if (!retryable || attempt >= 6 || options.now() + delayMs > options.deadlineMs) throw error;
      await options.sleep(delayMs);
    }
  }
}

const describe = (s: Subscription) => `${s.id} (${s.source} → ${s.sink})`;

export function createConsumer(deps: ConsumerDeps): Consumer {
  const { config, deliver } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? consoleLogger;
  const metrics = deps.metrics ?? log;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = deps.random ?? Math.random;
  const catalog = cachedCatalog(deps.catalog, config.CATALOG_CACHE_TTL_MS, now);
  const policy: RetryPolicy = {
    ...DEFAULT_BACKOFF,
    maxAttempts: config.MAX_ATTEMPTS,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    baseDelayMs: config.RETRY_BASE_DELAY_MS ?? DEFAULT_BACKOFF.baseDelayMs,
    maxDelayMs: config.RETRY_MAX_DELAY_MS ?? DEFAULT_BACKOFF.maxDelayMs,
  };

  /** Read past the cache: a subscription being deleted must get no more writes (the DELETE
   * looks for dead letters once the feed is gone and in-flight commits have settled). */
  async function stillActive(id: string): Promise<boolean> {
    const current = await deps.catalog.getSubscription(id);
    return current !== undefined && current.status !== "deleting";
  }

  async function resolveByAlias(id: string, event: DecodedEvent): Promise<Subscription> {
    const subscription = await catalog.getSubscription(id);
    if (subscription === undefined) {
      throw new SubscriptionResolutionError(
        `Subscription ${id} (the alias this function was invoked through) does not exist; ` +
          "delete its event source mapping or recreate the subscription",
      );
    }
    const arn = event.source.clusterArn;
    if (arn !== undefined) {
      const cluster = await catalog.getCluster(subscription.cluster);
      const expected = cluster?.properties[PROP_MSK_CLUSTER_ARN];
      if (expected !== undefined && expected !== arn) {
        throw new SubscriptionResolutionError(
          `Subscription ${id} reads cluster ${subscription.cluster} (${expected}) but the event ` +
            `comes from ${arn}`,
        );
      }
    }
    return subscription;
  }

  async function resolveBySource(event: DecodedEvent, arn: string): Promise<Subscription> {
    const topics = [...new Set(event.partitions.map((p) => p.topic))];
    const clusters = (await catalog.listClusters()).filter((c) =>
      clusterMatchesSource(c, event.source),
    );
    const names = new Set(clusters.map((c) => c.name));
    const candidates = (await catalog.listSubscriptions()).filter(
      (s) => names.has(s.cluster) && topics.includes(s.topic),
    );
    if (candidates.length === 1 && candidates[0] !== undefined) return candidates[0];
    const from = event.source.clusterArn ?? event.source.bootstrapServers.join(",");
    throw new SubscriptionResolutionError(
      `Cannot tell which subscription this event is for: ${arn} is not invoked through a ` +
        `subscription alias; clusters matching ${from}: [${[...names].join(", ")}]; ` +
        `subscriptions on them for topic ${topics.join(", ")}: ` +
        `[${candidates.map(describe).join(", ")}]` +
        (candidates.length > 1 ? " — invoke the function through the subscription's alias" : ""),
    );
  }

  async function resolveTarget(
    event: DecodedEvent,
    context: InvocationContext,
  ): Promise<{ subscription: Subscription; service: ServiceDefinition }> {
    const id = subscriptionIdFromArn(context.invokedFunctionArn);
    if (id === undefined && deps.requireAlias) {
      throw new SubscriptionResolutionError(
        `${context.invokedFunctionArn} was invoked without a subscription alias: batches are ` +
          "taken only through the event source mappings of subscriptions (one alias each)",
      );
    }
    const subscription =
      id !== undefined
        ? await resolveByAlias(id, event)
        : await resolveBySource(event, context.invokedFunctionArn);
    const strangers = event.partitions.filter((p) => p.topic !== subscription.topic);
    if (strangers.length > 0) {
      throw new SubscriptionResolutionError(
        `Subscription ${subscription.id} reads topic ${subscription.topic} but the event holds ` +
          `partitions ${strangers.map((p) => p.id).join(", ")}`,
      );
    }
    const service = await catalog.getService(subscription.service);
    if (service === undefined) {
      throw new SubscriptionResolutionError(
        `Service ${subscription.service} of subscription ${subscription.id} is not registered`,
      );
    }
    if (service.handlers[subscription.handler] === undefined) {
      throw new SubscriptionResolutionError(
        `Service ${service.name} has no handler ${subscription.handler} ` +
          `(subscription ${subscription.id}); handlers: ${Object.keys(service.handlers).join(", ")}`,
      );
    }
    return { subscription, service };
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
    const commitDeadlineMs = Math.max(deadlineMs, endMs - (config.COMMIT_MARGIN_MS ?? 500));
    const event = decodeKafkaEvent(rawEvent);
    if (event.partitions.every((p) => p.records.length === 0)) return undefined;

    const { subscription, service } = await resolveTarget(event, context);
    const handler = service.handlers[subscription.handler];
    if (handler === undefined) throw new Error("unreachable: handler checked in resolveTarget");
    const mode = deliveryMode(service.type, handler);
    // Before anything is delivered or saved: without its token no record of the batch can go
    // out, so the invocation fails and the event source retries the batch (no record is
    // terminal for it). The message names the secret's ARN, never its value.
    let authorization: SinkAuthorization | undefined;
    try {
      authorization = await authorizationFor(service.auth, deps.secrets);
    } catch (error) {
      if (!(error instanceof SecretUnavailableError)) throw error;
      throw new SecretUnavailableError(
        error.secretRef,
        `Service ${service.name} (subscription ${subscription.id}) authenticates with a bearer ` +
          `token, but ${error.message}; the batch will be retried`,
      );
    }
    const partialBatchResponse = subscription.options[OPTION_REPORT_BATCH_ITEM_FAILURES] === "true";
    const stores = deps.reliability;
    const state: LoadedReliabilityState = stores
      ? await loadReliabilityState(stores, subscription.id, event, mode.ordered)
      : { progress: new Map(), parkedKeys: new Set() };
    const pre = preDispatch({
      event,
      progress: state.progress,
      parkedKeys: state.parkedKeys,
      ordered: mode.ordered,
    });
    const plan = planBatch(pre.toDispatch, mode, recordLimits(config));
    const build = createRequestBuilder(
      sinkTarget(subscription, service, mode, authorization?.header),
    );
    // Before every request: the token goes only where its secret binds it; anything else (an
    // endpoint moved elsewhere, a path outside the bound prefix) is terminal for the record and
    // nothing is sent. A 401 with a token usually means it was rotated: retryable, so the record
    // keeps its place in its lane, and the cached token is dropped so that the next invocation
    // reads it again. A token that stays wrong exhausts the retry budget like any other failure.
    let tokenRejected = false;
    const deliverWithToken: Deliver<SinkRequest> =
      authorization === undefined
        ? deliver
        : async (request, options) => {
            const refused = authorizationRefusal(authorization, request.url);
            if (refused !== undefined) return { kind: "terminal", reason: refused };
            const result = await deliver(request, options);
            if (result.kind !== "terminal" || result.status !== 401) return result;
            tokenRejected = true;
            return {
              kind: "retryable",
              status: 401,
              reason: "HTTP 401: the sink rejected the bearer token",
            };
          };

    const checkpoints = stores
      ? createCheckpointer(stores.progress, subscription.id, event, state.progress, {
          intervalMs: config.CHECKPOINT_INTERVAL_MS ?? 5_000,
          now,
          log,
          accepting: () => stillActive(subscription.id),
        })
      : undefined;
    const delivered = await dispatchLanes(
      plan.lanes,
      {
        buildRequest: (p) => build(p.record, p.objectKey),
        deliver: deliverWithToken,
        sleep,
        now,
        random,
        ...(checkpoints ? { onOutcome: checkpoints.onOutcome } : {}),
      },
      { maxConcurrency: config.MAX_CONCURRENCY, policy, deadlineMs },
    );
    await checkpoints?.settle();
    if (tokenRejected && service.auth) deps.secrets?.forget?.(service.auth.bearer_token_secret);
    const dispatched = plan.rejected.length > 0 ? [...plan.rejected, ...delivered] : delivered;
    let outcomes = dispatched;
    let reliabilityCounts: Partial<Record<string, number | boolean>> = {};
    if (stores) {
      const post = postDispatch({
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
      await withStoreRetries(
        async () => {
          if (!(await stillActive(subscription.id))) {
            throw new SubscriptionResolutionError(
              `Subscription ${subscription.id} is being deleted: nothing of this batch is saved`,
            );
          }
          await commitReliability(stores, subscription.id, post, { log });
        },
        { deadlineMs: commitDeadlineMs, now, sleep },
      );
      outcomes = [...post.outcomes];
      reliabilityCounts = { ...post.counts };
    }

    logTerminalOutcomes(dispatched, subscription.id, log);
    const counts = countOutcomes(outcomes);
    const firstFailure = outcomes.find((o) => o.status === "failed");
    const durationMs = now() - startedAt;
    logJson(metrics, {
      level: "info",
      msg: "batch metrics",
      ...batchMetrics({
        subscriptionId: subscription.id,
        functionName: functionNameFromArn(context.invokedFunctionArn),
        outcomes: dispatched,
        skipped: Number(reliabilityCounts.skipped ?? 0),
        deadLettered: Number(reliabilityCounts.deadLettered ?? 0),
        sinkDown: reliabilityCounts.sinkDown === true,
        durationMs,
        timestampMs: startedAt,
      }),
    });
    logJson(log, {
      level: counts.failed + counts.notAttempted > 0 ? "warn" : "info",
      msg: "batch processed",
      subscription: subscription.id,
      partitions: event.partitions.map((p) => p.id),
      lanes: plan.lanes.length,
      ...counts,
      ...reliabilityCounts,
      ...(firstFailure === undefined
        ? {}
        : { firstFailure: { offset: firstFailure.record.offset, reason: firstFailure.reason } }),
      durationMs,
    });

    return buildBatchResponse(outcomes, {
      partialBatchResponse,
      partitionOrder: event.partitions.map((p) => p.id),
      subscriptionId: subscription.id,
    });
  }

  return { processEvent };
}
