// The local stand-in for a Lambda event source mapping on a self-managed Kafka cluster: one
// consumer group member per subscription feeds batches to `invoke` (the consumer handler) in the
// exact ESM event shape, commits only what succeeded, redelivers from the offsets a partial batch
// response names, retries a failed batch with backoff (the partition stays blocked, as on AWS),
// and survives broker outages by reconnecting. Never throws into the host process.

import { KafkaConfigError, KafkaFeedError } from "../../core/errors.ts";
import type { KafkaCluster, Subscription } from "../../core/model.ts";
import { feedSettings } from "../../core/subscription-options.ts";
import {
  type Batch,
  type BatchOutcome,
  BatchPlanner,
  buildEvent,
  completedRecords,
  type EsmKafkaEvent,
  interpretResponse,
  type PartitionStatus,
} from "./batching.ts";
import {
  clientSecurityOptions,
  type OpenFeed,
  openPlatformaticFeed,
  type RecordFeed,
} from "./platformatic-client.ts";

/** `failed`: the cluster's settings cannot work (see `lastError`); nothing is retried. */
export type EventSourceState = "starting" | "running" | "retrying" | "failed" | "stopped";

export interface LocalEventSourceStatus {
  readonly state: EventSourceState;
  readonly groupId: string;
  readonly topic: string;
  readonly lastError?: { readonly message: string; readonly at: string };
  readonly batchesInvoked: number;
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
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** How often offsets for the status are refreshed (default 5 s). */
  readonly statusRefreshMs?: number;
  /** Upper bound on fetched-but-undelivered records before fetching pauses (default 10 × batch size, ≥ 2,000). */
  readonly maxBufferedRecords?: number;
  /** Test seam: the Kafka client. */
  readonly openFeed?: OpenFeed;
}

const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
const STOP_GRACE_MS = 15_000;
/** Longest wait before retrying a feed whose topic did not exist yet. */
const MISSING_TOPIC_RETRY_MS = 1_500;

export function backoffMs(attempt: number, retry: { initialMs: number; maxMs: number }): number {
  const base = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

export function startLocalEventSource(options: LocalEventSourceOptions): LocalEventSource {
  const { subscription, cluster, invoke } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = feedSettings(subscription.id, subscription.options);
  const bootstrap = cluster.properties["bootstrap.servers"] ?? "";
  const bootstrapServers = bootstrap
    .split(",")
    .map((s) => s.trim().replace(/^[A-Za-z_]+:\/\//, ""))
    .filter((s) => s.length > 0);
  const reportFailures = options.reportBatchItemFailures ?? settings.reportBatchItemFailures;
  const retry = options.retry ?? { initialMs: 1_000, maxMs: 30_000 };
  const planner = new BatchPlanner({
    batchSize: settings.batchSize ?? 100,
    windowMs:
      settings.batchingWindowSeconds !== undefined ? settings.batchingWindowSeconds * 1000 : 500,
  });
  const maxBuffered = options.maxBufferedRecords ?? Math.max(2_000, planner.limits.batchSize * 10);
  const openFeed = options.openFeed ?? openPlatformaticFeed;
  const earliest = settings.startingPosition === "TRIM_HORIZON";
  const topic = subscription.topic;
  const groupId = settings.consumerGroupId;

  const emit = (
    level: "info" | "warn" | "error",
    msg: string,
    extra: Record<string, unknown> = {},
  ) => log(JSON.stringify({ level, msg, subscription: subscription.id, topic, ...extra }));

  let state: EventSourceState = "starting";
  let lastError: { message: string; at: string } | undefined;
  let feed: RecordFeed | undefined;
  let feedHealthy = false;
  let feedAttempts = 0;
  let paused = false;
  let stopped = false;
  let batchesInvoked = 0;
  let recordsCompleted = 0;
  let dueTimer: NodeJS.Timeout | undefined;
  let reopenTimer: NodeJS.Timeout | undefined;
  let committing: Promise<void> | undefined;
  let assigned: number[] = [];
  const failingBatches = new Set<number>();
  const inFlight = new Set<Promise<void>>();
  const retryTimers = new Set<NodeJS.Timeout>();

  const recordError = (message: string) => {
    lastError = { message, at: new Date().toISOString() };
  };
  let configError: string | undefined;
  const refreshState = () => {
    if (stopped) state = "stopped";
    else if (configError !== undefined) state = "failed";
    else if (!feedHealthy && feedAttempts === 0 && state === "starting") state = "starting";
    else state = feedHealthy && failingBatches.size === 0 ? "running" : "retrying";
  };

  if (bootstrapServers.length === 0) {
    recordError(`cluster ${cluster.name} has no bootstrap.servers`);
  }
  try {
    clientSecurityOptions(cluster.properties);
  } catch (error) {
    if (!(error instanceof KafkaConfigError)) throw error;
    configError = `cluster ${cluster.name}: ${error.message}`;
    recordError(configError);
    refreshState();
    emit("error", "cannot consume: unsupported cluster settings", { error: configError });
  }

  // ---- batches -------------------------------------------------------------------------------

  const schedule = () => {
    if (stopped) return;
    for (;;) {
      const batch = planner.takeBatch(Date.now());
      if (!batch) break;
      run(batch);
    }
    flowControl();
    if (dueTimer) clearTimeout(dueTimer);
    dueTimer = undefined;
    const due = planner.nextDue(Date.now());
    if (due !== undefined) {
      dueTimer = setTimeout(schedule, Math.max(0, due - Date.now()));
    }
  };

  /** Records of one fetch response arrive in one burst: batch them together. */
  let kicked: NodeJS.Immediate | undefined;
  const kick = () => {
    kicked ??= setImmediate(() => {
      kicked = undefined;
      schedule();
    });
  };

  const flowControl = () => {
    if (!feed) return;
    const full =
      planner.bufferedRecords >= maxBuffered || planner.bufferedBytes >= MAX_BUFFERED_BYTES;
    if (full && !paused) {
      paused = true;
      feed.pause();
    } else if (
      paused &&
      planner.bufferedRecords < maxBuffered / 2 &&
      planner.bufferedBytes < MAX_BUFFERED_BYTES / 2
    ) {
      paused = false;
      feed.resume();
    }
  };

  const run = (batch: Batch) => {
    const task = (async () => {
      batch.attempts++;
      batchesInvoked++;
      let outcome: BatchOutcome;
      try {
        const response = await invoke(buildEvent(batch, bootstrapServers.join(",")));
        outcome = interpretResponse(response, batch, reportFailures);
        if (
          !reportFailures &&
          typeof response === "object" &&
          response !== null &&
          Array.isArray((response as { batchItemFailures?: unknown }).batchItemFailures) &&
          (response as { batchItemFailures: unknown[] }).batchItemFailures.length > 0
        ) {
          emit("warn", "batchItemFailures ignored: lambda.report.batch.item.failures is off", {
            batch: batch.seq,
          });
        }
      } catch (error) {
        outcome = { kind: "error", reason: errorMessage(error) };
      }
      if (outcome.kind === "error") {
        failingBatches.add(batch.seq);
        recordError(`batch ${batch.seq} failed: ${outcome.reason}`);
        refreshState();
        if (stopped) return;
        const delay = backoffMs(batch.attempts, retry);
        emit("warn", "batch failed, retrying", {
          batch: batch.seq,
          attempt: batch.attempts,
          partitions: [...batch.partitions.keys()],
          records: batch.recordCount,
          reason: outcome.reason,
          retryInMs: delay,
        });
        const timer = setTimeout(() => {
          retryTimers.delete(timer);
          if (!stopped) run(batch);
        }, delay);
        retryTimers.add(timer);
        return;
      }
      failingBatches.delete(batch.seq);
      if (outcome.kind === "partial") {
        emit("info", "partial batch failure: redelivering", {
          batch: batch.seq,
          from: Object.fromEntries(outcome.failures),
        });
      }
      planner.complete(batch, outcome, Date.now());
      recordsCompleted += completedRecords(batch, outcome);
      refreshState();
      void flushCommits();
      schedule();
    })().catch((error: unknown) => {
      // Bookkeeping bug: never crash the host process.
      recordError(`internal error: ${errorMessage(error)}`);
      emit("error", "local event source internal error", { error: errorMessage(error) });
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  };

  // ---- commits --------------------------------------------------------------------------------

  const flushCommits = async (): Promise<void> => {
    if (committing) {
      await committing;
      if (planner.pendingCommits().length === 0) return;
    }
    const current = feed;
    const pending = planner.pendingCommits();
    if (!current || pending.length === 0) return;
    committing = (async () => {
      try {
        await current.commit(pending.map(({ partition, offset }) => ({ partition, offset })));
        planner.committed(pending);
      } catch (error) {
        // Kept pending: committed again after the next batch or reconnect.
        recordError(`commit failed: ${errorMessage(error)}`);
        emit("warn", "offset commit failed", { error: errorMessage(error) });
      }
    })();
    try {
      await committing;
    } finally {
      committing = undefined;
    }
  };

  // ---- the feed ---------------------------------------------------------------------------------

  const refreshOffsets = async (withCommitted: boolean) => {
    const current = feed;
    if (!current) return;
    try {
      const highs = await current.highWatermarks();
      for (const [partition, offset] of highs) planner.setHighWatermark(topic, partition, offset);
      if (withCommitted) {
        const partitions = assigned.length > 0 ? assigned : [...highs.keys()];
        const commits = await current.committedOffsets(partitions);
        for (const [partition, offset] of commits) planner.setCommitted(topic, partition, offset);
        // Without a commit the group starts at auto.offset.reset: count the lag from there.
        const uncommitted = partitions.filter((p) => !commits.has(p));
        if (uncommitted.length > 0) {
          const starts = earliest ? await current.lowWatermarks() : highs;
          for (const partition of uncommitted) {
            const offset = starts.get(partition);
            if (offset !== undefined) planner.setStartOffset(topic, partition, offset);
          }
        }
      }
    } catch (error) {
      emit("warn", "offsets refresh failed", { error: errorMessage(error) });
    }
  };

  /** Bumped whenever a feed is abandoned: callbacks of older feeds are ignored. */
  let generation = 0;

  /** `soon`: retry within a second or two whatever the backoff (the topic is being created). */
  const reopen = (reason: string, soon = false) => {
    if (stopped || reopenTimer) return;
    generation++;
    feedHealthy = false;
    recordError(reason);
    refreshState();
    const broken = feed;
    feed = undefined;
    paused = false;
    void broken?.close().catch(() => {});
    const delay = soon
      ? Math.min(MISSING_TOPIC_RETRY_MS, backoffMs(1, retry))
      : backoffMs(Math.max(1, feedAttempts), retry);
    emit("warn", "Kafka feed failed, retrying", { reason, retryInMs: delay });
    reopenTimer = setTimeout(() => {
      reopenTimer = undefined;
      void open();
    }, delay);
  };

  const open = async () => {
    if (stopped || configError !== undefined) return;
    feedAttempts++;
    const mine = ++generation;
    const current = () => mine === generation && !stopped;
    let opened: RecordFeed;
    try {
      if (bootstrapServers.length === 0)
        throw new Error(`cluster ${cluster.name} has no bootstrap.servers`);
      opened = await openFeed(
        {
          connection: { bootstrapServers, properties: cluster.properties },
          topic,
          groupId,
          startFrom: earliest ? "earliest" : "latest",
        },
        {
          onRecord: (record) => {
            if (current() && planner.accept(record, Date.now())) kick();
          },
          onAssigned: (partitions) => {
            if (!current()) return;
            assigned = [...partitions];
            planner.retainPartitions(new Set(partitions.map((p) => `${topic}-${p}`)));
            emit("info", "partitions assigned", { groupId, partitions });
          },
          onError: (error) => {
            if (current()) {
              reopen(
                `Kafka: ${error.message}`,
                error instanceof KafkaFeedError && error.topicMissing,
              );
            }
          },
        },
      );
    } catch (error) {
      if (current()) {
        reopen(
          `cannot consume ${topic} from ${bootstrapServers.join(",")}: ${errorMessage(error)}`,
          error instanceof KafkaFeedError && error.topicMissing,
        );
      }
      return;
    }
    if (!current()) {
      await opened.close().catch(() => {});
      return;
    }
    feed = opened;
    feedHealthy = true;
    feedAttempts = 0;
    refreshState();
    emit("info", "consuming", { groupId, bootstrapServers });
    await refreshOffsets(true);
    void flushCommits();
    schedule();
  };

  const statusTimer = setInterval(() => {
    if (feedHealthy) {
      void refreshOffsets(false);
      void flushCommits();
    }
  }, options.statusRefreshMs ?? 5_000);
  statusTimer.unref();

  void open();

  return {
    status(): LocalEventSourceStatus {
      return {
        state,
        groupId,
        topic,
        ...(lastError ? { lastError } : {}),
        batchesInvoked,
        recordsCompleted,
        partitions: planner.status(),
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      state = "stopped";
      clearInterval(statusTimer);
      if (dueTimer) clearTimeout(dueTimer);
      if (kicked) clearImmediate(kicked);
      if (reopenTimer) clearTimeout(reopenTimer);
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((resolve) => {
          graceTimer = setTimeout(resolve, STOP_GRACE_MS);
        }),
      ]);
      if (graceTimer) clearTimeout(graceTimer);
      await flushCommits().catch(() => {});
      const current = feed;
      feed = undefined;
      feedHealthy = false;
      await current?.close().catch(() => {});
      emit("info", "stopped");
    },
  };
}
