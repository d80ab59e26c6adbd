// One local event source's consumer group membership: opens the Kafka feed, follows partition
// assignments, hands fetched records on, pauses fetching on request, reads offsets for the
// status, and reconnects with backoff whenever the feed fails or cannot be opened.

import { errorMessage, KafkaFeedError } from "../../core/errors.ts";
import type { KafkaCluster } from "../../core/model.ts";
import { retrying } from "../../core/retry.ts";
import type { BatchPlanner, SourceRecord } from "./batching.ts";
import type { OpenFeed, RecordFeed, StartFrom } from "./platformatic-client.ts";
import { type Backoff, backoffMs, type Emit, type SourceState } from "./source-state.ts";

/** Longest wait before retrying a feed whose topic did not exist yet. */
const MISSING_TOPIC_RETRY_MS = 1_500;

/** Where the offsets read for the status go. */
export type OffsetBook = Pick<BatchPlanner, "setHighWatermark" | "setCommitted" | "setStartOffset">;

export interface FeedConnectionOptions {
  readonly cluster: Pick<KafkaCluster, "name" | "properties">;
  readonly bootstrapServers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  /** Where a group without commits starts: `auto.offset.reset`, or a starting timestamp. */
  readonly startFrom: StartFrom;
  readonly openFeed: OpenFeed;
  readonly retry: Backoff;
  readonly state: SourceState;
  readonly emit: Emit;
  readonly onRecord: (record: SourceRecord) => void;
  /** The group gave this member these partitions (all it has now). */
  readonly onAssigned: (partitions: readonly number[]) => void;
  /** A feed is open and consuming. */
  readonly onConnected: () => Promise<void>;
}

/** A topic that does not exist yet is likely being created: retry within a second or two. */
const topicMissing = (error: unknown): boolean =>
  error instanceof KafkaFeedError && error.topicMissing;

export class FeedConnection {
  readonly #options: FeedConnectionOptions;
  #feed: RecordFeed | undefined;
  #paused = false;
  #assigned: number[] = [];
  /** Bumped whenever a feed is opened or abandoned: callbacks of older feeds are ignored. */
  #generation = 0;

  constructor(options: FeedConnectionOptions) {
    this.#options = options;
  }

  /** The open feed, if any. */
  get feed(): RecordFeed | undefined {
    return this.#feed;
  }

  /** Opens the feed, retrying with backoff until it opens, is superseded or the source stops. */
  async connect(): Promise<void> {
    const { state, retry, emit } = this.#options;
    if (state.stopped || state.configError !== undefined) return;
    /** A newer connection took over (or the source stopped) while an open was under way. */
    let superseded = false;
    try {
      await retrying(
        async (attempt) => {
          state.feedAttempts = attempt;
          const generation = ++this.#generation;
          try {
            await this.#open(generation);
          } catch (error) {
            if (generation !== this.#generation || state.stopped) superseded = true;
            else this.#abandon(this.#openFailure(error));
            throw error;
          }
        },
        {
          maxAttempts: Number.POSITIVE_INFINITY,
          delayMs: (attempt, error) =>
            topicMissing(error)
              ? Math.min(MISSING_TOPIC_RETRY_MS, backoffMs(1, retry))
              : backoffMs(attempt, retry),
          isRetryable: () => !superseded && !state.stopped,
          onRetry: (error, _attempt, delayMs) =>
            emit("warn", "Kafka feed failed, retrying", {
              reason: this.#openFailure(error),
              retryInMs: delayMs,
            }),
          sleep: (ms) => state.sleep(ms),
        },
      );
    } catch {
      // Stopped, or superseded: the failure is in the status already.
    }
  }

  /** Stops fetching (the records buffered are enough); idempotent. */
  pause(): void {
    if (!this.#feed || this.#paused) return;
    this.#paused = true;
    this.#feed.pause();
  }

  /** Fetches again after `pause`; idempotent. */
  resume(): void {
    if (!this.#feed || !this.#paused) return;
    this.#paused = false;
    this.#feed.resume();
  }

  /** High watermarks, and with `withCommitted` the group's commits (or where it would start). */
  async refreshOffsets(book: OffsetBook, withCommitted: boolean): Promise<void> {
    const current = this.#feed;
    if (!current) return;
    const { topic, startFrom, emit } = this.#options;
    try {
      const highs = await current.highWatermarks();
      for (const [partition, offset] of highs) book.setHighWatermark(topic, partition, offset);
      if (withCommitted) {
        const partitions = this.#assigned.length > 0 ? this.#assigned : [...highs.keys()];
        const commits = await current.committedOffsets(partitions);
        for (const [partition, offset] of commits) book.setCommitted(topic, partition, offset);
        // Without a commit the group starts at auto.offset.reset: count the lag from there.
        const uncommitted = partitions.filter((p) => !commits.has(p));
        if (uncommitted.length > 0) {
          // From a starting time the start lies in between: counted from the log start.
          const starts = startFrom === "latest" ? highs : await current.lowWatermarks();
          for (const partition of uncommitted) {
            const offset = starts.get(partition);
            if (offset !== undefined) book.setStartOffset(topic, partition, offset);
          }
        }
      }
    } catch (error) {
      emit("warn", "offsets refresh failed", { error: errorMessage(error) });
    }
  }

  /** Leaves the group (after the source stopped and committed). */
  async close(): Promise<void> {
    const current = this.#feed;
    this.#feed = undefined;
    this.#options.state.feedHealthy = false;
    await current?.close().catch(() => {});
  }

  /** One open; throws when the feed cannot be opened. */
  async #open(generation: number): Promise<void> {
    const { cluster, bootstrapServers, topic, groupId, startFrom, state, emit } = this.#options;
    const current = () => generation === this.#generation && !state.stopped;
    if (bootstrapServers.length === 0)
      throw new Error(`cluster ${cluster.name} has no bootstrap.servers`);
    const opened = await this.#options.openFeed(
      {
        connection: { bootstrapServers, properties: cluster.properties },
        topic,
        groupId,
        startFrom,
      },
      {
        onRecord: (record) => {
          if (current()) this.#options.onRecord(record);
        },
        onAssigned: (partitions) => {
          if (!current()) return;
          this.#assigned = [...partitions];
          this.#options.onAssigned(partitions);
          emit("info", "partitions assigned", { groupId, partitions });
        },
        onError: (error) => {
          if (current()) void this.#reconnect(`Kafka: ${error.message}`, topicMissing(error));
        },
      },
    );
    if (!current()) {
      await opened.close().catch(() => {});
      return;
    }
    this.#feed = opened;
    state.feedHealthy = true;
    state.feedAttempts = 0;
    state.refresh();
    emit("info", "consuming", { groupId, bootstrapServers });
    await this.#options.onConnected();
  }

  #openFailure(error: unknown): string {
    const { topic, bootstrapServers } = this.#options;
    return `cannot consume ${topic} from ${bootstrapServers.join(",")}: ${errorMessage(error)}`;
  }

  /** Drops the current feed (callbacks of it are ignored from now on) and says why. */
  #abandon(reason: string): void {
    const { state } = this.#options;
    this.#generation++;
    state.feedHealthy = false;
    state.recordError(reason);
    state.refresh();
    const broken = this.#feed;
    this.#feed = undefined;
    this.#paused = false;
    void broken?.close().catch(() => {});
  }

  /** The open feed failed: abandon it, wait, connect again. */
  async #reconnect(reason: string, soon: boolean): Promise<void> {
    const { state, retry, emit } = this.#options;
    if (state.stopped) return;
    this.#abandon(reason);
    const delay = soon
      ? Math.min(MISSING_TOPIC_RETRY_MS, backoffMs(1, retry))
      : backoffMs(Math.max(1, state.feedAttempts), retry);
    emit("warn", "Kafka feed failed, retrying", { reason, retryInMs: delay });
    const generation = this.#generation;
    try {
      await state.sleep(delay);
    } catch {
      return; // stopped
    }
    if (generation === this.#generation) await this.connect();
  }
}
