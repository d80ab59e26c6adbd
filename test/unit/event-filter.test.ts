import { describe, expect, it } from "vitest";
import { parseFilterPatterns, recordPasses } from "../../src/core/event-filter.ts";
import { buildFeedParams } from "../../src/core/feed-params.ts";
import { normaliseSubscriptionOptions } from "../../src/core/subscription-options.ts";
import { filterEvent } from "../../src/local/kafka/event-filtering.ts";
import { subscription } from "../helpers/catalog-fixtures.ts";

const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const passes = (pattern: unknown, value: unknown) =>
  recordPasses(parseFilterPatterns(JSON.stringify(pattern)), value === null ? null : bytes(value));

// The comparison operators of Lambda's event filtering documentation, each with a record that
// matches and one that does not.
describe("filter patterns: the documented operators", () => {
  it.each([
    ["null", { value: { UserID: [null] } }, { UserID: null }, { UserID: "u-1" }],
    ["empty", { value: { LastName: [""] } }, { LastName: "" }, { LastName: "Doe" }],
    ["equals", { value: { Name: ["Alice"] } }, { Name: "Alice" }, { Name: "alice" }],
    [
      "equals (ignore case)",
      { value: { Name: [{ "equals-ignore-case": "alice" }] } },
      { Name: "ALICE" },
      { Name: "Bob" },
    ],
    [
      "and",
      { value: { Location: ["New York"], Day: ["Monday"] } },
      { Location: "New York", Day: "Monday" },
      { Location: "New York", Day: "Tuesday" },
    ],
    [
      "or",
      { value: { PaymentType: ["Credit", "Debit"] } },
      { PaymentType: "Debit" },
      { PaymentType: "Cash" },
    ],
    [
      "or (multiple fields)",
      { value: { $or: [{ Location: ["New York"] }, { Day: ["Monday"] }] } },
      { Location: "Paris", Day: "Monday" },
      { Location: "Paris", Day: "Friday" },
    ],
    [
      "not",
      { value: { Weather: [{ "anything-but": ["Raining"] }] } },
      { Weather: "Sunny" },
      { Weather: "Raining" },
    ],
    [
      "numeric (equals)",
      { value: { Price: [{ numeric: ["=", 100] }] } },
      { Price: 100.0 },
      { Price: 101 },
    ],
    [
      "numeric (range)",
      { value: { Price: [{ numeric: [">", 10, "<=", 20] }] } },
      { Price: 20 },
      { Price: 10 },
    ],
    ["exists", { value: { ProductName: [{ exists: true }] } }, { ProductName: "x" }, { Other: 1 }],
    [
      "does not exist",
      { value: { ProductName: [{ exists: false }] } },
      { Other: 1 },
      { ProductName: "x" },
    ],
    [
      "begins with",
      { value: { Region: [{ prefix: "us-" }] } },
      { Region: "us-east-1" },
      { Region: "eu-west-1" },
    ],
    [
      "ends with",
      { value: { FileName: [{ suffix: ".png" }] } },
      { FileName: "a.png" },
      { FileName: "a.jpg" },
    ],
  ])("%s", (_name, pattern, matching, other) => {
    expect(passes(pattern, matching)).toBe(true);
    expect(passes(pattern, other)).toBe(false);
  });

  it("the documented Kafka examples: a prefix on a JSON field, and a plain string value", () => {
    const device = { value: { device_ID: [{ prefix: "AB" }] } };
    expect(passes(device, { device_ID: "AB1234", session: { duration: 162 } })).toBe(true);
    expect(passes(device, { device_ID: "CD1234" })).toBe(false);
    const notError = { value: [{ "anything-but": ["error"] }] };
    expect(passes(notError, "all good")).toBe(true);
    expect(passes(notError, "error")).toBe(false);
  });

  it("nested fields, arrays in the record, tombstones, and any of several patterns", () => {
    const nested = { value: { order: { type: ["buy"] } } };
    expect(passes(nested, { order: { type: "buy" } })).toBe(true);
    expect(passes(nested, { order: "buy" })).toBe(false);
    expect(passes({ value: { tags: ["red"] } }, { tags: ["blue", "red"] })).toBe(true);
    expect(passes(nested, null)).toBe(false);
    expect(passes({ value: [{ exists: false }] }, null)).toBe(true);
    const either = parseFilterPatterns(
      JSON.stringify([{ value: { kind: ["a"] } }, { value: { kind: ["b"] } }]),
    );
    expect(recordPasses(either, bytes({ kind: "b" }))).toBe(true);
    expect(recordPasses(either, bytes({ kind: "c" }))).toBe(false);
  });
});

describe("filter pattern validation", () => {
  it.each([
    ["not json", "must be JSON"],
    [JSON.stringify({ key: { id: ["x"] } }), `filtered on "value" only`],
    [JSON.stringify({ value: { a: "x" } }), "must be a list of matchers or a nested object"],
    [JSON.stringify({ value: { a: [] } }), "must not be empty"],
    [JSON.stringify({ value: { a: [{ numeric: [">", "1"] }] } }), "compares with numbers"],
    [JSON.stringify({ value: { a: [{ numeric: ["!=", 1] }] } }), "operators are"],
    [JSON.stringify({ value: { a: [{ wildcard: "x*" }] } }), `unknown operator "wildcard"`],
    [JSON.stringify({ value: { a: [{ prefix: 1 }] } }), `"prefix" takes a string`],
    [JSON.stringify(Array.from({ length: 6 }, () => ({ value: { a: ["x"] } }))), "1 to 5 patterns"],
  ])("refuses %s", (text, message) => {
    expect(() => parseFilterPatterns(text)).toThrow(message);
  });
});

describe("filters on the event source mapping and locally", () => {
  const option = JSON.stringify({ value: { type: ["order"] } });

  it("become FilterCriteria, one filter per pattern", () => {
    const options = normaliseSubscriptionOptions({ "lambda.filter.patterns": option });
    const params = buildFeedParams(
      subscription({ cluster: "c", options }),
      { name: "c", properties: { "bootstrap.servers": "b:9092" }, origin: "api" },
      "arn:aws:lambda:eu-west-1:123456789012:function:consumer:sub_abc",
    );
    expect(params.FilterCriteria).toEqual({
      Filters: [{ Pattern: '{"value":{"type":["order"]}}' }],
    });
  });

  it("leave records out of a local batch, keep undecodable ones, and skip an empty batch", () => {
    const patterns = parseFilterPatterns(option);
    const record = (offset: number, value: unknown, extra: Record<string, unknown> = {}) => ({
      topic: "orders",
      partition: 0,
      offset,
      timestamp: 1,
      timestampType: "CREATE_TIME",
      key: null,
      value: Buffer.from(JSON.stringify(value)).toString("base64"),
      headers: [],
      ...extra,
    });
    const event = {
      eventSource: "SelfManagedKafka" as const,
      bootstrapServers: "b:9092",
      records: {
        "orders-0": [
          record(0, { type: "order" }),
          record(1, { type: "refund" }),
          record(2, "garbage", { schemaRegistryError: "SCHEMA_NOT_FOUND: schema 9" }),
        ],
        "orders-1": [record(0, { type: "refund" })],
      },
    };
    const filtered = filterEvent(event, patterns);
    expect(Object.keys(filtered?.records ?? {})).toEqual(["orders-0"]);
    expect(filtered?.records["orders-0"]?.map((r) => r.offset)).toEqual([0, 2]);
    expect(
      filterEvent({ ...event, records: { "orders-1": event.records["orders-1"] } }, patterns),
    ).toBeUndefined();
  });
});
