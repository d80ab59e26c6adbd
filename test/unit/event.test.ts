import { describe, expect, it } from "vitest";
import { MalformedEventError } from "../../src/core/errors.ts";
import { decodeKafkaEvent, parsePartitionId } from "../../src/core/event.ts";
import { CLUSTER_ARN, loadEvent } from "../helpers/kafka-events.ts";

const text = (bytes: Uint8Array | null) =>
  bytes === null ? null : Buffer.from(bytes).toString("utf8");

describe("decodeKafkaEvent", () => {
  it("decodes an MSK event: source, partitions, keys, JSON values and headers", () => {
    const event = decodeKafkaEvent(loadEvent("msk-basic"));

    expect(event.source).toEqual({
      kind: "msk",
      clusterArn: CLUSTER_ARN,
      bootstrapServers: [
        "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098",
        "b-2.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098",
      ],
    });
    expect(event.partitions.map((p) => [p.id, p.topic, p.partition, p.records.length])).toEqual([
      ["orders-0", "orders", 0, 5],
      ["orders-1", "orders", 1, 4],
    ]);
    const first = event.partitions[0]?.records[0];
    expect(first).toMatchObject({
      topic: "orders",
      partition: 0,
      offset: 100,
      timestamp: 1767225600000,
      timestampType: "CREATE_TIME",
    });
    expect(text(first?.key ?? null)).toBe("customer-1");
    expect(JSON.parse(text(first?.value ?? null) ?? "")).toEqual({
      orderId: "o-1000",
      customer: "customer-1",
      amount: 10,
    });
    expect(first?.headers.map(([n, v]) => [n, text(v)])).toEqual([
      ["traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4700-00f067aa0ba902b7-01"],
      ["source", "checkout"],
    ]);
    expect(first?.decodeError).toBeUndefined();
  });

  it("decodes a self-managed event without a cluster ARN", () => {
    const event = decodeKafkaEvent(loadEvent("self-managed-basic"));
    expect(event.source).toEqual({
      kind: "self-managed",
      bootstrapServers: ["kafka-1.internal.example.com:9092", "kafka-2.internal.example.com:9092"],
    });
    expect(event.partitions[0]?.records.map((r) => r.offset)).toEqual([42, 43, 44]);
  });

  it("treats null or absent keys and values as normal (tombstones), and absent headers as none", () => {
    const records = decodeKafkaEvent(loadEvent("tombstones-and-null-keys")).partitions[0]?.records;
    expect(records?.map((r) => [r.offset, text(r.key), r.value === null ? null : "json"])).toEqual([
      [10, "customer-1", "json"],
      [11, "customer-1", null],
      [12, null, "json"],
      [13, null, "json"],
      [14, "customer-2", null],
      [15, "customer-2", "json"],
    ]);
    expect(records?.every((r) => r.decodeError === undefined)).toBe(true);
    expect(records?.[5]?.headers).toEqual([]);
  });

  it("keeps binary values byte for byte", () => {
    const records = decodeKafkaEvent(loadEvent("binary-values")).partitions[0]?.records;
    expect([...(records?.[0]?.value ?? [])]).toEqual([0x00, 0xff, 0x80, 0x7f, 0x10]);
    expect([...(records?.[3]?.key ?? [])]).toEqual([0xfe, 0xfe, 0x01]);
  });

  it("decodes header bytes, repeated names in order, and empty values", () => {
    const headers = decodeKafkaEvent(loadEvent("record-headers")).partitions[0]?.records[0]
      ?.headers;
    expect(headers?.map(([n]) => n)).toEqual([
      "traceparent",
      "X-Correlation-Id",
      "tenant",
      "tenant",
      "greeting",
      "bin",
      "my header",
      "empty",
      "padded",
    ]);
    expect(headers?.filter(([n]) => n === "tenant").map(([, v]) => text(v))).toEqual([
      "acme",
      "globex",
    ]);
    expect(text(headers?.[4]?.[1] ?? null)).toBe("héllo wörld");
    expect([...(headers?.[5]?.[1] ?? [])]).toEqual([0, 1, 2, 255]);
    expect(headers?.[7]?.[1].length).toBe(0);
  });

  it("maps signed header bytes (-128..-1) to 128..255", () => {
    const raw = loadEvent("msk-basic");
    raw.records["orders-0"][0].headers = [{ sig: [-1, -128, 65] }];
    const headers = decodeKafkaEvent(raw).partitions[0]?.records[0]?.headers;
    expect([...(headers?.[0]?.[1] ?? [])]).toEqual([255, 128, 65]);
  });

  it("rejects a malformed event with an error naming the path", () => {
    expect(() => decodeKafkaEvent(loadEvent("malformed"))).toThrow(MalformedEventError);
    expect(() => decodeKafkaEvent(loadEvent("malformed"))).toThrow(
      /event\.records\["orders-0"\]\[0\]\.partition: .*event\.records\["orders-0"\]\[0\]\.offset/,
    );
  });

  it.each([
    [null, /event: /],
    [{ eventSource: "aws:sqs", records: {} }, /event\.eventSource/],
    [{ eventSource: "aws:kafka", bootstrapServers: "b:9092", records: {} }, /eventSourceArn/],
    [
      { eventSource: "SelfManagedKafka", bootstrapServers: "b:9092", records: [] },
      /event\.records/,
    ],
  ])("rejects %j", (event, message) => {
    expect(() => decodeKafkaEvent(event)).toThrow(message);
  });

  it("rejects a record filed under another partition's key", () => {
    const raw = loadEvent("msk-basic");
    raw.records["orders-0"][2].partition = 1;
    expect(() => decodeKafkaEvent(raw)).toThrow(/records\["orders-0"\]\[2\] is orders-1/);
  });

  it("turns bad base64 into a per-record decode error without sinking the batch", () => {
    const raw = loadEvent("msk-basic");
    raw.records["orders-0"][1].value = "not base64!";
    raw.records["orders-0"][3].key = "Y3VzdG9tZXItMQ"; // missing padding
    const records = decodeKafkaEvent(raw).partitions[0]?.records ?? [];
    expect(records.map((r) => r.decodeError)).toEqual([
      undefined,
      "value is not valid base64",
      undefined,
      "key is not valid base64",
      undefined,
    ]);
  });

  it("sorts each partition's records by offset", () => {
    const raw = loadEvent("msk-basic");
    raw.records["orders-1"].reverse();
    const offsets = decodeKafkaEvent(raw).partitions[1]?.records.map((r) => r.offset);
    expect(offsets).toEqual([200, 201, 202, 203]);
  });

  it("keeps an empty partition, topic and partition taken from its key", () => {
    const raw = loadEvent("msk-basic");
    raw.records["orders-eu-7"] = [];
    const partition = decodeKafkaEvent(raw).partitions[2];
    expect(partition).toMatchObject({ id: "orders-eu-7", topic: "orders-eu", partition: 7 });
  });
});

describe("parsePartitionId", () => {
  it("splits at the last dash", () => {
    expect(parsePartitionId("a-b-12")).toEqual({ topic: "a-b", partition: 12 });
    expect(() => parsePartitionId("nodash")).toThrow(MalformedEventError);
  });
});
