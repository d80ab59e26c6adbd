import { describe, expect, it } from "vitest";
import {
  buildDeadLetter,
  DEAD_LETTER_OPTIONS,
  DEFAULT_DEAD_LETTER_SETTINGS,
  type DeadLetterSettings,
  deadLetterSettings,
  letterToRecord,
  MAX_INLINE_LETTER_BYTES,
  normaliseDeadLetterOption,
  parkedKeyId,
  partitionOfParkedKey,
  replayGroups,
  SPILL_CHUNK_BYTES,
  spillLetter,
  unspillLetter,
} from "../../src/core/dead-letters.ts";
import { ValidationError } from "../../src/core/errors.ts";
import type { DecodedEvent, DecodedRecord } from "../../src/core/event.ts";
import { buildBatchResponse, type RecordOutcome } from "../../src/core/outcome.ts";
import type { PartitionProgress } from "../../src/core/progress.ts";
import { recordFingerprint } from "../../src/core/record-identity.ts";
import { postDispatch, preDispatch } from "../../src/core/reliability.ts";

const NOW = 1_700_000_000_000;
const T = "orders";
const P0 = `${T}-0`;
const P1 = `${T}-1`;
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

function rec(partition: number, offset: number, key: string | null, value = "{}"): DecodedRecord {
  return {
    topic: T,
    partition,
    offset,
    timestamp: NOW - 1000,
    timestampType: "CREATE_TIME",
    key: key === null ? null : utf8(key),
    value: utf8(value),
    headers: [["trace", utf8("abc")]],
  };
}

function event(...records: DecodedRecord[]): DecodedEvent {
  const byId = new Map<string, DecodedRecord[]>();
  for (const r of records) {
    const id = `${r.topic}-${r.partition}`;
    byId.set(id, [...(byId.get(id) ?? []), r]);
  }
  return {
    source: { kind: "self-managed", bootstrapServers: ["b:9092"] },
    partitions: [...byId].map(([id, recs]) => ({
      id,
      topic: T,
      partition: recs[0]?.partition ?? 0,
      records: recs,
    })),
  };
}

const outcome = (
  r: DecodedRecord,
  status: RecordOutcome["status"],
  attempts = status === "not_attempted" ? 0 : 1,
  reason = status === "terminal" ? "HTTP 400" : "HTTP 503",
): RecordOutcome => ({
  partitionId: `${r.topic}-${r.partition}`,
  record: r,
  status,
  attempts,
  ...(status === "delivered" ? {} : { reason }),
});

const settings: DeadLetterSettings = { maxAttempts: 10, maxAgeMs: 3_600_000, keyPolicy: "park" };

describe("dead-letter settings", () => {
  it("defaults and parses", () => {
    expect(deadLetterSettings({})).toEqual(DEFAULT_DEAD_LETTER_SETTINGS);
    expect(DEFAULT_DEAD_LETTER_SETTINGS).toEqual({
      maxAttempts: 10,
      maxAgeMs: 3_600_000,
      keyPolicy: "park",
    });
    expect(
      deadLetterSettings({
        "dead.letter.max.attempts": "3",
        "dead.letter.max.age.seconds": " 60 ",
        "dead.letter.key.policy": "SKIP",
      }),
    ).toEqual({ maxAttempts: 3, maxAgeMs: 60_000, keyPolicy: "skip" });
    expect(DEAD_LETTER_OPTIONS).toEqual([
      "dead.letter.max.attempts",
      "dead.letter.max.age.seconds",
      "dead.letter.key.policy",
    ]);
  });

  it("rejects bad values naming the option", () => {
    for (const [key, value] of [
      ["dead.letter.max.attempts", "0"],
      ["dead.letter.max.attempts", "1.5"],
      ["dead.letter.max.attempts", "1001"],
      ["dead.letter.max.age.seconds", "-1"],
      ["dead.letter.max.age.seconds", "604801"],
      ["dead.letter.key.policy", "drop"],
    ] as const) {
      expect(() => deadLetterSettings({ [key]: value })).toThrow(ValidationError);
      expect(() => normaliseDeadLetterOption(key, value)).toThrow(key);
    }
    expect(normaliseDeadLetterOption("group.id", "x")).toBeUndefined();
    expect(normaliseDeadLetterOption("dead.letter.max.attempts", "007")).toBe("7");
  });
});

describe("buildDeadLetter", () => {
  it("keeps coordinates, key, value and headers, and round-trips to a record", () => {
    const r = rec(0, 42, "k1", '{"a":1}');
    const letter = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: r,
      kind: "exhausted",
      reason: "HTTP 503",
      attempts: 12,
      firstFailedAt: NOW - 5000,
      parkedAt: NOW,
      httpStatus: 503,
      parksKey: parkedKeyId(P0, utf8("k1")),
    });
    expect(letter).toMatchObject({
      subscriptionId: "sub_1",
      partitionId: P0,
      topic: T,
      partition: 0,
      offset: 42,
      key: Buffer.from("k1").toString("base64"),
      value: Buffer.from('{"a":1}').toString("base64"),
      headers: [["trace", Buffer.from("abc").toString("base64")]],
      kind: "exhausted",
      attempts: 12,
      httpStatus: 503,
      parksKey: `${P0}#${Buffer.from("k1").toString("base64")}`,
    });
    const back = letterToRecord(letter);
    expect(back?.offset).toBe(42);
    expect(Buffer.from(back?.value ?? []).toString()).toBe('{"a":1}');
    expect(Buffer.from(back?.key ?? []).toString()).toBe("k1");
  });

  it("keeps the whole record; a letter too large for one item spills into chunks", () => {
    const small = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: rec(0, 6, "k", JSON.stringify("y".repeat(200_000))),
      kind: "terminal",
      reason: "HTTP 413",
      attempts: 1,
      firstFailedAt: NOW,
      parkedAt: NOW,
    });
    expect(spillLetter(small)).toEqual({ stub: small, chunks: [] });

    const big = `"${"x".repeat(1_000_000)}"`;
    const letter = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: { ...rec(0, 7, "k7", big), headers: [["trace", utf8("t")]] },
      kind: "exhausted",
      reason: "HTTP 503 — ünïcode in the reason",
      attempts: 10,
      firstFailedAt: NOW,
      parkedAt: NOW,
    });
    expect(Buffer.from(letter.value ?? "", "base64").toString()).toBe(big);
    const { stub, chunks } = spillLetter(letter);
    const total = Buffer.byteLength(JSON.stringify(letter), "utf8");
    expect(chunks.length).toBe(Math.ceil(total / SPILL_CHUNK_BYTES));
    for (const chunk of chunks) expect(chunk.byteLength).toBeLessThanOrEqual(SPILL_CHUNK_BYTES);
    // The stub lists what is small (key, headers) and says where the rest is.
    expect(stub).toEqual({
      ...letter,
      value: null,
      spilled: { bytes: total, chunks: chunks.length, id: expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    // The id names the content: the same letter spills under the same id, another under another.
    expect(spillLetter(letter).stub.spilled?.id).toBe(stub.spilled?.id);
    expect(spillLetter({ ...letter, reason: "other" }).stub.spilled?.id).not.toBe(stub.spilled?.id);
    expect(Buffer.byteLength(JSON.stringify(stub))).toBeLessThan(MAX_INLINE_LETTER_BYTES);
    expect(letterToRecord(stub)).toBeUndefined();
    const whole = unspillLetter(stub, chunks);
    expect(whole).toEqual(letter);
    expect(Buffer.from(letterToRecord(whole)?.value ?? []).toString()).toBe(big);

    expect(() => unspillLetter(stub, chunks.slice(1))).toThrow(/cannot be read whole/);
    const other = spillLetter({ ...letter, offset: 8 }).chunks;
    expect(() => unspillLetter(stub, other)).toThrow(/another letter/);
  });

  it("a spilled letter with a huge key lists without it", () => {
    const letter = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: { ...rec(0, 9, null, "{}"), key: new Uint8Array(400_000).fill(65) },
      kind: "terminal",
      reason: "HTTP 400",
      attempts: 1,
      firstFailedAt: NOW,
      parkedAt: NOW,
    });
    const { stub, chunks } = spillLetter(letter);
    expect(stub.key).toBeNull();
    expect(unspillLetter(stub, chunks).key).toBe(letter.key);
  });

  it("letters of earlier versions with a value pointer cannot be replayed from the store", () => {
    const legacy = {
      ...buildDeadLetter({
        subscriptionId: "sub_1",
        partitionId: P0,
        record: rec(0, 7, null, "{}"),
        kind: "terminal",
        reason: "HTTP 413",
        attempts: 1,
        firstFailedAt: NOW,
        parkedAt: NOW,
      }),
      value: null,
      valuePointer: { topic: T, partition: 0, offset: 7, size: 900_000 },
    };
    expect(letterToRecord(legacy)).toBeUndefined();
  });

  it("hashes very long keys in parked-key ids", () => {
    const id = parkedKeyId(P0, new Uint8Array(2000));
    expect(id).toMatch(/^orders-0#sha256:[0-9a-f]{64}$/);
    expect(partitionOfParkedKey(id)).toBe(P0);
  });
});

describe("preDispatch", () => {
  it("skips settled records and parks records of parked keys (ordered sinks only)", () => {
    const records = [rec(0, 10, "a"), rec(0, 11, "b"), rec(0, 12, "a"), rec(1, 5, "a")];
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [[11, 11]],
          fingerprints: new Map([[11, recordFingerprint(records[1] as DecodedRecord)]]),
          failures: {},
          version: 1,
        },
      ],
    ]);
    const parked = new Set([parkedKeyId(P0, utf8("a"))]);
    const pre = preDispatch({
      event: event(...records),
      progress,
      parkedKeys: parked,
      ordered: true,
    });
    expect(pre.skipped.map((h) => h.record.offset)).toEqual([11]);
    expect(pre.parkedBehind.map((h) => h.record.offset)).toEqual([10, 12]);
    expect(pre.toDispatch.partitions.map((p) => [p.id, p.records.map((r) => r.offset)])).toEqual([
      [P0, []],
      [P1, [5]], // the same key on another partition is another lane
    ]);
    const unordered = preDispatch({
      event: event(...records),
      progress,
      parkedKeys: parked,
      ordered: false,
    });
    expect(unordered.parkedBehind).toEqual([]);
  });
});

describe("postDispatch", () => {
  const run = (
    records: DecodedRecord[],
    outcomes: (pre: ReturnType<typeof preDispatch>) => RecordOutcome[],
    over: {
      progress?: Map<string, PartitionProgress>;
      parked?: Set<string>;
      settings?: DeadLetterSettings;
      partial?: boolean;
      ordered?: boolean;
    } = {},
  ) => {
    const ev = event(...records);
    const progress = over.progress ?? new Map();
    const pre = preDispatch({
      event: ev,
      progress,
      parkedKeys: over.parked ?? new Set(),
      ordered: over.ordered ?? true,
    });
    return postDispatch({
      subscriptionId: "sub_1",
      event: ev,
      pre,
      outcomes: outcomes(pre),
      progress,
      settings: over.settings ?? settings,
      ordered: over.ordered ?? true,
      partialBatchResponse: over.partial ?? true,
      now: NOW,
    });
  };

  it("a failure within budget stays unsettled; the response names it", () => {
    const [a, b, c] = [rec(0, 0, "k"), rec(0, 1, "k"), rec(0, 2, "j")] as [
      DecodedRecord,
      DecodedRecord,
      DecodedRecord,
    ];
    const post = run([a, b, c], () => [
      outcome(a, "failed", 4),
      outcome(b, "not_attempted"),
      outcome(c, "delivered"),
    ]);
    expect(post.letters).toEqual([]);
    expect(post.mode).toBe("partial");
    expect(post.counts.sinkDown).toBe(false);
    expect(post.progress).toEqual([
      {
        partitionId: P0,
        expectedVersion: undefined,
        next: {
          partitionId: P0,
          settled: [[2, 2]],
          fingerprints: new Map([[2, recordFingerprint(c)]]),
          failures: {
            "0": {
              fingerprint: recordFingerprint(a),
              attempts: 4,
              firstFailedAt: NOW,
              lastError: "HTTP 503",
            },
          },
          version: 1,
        },
      },
    ]);
    expect(
      buildBatchResponse(post.outcomes, { partialBatchResponse: true })?.batchItemFailures,
    ).toEqual([{ itemIdentifier: { partition: P0, offset: 0 } }]);
  });

  it("an exhausted record is dead-lettered, parks its key and the key's later records; other keys go on", () => {
    const a0 = rec(0, 0, "a");
    const b1 = rec(0, 1, "b");
    const a2 = rec(0, 2, "a");
    const b3 = rec(0, 3, "b");
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [],
          fingerprints: new Map(),
          failures: { "0": { attempts: 8, firstFailedAt: NOW - 1000, lastError: "HTTP 503" } },
          version: 4,
        },
      ],
    ]);
    const post = run(
      [a0, b1, a2, b3],
      () => [
        outcome(a0, "failed", 4),
        outcome(a2, "not_attempted"),
        outcome(b1, "delivered"),
        outcome(b3, "failed", 4),
      ],
      { progress },
    );
    const keyA = parkedKeyId(P0, utf8("a"));
    expect(post.letters.map((l) => [l.offset, l.kind, l.parksKey, l.attempts])).toEqual([
      [0, "exhausted", keyA, 12],
      [2, "parked-behind", keyA, 0],
    ]);
    expect(post.letters[0]?.firstFailedAt).toBe(NOW - 1000);
    expect(post.counts).toMatchObject({ exhausted: 1, parkedBehind: 1, keysParked: 1 });
    // 0 and 2 count as settled: the ESM resumes at 3 (b's failure, within budget)
    expect(
      buildBatchResponse(post.outcomes, { partialBatchResponse: true })?.batchItemFailures,
    ).toEqual([{ itemIdentifier: { partition: P0, offset: 3 } }]);
    expect(post.progress[0]?.expectedVersion).toBe(4);
    expect(post.progress[0]?.next?.settled).toEqual([[0, 2]]);
    expect(Object.keys(post.progress[0]?.next?.failures ?? {})).toEqual(["3"]);
  });

  it("key policy skip: the exhausted record is dead-lettered, its key's later records go on", () => {
    const a0 = rec(0, 0, "a");
    const a1 = rec(0, 1, "a");
    const b2 = rec(0, 2, "b");
    const post = run(
      [a0, a1, b2],
      () => [outcome(a0, "failed", 10), outcome(a1, "not_attempted"), outcome(b2, "delivered")],
      { settings: { ...settings, keyPolicy: "skip" } },
    );
    expect(post.letters.map((l) => [l.offset, l.kind, l.parksKey])).toEqual([
      [0, "exhausted", undefined],
    ]);
    expect(
      buildBatchResponse(post.outcomes, { partialBatchResponse: true })?.batchItemFailures,
    ).toEqual([{ itemIdentifier: { partition: P0, offset: 1 } }]);
  });

  it("when nothing gets through (sink down), attempts do not count; the failure is remembered", () => {
    const a0 = rec(0, 0, "a");
    const b1 = rec(0, 1, "b");
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [],
          fingerprints: new Map(),
          failures: { "0": { attempts: 8, firstFailedAt: NOW - 5_000, lastError: "HTTP 503" } },
          version: 3,
        },
      ],
    ]);
    const post = run(
      [a0, b1],
      () => [outcome(a0, "failed", 4, "ECONNREFUSED"), outcome(b1, "failed", 4, "ECONNREFUSED")],
      { progress },
    );
    expect(post.counts.sinkDown).toBe(true);
    expect(post.letters).toEqual([]); // 8 + 4 would exceed the budget of 10
    expect(post.progress[0]?.next?.failures).toEqual({
      "0": {
        fingerprint: recordFingerprint(a0),
        attempts: 8,
        firstFailedAt: NOW - 5_000,
        lastError: "ECONNREFUSED",
      },
      "1": {
        fingerprint: recordFingerprint(b1),
        attempts: 0,
        firstFailedAt: NOW,
        lastError: "ECONNREFUSED",
      },
    });

    // The same records once another record gets through: the attempts count again.
    const c2 = rec(0, 2, "c");
    const back = run(
      [a0, b1, c2],
      () => [outcome(a0, "failed", 4), outcome(b1, "delivered"), outcome(c2, "delivered")],
      { progress },
    );
    expect(back.counts.sinkDown).toBe(false);
    expect(back.letters.map((l) => [l.offset, l.kind])).toEqual([[0, "exhausted"]]);
  });

  it("a handler's own errors are no outage: two poison keys alone still count and park", () => {
    const p1 = rec(0, 0, "p1");
    const p2 = rec(0, 1, "p2");
    const ok = rec(0, 2, "ok");
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [[2, 2]], // a healthy record of the batch, delivered earlier
          fingerprints: new Map([[2, recordFingerprint(ok)]]),
          failures: {
            "0": { attempts: 8, firstFailedAt: NOW - 5_000, lastError: "HTTP 500" },
            "1": { attempts: 8, firstFailedAt: NOW - 5_000, lastError: "HTTP 500" },
          },
          version: 4,
        },
      ],
    ]);
    const post = run(
      [p1, p2, ok],
      () => [
        { ...outcome(p1, "failed", 4, "HTTP 500: boom"), httpStatus: 500 },
        { ...outcome(p2, "failed", 4, "HTTP 500: boom"), httpStatus: 500 },
      ],
      { progress },
    );
    expect(post.counts.sinkDown).toBe(false);
    expect(post.letters.map((l) => [l.offset, l.kind])).toEqual([
      [0, "exhausted"],
      [1, "exhausted"],
    ]);
  });

  it("the age budget runs even while the sink is down", () => {
    const a0 = rec(0, 0, "a");
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [],
          fingerprints: new Map(),
          failures: { "0": { attempts: 0, firstFailedAt: NOW - 3_600_000, lastError: "x" } },
          version: 1,
        },
      ],
    ]);
    const b1 = rec(0, 1, "b");
    const post = run([a0, b1], () => [outcome(a0, "failed", 4), outcome(b1, "failed", 4)], {
      progress,
    });
    expect(post.counts.sinkDown).toBe(true);
    expect(post.letters.map((l) => [l.offset, l.kind, l.reason])).toEqual([
      [0, "exhausted", expect.stringMatching(/failing for 3600 s \(budget 3600 s\)/)],
    ]);
  });

  it("a single failing lane that says unavailable is an outage too; a handler error counts", () => {
    const a0 = rec(0, 0, "a");
    const a1 = rec(0, 1, "a");
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [],
          fingerprints: new Map(),
          failures: { "0": { attempts: 8, firstFailedAt: NOW - 5_000, lastError: "HTTP 503" } },
          version: 2,
        },
      ],
    ]);
    // A quiet stream (one key) during a sink outage: no answer, then 503 — attempts not counted.
    for (const httpStatus of [undefined, 503]) {
      const down = run(
        [a0, a1],
        () => [
          { ...outcome(a0, "failed", 4), ...(httpStatus ? { httpStatus } : {}) },
          outcome(a1, "not_attempted"),
        ],
        { progress },
      );
      expect(down.counts.sinkDown).toBe(true);
      expect(down.letters).toEqual([]);
      expect(down.progress[0]?.next?.failures["0"]?.attempts).toBe(8);
    }
    // The handler's own error (500): a poison key alone counts and parks.
    const post = run(
      [a0, a1],
      () => [
        { ...outcome(a0, "failed", 4, "HTTP 500"), httpStatus: 500 },
        outcome(a1, "not_attempted"),
      ],
      { progress },
    );
    expect(post.counts.sinkDown).toBe(false);
    expect(post.letters.map((l) => [l.offset, l.kind])).toEqual([
      [0, "exhausted"],
      [1, "parked-behind"],
    ]);
  });

  it("exhaustion by age", () => {
    const a0 = rec(0, 0, "a");
    const progress = new Map<string, PartitionProgress>([
      [
        P0,
        {
          partitionId: P0,
          settled: [],
          fingerprints: new Map(),
          failures: { "0": { attempts: 1, firstFailedAt: NOW - 3_600_000, lastError: "x" } },
          version: 1,
        },
      ],
    ]);
    const post = run([a0], () => [outcome(a0, "failed", 1)], { progress });
    expect(post.letters.map((l) => l.kind)).toEqual(["exhausted"]);
    expect(post.mode).toBe("done");
    expect(post.progress).toEqual([{ partitionId: P0, next: undefined, expectedVersion: 1 }]);
  });

  it("terminal records are dead-lettered without parking their key", () => {
    const a0 = rec(0, 0, "a");
    const a1 = rec(0, 1, "a");
    const post = run([a0, a1], () => [outcome(a0, "terminal"), outcome(a1, "delivered")]);
    expect(post.letters.map((l) => [l.offset, l.kind, l.parksKey])).toEqual([
      [0, "terminal", undefined],
    ]);
    expect(post.mode).toBe("done");
    expect(post.progress).toEqual([]);
    expect(post.outcomes[0]?.status).toBe("terminal");
    expect(post.outcomes[0]?.reason).toMatch(/^dead-lettered \(terminal\)/);
  });

  it("records of an already parked key are dead-lettered before dispatch", () => {
    const a0 = rec(0, 0, "a");
    const b1 = rec(0, 1, "b");
    const keyA = parkedKeyId(P0, utf8("a"));
    const post = run(
      [a0, b1],
      (pre) => {
        expect(pre.toDispatch.partitions[0]?.records).toEqual([b1]);
        return [outcome(b1, "delivered")];
      },
      { parked: new Set([keyA]) },
    );
    expect(post.letters.map((l) => [l.offset, l.kind, l.parksKey])).toEqual([
      [0, "parked-behind", keyA],
    ]);
    expect(post.mode).toBe("done");
  });

  it("retry-batch mode: every partition keeps what it settled; the redelivery skips it", () => {
    const a = rec(0, 0, "a");
    const b = rec(0, 1, "b");
    const c = rec(1, 0, "c");
    const post = run(
      [a, b, c],
      () => [outcome(a, "delivered"), outcome(b, "failed", 4), outcome(c, "delivered")],
      { partial: false },
    );
    expect(post.mode).toBe("retry-batch");
    expect(() => buildBatchResponse(post.outcomes, { partialBatchResponse: false })).toThrow();
    const saved = new Map(
      post.progress.flatMap((c) => (c.next ? [[c.partitionId, c.next] as const] : [])),
    );
    expect([...saved.keys()]).toEqual([P0, P1]);
    // the whole batch comes back
    const again = preDispatch({
      event: event(a, b, c),
      progress: saved,
      parkedKeys: new Set(),
      ordered: true,
    });
    expect(again.skipped.map((h) => h.partitionId + h.record.offset)).toEqual([`${P0}0`, `${P1}0`]);
    expect(again.toDispatch.partitions.flatMap((p) => p.records)).toEqual([b]);
    const post2 = postDispatch({
      subscriptionId: "sub_1",
      event: event(a, b, c),
      pre: again,
      outcomes: [outcome(b, "delivered")],
      progress: saved,
      settings,
      ordered: true,
      partialBatchResponse: false,
      now: NOW,
    });
    expect(post2.mode).toBe("done");
    expect(post2.counts.skipped).toBe(2);
    expect(post2.outcomes).toHaveLength(3);
    expect(post2.progress.map((c) => [c.partitionId, c.next, c.expectedVersion])).toEqual([
      [P0, undefined, 1],
      [P1, undefined, 1],
    ]);
    expect(buildBatchResponse(post2.outcomes, { partialBatchResponse: false })).toBeUndefined();
  });

  it("groups letters for replay", () => {
    const keyA = parkedKeyId(P0, utf8("a"));
    const letters = [2, 0, 1].map((o) =>
      buildDeadLetter({
        subscriptionId: "s",
        partitionId: P0,
        record: rec(0, o, "a"),
        kind: o === 0 ? "exhausted" : "parked-behind",
        reason: "r",
        attempts: 0,
        firstFailedAt: NOW,
        parkedAt: NOW,
        parksKey: keyA,
      }),
    );
    const groups = replayGroups(letters);
    expect(groups.byKey.get(keyA)?.map((l) => l.offset)).toEqual([0, 1, 2]);
    expect(groups.free).toEqual([]);
  });
});
