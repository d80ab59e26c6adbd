import { describe, expect, it } from "vitest";
import { ProgressDecodeError } from "../../src/core/errors.ts";
import {
  exceedsBudget,
  isSettled,
  mergeProgress,
  nextProgress,
  normaliseRanges,
  type PartitionProgress,
  type ProgressOutcome,
  type ProgressStatus,
} from "../../src/core/progress.ts";
import {
  decodeFailures,
  decodeProgress,
  decodeRanges,
  encodeFailures,
  encodeProgress,
  encodeRanges,
  MAX_ERROR_TEXTS,
} from "../../src/core/progress-codec.ts";
import { fakeFingerprint, fingerprintsOf } from "../helpers/progress.ts";

const P = "orders-0";
const NOW = 1_700_000_000_000;

const outcomes = (spec: Record<number, ProgressStatus>, attempts = 1): ProgressOutcome[] =>
  Object.entries(spec).map(([offset, status]) => ({
    offset: Number(offset),
    fingerprint: fakeFingerprint(Number(offset)),
    status,
    attempts: status === "failed" ? attempts : status === "delivered" ? 1 : 0,
    ...(status === "failed" ? { reason: "HTTP 503" } : {}),
  }));

/** offsets from..to with status f(offset) */
function range(from: number, to: number, f: (o: number) => ProgressStatus) {
  const spec: Record<number, ProgressStatus> = {};
  for (let o = from; o <= to; o++) spec[o] = f(o);
  return spec;
}

describe("isSettled", () => {
  const progress: PartitionProgress = {
    partitionId: P,
    settled: [
      [3, 5],
      [8, 8],
      [10, 20],
    ],
    fingerprints: fingerprintsOf([
      [3, 5],
      [8, 8],
      [10, 20],
    ]),
    failures: {},
    version: 1,
  };
  it("finds offsets inside ranges and nothing else", () => {
    const inside = [3, 4, 5, 8, 10, 15, 20];
    const outside = [0, 2, 6, 7, 9, 21, 1000];
    for (const o of inside) expect(isSettled(progress, o, fakeFingerprint(o))).toBe(true);
    for (const o of outside) expect(isSettled(progress, o, fakeFingerprint(o))).toBe(false);
    expect(isSettled(undefined, 3, fakeFingerprint(3))).toBe(false);
  });

  it("normalises overlapping and adjacent ranges", () => {
    expect(
      normaliseRanges([
        [5, 6],
        [1, 2],
        [3, 3],
        [6, 9],
        [12, 12],
      ]),
    ).toEqual([
      [1, 3],
      [5, 9],
      [12, 12],
    ]);
  });
});

describe("nextProgress", () => {
  it("partial mode: keeps what is settled above the failure, so the resume skips it", () => {
    // batch 100..109, 103 fails, the rest delivered: the ESM resumes at 103
    const next = nextProgress(undefined, {
      partitionId: P,
      firstOffset: 100,
      outcomes: outcomes(
        range(100, 109, (o) => (o === 103 ? "failed" : "delivered")),
        4,
      ),
      mode: "partial",
      now: NOW,
    });
    expect(next).toBeDefined();
    expect(next?.version).toBe(1);
    expect(next?.failures).toEqual({
      "103": {
        fingerprint: fakeFingerprint(103),
        attempts: 4,
        firstFailedAt: NOW,
        lastError: "HTTP 503",
      },
    });
    // redelivery from 103: 104..109 are skipped, 103 is not
    for (let o = 104; o <= 109; o++) expect(isSettled(next, o, fakeFingerprint(o))).toBe(true);
    expect(isSettled(next, 103, fakeFingerprint(103))).toBe(false);

    // second invocation: batch 103..112, 103 delivered now, 110..112 delivered, nothing left
    const done = nextProgress(next, {
      partitionId: P,
      firstOffset: 103,
      outcomes: outcomes({
        ...range(104, 109, () => "skipped"),
        103: "delivered",
        ...range(110, 112, () => "delivered"),
      }),
      mode: "partial",
      now: NOW + 1000,
    });
    expect(done).toBeUndefined(); // the partition moved on: the state is deleted
  });

  it("retry-batch mode: keeps everything settled in the batch, failures accumulate", () => {
    const first = nextProgress(undefined, {
      partitionId: P,
      firstOffset: 0,
      outcomes: outcomes(
        range(0, 9, (o) => (o === 5 ? "failed" : "delivered")),
        4,
      ),
      mode: "retry-batch",
      now: NOW,
    });
    // the whole batch comes back: everything but 5 is skipped
    for (let o = 0; o <= 9; o++) expect(isSettled(first, o, fakeFingerprint(o))).toBe(o !== 5);
    const second = nextProgress(first, {
      partitionId: P,
      firstOffset: 0,
      outcomes: outcomes(
        range(0, 9, (o) => (o === 5 ? "failed" : "skipped")),
        4,
      ),
      mode: "retry-batch",
      now: NOW + 60_000,
    });
    expect(second?.version).toBe(2);
    expect(second?.failures["5"]).toEqual({
      fingerprint: fakeFingerprint(5),
      attempts: 8,
      firstFailedAt: NOW,
      lastError: "HTTP 503",
    });
    expect(second?.settled).toEqual([
      [0, 4],
      [6, 9],
    ]);
  });

  it("a fully settled partition of a failing batch keeps its state in retry-batch mode", () => {
    const next = nextProgress(undefined, {
      partitionId: P,
      firstOffset: 0,
      outcomes: outcomes(range(0, 4, () => "delivered")),
      mode: "retry-batch",
      now: NOW,
    });
    expect(next?.settled).toEqual([[0, 4]]);
    expect(
      nextProgress(undefined, {
        partitionId: P,
        firstOffset: 0,
        outcomes: outcomes(range(0, 4, () => "delivered")),
        mode: "partial",
        now: NOW,
      }),
    ).toBeUndefined();
  });

  it("done mode deletes; dead-lettered and terminal offsets count as settled", () => {
    expect(
      nextProgress(undefined, {
        partitionId: P,
        firstOffset: 0,
        outcomes: outcomes({ 0: "failed" }),
        mode: "done",
        now: NOW,
      }),
    ).toBeUndefined();
    const next = nextProgress(undefined, {
      partitionId: P,
      firstOffset: 0,
      outcomes: outcomes({ 0: "terminal", 1: "dead_lettered", 2: "not_attempted", 3: "delivered" }),
      mode: "partial",
      now: NOW,
    });
    expect(next?.settled).toEqual([
      [0, 1],
      [3, 3],
    ]);
    expect(next?.failures).toEqual({});
  });

  it("drops what lies below the floor (the partition moved on) and failures that settled", () => {
    const prev: PartitionProgress = {
      partitionId: P,
      settled: [
        [10, 20],
        [30, 40],
      ],
      fingerprints: fingerprintsOf([
        [10, 20],
        [30, 40],
      ]),
      failures: {
        "5": { attempts: 3, firstFailedAt: NOW, lastError: "x" },
        "25": { attempts: 3, firstFailedAt: NOW, lastError: "x" },
        "26": { attempts: 3, firstFailedAt: NOW, lastError: "x" },
      },
      version: 7,
    };
    const next = nextProgress(prev, {
      partitionId: P,
      firstOffset: 15,
      outcomes: outcomes({ 25: "delivered", 26: "not_attempted" }),
      mode: "partial",
      now: NOW,
    });
    expect(next?.settled).toEqual([
      [15, 20],
      [25, 25],
      [30, 40],
    ]);
    expect(Object.keys(next?.failures ?? {})).toEqual(["26"]);
    expect(next?.version).toBe(8);
    // nothing left above the floor → deleted
    expect(
      nextProgress(prev, {
        partitionId: P,
        firstOffset: 41,
        outcomes: outcomes({ 41: "not_attempted" }),
        mode: "retry-batch",
        now: NOW,
      }),
    ).toBeUndefined();
  });

  it("stays bounded: a stuck partition never holds more than about one batch", () => {
    let progress: PartitionProgress | undefined;
    let first = 0;
    let floor = 0;
    for (let round = 0; round < 50; round++) {
      floor = first;
      // every batch of 100 fails at its 10th record, the rest settles
      const failAt = first + 10;
      progress = nextProgress(progress, {
        partitionId: P,
        firstOffset: first,
        outcomes: outcomes(
          range(first, first + 99, (o) => (o === failAt ? "failed" : "delivered")),
        ),
        mode: "partial",
        now: NOW,
      });
      first = failAt; // the ESM resumes at the failure
      if (round % 2 === 1) first += 1; // sometimes it gets through: the partition moves on
    }
    const covered = (progress?.settled ?? []).reduce((n, [a, b]) => n + b - a + 1, 0);
    expect(covered).toBeLessThanOrEqual(200);
    expect((progress?.settled ?? []).every(([from]) => from >= floor)).toBe(true);
  });
});

describe("exceedsBudget", () => {
  const budget = { maxAttempts: 10, maxAgeMs: 3_600_000 };
  it("by attempts or by age", () => {
    expect(exceedsBudget({ attempts: 9, firstFailedAt: NOW, lastError: "" }, budget, NOW)).toBe(
      false,
    );
    expect(exceedsBudget({ attempts: 10, firstFailedAt: NOW, lastError: "" }, budget, NOW)).toBe(
      true,
    );
    expect(
      exceedsBudget({ attempts: 1, firstFailedAt: NOW, lastError: "" }, budget, NOW + 3_600_000),
    ).toBe(true);
  });
});

describe("mergeProgress", () => {
  it("unions settled offsets and keeps the worse failure history", () => {
    const stored: PartitionProgress = {
      partitionId: P,
      settled: [[0, 4]],
      fingerprints: fingerprintsOf([[0, 4]]),
      failures: {
        "6": { attempts: 2, firstFailedAt: NOW, lastError: "a" },
        "7": { attempts: 5, firstFailedAt: NOW + 5, lastError: "a" },
      },
      version: 3,
    };
    const ours: PartitionProgress = {
      partitionId: P,
      settled: [[5, 6]],
      fingerprints: fingerprintsOf([[5, 6]]),
      failures: { "7": { attempts: 4, firstFailedAt: NOW, lastError: "b" } },
      version: 2,
    };
    const merged = mergeProgress(stored, ours);
    expect(merged.settled).toEqual([[0, 6]]);
    expect(merged.failures).toEqual({ "7": { attempts: 5, firstFailedAt: NOW, lastError: "b" } });
    expect(merged.version).toBe(3);
  });
});

describe("progress codec", () => {
  it("round-trips ranges", () => {
    const ranges = [
      [0, 0],
      [2, 9],
      [100, 100],
      [9_007_199_254_740, 9_007_199_254_990],
    ] as const;
    const text = encodeRanges(ranges);
    expect(decodeRanges(text)).toEqual(ranges);
    expect(decodeRanges("")).toEqual([]);
    expect(() => decodeRanges("1.2.3")).toThrow(ProgressDecodeError);
    expect(() => decodeRanges("x!")).toThrow(ProgressDecodeError);
  });

  it("round-trips failures, de-duplicating and capping error texts", () => {
    const failures: Record<string, { attempts: number; firstFailedAt: number; lastError: string }> =
      {};
    for (let i = 0; i < 100; i++) {
      failures[String(1000 + i * 3)] = {
        attempts: i + 1,
        firstFailedAt: NOW + i * 1000,
        lastError: `error ${i % 50}`,
      };
    }
    const text = encodeFailures(failures);
    const decoded = decodeFailures(text);
    expect(Object.keys(decoded)).toHaveLength(100);
    expect(decoded["1003"]).toEqual({
      attempts: 2,
      firstFailedAt: NOW + 1000,
      lastError: "error 1",
    });
    const errors = new Set(Object.values(decoded).map((f) => f.lastError));
    expect(errors.size).toBeLessThanOrEqual(MAX_ERROR_TEXTS);
    expect(encodeFailures({})).toBeUndefined();
  });

  it("worst cases for a 10,000-record batch fit one DynamoDB item", () => {
    // (a) every other offset settled, the others failed with distinct attempts, times and errors
    const settled: Array<[number, number]> = [];
    const failures: Record<string, { attempts: number; firstFailedAt: number; lastError: string }> =
      {};
    const base = 123_456_789_000;
    for (let o = base; o < base + 10_000; o++) {
      if (o % 2 === 0) settled.push([o, o]);
      else
        failures[String(o)] = {
          attempts: (o % 997) + 1,
          firstFailedAt: NOW - (o % 3_600_000),
          lastError: `HTTP 503 from upstream ${o} ${"x".repeat(280)}`,
        };
    }
    const a = encodeProgress(
      { partitionId: P, settled, fingerprints: fingerprintsOf(settled), failures, version: 1 },
      380_000,
    );
    expect(a.degraded).toBeUndefined();
    expect(a.bytes).toBeLessThan(200_000);
    const back = decodeProgress(P, 1, a.settled, a.fingerprints, a.failures);
    expect(back.settled).toHaveLength(5_000);
    expect(Object.keys(back.failures)).toHaveLength(5_000);

    // (b) 10,000 failures, nothing settled
    const all: typeof failures = {};
    for (let o = base; o < base + 10_000; o++) {
      all[String(o)] = {
        attempts: (o % 1000) + 1,
        firstFailedAt: NOW - (o % 86_400_000),
        lastError: `e${o}`,
      };
    }
    const b = encodeProgress(
      { partitionId: P, settled: [], fingerprints: new Map(), failures: all, version: 1 },
      380_000,
    );
    expect(b.degraded).toBeUndefined();
    expect(b.bytes).toBeLessThan(300_000);

    // a tiny budget degrades: error texts first, then the failure history
    const tight = encodeProgress(
      { partitionId: P, settled, fingerprints: fingerprintsOf(settled), failures, version: 1 },
      60_000,
    );
    expect(tight.degraded).toBe("failures");
    expect(tight.failures).toBeUndefined();
    expect(decodeRanges(tight.settled)).toHaveLength(5_000);
  });
});

describe("records, not offsets (offsets reused, smaller redelivered batches)", () => {
  it("a new record at a settled offset is not settled; its redelivery is", () => {
    const prev = nextProgress(undefined, {
      partitionId: P,
      firstOffset: 100,
      outcomes: outcomes(range(100, 109, (o) => (o === 101 ? "failed" : "delivered"))),
      mode: "partial",
      now: NOW,
    });
    expect(isSettled(prev, 105, fakeFingerprint(105))).toBe(true);
    expect(isSettled(prev, 105, fakeFingerprint(105) ^ 1)).toBe(false);

    // The topic is recreated: offset 105 holds another record now, and it fails; the old entry
    // is gone and the failure is the new record's own.
    const after = nextProgress(prev, {
      partitionId: P,
      firstOffset: 100,
      outcomes: [
        { offset: 105, fingerprint: 42, status: "failed", attempts: 2, reason: "HTTP 503" },
      ],
      mode: "partial",
      now: NOW + 1,
    });
    expect(isSettled(after, 105, fakeFingerprint(105))).toBe(false);
    expect(after?.failures["105"]).toMatchObject({ fingerprint: 42, attempts: 2 });
    expect(after?.failures["101"]?.fingerprint).toBe(fakeFingerprint(101));
  });

  it("the failure history of one record does not pass to another at the same offset", () => {
    const prev: PartitionProgress = {
      partitionId: P,
      settled: [],
      fingerprints: new Map(),
      failures: { "7": { fingerprint: 1, attempts: 9, firstFailedAt: NOW, lastError: "x" } },
      version: 1,
    };
    const next = nextProgress(prev, {
      partitionId: P,
      firstOffset: 7,
      outcomes: [{ offset: 7, fingerprint: 2, status: "failed", attempts: 1, reason: "y" }],
      mode: "partial",
      now: NOW + 5,
    });
    expect(next?.failures["7"]).toEqual({
      fingerprint: 2,
      attempts: 1,
      firstFailedAt: NOW + 5,
      lastError: "y",
    });
  });

  it("a smaller redelivered batch keeps what an earlier, larger batch settled beyond it", () => {
    // 100..109, 102 fails: the event source resumes at 102 with a smaller batch 102..104
    const first = nextProgress(undefined, {
      partitionId: P,
      firstOffset: 100,
      outcomes: outcomes(range(100, 109, (o) => (o === 102 ? "failed" : "delivered"))),
      mode: "partial",
      now: NOW,
    });
    const second = nextProgress(first, {
      partitionId: P,
      firstOffset: 102,
      outcomes: outcomes({ 102: "delivered", 103: "skipped", 104: "skipped" }),
      mode: "partial",
      now: NOW + 1,
    });
    expect(second).toBeDefined();
    for (let o = 105; o <= 109; o++) expect(isSettled(second, o, fakeFingerprint(o))).toBe(true);
    expect(second?.settled).toEqual([[105, 109]]);
    // then 105..109 come: skipped, and the partition has moved past everything: deleted
    const third = nextProgress(second, {
      partitionId: P,
      firstOffset: 105,
      outcomes: outcomes(range(105, 109, () => "skipped")),
      mode: "partial",
      now: NOW + 2,
    });
    expect(third).toBeUndefined();
  });

  it("the codec keeps fingerprints; a state without them is not trusted", () => {
    const state: PartitionProgress = {
      partitionId: P,
      settled: [
        [3, 5],
        [9, 9],
      ],
      fingerprints: new Map([
        [3, 0],
        [4, 0xffffffff],
        [5, 17],
        [9, 123456789],
      ]),
      failures: {
        "6": { fingerprint: 0xfffffffe, attempts: 2, firstFailedAt: NOW, lastError: "e" },
      },
      version: 4,
    };
    const encoded = encodeProgress(state, 380_000);
    expect(decodeProgress(P, 4, encoded.settled, encoded.fingerprints, encoded.failures)).toEqual(
      state,
    );
    expect(decodeProgress(P, 4, encoded.settled, undefined, encoded.failures).settled).toEqual([]);
    expect(() => decodeProgress(P, 4, encoded.settled, "AAAA", undefined)).toThrow(
      ProgressDecodeError,
    );
  });
});
