import { describe, expect, it } from "vitest";
import { type DispatchDeps, dispatchLanes } from "../../src/core/dispatch.ts";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import type { RecordOutcome } from "../../src/core/outcome.ts";
import {
  type DeliveryMode,
  type Lane,
  type PlannedRecord,
  planBatch,
} from "../../src/core/plan.ts";
import { DEFAULT_BACKOFF, type DeliveryResult, type RetryPolicy } from "../../src/core/retry.ts";
import { manyRecords, mskEvent, type SyntheticRecord } from "../helpers/kafka-events.ts";

const ordered: DeliveryMode = { keyed: true, ordered: true, input: "json" };
const unordered: DeliveryMode = { keyed: false, ordered: false, input: "json" };
const policy: RetryPolicy = { ...DEFAULT_BACKOFF, maxAttempts: 3, requestTimeoutMs: 1_000 };
const OK: DeliveryResult = { kind: "success", status: 200 };
const RETRY: DeliveryResult = { kind: "retryable", reason: "HTTP 503", status: 503 };
const TERMINAL: DeliveryResult = { kind: "terminal", reason: "HTTP 400", status: 400 };

const lanesOf = (records: SyntheticRecord[], mode = ordered): readonly Lane[] =>
  planBatch(decodeKafkaEvent(mskEvent(records)), mode).lanes;
const label = (p: PlannedRecord) => `${p.objectKey ?? "-"}@${p.record.offset}`;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A deliver whose calls stay pending until the test settles them. */
function controlledDeliver() {
  const pending = new Map<string, (result: DeliveryResult) => void>();
  const started: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const deliver = (p: PlannedRecord) => {
    const id = label(p);
    started.push(id);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<DeliveryResult>((resolve) => {
      pending.set(id, (result) => {
        inFlight--;
        pending.delete(id);
        resolve(result);
      });
    });
  };
  const settle = async (id: string, result: DeliveryResult = OK) => {
    const resolve = pending.get(id);
    if (!resolve) throw new Error(`${id} is not in flight (in flight: ${[...pending.keys()]})`);
    resolve(result);
    await tick();
  };
  return {
    deliver,
    settle,
    started,
    inFlight: () => [...pending.keys()].sort(),
    maxInFlight: () => maxInFlight,
  };
}

function fakeTime(start = 0) {
  const clock = { now: start, sleeps: [] as number[] };
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.now += ms;
    },
    random: () => 0.5,
  };
}

function deps(
  deliver: (p: PlannedRecord) => Promise<DeliveryResult>,
  time = fakeTime(),
): DispatchDeps<PlannedRecord> {
  return { buildRequest: (p) => p, deliver, now: time.now, sleep: time.sleep, random: time.random };
}

const byStatus = (outcomes: RecordOutcome[]) => {
  const out: Record<string, string[]> = {};
  for (const o of outcomes) {
    out[o.status] ??= [];
    out[o.status]?.push(`${o.record.partition}/${o.record.offset}`);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
};

describe("dispatchLanes", () => {
  const records: SyntheticRecord[] = [
    { partition: 0, offset: 1, key: "a", value: 1 },
    { partition: 0, offset: 2, key: "b", value: 2 },
    { partition: 0, offset: 3, key: "a", value: 3 },
    { partition: 0, offset: 4, key: "b", value: 4 },
    { partition: 0, offset: 5, key: "a", value: 5 },
  ];

  it("delivers each key's records in offset order, different keys concurrently", async () => {
    const sink = controlledDeliver();
    const done = dispatchLanes(lanesOf(records), deps(sink.deliver), {
      maxConcurrency: 10,
      policy,
      deadlineMs: 60_000,
    });
    await tick();
    expect(sink.inFlight()).toEqual(["a@1", "b@2"]); // both keys at once, one record per key
    await sink.settle("b@2");
    expect(sink.inFlight()).toEqual(["a@1", "b@4"]); // b goes on without waiting for a
    await sink.settle("a@1");
    expect(sink.inFlight()).toEqual(["a@3", "b@4"]);
    await sink.settle("a@3");
    await sink.settle("a@5");
    await sink.settle("b@4");
    const outcomes = await done;
    expect(byStatus(outcomes)).toEqual({ delivered: ["0/1", "0/2", "0/3", "0/4", "0/5"] });
    expect(sink.started.filter((s) => s.startsWith("a"))).toEqual(["a@1", "a@3", "a@5"]);
    expect(sink.maxInFlight()).toBe(2);
  });

  it("keeps at most maxConcurrency lanes in flight", async () => {
    const many = Array.from({ length: 10 }, (_, i) => ({
      partition: 0,
      offset: i,
      key: `k${i}`,
      value: i,
    }));
    const sink = controlledDeliver();
    const done = dispatchLanes(lanesOf(many), deps(sink.deliver), {
      maxConcurrency: 3,
      policy,
      deadlineMs: 60_000,
    });
    await tick();
    expect(sink.inFlight()).toEqual(["k0@0", "k1@1", "k2@2"]);
    await sink.settle("k1@1");
    expect(sink.inFlight()).toEqual(["k0@0", "k2@2", "k3@3"]);
    while (sink.inFlight().length > 0) {
      await sink.settle(sink.inFlight()[0] as string);
      expect(sink.inFlight().length).toBeLessThanOrEqual(3);
    }
    expect((await done).length).toBe(10);
    expect(sink.maxInFlight()).toBe(3);
  });

  it("a record failing retryably stops its lane only; other lanes are fully delivered", async () => {
    const calls: string[] = [];
    const time = fakeTime();
    const outcomes = await dispatchLanes(
      lanesOf(records),
      deps(async (p) => {
        calls.push(label(p));
        return label(p) === "a@3" ? RETRY : OK;
      }, time),
      { maxConcurrency: 4, policy, deadlineMs: 60_000 },
    );
    expect(byStatus(outcomes)).toEqual({
      delivered: ["0/1", "0/2", "0/4"],
      failed: ["0/3"],
      not_attempted: ["0/5"],
    });
    expect(calls.filter((c) => c === "a@3")).toHaveLength(3); // maxAttempts
    expect(calls).not.toContain("a@5");
    const failed = outcomes.find((o) => o.status === "failed");
    expect(failed).toMatchObject({
      attempts: 3,
      httpStatus: 503,
      reason: "HTTP 503 (after 3 attempts)",
    });
    expect(outcomes.find((o) => o.record.offset === 5)?.reason).toBe(
      "held back: offset 3 of its lane was not delivered",
    );
    // full jitter with random() = 0.5: base 100 → 50, then 200 → 100
    expect(time.clock.sleeps).toEqual([50, 100]);
  });

  it("a terminal failure in an ordered lane is recorded and the lane goes on", async () => {
    const outcomes = await dispatchLanes(
      lanesOf(records),
      deps(async (p) => (label(p) === "a@3" ? TERMINAL : OK)),
      { maxConcurrency: 4, policy, deadlineMs: 60_000 },
    );
    expect(byStatus(outcomes)).toEqual({
      delivered: ["0/1", "0/2", "0/4", "0/5"],
      terminal: ["0/3"],
    });
    expect(outcomes.find((o) => o.status === "terminal")).toMatchObject({
      attempts: 1,
      reason: "HTTP 400",
    });
  });

  it("retries until success, honouring Retry-After", async () => {
    const time = fakeTime();
    let n = 0;
    const outcomes = await dispatchLanes(
      lanesOf(records.slice(0, 1)),
      deps(async () => {
        n++;
        return n === 1 ? { kind: "retryable", reason: "HTTP 429", retryAfterMs: 1_200 } : OK;
      }, time),
      { maxConcurrency: 1, policy, deadlineMs: 60_000 },
    );
    expect(outcomes).toMatchObject([{ status: "delivered", attempts: 2 }]);
    expect(time.clock.sleeps).toEqual([1_200]);
  });

  it("gives up at once on a Retry-After longer than the policy allows", async () => {
    const outcomes = await dispatchLanes(
      lanesOf(records.slice(0, 1)),
      deps(async () => ({ kind: "retryable", reason: "HTTP 503", retryAfterMs: 60_000 })),
      { maxConcurrency: 1, policy, deadlineMs: 600_000 },
    );
    expect(outcomes).toMatchObject([{ status: "failed", attempts: 1 }]);
    expect(outcomes[0]?.reason).toMatch(/Retry-After 60000 ms/);
  });

  it("a deliver that throws counts as retryable", async () => {
    let n = 0;
    const outcomes = await dispatchLanes(
      lanesOf(records.slice(0, 1)),
      deps(async () => {
        if (++n === 1) throw new Error("boom");
        return OK;
      }),
      { maxConcurrency: 1, policy, deadlineMs: 60_000 },
    );
    expect(outcomes).toMatchObject([{ status: "delivered", attempts: 2 }]);
  });

  it("clips attempt timeouts to the deadline and starts nothing after it", async () => {
    const time = fakeTime(0);
    const timeouts: number[] = [];
    const outcomes = await dispatchLanes(
      lanesOf(records),
      deps(async (_p) => {
        timeouts.push(0);
        time.clock.now += 400; // each attempt takes 400 ms
        return OK;
      }, time),
      { maxConcurrency: 1, policy, deadlineMs: 1_000 },
    );
    // lanes: a (1,3,5) then b (2,4). a@1 at t=0, a@3 at 400; at 800 only 200 ms are left (< 250)
    expect(byStatus(outcomes)).toEqual({
      delivered: ["0/1", "0/3"],
      not_attempted: ["0/2", "0/4", "0/5"],
    });
    expect(outcomes.find((o) => o.record.offset === 5)?.reason).toBe("deadline reached");
  });

  it("passes the clipped timeout to deliver", async () => {
    const time = fakeTime(0);
    const seen: number[] = [];
    const d: DispatchDeps<PlannedRecord> = {
      ...deps(async () => OK, time),
      deliver: async (_p, options) => {
        seen.push(options.timeoutMs);
        time.clock.now += 600;
        return OK;
      },
    };
    await dispatchLanes(lanesOf(records.slice(0, 3)), d, {
      maxConcurrency: 1,
      policy,
      deadlineMs: 1_500,
    });
    expect(seen).toEqual([1_000, 900, 300]); // at t=1200 only 300 ms are left
  });

  it("does not start a retry whose backoff would run into the deadline", async () => {
    const time = fakeTime(0);
    let calls = 0;
    const outcomes = await dispatchLanes(
      lanesOf(records.slice(0, 1)),
      deps(async () => {
        calls++;
        time.clock.now += 900;
        return RETRY;
      }, time),
      { maxConcurrency: 1, policy, deadlineMs: 1_100 },
    );
    expect(calls).toBe(1);
    expect(outcomes).toMatchObject([
      { status: "failed", reason: "HTTP 503 (no time left to retry)" },
    ]);
  });

  it("unordered lanes: one failing record holds back nothing", async () => {
    const outcomes = await dispatchLanes(
      lanesOf(records, unordered),
      deps(async (p) => (p.record.offset === 1 ? RETRY : OK)),
      { maxConcurrency: 2, policy, deadlineMs: 60_000 },
    );
    expect(byStatus(outcomes)).toEqual({
      delivered: ["0/2", "0/3", "0/4", "0/5"],
      failed: ["0/1"],
    });
  });

  it("dispatches 10,000 records over 1,000 keys in linear time with low overhead", async () => {
    const lanes = lanesOf(manyRecords(10_000, 4, 1_000));
    const lastOffset = new Map<string, number>();
    let outOfOrder = 0;
    const started = performance.now();
    const outcomes = await dispatchLanes(
      lanes,
      deps(async (p) => {
        const lane = `${p.partitionId}/${p.objectKey}`;
        if ((lastOffset.get(lane) ?? -1) >= p.record.offset) outOfOrder++;
        lastOffset.set(lane, p.record.offset);
        await Promise.resolve();
        return OK;
      }, fakeTime()),
      { maxConcurrency: 128, policy, deadlineMs: 60_000 },
    );
    const elapsed = performance.now() - started;
    expect(outcomes).toHaveLength(10_000);
    expect(outcomes.every((o) => o.status === "delivered")).toBe(true);
    expect(outOfOrder).toBe(0);
    expect(elapsed).toBeLessThan(1_000);
  });
});
