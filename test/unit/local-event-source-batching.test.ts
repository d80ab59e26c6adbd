import { describe, expect, it } from "vitest";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import {
  type Batch,
  BatchPlanner,
  buildEvent,
  completedRecords,
  interpretResponse,
  type SourceRecord,
} from "../../src/local/kafka/batching.ts";

const rec = (
  partition: number,
  offset: number,
  extra: Partial<SourceRecord> = {},
): SourceRecord => ({
  topic: "orders-eu",
  partition,
  offset,
  timestamp: 1_700_000_000_000 + offset,
  key: Buffer.from(`k${offset % 3}`),
  value: Buffer.from(JSON.stringify({ n: offset })),
  headers: [],
  ...extra,
});

const offsets = (batch: Batch, id: string) => batch.partitions.get(id)?.map((r) => r.offset);

describe("BatchPlanner", () => {
  it("waits for the window, then sends several partitions in one batch", () => {
    const planner = new BatchPlanner({ batchSize: 100, windowMs: 500 });
    planner.accept(rec(0, 0), 1000);
    planner.accept(rec(1, 7), 1100);
    expect(planner.takeBatch(1200)).toBeUndefined();
    expect(planner.nextDue(1200)).toBe(1500);
    const batch = planner.takeBatch(1500);
    expect(batch?.recordCount).toBe(2);
    expect([...(batch?.partitions.keys() ?? [])]).toEqual(["orders-eu-0", "orders-eu-1"]);
  });

  it("sends at once when the batch size is reached, never more than the batch size", () => {
    const planner = new BatchPlanner({ batchSize: 3, windowMs: 10_000 });
    for (let o = 0; o < 5; o++) planner.accept(rec(0, o), 0);
    const batch = planner.takeBatch(1) as Batch;
    expect(offsets(batch, "orders-eu-0")).toEqual([0, 1, 2]);
    // partition 0 is in flight: nothing else from it
    expect(planner.takeBatch(100_000)).toBeUndefined();
  });

  it("keeps at most one batch in flight per partition and commits after success", () => {
    const planner = new BatchPlanner({ batchSize: 2, windowMs: 0 });
    for (let o = 10; o < 14; o++) planner.accept(rec(0, o), 0);
    const first = planner.takeBatch(0) as Batch;
    expect(planner.takeBatch(0)).toBeUndefined();
    expect(planner.pendingCommits()).toEqual([]);
    planner.complete(first, { kind: "success" }, 0);
    expect(planner.pendingCommits()).toEqual([{ topic: "orders-eu", partition: 0, offset: 12 }]);
    const second = planner.takeBatch(0) as Batch;
    expect(offsets(second, "orders-eu-0")).toEqual([12, 13]);
  });

  it("respects the payload limit; a single oversized record goes alone", () => {
    const planner = new BatchPlanner({ batchSize: 100, windowMs: 0, maxPayloadBytes: 4_000 });
    const big = Buffer.alloc(2_000, 1);
    for (let o = 0; o < 3; o++) planner.accept(rec(0, o, { value: big }), 0);
    const first = planner.takeBatch(0) as Batch;
    expect(first.recordCount).toBe(1);
    expect(first.estimatedBytes).toBeLessThanOrEqual(4_000);
    const huge = new BatchPlanner({ batchSize: 100, windowMs: 0, maxPayloadBytes: 1_000 });
    huge.accept(rec(0, 0, { value: big }), 0);
    expect(huge.takeBatch(0)?.recordCount).toBe(1);
  });

  it("drops refetched records below what it already accepted or what is committed", () => {
    const planner = new BatchPlanner({ batchSize: 10, windowMs: 0 });
    planner.setCommitted("orders-eu", 0, 5);
    expect(planner.accept(rec(0, 4), 0)).toBe(false);
    expect(planner.accept(rec(0, 5), 0)).toBe(true);
    expect(planner.accept(rec(0, 5), 0)).toBe(false);
    expect(planner.accept(rec(0, 9), 0)).toBe(true); // gaps are legal (compaction, markers)
  });

  it("partial failure: commits up to the failed offset and redelivers from it, before newer records", () => {
    const planner = new BatchPlanner({ batchSize: 4, windowMs: 0 });
    for (let o = 0; o < 6; o++) planner.accept(rec(0, o), 0);
    for (let o = 0; o < 2; o++) planner.accept(rec(1, o), 0);
    const batch = planner.takeBatch(0) as Batch;
    expect(offsets(batch, "orders-eu-0")).toEqual([0, 1, 2, 3]);
    const outcome = interpretResponse(
      { batchItemFailures: [{ itemIdentifier: { partition: "orders-eu-0", offset: 2 } }] },
      batch,
      true,
    );
    expect(outcome.kind).toBe("partial");
    planner.complete(batch, outcome, 0);
    expect(planner.pendingCommits()).toEqual([{ topic: "orders-eu", partition: 0, offset: 2 }]);
    const next = planner.takeBatch(0) as Batch;
    expect(offsets(next, "orders-eu-0")).toEqual([2, 3, 4, 5]);
  });

  it("partial failure in one partition leaves the others successful", () => {
    const planner = new BatchPlanner({ batchSize: 10, windowMs: 0 });
    planner.accept(rec(0, 0), 0);
    planner.accept(rec(0, 1), 0);
    planner.accept(rec(1, 0), 0);
    const batch = planner.takeBatch(0) as Batch;
    planner.complete(batch, { kind: "partial", failures: new Map([["orders-eu-0", 1]]) }, 0);
    expect(planner.pendingCommits()).toEqual([
      { topic: "orders-eu", partition: 0, offset: 1 },
      { topic: "orders-eu", partition: 1, offset: 1 },
    ]);
    expect(offsets(planner.takeBatch(0) as Batch, "orders-eu-0")).toEqual([1]);
  });

  it("error: the partitions stay blocked until the caller retries the same batch", () => {
    const planner = new BatchPlanner({ batchSize: 10, windowMs: 0 });
    planner.accept(rec(0, 0), 0);
    const batch = planner.takeBatch(0) as Batch;
    planner.accept(rec(0, 1), 0);
    planner.complete(batch, { kind: "error", reason: "boom" }, 0);
    expect(planner.takeBatch(0)).toBeUndefined();
    expect(planner.pendingCommits()).toEqual([]);
    planner.complete(batch, { kind: "success" }, 0);
    expect(offsets(planner.takeBatch(0) as Batch, "orders-eu-0")).toEqual([1]);
  });

  it("reports committed offsets, high watermarks and lag", () => {
    const planner = new BatchPlanner();
    planner.setHighWatermark("orders-eu", 0, 100);
    planner.committed([{ topic: "orders-eu", partition: 0, offset: 40 }]);
    expect(planner.status()[0]).toMatchObject({ partition: 0, committedOffset: 40, lag: 60 });
  });
});

describe("completedRecords", () => {
  it("counts what the consumer is done with: all on success, none on error, before the failures", () => {
    const planner = new BatchPlanner({ batchSize: 100, windowMs: 0 });
    for (let o = 0; o < 5; o++) planner.accept(rec(0, o), 0);
    for (let o = 10; o < 13; o++) planner.accept(rec(1, o), 0);
    const batch = planner.takeBatch(0) as Batch;
    expect(completedRecords(batch, { kind: "success" })).toBe(8);
    expect(completedRecords(batch, { kind: "error", reason: "x" })).toBe(0);
    // orders-eu-0 redelivered from offset 3 (3 and 4 again), orders-eu-1 complete
    expect(
      completedRecords(batch, { kind: "partial", failures: new Map([["orders-eu-0", 3]]) }),
    ).toBe(6);
  });
});

describe("interpretResponse", () => {
  const planner = new BatchPlanner({ windowMs: 0 });
  planner.accept(rec(3, 100), 0);
  planner.accept(rec(3, 101), 0);
  const batch = planner.takeBatch(0) as Batch;

  it("treats null, empty and failure-free responses as success", () => {
    for (const response of [
      undefined,
      null,
      {},
      { batchItemFailures: [] },
      { batchItemFailures: null },
      "ok",
    ]) {
      expect(interpretResponse(response, batch, true)).toEqual({ kind: "success" });
    }
  });

  it("ignores failures when ReportBatchItemFailures is off", () => {
    const response = {
      batchItemFailures: [{ itemIdentifier: { partition: "orders-eu-3", offset: 101 } }],
    };
    expect(interpretResponse(response, batch, false)).toEqual({ kind: "success" });
  });

  it("keeps the lowest offset per partition", () => {
    const outcome = interpretResponse(
      {
        batchItemFailures: [
          { itemIdentifier: { partition: "orders-eu-3", offset: 101 } },
          { itemIdentifier: { partition: "orders-eu-3", offset: "100" } },
        ],
      },
      batch,
      true,
    );
    expect(outcome).toEqual({ kind: "partial", failures: new Map([["orders-eu-3", 100]]) });
  });

  it("fails the whole batch for identifiers not in the event or malformed ones", () => {
    for (const item of [
      { itemIdentifier: { partition: "orders-eu-4", offset: 100 } },
      { itemIdentifier: { partition: "orders-eu-3", offset: 99 } },
      { itemIdentifier: "orders-eu-3" },
      {},
    ]) {
      expect(interpretResponse({ batchItemFailures: [item] }, batch, true).kind).toBe("error");
    }
    expect(interpretResponse({ batchItemFailures: "x" }, batch, true).kind).toBe("error");
  });
});

describe("buildEvent", () => {
  it("has the self-managed ESM shape the consumer decodes", () => {
    const planner = new BatchPlanner({ windowMs: 0 });
    planner.accept(
      rec(0, 5, {
        key: null,
        value: null,
        headers: [
          ["trace", Buffer.from([0, 255, 128])],
          ["trace", null],
        ],
      }),
      0,
    );
    planner.accept(rec(2, 9), 0);
    const event = buildEvent(planner.takeBatch(0) as Batch, "127.0.0.1:9092");
    expect(event).toEqual({
      eventSource: "SelfManagedKafka",
      bootstrapServers: "127.0.0.1:9092",
      records: {
        "orders-eu-0": [
          {
            topic: "orders-eu",
            partition: 0,
            offset: 5,
            timestamp: 1_700_000_000_005,
            timestampType: "CREATE_TIME",
            key: null,
            value: null,
            headers: [{ trace: [0, 255, 128] }, { trace: [] }],
          },
        ],
        "orders-eu-2": [
          expect.objectContaining({
            key: Buffer.from("k0").toString("base64"),
            value: Buffer.from('{"n":9}').toString("base64"),
          }),
        ],
      },
    });
    const decoded = decodeKafkaEvent(JSON.parse(JSON.stringify(event)));
    expect(decoded.source.kind).toBe("self-managed");
    expect(decoded.partitions.map((p) => p.id)).toEqual(["orders-eu-0", "orders-eu-2"]);
    expect(Buffer.from(decoded.partitions[1]?.records[0]?.value ?? []).toString()).toBe('{"n":9}');
  });
});
