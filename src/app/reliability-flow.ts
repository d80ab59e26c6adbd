// The I/O around src/core/reliability.ts: load what earlier invocations settled and which keys are
// parked, and after dispatch park the dead letters and save the progress — letters first, so that
// a record never counts as settled without its letter.
//
// On a conditional-write conflict (another invocation wrote the same partition's state since we
// loaded it — e.g. a duplicate delivery of the batch during a poller rebalance), the stored state
// is re-read and merged with ours (settled offsets are facts, so the union is right), and saved
// again; a removal is retried against the current version. After `maxConflictRetries` the
// ConflictError propagates: let it fail the invocation (the ESM retries the batch; the letters are
// stored already and whatever state was saved still prevents most duplicates).
import { ConflictError } from "../core/errors.ts";
import type { DecodedEvent } from "../core/event.ts";
import type { RecordOutcome } from "../core/outcome.ts";
import { type Logger, logJson } from "../core/outcome.ts";
import { mergeProgress, nextProgress, type PartitionProgress } from "../core/progress.ts";
import { recordFingerprint } from "../core/record-identity.ts";
import type { PostDispatch, ProgressChange } from "../core/reliability.ts";
import type { DeadLetterStore, ProgressStore } from "../core/reliability-ports.ts";

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

async function saveChange(
  store: ProgressStore,
  subscriptionId: string,
  change: ProgressChange,
  options: CommitOptions,
): Promise<void> {
  const retries = options.maxConflictRetries ?? 3;
  let next = change.next;
  let expected = change.expectedVersion;
  for (let attempt = 0; ; attempt++) {
    try {
      if (next !== undefined) await store.save(subscriptionId, next, expected);
      else if (expected !== undefined)
        await store.remove(subscriptionId, change.partitionId, expected);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= retries) throw error;
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
        continue;
      }
      if (stored === undefined) {
        expected = undefined;
        next = { ...next, version: 1 };
      } else {
        expected = stored.version;
        next = { ...mergeProgress(stored, next), version: stored.version + 1 };
      }
    }
  }
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
              error: error instanceof Error ? error.message : String(error),
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
