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
  hasLaneKey,
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
        hasLaneKey(record) &&
        record.decodeError === undefined &&
        input.parkedKeys.has(parkedKeyId(partition.id, record.key))
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

/** Answers that say the service is unavailable, not that the record is bad. */
const UNAVAILABLE_STATUS = new Set([408, 429, 502, 503, 504]);

export function postDispatch(input: PostDispatchInput): PostDispatch {
  const { subscriptionId, settings, now } = input;
  const letters: DeadLetter[] = [];
  /** Final outcome per (partition, offset). */
  const finals = new Map<string, RecordOutcome>();
  const deadLettered = new Set<string>();
  /** Keys parked by this invocation → offset of the exhausted record that parked them. */
  const newlyParked = new Map<string, number>();
  const counts = { skipped: 0, terminal: 0, exhausted: 0, parkedBehind: 0 };

  const park = (
    outcome: Pick<RecordOutcome, "partitionId" | "record" | "httpStatus">,
    kind: DeadLetterKind,
    reason: string,
    failure: FailureRecord | undefined,
    parksKey: string | undefined,
  ): void => {
    const { partitionId, record } = outcome;
    letters.push(
      buildDeadLetter({
        subscriptionId,
        partitionId,
        record,
        kind,
        reason,
        attempts: failure?.attempts ?? 0,
        firstFailedAt: failure?.firstFailedAt ?? now,
        parkedAt: now,
        ...(outcome.httpStatus === undefined ? {} : { httpStatus: outcome.httpStatus }),
        ...(parksKey === undefined ? {} : { parksKey }),
      }),
    );
    const id = coordinate(partitionId, record.offset);
    deadLettered.add(id);
    finals.set(id, {
      partitionId,
      record,
      status: "terminal",
      reason: `dead-lettered (${kind}): ${reason}`,
      attempts: failure?.attempts ?? 0,
      ...(outcome.httpStatus === undefined ? {} : { httpStatus: outcome.httpStatus }),
    });
    if (kind === "terminal") counts.terminal++;
    else if (kind === "exhausted") counts.exhausted++;
    else counts.parkedBehind++;
  };

  const laneKey = (partitionId: string, record: DecodedRecord): string | undefined =>
    input.ordered &&
    settings.keyPolicy === "park" &&
    hasLaneKey(record) &&
    record.decodeError === undefined
      ? parkedKeyId(partitionId, record.key)
      : undefined;

  // 1. Records settled earlier.
  for (const { partitionId, record } of input.pre.skipped) {
    counts.skipped++;
    finals.set(coordinate(partitionId, record.offset), {
      partitionId,
      record,
      status: "delivered",
      reason: "skipped: settled by an earlier invocation",
      attempts: 0,
    });
  }

  // When nothing this invocation sent got through and every failure says "unavailable" (no HTTP
  // answer, 408, 429, 502, 503, 504), the sink or the way to it is down rather than these records
  // bad — however many lanes failed: a quiet or single-key stream sees an outage through one lane.
  // Their attempts do not count against the budget, or a short outage would dead-letter them; the
  // age budget (dead.letter.max.age.seconds) still runs. A handler's own error (500, ...) counts.
  const failed = input.outcomes.filter((o) => o.status === "failed");
  const sinkDown =
    failed.length > 0 &&
    failed.every((o) => o.httpStatus === undefined || UNAVAILABLE_STATUS.has(o.httpStatus)) &&
    !input.outcomes.some((o) => o.status === "delivered");
  const counted = (o: RecordOutcome) => (sinkDown && o.status === "failed" ? 0 : o.attempts);

  // 2. Terminal and exhausted records (offset order, so a key is parked by its first exhausted).
  const sorted = [...input.outcomes].sort(
    (a, b) =>
      (a.partitionId < b.partitionId ? -1 : a.partitionId > b.partitionId ? 1 : 0) ||
      a.record.offset - b.record.offset,
  );
  for (const o of sorted) {
    const fingerprint = recordFingerprint(o.record);
    const prev = failureOf(input.progress.get(o.partitionId), o.record.offset, fingerprint);
    if (o.status === "terminal") {
      const failure = accumulateFailure(prev, fingerprint, o.attempts, o.reason, now);
      park(o, "terminal", o.reason ?? "terminal failure", failure, undefined);
      continue;
    }
    if (o.status === "failed") {
      const failure = accumulateFailure(prev, fingerprint, counted(o), o.reason, now);
      if (!exceedsBudget(failure, settings, now)) {
        finals.set(coordinate(o.partitionId, o.record.offset), o);
        continue;
      }
      const key = laneKey(o.partitionId, o.record);
      if (key !== undefined && !newlyParked.has(key)) newlyParked.set(key, o.record.offset);
      const budget =
        failure.attempts >= settings.maxAttempts
          ? `${failure.attempts} attempts (budget ${settings.maxAttempts})`
          : `failing for ${Math.round((now - failure.firstFailedAt) / 1000)} s (budget ${Math.round(settings.maxAgeMs / 1000)} s)`;
      park(o, "exhausted", `${failure.lastError}; gave up after ${budget}`, failure, key);
      continue;
    }
    finals.set(coordinate(o.partitionId, o.record.offset), o);
  }

  // 3. Not-attempted records behind a key parked just now.
  if (newlyParked.size > 0) {
    for (const o of sorted) {
      if (o.status !== "not_attempted") continue;
      const key = laneKey(o.partitionId, o.record);
      const parkedAt = key === undefined ? undefined : newlyParked.get(key);
      if (parkedAt === undefined || o.record.offset < parkedAt) continue;
      const prev = failureOf(
        input.progress.get(o.partitionId),
        o.record.offset,
        recordFingerprint(o.record),
      );
      park(o, "parked-behind", `key parked behind offset ${parkedAt}`, prev, key);
    }
  }

  // 4. Records whose key was already parked.
  for (const held of input.pre.parkedBehind) {
    const key = parkedKeyId(held.partitionId, held.record.key as Uint8Array);
    const prev = failureOf(
      input.progress.get(held.partitionId),
      held.record.offset,
      recordFingerprint(held.record),
    );
    park(held, "parked-behind", "key is parked behind earlier dead letters", prev, key);
  }

  // 5. One outcome per record of the batch, and the mode.
  const outcomes: RecordOutcome[] = [];
  let unsettled = false;
  for (const partition of input.event.partitions) {
    for (const record of partition.records) {
      const final = finals.get(coordinate(partition.id, record.offset)) ?? {
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
    : input.partialBatchResponse
      ? "partial"
      : "retry-batch";

  // 6. Progress per partition.
  const progress: ProgressChange[] = [];
  let index = 0;
  for (const partition of input.event.partitions) {
    const first = partition.records[0];
    const own = outcomes.slice(index, index + partition.records.length);
    index += partition.records.length;
    const prev = input.progress.get(partition.id);
    if (first === undefined) continue;
    const progressOutcomes: ProgressOutcome[] = own.map((o) => {
      const id = coordinate(o.partitionId, o.record.offset);
      return {
        offset: o.record.offset,
        fingerprint: recordFingerprint(o.record),
        status: deadLettered.has(id) ? "dead_lettered" : o.status,
        attempts: counted(o),
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      };
    });
    const next = nextProgress(prev, {
      partitionId: partition.id,
      firstOffset: first.offset,
      outcomes: progressOutcomes,
      mode,
      now,
    });
    if (prev === undefined && next === undefined) continue;
    progress.push({ partitionId: partition.id, next, expectedVersion: prev?.version });
  }

  const keysParked = new Set(
    letters.flatMap((l) => (l.parksKey === undefined ? [] : [l.parksKey])),
  );
  return {
    letters,
    progress,
    outcomes,
    mode,
    counts: { ...counts, deadLettered: letters.length, keysParked: keysParked.size, sinkDown },
  };
}
