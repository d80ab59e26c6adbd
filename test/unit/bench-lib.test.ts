// The benchmark's arithmetic: the lower bound every row is judged by, the skewed key draw of
// workload 2, the events the contenders share, and that the consumer it runs sends exactly what
// the baselines send. A mistake here would misstate every figure.
import { describe, expect, it } from "vitest";
import { benchConsumer, invocationContext, sinkTarget } from "../../bench/consumer.ts";
import {
  buildEvent,
  lowerBound,
  median,
  prepare,
  prng,
  sliceEvent,
  zipf,
} from "../../bench/lib.ts";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import type { SinkRequest } from "../../src/core/invocation.ts";

describe("lowerBound (SPEC §7)", () => {
  const collected = {
    // lane "0 /a": 3 + 4 = 7 ms; lane "0 /b": 5 ms; lane "1 /a": 1 ms
    latencies: [3, 5, 4, 1],
    lanes: ["0 /a", "0 /b", "0 /a", "1 /a"],
    maxInFlight: 3,
  };

  it("ordered: the longest lane's summed latency, unless total / concurrency is longer", () => {
    expect(lowerBound(collected, true, 8)).toEqual({
      boundMs: 7,
      longestLaneMs: 7,
      totalMs: 13,
      meanMs: 13 / 4,
    });
    expect(lowerBound(collected, true, 1).boundMs).toBe(13);
  });

  it("unordered: every request is its own lane", () => {
    expect(lowerBound(collected, false, 8).boundMs).toBe(5);
    expect(lowerBound(collected, false, 2).boundMs).toBe(6.5);
  });

  it("median of odd and even samples", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("zipf key draw", () => {
  const shares = (s: number) => {
    const draw = zipf(100, s, prng(42));
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const rank = draw();
      counts[rank] = (counts[rank] ?? 0) + 1;
    }
    return counts.map((c) => c / 10_000);
  };

  it("s = 1 over 100 keys: the hottest key holds about 1 / H(100) ≈ 19% of the draws", () => {
    const harmonic = Array.from({ length: 100 }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b);
    const hottest = Math.max(...shares(1));
    expect(hottest).toBeGreaterThan(1 / harmonic - 0.015);
    expect(hottest).toBeLessThan(1 / harmonic + 0.015);
  });

  it("s = 0 is uniform; every rank is drawn", () => {
    const uniform = shares(0);
    expect(Math.max(...uniform)).toBeLessThan(0.02);
    expect(Math.min(...uniform)).toBeGreaterThan(0.003);
  });
});

describe("workload events", () => {
  const event = buildEvent({ count: 1_000, partitions: 4, keyOf: (i) => `key-${i % 37}` });

  it("a key lives in one partition and offsets ascend from 0 per partition", () => {
    const decoded = decodeKafkaEvent(event);
    const partitionOf = new Map<string, number>();
    let total = 0;
    for (const partition of decoded.partitions) {
      const offsets = partition.records.map((r) => r.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
      for (const record of partition.records) {
        const key = Buffer.from(record.key ?? new Uint8Array()).toString("utf8");
        expect(partitionOf.get(key) ?? partition.partition).toBe(partition.partition);
        partitionOf.set(key, partition.partition);
      }
      total += partition.records.length;
    }
    expect(total).toBe(1_000);
    expect(partitionOf.size).toBe(37);
  });

  it("the baselines send exactly the consumer's requests, in its lanes", () => {
    const target = {
      subscriptionId: "sub_1",
      endpoint: "http://127.0.0.1:1",
      service: "Orders",
      handler: "process",
      invocation: "call" as const,
    };
    const prepared = prepare(event, { keyed: true, ordered: true, input: "json" }, target);
    expect(prepared.lanes).toHaveLength(37);
    expect(prepared.lanes.flat()).toHaveLength(1_000);
    expect(prepared.all).toHaveLength(1_000);
    for (const lane of prepared.lanes) {
      const paths = new Set(lane.map((r) => r.url));
      expect(paths.size).toBe(1); // one object key per lane
    }
    expect(decodeKafkaEvent(sliceEvent(event, 10)).partitions.map((p) => p.records.length)).toEqual(
      [10, 10, 10, 10],
    );
  });
});

describe("the benchmark's consumer", () => {
  const event = buildEvent({ count: 300, partitions: 4, keyOf: (i) => `key-${i % 29}` });
  const sinkUrl = "http://127.0.0.1:1";
  const asText = (r: SinkRequest) =>
    JSON.stringify([r.url, r.headers, Buffer.from(r.body ?? new Uint8Array()).toString("base64")]);

  for (const keyed of [true, false]) {
    it(`takes a workload event whole and sends what the baselines send (${keyed ? "virtual object" : "service"})`, async () => {
      const sent: SinkRequest[] = [];
      const handler = benchConsumer({
        sinkUrl,
        keyed,
        deliver: async (request) => {
          sent.push(request);
          return { kind: "success", status: 200 };
        },
      });
      await expect(handler(event, invocationContext)).resolves.toBeUndefined();
      const mode = keyed
        ? { keyed: true, ordered: true, input: "json" as const }
        : { keyed: false, ordered: false, input: "json" as const };
      const prepared = prepare(event, mode, sinkTarget(sinkUrl));
      expect(sent.map(asText).sort()).toEqual(prepared.all.map(asText).sort());
    });
  }
});
