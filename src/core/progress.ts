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
// A settled offset is kept with the fingerprint of the record settled there (record-identity.ts):
// a record counts as settled only when offset and fingerprint match, so after offsets are reused
// (topic recreated, unclean leader election, consumer-group reset) a new record at an old offset is
// delivered, and failure histories do not pass from one record to another.
//
// Every settled entry is a true fact ("this record was delivered or parked"), whichever invocation
// learned it, so two states of one partition can always be merged by union (mergeProgress).
import type { OutcomeStatus } from "./outcome.ts";

/** Inclusive `[from, to]`, `from <= to`. */
export type OffsetRange = readonly [from: number, to: number];

export interface FailureRecord {
  /** Fingerprint of the failing record (absent in states written before fingerprints). */
  readonly fingerprint?: number;
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
  /** The fingerprint of the record settled at each offset of `settled` (exactly those keys). */
  readonly fingerprints: ReadonlyMap<number, number>;
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
  /** recordFingerprint of the record. */
  readonly fingerprint: number;
  readonly status: ProgressStatus;
  /** Attempts made in this invocation. */
  readonly attempts: number;
  readonly reason?: string | undefined;
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

/** Was this record (offset and fingerprint) settled? */
export function isSettled(
  progress: PartitionProgress | undefined,
  offset: number,
  fingerprint: number,
): boolean {
  return progress?.fingerprints.get(offset) === fingerprint;
}

/** Is some record settled at this offset (whichever it was)? */
export const isOffsetSettled = (progress: PartitionProgress | undefined, offset: number): boolean =>
  progress?.fingerprints.has(offset) ?? false;

/** The ranges covering exactly the given offsets. */
export function rangesOf(offsets: Iterable<number>): OffsetRange[] {
  return normaliseRanges([...offsets].map((o): OffsetRange => [o, o]));
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

/** The failure history after `attempts` more failed attempts in this invocation. */
export function accumulateFailure(
  previous: FailureRecord | undefined,
  fingerprint: number,
  attempts: number,
  reason: string | undefined,
  now: number,
): FailureRecord {
  return {
    fingerprint,
    attempts: (previous?.attempts ?? 0) + attempts,
    firstFailedAt: previous?.firstFailedAt ?? now,
    lastError: truncateText(reason ?? previous?.lastError ?? "unknown error", MAX_ERROR_LENGTH),
  };
}

export function exceedsBudget(failure: FailureRecord, budget: FailureBudget, now: number): boolean {
  return failure.attempts >= budget.maxAttempts || now - failure.firstFailedAt >= budget.maxAgeMs;
}

/** The failure history of this record; another record's at the same offset does not count. */
export function failureOf(
  progress: PartitionProgress | undefined,
  offset: number,
  fingerprint: number,
): FailureRecord | undefined {
  const failure = progress?.failures[String(offset)];
  return failure === undefined ||
    (failure.fingerprint !== undefined && failure.fingerprint !== fingerprint)
    ? undefined
    : failure;
}

/**
 * The state to store after this invocation, or undefined when there is nothing worth keeping
 * (delete the stored state). The version is the previous one plus one.
 *
 * When the event source moves past the batch (mode "done", or "partial" with nothing unsettled),
 * what lies beyond the batch's last offset is kept: a smaller redelivered batch (the event source
 * resumed at an offset below records settled by a larger earlier batch) must not forget them.
 */
export function nextProgress(
  prev: PartitionProgress | undefined,
  input: ProgressInput,
): PartitionProgress | undefined {
  const unsettled = input.outcomes.some((o) => !isSettledStatus(o.status));
  const movesOn = input.mode === "done" || (input.mode === "partial" && !unsettled);
  let lastOffset = -1;
  for (const o of input.outcomes) if (o.offset > lastOffset) lastOffset = o.offset;
  // Offsets kept from the previous state: from the floor on, or only beyond the batch.
  const keepFrom = movesOn ? lastOffset + 1 : input.firstOffset;

  const fingerprints = new Map<number, number>();
  for (const [offset, fingerprint] of prev?.fingerprints ?? []) {
    if (offset >= keepFrom) fingerprints.set(offset, fingerprint);
  }
  const failures: Record<string, FailureRecord> = {};
  for (const [key, failure] of Object.entries(prev?.failures ?? {})) {
    if (Number(key) >= keepFrom) failures[key] = failure;
  }
  if (!movesOn) {
    for (const o of input.outcomes) {
      if (o.offset < keepFrom) continue;
      const key = String(o.offset);
      if (isSettledStatus(o.status)) {
        fingerprints.set(o.offset, o.fingerprint);
        delete failures[key];
        continue;
      }
      // Unsettled now: whatever was settled at this offset was another record.
      fingerprints.delete(o.offset);
      const previous = failures[key];
      const same =
        previous !== undefined &&
        (previous.fingerprint === undefined || previous.fingerprint === o.fingerprint);
      if (o.status === "failed") {
        failures[key] = accumulateFailure(
          same ? previous : undefined,
          o.fingerprint,
          o.attempts,
          o.reason,
          input.now,
        );
      } else if (!same) {
        delete failures[key];
      }
    }
  }
  if (fingerprints.size === 0 && Object.keys(failures).length === 0) return undefined;
  return {
    partitionId: input.partitionId,
    settled: rangesOf(fingerprints.keys()),
    fingerprints,
    failures,
    version: (prev?.version ?? 0) + 1,
  };
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
  // Where both name a record at one offset and they differ, ours was seen just now.
  const fingerprints = new Map([...stored.fingerprints, ...ours.fingerprints]);
  const failures: Record<string, FailureRecord> = {};
  for (const source of [stored.failures, ours.failures]) {
    for (const [key, f] of Object.entries(source)) {
      if (fingerprints.has(Number(key))) continue;
      const other = failures[key];
      failures[key] =
        other === undefined || other.fingerprint !== f.fingerprint
          ? f
          : {
              ...f,
              attempts: Math.max(other.attempts, f.attempts),
              firstFailedAt: Math.min(other.firstFailedAt, f.firstFailedAt),
            };
    }
  }
  return {
    partitionId: stored.partitionId,
    settled: rangesOf(fingerprints.keys()),
    fingerprints,
    failures,
    version: stored.version,
  };
}
