// Workload 6's bookkeeping: the correctness verdict read from Restate's state, the batches read
// from the stack's log, the CPU time read from /proc, and how --update merges a run into earlier
// results. A mistake here would call a lossy or reordered run correct, or misstate its cost.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Machine, mergeMeasured, updatedMachine } from "../../bench/report.ts";
import type { Measured, RowResult } from "../../bench/results.ts";
import {
  batchesOf,
  check,
  cpuMsOfStat,
  httpFeedLanes,
} from "../../bench/workloads/w6-end-to-end.ts";

describe("end-to-end correctness check", () => {
  // seq 0..5: keys a, b, a, a, b, a
  const keys = ["a", "b", "a", "a", "b", "a"];
  const entry = (seq: number, offset: number) => ({ seq, offset });

  it("every record once, offsets increasing per key: nothing flagged", () => {
    const state = new Map([
      ["a", [entry(0, 0), entry(2, 1), entry(3, 2), entry(5, 3)]],
      ["b", [entry(1, 0), entry(4, 1)]],
    ]);
    expect(check(state, keys)).toEqual({
      total: 6,
      missing: 0,
      duplicates: 0,
      orderViolations: 0,
    });
  });

  it("counts a lost record, a duplicate and a reordering", () => {
    const state = new Map([
      // 3 missing, 2 twice (the second out of order too), 5 before 2
      ["a", [entry(0, 0), entry(2, 1), entry(5, 3), entry(2, 1)]],
      ["b", [entry(4, 1), entry(1, 0)]],
    ]);
    expect(check(state, keys)).toEqual({
      total: 6,
      missing: 1,
      duplicates: 1,
      orderViolations: 2,
    });
  });

  it("a key with no state at all is missing all its records", () => {
    expect(
      check(new Map([["a", [entry(0, 0), entry(2, 1), entry(3, 2), entry(5, 3)]]]), keys),
    ).toMatchObject({ total: 4, missing: 2 });
  });
});

describe("our stack's batches from its log", () => {
  const line = (subscription: string, total: number, lanes: number, durationMs: number) =>
    JSON.stringify({
      level: "info",
      msg: "batch processed",
      subscription,
      partitions: [0],
      lanes,
      total,
      delivered: total,
      terminal: 0,
      failed: 0,
      notAttempted: 0,
      durationMs,
    });

  it("one subscription's lines only: mean size and lanes, median and p90 span", () => {
    const log = [
      '{"level":"info","msg":"local stack ready"}',
      line("sub-1", 100, 40, 200),
      line("sub-2", 7, 7, 9_999),
      line("sub-1", 50, 20, 400),
      "not json batch processed sub-1",
      line("sub-1", 90, 30, 300),
    ].join("\n");
    expect(batchesOf(log, "sub-1")).toEqual({
      count: 3,
      meanRecords: 80,
      meanLanes: 30,
      p50SpanMs: 300,
      p90SpanMs: 400,
    });
    expect(batchesOf(log, "sub-3")).toBeUndefined();
  });
});

describe("CPU time from /proc/<pid>/stat", () => {
  it("utime + stime in ms, with a command name holding spaces and parentheses", () => {
    const stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 45 0 0 20 0 3";
    expect(cpuMsOfStat(stat)).toBe(1680);
  });

  it("agrees with this process's own getrusage figure (the right fields)", () => {
    const usage = process.cpuUsage();
    const fromStat = cpuMsOfStat(readFileSync("/proc/self/stat", "utf8"));
    const fromUsage = (usage.user + usage.system) / 1000;
    // /proc counts 10 ms ticks; any other field (start time, sizes, ...) would be far off.
    expect(Math.abs(fromStat - fromUsage)).toBeLessThan(30);
    expect(fromStat).toBeGreaterThan(0);
  });
});

describe("the bare HTTP feed (the floor of any feed of Restate's ingress)", () => {
  it("sends our consumer's requests: one lane per key, in the order produced, to /send", () => {
    const keys = ["a", "b", "a", "c", "a", "b"];
    const lanes = httpFeedLanes("http://127.0.0.1:8080", keys, 3);
    expect(lanes.flat()).toHaveLength(keys.length);
    expect(lanes).toHaveLength(3);
    const decoder = new TextDecoder();
    for (const lane of lanes) {
      const bodies = lane.map(
        (req) => JSON.parse(decoder.decode(req.body)) as { seq: number; key: string },
      );
      const key = bodies[0]?.key ?? "";
      expect(bodies.map((b) => b.key)).toEqual(bodies.map(() => key));
      const seqs = bodies.map((b) => b.seq);
      expect(seqs).toEqual(keys.flatMap((k, seq) => (k === key ? [seq] : [])));
      const offsets = lane.map((req) => Number(req.headers["kafka.offset"]));
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
      expect(new Set(offsets).size).toBe(offsets.length);
      for (const req of lane) {
        expect(req.url).toBe(`http://127.0.0.1:8080/BenchHttp/${key}/record/send`);
        expect(Object.keys(req.headers).sort()).toEqual([
          "content-type",
          "idempotency-key",
          "kafka.key",
          "kafka.offset",
          "kafka.partition",
          "kafka.timestamp",
          "kafka.topic",
          "restate.subscription.id",
        ]);
        expect(req.headers["restate.subscription.id"]).toBe("bench-http-feed-3");
      }
    }
    const idempotencyKeys = lanes.flat().map((req) => req.headers["idempotency-key"]);
    expect(new Set(idempotencyKeys).size).toBe(keys.length);
  });
});

describe("--update", () => {
  const row = (id: string, records: number) => ({ id, records }) as unknown as RowResult;
  const saved: Measured = {
    rows: [row("w1-k1", 1), row("w3-zero", 2)],
    memory: { records: 10 } as Measured["memory"] & object,
    elapsedSeconds: 600,
  };

  it("replaces rows by id and the parts measured; keeps the rest", () => {
    const fresh: Measured = {
      rows: [row("w3-zero", 3)],
      endToEnd: { records: 20_000 } as Measured["endToEnd"] & object,
      elapsedSeconds: 30,
    };
    expect(mergeMeasured(saved, fresh)).toEqual({
      rows: [row("w1-k1", 1), row("w3-zero", 3)],
      memory: { records: 10 },
      endToEnd: { records: 20_000 },
      elapsedSeconds: 30,
    });
  });

  it("names the machine that measured the rows", () => {
    const earlier: Machine = {
      description: "2 × CPU, Node v22.0.0, linux/x64",
      nproc: 2,
      cpuModel: "CPU",
      node: "v22.0.0",
    };
    const now: Machine = {
      description: "2 × CPU, Node v24.0.0, linux/x64",
      nproc: 2,
      cpuModel: "CPU",
    };
    const withRows: Measured = { rows: [row("w3-zero", 3)], elapsedSeconds: 30 };
    const withoutRows: Measured = { rows: [], elapsedSeconds: 30 };
    expect(updatedMachine(earlier, withRows, now)).toBe(now);
    expect(updatedMachine(earlier, withoutRows, now)).toBe(earlier);
    expect(updatedMachine(undefined, withoutRows, now)).toBe(now);
  });

  it("a run without rows keeps the earlier rows' elapsed time", () => {
    const fresh: Measured = {
      rows: [],
      endToEnd: { records: 2_000 } as Measured["endToEnd"] & object,
      elapsedSeconds: 30,
    };
    expect(mergeMeasured(saved, fresh)).toMatchObject({
      rows: saved.rows,
      elapsedSeconds: 600,
      endToEnd: { records: 2_000 },
    });
  });
});
