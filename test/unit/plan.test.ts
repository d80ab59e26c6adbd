import { describe, expect, it } from "vitest";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import {
  checkRecord,
  DEFAULT_MAX_KEY_URL_BYTES,
  DEFAULT_MAX_REQUEST_BYTES,
  type DeliveryMode,
  deliveryMode,
  type Lane,
  planBatch,
} from "../../src/core/plan.ts";
import { loadEvent, manyRecords, mskEvent } from "../helpers/kafka-events.ts";

const ordered: DeliveryMode = { keyed: true, ordered: true, input: "json" };
const shared: DeliveryMode = { keyed: true, ordered: false, input: "json" };
const unkeyed: DeliveryMode = { keyed: false, ordered: false, input: "json" };

const laneView = (lanes: readonly Lane[]) =>
  lanes.map((lane) => lane.map((p) => `${p.partitionId}@${p.record.offset}:${p.objectKey ?? "-"}`));

describe("deliveryMode", () => {
  it("follows SPEC §3", () => {
    const exclusive = { shared: false, input: "json" as const };
    const sharedHandler = { shared: true, input: "binary" as const };
    expect(deliveryMode("service", exclusive)).toEqual(unkeyed);
    expect(deliveryMode("virtual_object", exclusive)).toEqual(ordered);
    expect(deliveryMode("workflow", exclusive)).toEqual(ordered);
    expect(deliveryMode("virtual_object", sharedHandler)).toEqual({ ...shared, input: "binary" });
  });
});

describe("planBatch", () => {
  it("exclusive handlers: one lane per (partition, key) in offset order, longest first", () => {
    const plan = planBatch(decodeKafkaEvent(loadEvent("msk-basic")), ordered);
    expect(plan.recordCount).toBe(9);
    expect(plan.rejected).toEqual([]);
    expect(laneView(plan.lanes)).toEqual([
      ["orders-1@200:customer-4", "orders-1@202:customer-4", "orders-1@203:customer-4"],
      ["orders-0@100:customer-1", "orders-0@102:customer-1"],
      ["orders-0@101:customer-2", "orders-0@104:customer-2"],
      ["orders-0@103:customer-3"],
      ["orders-1@201:customer-5"],
    ]);
  });

  it("the same key in two partitions makes two lanes", () => {
    const event = mskEvent([
      { partition: 0, offset: 1, key: "k", value: 1 },
      { partition: 1, offset: 1, key: "k", value: 2 },
      { partition: 0, offset: 2, key: "k", value: 3 },
    ]);
    expect(laneView(planBatch(decodeKafkaEvent(event), ordered).lanes)).toEqual([
      ["orders-0@1:k", "orders-0@2:k"],
      ["orders-1@1:k"],
    ]);
  });

  it("services and shared handlers: every record is its own lane, in event order", () => {
    const event = decodeKafkaEvent(loadEvent("msk-basic"));
    for (const mode of [unkeyed, shared]) {
      const plan = planBatch(event, mode);
      expect(plan.lanes).toHaveLength(9);
      expect(plan.lanes.every((l) => l.length === 1)).toBe(true);
      expect(plan.lanes.map((l) => l[0]?.record.offset)).toEqual([
        100, 101, 102, 103, 104, 200, 201, 202, 203,
      ]);
    }
    expect(planBatch(event, unkeyed).lanes[0]?.[0]?.objectKey).toBeUndefined();
    expect(planBatch(event, shared).lanes[0]?.[0]?.objectKey).toBe("customer-1");
  });

  it("keyed sinks: null, absent, empty and non-UTF-8 keys are terminal and block nothing", () => {
    const raw = loadEvent("tombstones-and-null-keys");
    raw.records["orders-0"][5].key = ""; // empty key
    const plan = planBatch(decodeKafkaEvent(raw), ordered);
    expect(plan.rejected.map((o) => [o.record.offset, o.status, o.reason])).toEqual([
      [12, "terminal", "record has no key (keyed handler needs one)"],
      [13, "terminal", "record has no key (keyed handler needs one)"],
      [15, "terminal", "record key is empty (keyed handler needs one)"],
    ]);
    // the tombstone (11) stays in its key's lane, delivered with an empty body
    expect(laneView(plan.lanes)).toEqual([
      ["orders-0@10:customer-1", "orders-0@11:customer-1"],
      ["orders-0@14:customer-2"],
    ]);

    const binary = planBatch(decodeKafkaEvent(loadEvent("binary-values")), {
      ...ordered,
      input: "binary",
    });
    expect(binary.rejected.map((o) => [o.record.offset, o.reason])).toEqual([
      [303, "record key is not valid UTF-8"],
    ]);
    expect(binary.lanes.flat()).toHaveLength(3);
  });

  it("a service ignores keys entirely (null or non-UTF-8 keys are fine)", () => {
    const plan = planBatch(decodeKafkaEvent(loadEvent("binary-values")), {
      ...unkeyed,
      input: "binary",
    });
    expect(plan.rejected).toEqual([]);
    expect(plan.lanes).toHaveLength(4);
    const nullKeys = planBatch(decodeKafkaEvent(loadEvent("tombstones-and-null-keys")), unkeyed);
    expect(nullKeys.rejected).toEqual([]);
  });

  it("JSON handlers: non-JSON and non-UTF-8 values are terminal; tombstones are delivered", () => {
    const plan = planBatch(decodeKafkaEvent(loadEvent("binary-values")), shared);
    expect(plan.rejected.map((o) => [o.record.offset, o.reason])).toEqual([
      [300, "value is not valid UTF-8 (handler expects JSON)"],
      [301, "value is not valid UTF-8 (handler expects JSON)"],
      [302, "value is not valid JSON (handler expects JSON)"],
      [303, "value is not valid JSON (handler expects JSON)"], // bytes 1,2,3: UTF-8, not JSON
    ]);
    const tombstones = planBatch(decodeKafkaEvent(loadEvent("tombstones-and-null-keys")), unkeyed);
    expect(tombstones.lanes).toHaveLength(6);
  });

  it("bad base64 is terminal for that record only; its lane goes on without it", () => {
    const raw = loadEvent("msk-basic");
    raw.records["orders-0"][0].value = "%%%"; // customer-1 @100
    const plan = planBatch(decodeKafkaEvent(raw), ordered);
    expect(plan.rejected.map((o) => [o.record.offset, o.reason])).toEqual([
      [100, "value is not valid base64"],
    ]);
    expect(laneView(plan.lanes)).toContainEqual(["orders-0@102:customer-1"]);
  });

  it("a value over MAX_REQUEST_BYTES is terminal up front, in every mode; at the limit it goes", () => {
    const event = decodeKafkaEvent(
      mskEvent([
        { partition: 0, offset: 1, key: "k", value: "x".repeat(8) }, // 10 bytes of JSON
        { partition: 0, offset: 2, key: "k", value: "x".repeat(9) }, // 11 bytes
        { partition: 0, offset: 3, key: "k", value: null }, // tombstone: 0 bytes
        { partition: 0, offset: 4, key: "k", value: 4 },
      ]),
    );
    for (const mode of [ordered, shared, unkeyed, { ...ordered, input: "binary" as const }]) {
      const plan = planBatch(event, mode, { maxRequestBytes: 10 });
      expect(plan.rejected.map((o) => [o.record.offset, o.status, o.reason, o.attempts])).toEqual([
        [2, "terminal", "value of 11 bytes exceeds MAX_REQUEST_BYTES (10)", 0],
      ]);
      expect(plan.lanes.flat().map((p) => p.record.offset)).toEqual([1, 3, 4]);
    }
  });

  it("the size check comes before JSON parsing, and the default is 6 MiB", () => {
    expect(DEFAULT_MAX_REQUEST_BYTES).toBe(6 * 1024 * 1024);
    const raw = loadEvent("msk-basic");
    const huge = Buffer.alloc(DEFAULT_MAX_REQUEST_BYTES + 1, 0x7b); // "{{{{...": not JSON either
    raw.records["orders-0"][0].value = huge.toString("base64");
    const plan = planBatch(decodeKafkaEvent(raw), ordered);
    expect(plan.rejected.map((o) => [o.record.offset, o.reason])).toEqual([
      [100, `value of ${DEFAULT_MAX_REQUEST_BYTES + 1} bytes exceeds MAX_REQUEST_BYTES (6291456)`],
    ]);
  });

  it("a key longer than MAX_KEY_URL_BYTES once URL-encoded is terminal up front with its size and the limit", () => {
    expect(DEFAULT_MAX_KEY_URL_BYTES).toBe(2_048);
    const event = decodeKafkaEvent(
      mskEvent([
        { partition: 0, offset: 1, key: "k".repeat(2_048), value: 1 }, // at the limit
        { partition: 0, offset: 2, key: "k".repeat(12_288), value: 2 },
        { partition: 0, offset: 3, key: "é".repeat(400), value: 3 }, // 800 bytes, 2,400 encoded
        { partition: 0, offset: 4, key: "/".repeat(683), value: 4 }, // 2,049 encoded
        { partition: 0, offset: 5, key: "ok", value: 5 },
      ]),
    );
    for (const mode of [ordered, shared]) {
      const plan = planBatch(event, mode);
      expect(plan.rejected.map((o) => [o.record.offset, o.status, o.reason])).toEqual([
        [
          2,
          "terminal",
          "object key is 12,288 bytes URL-encoded; the limit is 2,048 (MAX_KEY_URL_BYTES)",
        ],
        [
          3,
          "terminal",
          "object key is 2,400 bytes URL-encoded; the limit is 2,048 (MAX_KEY_URL_BYTES)",
        ],
        [
          4,
          "terminal",
          "object key is 2,049 bytes URL-encoded; the limit is 2,048 (MAX_KEY_URL_BYTES)",
        ],
      ]);
      expect(
        plan.lanes
          .flat()
          .map((p) => p.record.offset)
          .sort(),
      ).toEqual([1, 5]);
    }
    // services ignore keys; the limit is configurable
    expect(planBatch(event, unkeyed).rejected).toEqual([]);
    const record = event.partitions[0]?.records[1];
    if (!record) throw new Error("no record");
    expect(checkRecord(record, ordered, { maxKeyUrlBytes: 12_288 })).toEqual({
      objectKey: "k".repeat(12_288),
    });
    expect(checkRecord(record, ordered, { maxKeyUrlBytes: 4_096 })).toEqual({
      reason: "object key is 12,288 bytes URL-encoded; the limit is 4,096 (MAX_KEY_URL_BYTES)",
    });
  });

  it("counts '.' and '..' keys as they are sent (%2E)", () => {
    const event = decodeKafkaEvent(
      mskEvent([
        { partition: 0, offset: 1, key: "..", value: 1 },
        { partition: 0, offset: 2, key: ".", value: 2 },
      ]),
    );
    const plan = planBatch(event, ordered, { maxKeyUrlBytes: 5 });
    expect(plan.rejected.map((o) => [o.record.offset, o.reason])).toEqual([
      [1, "object key is 6 bytes URL-encoded; the limit is 5 (MAX_KEY_URL_BYTES)"],
    ]);
  });

  it("plans 10,000 records over 1,000 keys quickly", () => {
    const event = decodeKafkaEvent(mskEvent(manyRecords(10_000, 4, 1_000)));
    const started = performance.now();
    const plan = planBatch(event, ordered);
    const elapsed = performance.now() - started;
    expect(plan.lanes).toHaveLength(1_000);
    expect(plan.lanes.every((l) => l.length === 10)).toBe(true);
    for (const lane of plan.lanes) {
      const offsets = lane.map((p) => p.record.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    expect(elapsed).toBeLessThan(1_000);
  });
});
