// One local event source's batches: assembles them from the records fetched (batching.ts decides
// what goes together and when), invokes the consumer, retries a failed batch with backoff while
// its partitions stay blocked, commits what succeeded, and pauses fetching while the buffer is full.

import { DependencyError, errorMessage } from "../../core/errors.ts";
import { retrying } from "../../core/retry.ts";
import {
  type Batch,
  type BatchOutcome,
  type BatchPlanner,
  buildEvent,
  completedRecords,
  type EsmKafkaEvent,
  interpretResponse,
  type SourceRecord,
} from "./batching.ts";
import type { RecordFeed } from "./platformatic-client.ts";
import { type Backoff, backoffMs, type Emit, type SourceState } from "./source-state.ts";

const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/** What the runner needs of the feed connection. */
export interface FeedHandle {
  readonly feed: RecordFeed | undefined;
  pause(): void;
  resume(): void;
}

export interface BatchRunnerOptions {
  readonly planner: BatchPlanner;
  readonly invoke: (event: EsmKafkaEvent) => Promise<unknown>;
  /** Honour `batchItemFailures` in responses. */
  readonly reportFailures: boolean;
  /** `bootstrapServers` of the events. */
  readonly bootstrapServers: string;
  /** Fetched-but-undelivered records before fetching pauses. */
  readonly maxBuffered: number;
  readonly retry: Backoff;
  readonly state: SourceState;
  readonly emit: Emit;
}

const hasBatchItemFailures = (response: unknown): boolean =>
  typeof response === "object" &&
  response !== null &&
  Array.isArray((response as { batchItemFailures?: unknown }).batchItemFailures) &&
  (response as { batchItemFailures: unknown[] }).batchItemFailures.length > 0;

export class BatchRunner {
  readonly #options: BatchRunnerOptions;
  readonly #connection: FeedHandle;
  #batchesInvoked = 0;
  #recordsCompleted = 0;
  #batchesFailed = 0;
  #recordsPolled = 0;
  /** Fires when the batching window of the oldest buffered records ends. */
  #dueTimer: NodeJS.Timeout | undefined;
  /** Records of one fetch response arrive in one burst: batch them together. */
  #kicked: NodeJS.Immediate | undefined;
  #committing: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: BatchRunnerOptions, connection: FeedHandle) {
    this.#options = options;
    this.#connection = connection;
  }

  get batchesInvoked(): number {
    return this.#batchesInvoked;
  }

  /** Records the consumer is done with since the feed (re)started: delivered, or dead-lettered. */
  /** Records fetched from Kafka and taken into batches (a refetch after a reconnect counts again). */
  get recordsPolled(): number {
    return this.#recordsPolled;
  }

  /** Invocations that failed (each is retried, as the mapping retries a failed batch). */
  get batchesFailed(): number {
    return this.#batchesFailed;
  }

  get recordsCompleted(): number {
    return this.#recordsCompleted;
  }

  /** A fetched record: buffered, and batched once the burst it came in is over. */
  accept(record: SourceRecord): void {
    if (!this.#options.planner.accept(record, Date.now())) return;
    this.#recordsPolled++;
    this.#kicked ??= setImmediate(() => {
      this.#kicked = undefined;
      this.schedule();
    });
  }

  /** Starts every batch that is ready, and sets a timer for the next one that will be. */
  schedule(): void {
    const { planner, state } = this.#options;
    if (state.stopped) return;
    for (;;) {
      const batch = planner.takeBatch(Date.now());
      if (!batch) break;
      this.#run(batch);
    }
    this.#flowControl();
    if (this.#dueTimer) clearTimeout(this.#dueTimer);
    this.#dueTimer = undefined;
    const due = planner.nextDue(Date.now());
    if (due !== undefined) {
      this.#dueTimer = setTimeout(() => this.schedule(), Math.max(0, due - Date.now()));
    }
  }

  /** Commits what succeeded; a failed commit stays pending for the next flush. */
  async flushCommits(): Promise<void> {
    const { planner, emit, state } = this.#options;
    if (this.#committing) {
      await this.#committing;
      if (planner.pendingCommits().length === 0) return;
    }
    const current = this.#connection.feed;
    const pending = planner.pendingCommits();
    if (!current || pending.length === 0) return;
    this.#committing = (async () => {
      try {
        await current.commit(pending.map(({ partition, offset }) => ({ partition, offset })));
        planner.committed(pending);
      } catch (error) {
        // Kept pending: committed again after the next batch or reconnect.
        state.recordError(`commit failed: ${errorMessage(error)}`);
        emit("warn", "offset commit failed", { error: errorMessage(error) });
      }
    })();
    try {
      await this.#committing;
    } finally {
      this.#committing = undefined;
    }
  }

  /** Starts no more batches; waits at most `graceMs` for the invocations under way. */
  async stop(graceMs: number): Promise<void> {
    if (this.#dueTimer) clearTimeout(this.#dueTimer);
    if (this.#kicked) clearImmediate(this.#kicked);
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inFlight]),
      new Promise((resolve) => {
        graceTimer = setTimeout(resolve, graceMs);
      }),
    ]);
    if (graceTimer) clearTimeout(graceTimer);
  }

  #flowControl(): void {
    const { planner, maxBuffered } = this.#options;
    if (planner.bufferedRecords >= maxBuffered || planner.bufferedBytes >= MAX_BUFFERED_BYTES) {
      this.#connection.pause();
    } else if (
      planner.bufferedRecords < maxBuffered / 2 &&
      planner.bufferedBytes < MAX_BUFFERED_BYTES / 2
    ) {
      this.#connection.resume();
    }
  }

  #run(batch: Batch): void {
    const { emit, state } = this.#options;
    const task = this.#deliver(batch).catch((error: unknown) => {
      // Bookkeeping bug: never crash the host process.
      state.recordError(`internal error: ${errorMessage(error)}`);
      emit("error", "local event source internal error", { error: errorMessage(error) });
    });
    this.#inFlight.add(task);
    void task.finally(() => this.#inFlight.delete(task));
  }

  /** Invokes until the consumer takes the batch (or the source stops), then settles it. */
  async #deliver(batch: Batch): Promise<void> {
    const { planner, state, emit, retry } = this.#options;
    let outcome: Exclude<BatchOutcome, { kind: "error" }>;
    try {
      outcome = await retrying(() => this.#invoke(batch), {
        maxAttempts: Number.POSITIVE_INFINITY,
        delayMs: () => backoffMs(batch.attempts, retry),
        isRetryable: () => !state.stopped,
        onRetry: (error, _retry, delayMs) =>
          emit("warn", "batch failed, retrying", {
            batch: batch.seq,
            attempt: batch.attempts,
            partitions: [...batch.partitions.keys()],
            records: batch.recordCount,
            reason: errorMessage(error),
            retryInMs: delayMs,
          }),
        sleep: (ms) => state.sleep(ms),
      });
    } catch (error) {
      if (state.stopped) return; // the batch stays uncommitted: redelivered after a restart
      throw error;
    }
    state.failingBatches.delete(batch.seq);
    if (outcome.kind === "partial") {
      emit("info", "partial batch failure: redelivering", {
        batch: batch.seq,
        from: Object.fromEntries(outcome.failures),
      });
    }
    planner.complete(batch, outcome, Date.now());
    this.#recordsCompleted += completedRecords(batch, outcome);
    state.refresh();
    void this.flushCommits();
    this.schedule();
  }

  /** One invocation; throws a DependencyError (the batch blocked, marked failing) when it fails. */
  async #invoke(batch: Batch): Promise<Exclude<BatchOutcome, { kind: "error" }>> {
    const { invoke, reportFailures, bootstrapServers, state, emit } = this.#options;
    batch.attempts++;
    this.#batchesInvoked++;
    let outcome: BatchOutcome;
    try {
      const response = await invoke(buildEvent(batch, bootstrapServers));
      outcome = interpretResponse(response, batch, reportFailures);
      if (!reportFailures && hasBatchItemFailures(response)) {
        emit("warn", "batchItemFailures ignored: lambda.report.batch.item.failures is off", {
          batch: batch.seq,
        });
      }
    } catch (error) {
      outcome = { kind: "error", reason: errorMessage(error) };
    }
    if (outcome.kind !== "error") return outcome;
    this.#batchesFailed++;
    state.failingBatches.add(batch.seq);
    state.recordError(`batch ${batch.seq} failed: ${outcome.reason}`);
    state.refresh();
    throw new DependencyError(outcome.reason);
  }
}
