// The local stand-in for a Lambda event source mapping on a self-managed Kafka cluster: one
// consumer group member per subscription feeds batches to `invoke` (the consumer handler) in the
// exact ESM event shape, commits only what succeeded, redelivers from the offsets a partial batch
// response names, retries a failed batch with backoff (the partition stays blocked, as on AWS),
// and survives broker outages by reconnecting. With a schema registry (`schema.registry.decode`)
// it decodes records before invoking, as the mapping does. Never throws into the host process.

import { bootstrapServerList } from "../../core/cluster-properties.ts";
import { errorMessage, KafkaConfigError, ValidationError } from "../../core/errors.ts";
import { filterPatterns, OPTION_CONSUMPTION_MODE } from "../../core/mapping-options.ts";
import type { KafkaCluster, Subscription } from "../../core/model.ts";
import {
  PROP_SCHEMA_REGISTRY_BASIC_AUTH,
  PROP_SCHEMA_REGISTRY_CLIENT_CERTIFICATE,
  PROP_SCHEMA_REGISTRY_ROOT_CA,
  type RegistryDecoding,
  registryDecoding,
} from "../../core/schema-registry.ts";
import { feedSettings } from "../../core/subscription-options.ts";
import { BatchRunner } from "./batch-runner.ts";
import { BatchPlanner, type EsmKafkaEvent, type PartitionStatus } from "./batching.ts";
import { filterEvent } from "./event-filtering.ts";
import { FeedConnection } from "./feed-connection.ts";
import {
  clientSecurityOptions,
  type OpenFeed,
  openPlatformaticFeed,
} from "./platformatic-client.ts";
import { createEventDecoder } from "./schema-decoding.ts";
import { type Backoff, type EventSourceState, SourceState } from "./source-state.ts";

export interface LocalEventSourceStatus {
  readonly state: EventSourceState;
  readonly groupId: string;
  readonly topic: string;
  readonly lastError?: { readonly message: string; readonly at: string };
  readonly batchesInvoked: number;
  /** Invocations that failed and were retried. */
  readonly batchesFailed: number;
  /** Records fetched into batches, and those the subscription's filters left out: the mapping's
   * polled and filtered counts. */
  readonly recordsPolled: number;
  readonly recordsFiltered: number;
  /** Records the consumer is done with since the feed (re)started: delivered, or dead-lettered. */
  readonly recordsCompleted: number;
  readonly partitions: readonly PartitionStatus[];
}

export interface LocalEventSource {
  status(): LocalEventSourceStatus;
  /** Stops polling, waits (bounded) for batches in flight, commits what succeeded, leaves the group. */
  stop(): Promise<void>;
}

export interface LocalEventSourceOptions {
  readonly subscription: Pick<Subscription, "id" | "topic" | "options">;
  /** `properties["bootstrap.servers"]` is required. */
  readonly cluster: Pick<KafkaCluster, "name" | "properties">;
  /** The consumer handler. A thrown error fails the whole batch (retried). */
  readonly invoke: (event: EsmKafkaEvent) => Promise<unknown>;
  /** JSON log lines. */
  readonly log?: (line: string) => void;
  /**
   * Honour `batchItemFailures` in responses. Default: the subscription's
   * `lambda.report.batch.item.failures` option, as on AWS (off: the response is ignored).
   */
  readonly reportBatchItemFailures?: boolean;
  /** Backoff for failed batches and reconnects (default 1 s doubling to 30 s). */
  readonly retry?: Backoff;
  /** How often offsets for the status are refreshed (default 5 s). */
  readonly statusRefreshMs?: number;
  /** Upper bound on fetched-but-undelivered records before fetching pauses (default 10 × batch size, ≥ 2,000). */
  readonly maxBufferedRecords?: number;
  /** Test seam: the Kafka client. */
  readonly openFeed?: OpenFeed;
}

const STOP_GRACE_MS = 15_000;

const recordCount = (event: EsmKafkaEvent): number =>
  Object.values(event.records).reduce((n, records) => n + records.length, 0);

/**
 * The decoding the subscription asks for, as the local event source can do it: a
 * Confluent-compatible registry reached without credentials. Throws KafkaConfigError otherwise.
 */
function localRegistryDecoding(
  cluster: Pick<KafkaCluster, "name" | "properties">,
  options: Readonly<Record<string, string>>,
): RegistryDecoding | undefined {
  let decoding: RegistryDecoding | undefined;
  try {
    decoding = registryDecoding(cluster.name, cluster.properties, options);
  } catch (error) {
    if (error instanceof ValidationError) throw new KafkaConfigError(errorMessage(error));
    throw error;
  }
  if (decoding?.kind === "glue") {
    throw new KafkaConfigError(
      "the local event source decodes with Confluent-compatible registries only; an AWS Glue registry is used on AWS",
    );
  }
  const credentials = [
    PROP_SCHEMA_REGISTRY_BASIC_AUTH,
    PROP_SCHEMA_REGISTRY_CLIENT_CERTIFICATE,
    PROP_SCHEMA_REGISTRY_ROOT_CA,
  ].filter((key) => cluster.properties[key] !== undefined);
  if (decoding && credentials.length > 0) {
    throw new KafkaConfigError(
      `the local event source reaches the schema registry without credentials; ${credentials.join(", ")} are used on AWS`,
    );
  }
  return decoding;
}

/**
 * `lambda.batch.size` when a subscription does not set it: larger than the mapping's own default
 * (100), because one batch in flight per partition waits for its longest lane, and more records
 * per batch put more keys' lanes in flight (README, "Tuning the event source mapping").
 */
export const LOCAL_DEFAULT_BATCH_SIZE = 500;

export function startLocalEventSource(options: LocalEventSourceOptions): LocalEventSource {
  const { subscription, cluster } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = feedSettings(subscription.id, subscription.options);
  const bootstrapServers = bootstrapServerList(cluster.properties)
    .map((server) => server.replace(/^[A-Za-z_]+:\/\//, ""))
    .filter((server) => server.length > 0);
  const retry = options.retry ?? { initialMs: 1_000, maxMs: 30_000 };
  const planner = new BatchPlanner({
    batchSize: settings.batchSize ?? LOCAL_DEFAULT_BATCH_SIZE,
    windowMs:
      settings.batchingWindowSeconds !== undefined ? settings.batchingWindowSeconds * 1000 : 500,
  });
  const topic = subscription.topic;
  const groupId = settings.consumerGroupId;

  const emit = (
    level: "info" | "warn" | "error",
    msg: string,
    extra: Record<string, unknown> = {},
  ) => log(JSON.stringify({ level, msg, subscription: subscription.id, topic, ...extra }));

  const state = new SourceState();
  if (bootstrapServers.length === 0) {
    state.recordError(`cluster ${cluster.name} has no bootstrap.servers`);
  }
  let invoke = options.invoke;
  let recordsFiltered = 0;
  try {
    clientSecurityOptions(cluster.properties);
    const decoding = localRegistryDecoding(cluster, subscription.options);
    const decoder = decoding ? createEventDecoder(decoding) : undefined;
    const patterns = filterPatterns(subscription.options);
    if (decoder || patterns.length > 0) {
      // As the mapping does: decode with the registry, then filter what was decoded; a batch
      // that nothing passes is not invoked (and counts as done).
      invoke = async (event) => {
        const decoded = decoder ? await decoder.decodeEvent(event) : event;
        const passed = patterns.length > 0 ? filterEvent(decoded, patterns) : decoded;
        recordsFiltered += recordCount(decoded) - (passed ? recordCount(passed) : 0);
        return passed ? options.invoke(passed) : {};
      };
    }
  } catch (error) {
    if (!(error instanceof KafkaConfigError)) throw error;
    state.configError = `cluster ${cluster.name}: ${error.message}`;
    state.recordError(state.configError);
    state.refresh();
    emit("error", "cannot consume: unsupported cluster settings", { error: state.configError });
  }

  if (subscription.options[OPTION_CONSUMPTION_MODE] === "queue") {
    emit(
      "warn",
      "queue mode: the local Kafka client has no share-group consumer, so this subscription is read with a consumer group (in order per partition, which queue mode does not promise)",
    );
  }
  const connection: FeedConnection = new FeedConnection({
    cluster,
    bootstrapServers,
    topic,
    groupId,
    startFrom:
      settings.startingPositionTimestamp !== undefined
        ? { timestamp: settings.startingPositionTimestamp }
        : settings.startingPosition === "TRIM_HORIZON"
          ? "earliest"
          : "latest",
    openFeed: options.openFeed ?? openPlatformaticFeed,
    retry,
    state,
    emit,
    onRecord: (record) => runner.accept(record),
    onAssigned: (partitions) =>
      planner.retainPartitions(new Set(partitions.map((p) => `${topic}-${p}`))),
    onConnected: async () => {
      await connection.refreshOffsets(planner, true);
      void runner.flushCommits();
      runner.schedule();
    },
  });
  const runner = new BatchRunner(
    {
      planner,
      invoke,
      reportFailures: options.reportBatchItemFailures ?? settings.reportBatchItemFailures,
      bootstrapServers: bootstrapServers.join(","),
      maxBuffered: options.maxBufferedRecords ?? Math.max(2_000, planner.limits.batchSize * 10),
      retry,
      state,
      emit,
    },
    connection,
  );

  const statusTimer = setInterval(() => {
    if (state.feedHealthy) {
      void connection.refreshOffsets(planner, false);
      void runner.flushCommits();
    }
  }, options.statusRefreshMs ?? 5_000);
  statusTimer.unref();

  void connection.connect();

  return {
    status(): LocalEventSourceStatus {
      return {
        state: state.state,
        groupId,
        topic,
        ...(state.lastError ? { lastError: state.lastError } : {}),
        batchesInvoked: runner.batchesInvoked,
        batchesFailed: runner.batchesFailed,
        recordsPolled: runner.recordsPolled,
        recordsFiltered,
        recordsCompleted: runner.recordsCompleted,
        partitions: planner.status(),
      };
    },
    async stop() {
      if (state.stopped) return;
      state.stop();
      clearInterval(statusTimer);
      await runner.stop(STOP_GRACE_MS);
      await runner.flushCommits().catch(() => {});
      await connection.close();
      emit("info", "stopped");
    },
  };
}
