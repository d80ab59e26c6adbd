// Nothing lost, nothing duplicated, no blocked partition: what the consumer does before and after
// dispatching a batch. Pure: the I/O (loading and saving progress, parking letters) is in
// src/app/reliability-flow.ts over the ports in reliability-ports.ts.
//
// Flow of one invocation:
//   1. load     progress = ProgressStore.load(sub, partitionIds)
//               parkedKeys = ordered ? DeadLetterStore.parkedKeys(sub, partitionIds) : empty
//   2. pre      pre = preDispatch({event, progress, parkedKeys, ordered})
//               - skipped:      settled by an earlier invocation (redelivered): not delivered again
//               - parkedBehind: their (partition, key) is parked: dead-lettered, not delivered
//               - toDispatch:   the rest, planned and dispatched as before (planBatch(toDispatch))
//   3. dispatch outcomes = [...plan.rejected, ...dispatchLanes(plan.lanes)]
//   4. post     post = postDispatch({subscriptionId, event, pre, outcomes, progress, settings,
//                                    ordered, partialBatchResponse, now})
//               - a failed record whose failures (attempts across invocations, age since the
//                 first failure) exceed the budget is dead-lettered "exhausted"; with key policy
//                 `park` in ordered lanes its key is parked and the key's not-attempted later
//                 records are dead-lettered "parked-behind" now
//               - a terminal record is dead-lettered "terminal" (its key is not parked)
//               - dead-lettered records count as settled: reported as terminal, so the lowest
//                 reported offset moves past them
//               - mode: "done" (nothing left), "partial" (partial batch responses) or
//                 "retry-batch" (the handler will throw and the whole batch comes back)
//               - per partition, the next progress (or its deletion)
//   5. commit   DeadLetterStore.park(post.letters) FIRST, then save / remove each progress change
//               (a letter must exist before its record counts as settled anywhere)
//   6. respond  buildBatchResponse(post.outcomes, ...) — which throws in retry-batch mode

import {
  buildDeadLetter,
  type DeadLetter,
  type DeadLetterKind,
  type DeadLetterSettings,
  laneKey,
  parkedKeyId,
} from "./dead-letters.ts";
import type { DecodedEvent, DecodedPartition, DecodedRecord } from "./event.ts";
import type { RecordOutcome } from "./outcome.ts";
import {
  accumulateFailure,
  exceedsBudget,
  type FailureRecord,
  failureOf,
  isOffsetSettled,
  isSettled,
  nextProgress,
  type PartitionProgress,
  type ProgressMode,
  type ProgressOutcome,
} from "./progress.ts";
import { recordFingerprint } from "./record-identity.ts";
import { isUnavailableStatus } from "./retry.ts";

export interface HeldRecord {
  readonly partitionId: string;
  readonly record: DecodedRecord;
}

export interface PreDispatchInput {
  readonly event: DecodedEvent;
  /** As loaded; partitions without state are absent. */
  readonly progress: ReadonlyMap<string, PartitionProgress>;
  /** `parkedKeyId`s of the batch's partitions (empty unless the sink is an ordered one). */
  readonly parkedKeys: ReadonlySet<string>;
  /** `deliveryMode(...).ordered`: key parking applies to ordered lanes only. */
  readonly ordered: boolean;
}

export interface PreDispatch {
  /** The batch minus skipped and parked-behind records (every partition kept, maybe empty). */
  readonly toDispatch: DecodedEvent;
  /** Settled by an earlier invocation: not delivered again. */
  readonly skipped: readonly HeldRecord[];
  /** Their key is parked: dead-lettered by postDispatch, not delivered. */
  readonly parkedBehind: readonly HeldRecord[];
}

export function preDispatch(input: PreDispatchInput): PreDispatch {
  const skipped: HeldRecord[] = [];
  const parkedBehind: HeldRecord[] = [];
  const partitions: DecodedPartition[] = [];
  for (const partition of input.event.partitions) {
    const progress = input.progress.get(partition.id);
    const keep: DecodedRecord[] = [];
    for (const record of partition.records) {
      // The fingerprint (a CRC over the value) is computed only where an offset is settled.
      const settledHere =
        isOffsetSettled(progress, record.offset) &&
        isSettled(progress, record.offset, recordFingerprint(record));
      if (settledHere) {
        skipped.push({ partitionId: partition.id, record });
      } else if (
        input.ordered &&
        input.parkedKeys.size > 0 &&
        record.decodeError === undefined &&
        isParked(input.parkedKeys, partition.id, record)
      ) {
        parkedBehind.push({ partitionId: partition.id, record });
      } else {
        keep.push(record);
      }
    }
    partitions.push(
      keep.length === partition.records.length ? partition : { ...partition, records: keep },
    );
  }
  return { toDispatch: { source: input.event.source, partitions }, skipped, parkedBehind };
}

export interface PostDispatchInput {
  readonly subscriptionId: string;
  /** The whole batch as received (not `pre.toDispatch`). */
  readonly event: DecodedEvent;
  readonly pre: PreDispatch;
  /** Outcomes of the dispatched records: `plan.rejected` and what dispatchLanes returned. */
  readonly outcomes: readonly RecordOutcome[];
  /** The progress preDispatch was given. */
  readonly progress: ReadonlyMap<string, PartitionProgress>;
  readonly settings: DeadLetterSettings;
  readonly ordered: boolean;
  /** The subscription reports batch item failures (`lambda.report.batch.item.failures`). */
  readonly partialBatchResponse: boolean;
  /** Epoch ms. */
  readonly now: number;
}

/** Save `next` expecting `expectedVersion`, or remove the state when `next` is undefined. */
export interface ProgressChange {
  readonly partitionId: string;
  readonly next: PartitionProgress | undefined;
  /** The loaded version; undefined when nothing was stored. */
  readonly expectedVersion: number | undefined;
}

export interface ReliabilityCounts {
  readonly skipped: number;
  readonly deadLettered: number;
  readonly terminal: number;
  readonly exhausted: number;
  readonly parkedBehind: number;
  readonly keysParked: number;
  /** Nothing sent in this invocation got through: attempts were not counted (see postDispatch). */
  readonly sinkDown: boolean;
}

export interface PostDispatch {
  /** Park these (DeadLetterStore.park) before saving progress. */
  readonly letters: readonly DeadLetter[];
  /** Only partitions whose stored state changes. */
  readonly progress: readonly ProgressChange[];
  /**
   * One outcome per record of the batch, for buildBatchResponse and logging: skipped records are
   * `delivered` with 0 attempts, dead-lettered ones `terminal` with a reason saying so.
   */
  readonly outcomes: readonly RecordOutcome[];
  readonly mode: ProgressMode;
  readonly counts: ReliabilityCounts;
}

const coordinate = (partitionId: string, offset: number) => `${partitionId}\u0000${offset}`;

/** What the steps of postDispatch build up, record by record. */
interface Settling {
  readonly input: PostDispatchInput;
  readonly letters: DeadLetter[];
  /** Final outcome per (partition, offset). */
  readonly finals: Map<string, RecordOutcome>;
  readonly deadLettered: Set<string>;
  /** Keys parked by this invocation → offset of the exhausted record that parked them. */
  readonly newlyParked: Map<string, number>;
  readonly counts: { skipped: number; terminal: number; exhausted: number; parkedBehind: number };
  /** The attempts of an outcome that count against its failure budget. */
  readonly counted: (outcome: RecordOutcome) => number;
}

/**
 * Settles what dispatch left, in six steps: records settled earlier, terminal and exhausted
 * records, not-attempted records behind a key parked now, records behind keys parked before, one
 * outcome per record with the mode, and the progress per partition.
 */
export function postDispatch(input: PostDispatchInput): PostDispatch {
  const sinkDown = isSinkDown(input.outcomes);
  const settling: Settling = {
    input,
    letters: [],
    finals: new Map(),
    deadLettered: new Set(),
    newlyParked: new Map(),
    counts: { skipped: 0, terminal: 0, exhausted: 0, parkedBehind: 0 },
    // While the sink is down, failed attempts say nothing about the records: they do not count.
    counted: (o) => (sinkDown && o.status === "failed" ? 0 : o.attempts),
  };
  const sorted = inOffsetOrder(input.outcomes);
  settleSkipped(settling);
  settleDispatched(settling, sorted);
  parkBehindNewlyParked(settling, sorted);
  parkBehindParkedKeys(settling);
  const { outcomes, mode } = finalOutcomes(settling);
  const progress = progressChanges(settling, outcomes, mode);
  const keysParked = new Set(
    settling.letters.flatMap((l) => (l.parksKey === undefined ? [] : [l.parksKey])),
  );
  return {
    letters: settling.letters,
    progress,
    outcomes,
    mode,
    counts: {
      ...settling.counts,
      deadLettered: settling.letters.length,
      keysParked: keysParked.size,
      sinkDown,
    },
  };
}

/**
 * When nothing this invocation sent got through and every failure says "unavailable" (no HTTP
 * answer, 408, 429, 502, 503, 504), the sink or the way to it is down rather than these records
 * bad — however many lanes failed: a quiet or single-key stream sees an outage through one lane.
 * Their attempts do not count against the budget, or a short outage would dead-letter them; the
 * age budget (dead.letter.max.age.seconds) still runs. A handler's own error (500, ...) counts.
 */
function isSinkDown(outcomes: readonly RecordOutcome[]): boolean {
  const failed = outcomes.filter((o) => o.status === "failed");
  return (
    failed.length > 0 &&
    failed.every((o) => isUnavailableStatus(o.httpStatus)) &&
    !outcomes.some((o) => o.status === "delivered")
  );
}

/** Partition, then offset order: a key is then parked by its first exhausted record. */
function inOffsetOrder(outcomes: readonly RecordOutcome[]): RecordOutcome[] {
  return [...outcomes].sort(
    (a, b) =>
      (a.partitionId < b.partitionId ? -1 : a.partitionId > b.partitionId ? 1 : 0) ||
      a.record.offset - b.record.offset,
  );
}

/** Whether the record's lane key is one of the parked keys. */
function isParked(
  parked: ReadonlySet<string>,
  partitionId: string,
  record: DecodedRecord,
): boolean {
  const key = laneKey(record);
  return key !== undefined && parked.has(parkedKeyId(partitionId, key));
}

/** The parked-key id a record's dead letter parks, if its key policy parks keys. */
function parkingKey(input: PostDispatchInput, partitionId: string, record: DecodedRecord) {
  const key = laneKey(record);
  return input.ordered &&
    input.settings.keyPolicy === "park" &&
    key !== undefined &&
    record.decodeError === undefined
    ? parkedKeyId(partitionId, key)
    : undefined;
}

/** The failure history loaded for a record (same offset and fingerprint), if any. */
function previousFailure(
  input: PostDispatchInput,
  partitionId: string,
  record: DecodedRecord,
): FailureRecord | undefined {
  return failureOf(input.progress.get(partitionId), record.offset, recordFingerprint(record));
}

/** Dead-letters a record: its letter, and its final outcome `terminal` saying so. */
function park(
  settling: Settling,
  outcome: Pick<RecordOutcome, "partitionId" | "record" | "httpStatus">,
  kind: DeadLetterKind,
  reason: string,
  failure: FailureRecord | undefined,
  parksKey: string | undefined,
): void {
  const { subscriptionId, now } = settling.input;
  const { partitionId, record } = outcome;
  settling.letters.push(
    buildDeadLetter({
      subscriptionId,
      partitionId,
      record,
      kind,
      reason,
      attempts: failure?.attempts ?? 0,
      firstFailedAt: failure?.firstFailedAt ?? now,
      parkedAt: now,
      httpStatus: outcome.httpStatus,
      parksKey,
    }),
  );
  const id = coordinate(partitionId, record.offset);
  settling.deadLettered.add(id);
  settling.finals.set(id, {
    partitionId,
    record,
    status: "terminal",
    reason: `dead-lettered (${kind}): ${reason}`,
    attempts: failure?.attempts ?? 0,
    httpStatus: outcome.httpStatus,
  });
  if (kind === "terminal") settling.counts.terminal++;
  else if (kind === "exhausted") settling.counts.exhausted++;
  else settling.counts.parkedBehind++;
}

/** Step 1: records settled by an earlier invocation are `delivered` with 0 attempts. */
function settleSkipped(settling: Settling): void {
  for (const { partitionId, record } of settling.input.pre.skipped) {
    settling.counts.skipped++;
    settling.finals.set(coordinate(partitionId, record.offset), {
      partitionId,
      record,
      status: "delivered",
      reason: "skipped: settled by an earlier invocation",
      attempts: 0,
    });
  }
}

/**
 * Step 2: a terminal record is dead-lettered "terminal" (its key is not parked); a failed one
 * whose failures exceed the budget is dead-lettered "exhausted" and, under key policy `park`,
 * parks its key; every other outcome stands.
 */
function settleDispatched(settling: Settling, sorted: readonly RecordOutcome[]): void {
  const { input } = settling;
  const { settings, now } = input;
  for (const o of sorted) {
    const prev = previousFailure(input, o.partitionId, o.record);
    const fingerprint = recordFingerprint(o.record);
    if (o.status === "terminal") {
      const failure = accumulateFailure(prev, fingerprint, o.attempts, o.reason, now);
      park(settling, o, "terminal", o.reason ?? "terminal failure", failure, undefined);
      continue;
    }
    if (o.status === "failed") {
      const failure = accumulateFailure(prev, fingerprint, settling.counted(o), o.reason, now);
      if (!exceedsBudget(failure, settings, now)) {
        settling.finals.set(coordinate(o.partitionId, o.record.offset), o);
        continue;
      }
      const key = parkingKey(input, o.partitionId, o.record);
      if (key !== undefined && !settling.newlyParked.has(key)) {
        settling.newlyParked.set(key, o.record.offset);
      }
      const budget =
        failure.attempts >= settings.maxAttempts
          ? `${failure.attempts} attempts (budget ${settings.maxAttempts})`
          : `failing for ${Math.round((now - failure.firstFailedAt) / 1000)} s (budget ${Math.round(settings.maxAgeMs / 1000)} s)`;
      park(settling, o, "exhausted", `${failure.lastError}; gave up after ${budget}`, failure, key);
      continue;
    }
    settling.finals.set(coordinate(o.partitionId, o.record.offset), o);
  }
}

/** Step 3: not-attempted records at or after the record that parked their key just now. */
function parkBehindNewlyParked(settling: Settling, sorted: readonly RecordOutcome[]): void {
  if (settling.newlyParked.size === 0) return;
  for (const o of sorted) {
    if (o.status !== "not_attempted") continue;
    const key = parkingKey(settling.input, o.partitionId, o.record);
    const parkedAt = key === undefined ? undefined : settling.newlyParked.get(key);
    if (parkedAt === undefined || o.record.offset < parkedAt) continue;
    const prev = previousFailure(settling.input, o.partitionId, o.record);
    park(settling, o, "parked-behind", `key parked behind offset ${parkedAt}`, prev, key);
  }
}

/** Step 4: records held back by preDispatch because their key was already parked. */
function parkBehindParkedKeys(settling: Settling): void {
  for (const held of settling.input.pre.parkedBehind) {
    const key = parkedKeyId(held.partitionId, laneKey(held.record) as Uint8Array);
    const prev = previousFailure(settling.input, held.partitionId, held.record);
    park(settling, held, "parked-behind", "key is parked behind earlier dead letters", prev, key);
  }
}

/** Step 5: one outcome per record of the batch, in batch order, and the mode they make. */
function finalOutcomes(settling: Settling): { outcomes: RecordOutcome[]; mode: ProgressMode } {
  const outcomes: RecordOutcome[] = [];
  let unsettled = false;
  for (const partition of settling.input.event.partitions) {
    for (const record of partition.records) {
      const final = settling.finals.get(coordinate(partition.id, record.offset)) ?? {
        // Not dispatched and not held: cannot happen when the consumer follows the flow; treat as
        // not attempted so that nothing is lost.
        partitionId: partition.id,
        record,
        status: "not_attempted" as const,
        reason: "no outcome recorded",
        attempts: 0,
      };
      if (final.status === "failed" || final.status === "not_attempted") unsettled = true;
      outcomes.push(final);
    }
  }
  const mode: ProgressMode = !unsettled
    ? "done"
    : settling.input.partialBatchResponse
      ? "partial"
      : "retry-batch";
  return { outcomes, mode };
}

/** Step 6: per partition, the next progress (or its removal) where the stored state changes. */
function progressChanges(
  settling: Settling,
  outcomes: readonly RecordOutcome[],
  mode: ProgressMode,
): ProgressChange[] {
  const { input } = settling;
  const changes: ProgressChange[] = [];
  let index = 0;
  for (const partition of input.event.partitions) {
    const first = partition.records[0];
    const own = outcomes.slice(index, index + partition.records.length);
    index += partition.records.length;
    const prev = input.progress.get(partition.id);
    if (first === undefined) continue;
    const progressOutcomes: ProgressOutcome[] = own.map((o) => ({
      offset: o.record.offset,
      fingerprint: recordFingerprint(o.record),
      status: settling.deadLettered.has(coordinate(o.partitionId, o.record.offset))
        ? "dead_lettered"
        : o.status,
      attempts: settling.counted(o),
      reason: o.reason,
    }));
    const next = nextProgress(prev, {
      partitionId: partition.id,
      firstOffset: first.offset,
      outcomes: progressOutcomes,
      mode,
      now: input.now,
    });
    if (prev === undefined && next === undefined) continue;
    changes.push({ partitionId: partition.id, next, expectedVersion: prev?.version });
  }
  return changes;
}
