// The batch loop of replays (order, stop at the first failure, nothing started past the deadline)
// with a fake clock, and the cursor a replay of all letters answers with (untrusted on return).
import { describe, expect, it } from "vitest";
import {
  decodeAllCursor,
  deliverInOrder,
  encodeAllCursor,
  type LetterOutcome,
  MIN_REPLAY_START_MS,
} from "../../src/core/replay.ts";

/** Each delivery takes `costMs` of a fake clock and answers what `answer` says. */
function fakeRun(costMs: number, answer: (item: number) => LetterOutcome) {
  let clock = 1_000;
  const seen: number[] = [];
  return {
    seen,
    now: () => clock,
    deliverOne: async (item: number) => {
      seen.push(item);
      clock += costMs;
      return answer(item);
    },
  };
}

describe("deliverInOrder", () => {
  it("delivers in the order given and answers one outcome per item", async () => {
    const run = fakeRun(10, () => ({ outcome: "delivered" }));
    const outcomes = await deliverInOrder([3, 1, 2], run.deliverOne, {
      ordered: true,
      deadline: 100_000,
      now: run.now,
    });
    expect(run.seen).toEqual([3, 1, 2]);
    expect(outcomes).toEqual([
      { outcome: "delivered" },
      { outcome: "delivered" },
      { outcome: "delivered" },
    ]);
  });

  it("ordered: skips everything after the first failure; unordered: goes on", async () => {
    const answer = (item: number): LetterOutcome =>
      item === 2 ? { outcome: "failed", reason: "HTTP 400" } : { outcome: "delivered" };
    const ordered = fakeRun(10, answer);
    expect(
      await deliverInOrder([1, 2, 3, 4], ordered.deliverOne, {
        ordered: true,
        deadline: 100_000,
        now: ordered.now,
      }),
    ).toEqual([
      { outcome: "delivered" },
      { outcome: "failed", reason: "HTTP 400" },
      { outcome: "skipped" },
      { outcome: "skipped" },
    ]);
    expect(ordered.seen).toEqual([1, 2]);

    const unordered = fakeRun(10, answer);
    const outcomes = await deliverInOrder([1, 2, 3], unordered.deliverOne, {
      ordered: false,
      deadline: 100_000,
      now: unordered.now,
    });
    expect(outcomes.map((o) => o.outcome)).toEqual(["delivered", "failed", "delivered"]);
    expect(unordered.seen).toEqual([1, 2, 3]);
  });

  it("starts nothing once the deadline is too near: the rest are deferred", async () => {
    // 1,000 ms per letter, deadline 2,500 ms away: two letters, then too little time left.
    const run = fakeRun(1_000, () => ({ outcome: "delivered" }));
    const outcomes = await deliverInOrder([1, 2, 3, 4], run.deliverOne, {
      ordered: true,
      deadline: 1_000 + 2_000 + MIN_REPLAY_START_MS - 1,
      now: run.now,
    });
    expect(outcomes.map((o) => o.outcome)).toEqual([
      "delivered",
      "delivered",
      "deferred",
      "deferred",
    ]);
    expect(run.seen).toEqual([1, 2]);
  });

  it("a deferred letter defers the ones after it, ordered or not", async () => {
    const run = fakeRun(10, (item) =>
      item === 1 ? { outcome: "deferred" } : { outcome: "delivered" },
    );
    const outcomes = await deliverInOrder([0, 1, 2], run.deliverOne, {
      ordered: false,
      deadline: 100_000,
      now: run.now,
    });
    expect(outcomes.map((o) => o.outcome)).toEqual(["delivered", "deferred", "deferred"]);
    expect(run.seen).toEqual([0, 1]);
  });
});

describe("all cursor", () => {
  it("round-trips every position", () => {
    for (const cursor of [
      { phase: "keys" as const },
      { phase: "keys" as const, afterKey: "orders-0#azE=" },
      { phase: "keys" as const, afterKey: `orders-12#sha256:${"a".repeat(64)}` },
      { phase: "letters" as const },
      { phase: "letters" as const, afterLetter: { partitionId: "orders-3", offset: 42 } },
    ]) {
      const text = encodeAllCursor(cursor);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeAllCursor(text)).toEqual(cursor);
    }
  });

  it("refuses anything it did not make, with a 400-type error", () => {
    const wire = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    for (const text of [
      "",
      "!!",
      "a".repeat(3000),
      Buffer.from("not json").toString("base64url"),
      wire(null),
      wire([]),
      wire({}),
      wire({ k: "x" }),
      wire({ k: "orders-0#a", l: [] }),
      wire({ k: 5 }),
      wire({ l: ["orders-0"] }),
      wire({ l: ["orders#0", 1] }),
      wire({ l: ["orders-0", -1] }),
      wire({ l: ["orders-0", 1.5] }),
      wire({ l: ["orders-0", "1"] }),
    ]) {
      expect(() => decodeAllCursor(text), text).toThrow(/cursor/);
    }
  });
});
