// The I/O around src/core/reliability.ts, behind one interface the consumer always has: with
// stores, load what earlier invocations settled and which keys are parked, checkpoint deliveries,
// and after dispatch park the dead letters and save the progress — letters first, so that a record
// never counts as settled without its letter; without stores (noReliability), nothing is loaded,
// skipped, dead-lettered or saved, and every outcome stands as dispatch left it.
//
// On a conditional-write conflict (another invocation wrote the same partition's state since we
// loaded it — e.g. a duplicate delivery of the batch during a poller rebalance), the stored state
// is re-read and merged with ours (settled offsets are facts, so the union is right), and saved
// again; a removal is retried against the current version. After `maxConflictRetries` the
// ConflictError propagates: let it fail the invocation (the ESM retries the batch; the letters are
// stored already and whatever state was saved still prevents most duplicates).
import { ConflictError, errorMessage, SubscriptionResolutionError } from "../core/errors.ts";
import type { DecodedEvent } from "../core/event.ts";
import { type Logger, logJson, type RecordOutcome } from "../core/outcome.ts";
import { mergeProgress, nextProgress, type PartitionProgress } from "../core/progress.ts";
import { recordFingerprint } from "../core/record-identity.ts";
import {
  type PostDispatch,
  type PostDispatchInput,
  type ProgressChange,
  postDispatch,
  type ReliabilityCounts,
} from "../core/reliability.ts";
import type { DeadLetterStore, ProgressStore } from "../core/reliability-ports.ts";
import { exponentialDelays, retrying } from "../core/retry.ts";

export interface ReliabilityStores {
  readonly progress: ProgressStore;
  readonly deadLetters: DeadLetterStore;
}

export interface LoadedReliabilityState {
  readonly progress: Map<string, PartitionProgress>;
  readonly parkedKeys: Set<string>;
}

/** Step 1: both reads in parallel. Parked keys are only read for ordered sinks. */
export async function loadReliabilityState(
  stores: ReliabilityStores,
  subscriptionId: string,
  event: DecodedEvent,
  ordered: boolean,
): Promise<LoadedReliabilityState> {
  const partitionIds = event.partitions.filter((p) => p.records.length > 0).map((p) => p.id);
  const [progress, parkedKeys] = await Promise.all([
    stores.progress.load(subscriptionId, partitionIds),
    ordered
      ? stores.deadLetters.parkedKeys(subscriptionId, partitionIds)
      : Promise.resolve(new Set<string>()),
  ]);
  return { progress, parkedKeys };
}

export interface CommitOptions {
  readonly maxConflictRetries?: number;
  readonly log?: Logger;
}

/** Step 5: park the letters, then save every progress change (partitions in parallel). */
export async function commitReliability(
  stores: ReliabilityStores,
  subscriptionId: string,
  post: PostDispatch,
  options: CommitOptions = {},
): Promise<void> {
  if (post.letters.length > 0) await stores.deadLetters.park(post.letters);
  await Promise.all(
    post.progress.map((change) => saveChange(stores.progress, subscriptionId, change, options)),
  );
}

const isConflict = (error: unknown) => error instanceof ConflictError;

/** Saves (or removes) one partition's state; a conflict re-reads, merges and tries again. */
async function saveChange(
  store: ProgressStore,
  subscriptionId: string,
  change: ProgressChange,
  options: CommitOptions,
): Promise<void> {
  let next = change.next;
  let expected = change.expectedVersion;
  await retrying(
    async (attempt) => {
      if (attempt > 1) {
        const stored = (await store.load(subscriptionId, [change.partitionId])).get(
          change.partitionId,
        );
        if (options.log) {
          logJson(options.log, {
            level: "warn",
            msg: "progress conflict: merging with the stored state",
            subscription: subscriptionId,
            partition: change.partitionId,
            expectedVersion: expected ?? null,
            storedVersion: stored?.version ?? null,
          });
        }
        if (next === undefined) {
          // We are done with the partition; whatever was written meanwhile lies below the next
          // batch's floor or holds facts. Remove it if still there.
          if (stored === undefined) return;
          expected = stored.version;
        } else if (stored === undefined) {
          expected = undefined;
          next = { ...next, version: 1 };
        } else {
          expected = stored.version;
          next = { ...mergeProgress(stored, next), version: stored.version + 1 };
        }
      }
      if (next !== undefined) await store.save(subscriptionId, next, expected);
      else if (expected !== undefined)
        await store.remove(subscriptionId, change.partitionId, expected);
    },
    {
      // Only a conflict is cured by re-reading; a failing store is the commit's to retry.
      isRetryable: isConflict,
      maxAttempts: (options.maxConflictRetries ?? 3) + 1,
      delayMs: () => 0,
      sleep: () => Promise.resolve(),
    },
  );
}

export interface CheckpointOptions {
  readonly intervalMs: number;
  /** Asked before each checkpoint: false (the subscription is being deleted) saves nothing. */
  readonly accepting?: () => Promise<boolean>;
  readonly now: () => number;
  readonly log?: Logger;
}

export interface Checkpointer {
  /** Feed it every outcome as dispatch learns it (DispatchDeps.onOutcome). */
  readonly onOutcome: (outcome: RecordOutcome) => void;
  /** Waits for a save in flight; the progress map then holds what was saved. */
  readonly settle: () => Promise<void>;
}

/**
 * Saves, during a long dispatch, what has been delivered so far — every `intervalMs`, one save
 * at a time — as settled offsets (retry-batch rules: nothing else changes), so that an invocation
 * that crashes or times out mid-batch repeats only what came after the last checkpoint. Only
 * deliveries are checkpointed: terminal records need their letter first (the final commit).
 * `progress` (the loaded state) is updated with each saved state, so the final commit builds on
 * it and expects its version. A failed checkpoint is logged and left to the final commit.
 */
export function createCheckpointer(
  store: ProgressStore,
  subscriptionId: string,
  event: DecodedEvent,
  progress: Map<string, PartitionProgress>,
  options: CheckpointOptions,
): Checkpointer {
  const firstOffsets = new Map(
    event.partitions.flatMap((p) => (p.records[0] ? [[p.id, p.records[0].offset] as const] : [])),
  );
  let pending: RecordOutcome[] = [];
  let lastSaveAt = options.now();
  let inFlight: Promise<void> | undefined;

  const save = async (batch: RecordOutcome[]): Promise<void> => {
    if (options.accepting && !(await options.accepting().catch(() => false))) return;
    const byPartition = new Map<string, RecordOutcome[]>();
    for (const o of batch)
      byPartition.set(o.partitionId, [...(byPartition.get(o.partitionId) ?? []), o]);
    await Promise.all(
      [...byPartition].map(async ([partitionId, delivered]) => {
        const prev = progress.get(partitionId);
        const next = nextProgress(prev, {
          partitionId,
          firstOffset: firstOffsets.get(partitionId) ?? 0,
          outcomes: delivered.map((o) => ({
            offset: o.record.offset,
            fingerprint: recordFingerprint(o.record),
            status: "delivered" as const,
            attempts: o.attempts,
          })),
          mode: "retry-batch",
          now: options.now(),
        });
        if (next === undefined) return;
        try {
          await store.save(subscriptionId, next, prev?.version);
          progress.set(partitionId, next);
        } catch (error) {
          if (options.log) {
            logJson(options.log, {
              level: "warn",
              msg: "checkpoint not saved: the final commit will save it",
              subscription: subscriptionId,
              partition: partitionId,
              error: errorMessage(error),
            });
          }
        }
      }),
    );
  };

  const onOutcome = (outcome: RecordOutcome): void => {
    if (options.intervalMs <= 0 || outcome.status !== "delivered") return;
    pending.push(outcome);
    if (inFlight !== undefined || options.now() - lastSaveAt < options.intervalMs) return;
    const batch = pending;
    pending = [];
    inFlight = save(batch).finally(() => {
      lastSaveAt = options.now();
      inFlight = undefined;
    });
  };

  return { onOutcome, settle: async () => await inFlight };
}

/** How one batch's commit may run: its deadline, and who says the subscription still takes writes. */
export interface CommitWindow {
  /** Epoch ms after which no store retry starts. */
  readonly deadlineMs: number;
  /** Read past any cache: false (the subscription is being deleted) saves nothing. */
  readonly accepting: () => Promise<boolean>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Logger;
}

/** The dispatched outcomes settled: what to answer with, and what to commit. */
export interface Settlement {
  /** The outcomes the response and the logs are built from. */
  readonly outcomes: readonly RecordOutcome[];
  /** Undefined without stores: nothing was skipped or dead-lettered. */
  readonly counts: ReliabilityCounts | undefined;
  /** Saves what the settlement decided (nothing without stores). */
  commit(window: CommitWindow): Promise<void>;
}

/** What the consumer remembers between invocations; see storedReliability and noReliability. */
export interface Reliability {
  /** What earlier invocations settled and, for ordered sinks, the parked keys. */
  load(
    subscriptionId: string,
    event: DecodedEvent,
    ordered: boolean,
  ): Promise<LoadedReliabilityState>;
  /** Checkpoints of the deliveries made during a long dispatch. */
  checkpoints(
    subscriptionId: string,
    event: DecodedEvent,
    state: LoadedReliabilityState,
    options: CheckpointOptions,
  ): Checkpointer;
  /** Skipped, dead-lettered and unsettled records, from what dispatch left. */
  settle(input: PostDispatchInput): Settlement;
}

/**
 * Saving what was delivered is what keeps a redelivered batch from being delivered again, so a
 * throttled or briefly unavailable store is retried (beyond the SDK's own retries) while the
 * invocation has time; only then does the error fail the invocation.
 */
const STORE_RETRY_ATTEMPTS = 6;
const storeRetryDelays = exponentialDelays({ baseMs: 50, maxMs: 1_000 });

/** Redelivery without duplicates and dead letters, over the stores. */
export function storedReliability(stores: ReliabilityStores): Reliability {
  return {
    load: (subscriptionId, event, ordered) =>
      loadReliabilityState(stores, subscriptionId, event, ordered),
    checkpoints: (subscriptionId, event, state, options) =>
      createCheckpointer(stores.progress, subscriptionId, event, state.progress, options),
    settle: (input) => {
      const post = postDispatch(input);
      return {
        outcomes: post.outcomes,
        counts: post.counts,
        commit: async (window) => {
          // A batch delivered whole in one go leaves nothing to save (its offsets are committed
          // by the event source): no write, so no need to ask whether writes are still taken.
          if (post.letters.length === 0 && post.progress.length === 0) return;
          await retrying(
            async () => {
              if (!(await window.accepting())) {
                throw new SubscriptionResolutionError(
                  `Subscription ${input.subscriptionId} is being deleted: nothing of this batch is saved`,
                );
              }
              await commitReliability(stores, input.subscriptionId, post, { log: window.log });
            },
            {
              maxAttempts: STORE_RETRY_ATTEMPTS,
              delayMs: storeRetryDelays,
              deadlineMs: window.deadlineMs,
              now: window.now,
              sleep: window.sleep,
            },
          );
        },
      };
    },
  };
}

const NO_CHECKPOINTS: Checkpointer = { onOutcome: () => {}, settle: async () => {} };

/**
 * Without stores: nothing is skipped (a redelivered batch is sent again), nothing is
 * dead-lettered (a failing record blocks its lane until it succeeds), nothing is saved.
 */
export const noReliability: Reliability = {
  load: async () => ({ progress: new Map(), parkedKeys: new Set() }),
  checkpoints: () => NO_CHECKPOINTS,
  settle: (input) => ({ outcomes: input.outcomes, counts: undefined, commit: async () => {} }),
};
