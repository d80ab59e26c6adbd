// Per-partition delivery progress kept across invocations, so that a redelivered batch skips what
// an earlier invocation already settled (delivered, terminal or dead-lettered) and retryable
// failures accumulate a budget across invocations. Pure: no I/O.
//
// Why it is needed: when a batch partly fails, the event source mapping (ESM) redelivers records
// that were settled already — everything after the reported offset with partial batch responses,
// the whole batch when the handler throws. The state below says which offsets of a partition are
// settled, as sorted disjoint inclusive ranges, plus the failure history of unsettled offsets.
//
// Bounded: only offsets at or above the *floor* are kept — the first offset of the batch being
// processed. The ESM never redelivers below the first offset of the batch it is delivering (its
// committed position), so nothing below can matter again. Every offset kept therefore lies in a
// window about one batch wide (≤ 10,000 records), and ranges keep it compact. When the partition
// moves on (nothing left unsettled and the ESM is told so), the state is deleted.
//
// Every settled offset is a true fact ("this record was delivered or parked"), whichever invocation
// learned it, so two states of one partition can always be merged by union (mergeProgress).
import type { OutcomeStatus } from "./outcome.ts";

/** Inclusive `[from, to]`, `from <= to`. */
export type OffsetRange = readonly [from: number, to: number];

export interface FailureRecord {
  /** Delivery attempts across invocations. */
  readonly attempts: number;
  /** Epoch ms of the first failure seen for the record. */
  readonly firstFailedAt: number;
  readonly lastError: string;
}

export interface PartitionProgress {
  /** The records-map key, `<topic>-<partition>`. */
  readonly partitionId: string;
  /** Sorted, disjoint, non-adjacent inclusive ranges of settled offsets. */
  readonly settled: readonly OffsetRange[];
  /** Failure history of unsettled offsets, keyed by the offset in decimal. */
  readonly failures: Readonly<Record<string, FailureRecord>>;
  /** Optimistic-concurrency version of the stored state (1 for the first save). */
  readonly version: number;
}

/**
 * - partial: partial batch responses are on; the ESM resumes this partition at its lowest unsettled
 *   offset, or moves past the batch when none is left (→ the state is deleted).
 * - retry-batch: the handler throws, so the ESM redelivers the whole batch: keep what is settled.
 * - done: the invocation succeeds with nothing left to retry: the ESM moves on (→ deleted).
 */
export type ProgressMode = "partial" | "retry-batch" | "done";

/** What happened to one record of the partition in this invocation. */
export type ProgressStatus = OutcomeStatus | "dead_lettered" | "skipped";

export interface ProgressOutcome {
  readonly offset: number;
  readonly status: ProgressStatus;
  /** Attempts made in this invocation. */
  readonly attempts: number;
  readonly reason?: string;
}

export interface ProgressInput {
  readonly partitionId: string;
  /** The first offset of this partition in the batch: the floor below which nothing is kept. */
  readonly firstOffset: number;
  readonly outcomes: readonly ProgressOutcome[];
  readonly mode: ProgressMode;
  /** Epoch ms. */
  readonly now: number;
}

export interface FailureBudget {
  /** Attempts across invocations after which a failing record is dead-lettered. */
  readonly maxAttempts: number;
  /** Time since the first failure after which a failing record is dead-lettered. */
  readonly maxAgeMs: number;
}

/** Longest `lastError` kept in the state (the dead letter keeps its own, longer copy). */
export const MAX_ERROR_LENGTH = 300;

export const isSettledStatus = (status: ProgressStatus): boolean =>
  status === "delivered" ||
  status === "terminal" ||
  status === "dead_lettered" ||
  status === "skipped";

export function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Binary search over the settled ranges. */
export function isSettled(progress: PartitionProgress | undefined, offset: number): boolean {
  if (progress === undefined) return false;
  const ranges = progress.settled;
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const [from, to] = ranges[mid] as OffsetRange;
    if (offset < from) hi = mid - 1;
    else if (offset > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Sorts and merges ranges (overlapping or adjacent ones become one). */
export function normaliseRanges(ranges: Iterable<OffsetRange>): OffsetRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && from <= last[1] + 1) {
      if (to > last[1]) last[1] = to;
    } else {
      out.push([from, to]);
    }
  }
  return out;
}

/** The ranges restricted to offsets `>= floor`. */
export function clipRanges(ranges: readonly OffsetRange[], floor: number): OffsetRange[] {
  const out: OffsetRange[] = [];
  for (const [from, to] of ranges) {
    if (to < floor) continue;
    out.push(from < floor ? [floor, to] : [from, to]);
  }
  return out;
}

/** Number of offsets covered. */
export function settledCount(progress: PartitionProgress | undefined): number {
  let n = 0;
  for (const [from, to] of progress?.settled ?? []) n += to - from + 1;
  return n;
}

/** The failure history after `attempts` more failed attempts in this invocation. */
export function accumulateFailure(
  previous: FailureRecord | undefined,
  attempts: number,
  reason: string | undefined,
  now: number,
): FailureRecord {
  return {
    attempts: (previous?.attempts ?? 0) + attempts,
    firstFailedAt: previous?.firstFailedAt ?? now,
    lastError: truncateText(reason ?? previous?.lastError ?? "unknown error", MAX_ERROR_LENGTH),
  };
}

export function exceedsBudget(failure: FailureRecord, budget: FailureBudget, now: number): boolean {
  return failure.attempts >= budget.maxAttempts || now - failure.firstFailedAt >= budget.maxAgeMs;
}

export function failureOf(
  progress: PartitionProgress | undefined,
  offset: number,
): FailureRecord | undefined {
  return progress?.failures[String(offset)];
}

/**
 * The state to store after this invocation, or undefined when there is nothing worth keeping
 * (delete the stored state). The version is the previous one plus one.
 */
export function nextProgress(
  prev: PartitionProgress | undefined,
  input: ProgressInput,
): PartitionProgress | undefined {
  if (input.mode === "done") return undefined;
  const floor = input.firstOffset;
  const unsettled = input.outcomes.some((o) => !isSettledStatus(o.status));
  if (input.mode === "partial" && !unsettled) return undefined;

  const newlySettled: OffsetRange[] = [];
  for (const o of input.outcomes) {
    if (o.offset >= floor && isSettledStatus(o.status)) newlySettled.push([o.offset, o.offset]);
  }
  const settled = normaliseRanges([...clipRanges(prev?.settled ?? [], floor), ...newlySettled]);
  const draft: PartitionProgress = {
    partitionId: input.partitionId,
    settled,
    failures: {},
    version: 0,
  };

  const failures: Record<string, FailureRecord> = {};
  for (const [key, failure] of Object.entries(prev?.failures ?? {})) {
    const offset = Number(key);
    if (offset >= floor && !isSettled(draft, offset)) failures[key] = failure;
  }
  for (const o of input.outcomes) {
    if (o.status !== "failed" || o.offset < floor) continue;
    const key = String(o.offset);
    failures[key] = accumulateFailure(failures[key], o.attempts, o.reason, input.now);
  }

  if (settled.length === 0 && Object.keys(failures).length === 0) return undefined;
  return { ...draft, failures, version: (prev?.version ?? 0) + 1 };
}

/**
 * Union of two states of one partition (e.g. after a conditional-write conflict): settled offsets
 * are facts, so both sets hold; for a failure seen by both, the larger attempt count and the
 * earlier first failure win. The version is `stored`'s: save the result expecting it, as
 * `{...merged, version: stored.version + 1}`.
 */
export function mergeProgress(
  stored: PartitionProgress,
  ours: PartitionProgress,
): PartitionProgress {
  const settled = normaliseRanges([...stored.settled, ...ours.settled]);
  const draft: PartitionProgress = {
    partitionId: stored.partitionId,
    settled,
    failures: {},
    version: stored.version,
  };
  const failures: Record<string, FailureRecord> = {};
  for (const source of [stored.failures, ours.failures]) {
    for (const [key, f] of Object.entries(source)) {
      if (isSettled(draft, Number(key))) continue;
      const other = failures[key];
      failures[key] =
        other === undefined
          ? f
          : {
              attempts: Math.max(other.attempts, f.attempts),
              firstFailedAt: Math.min(other.firstFailedAt, f.firstFailedAt),
              lastError: f.lastError,
            };
    }
  }
  return { ...draft, failures };
}
