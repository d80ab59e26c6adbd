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
import { type Logger, logJson } from "../core/outcome.ts";
import { mergeProgress, type PartitionProgress } from "../core/progress.ts";
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
