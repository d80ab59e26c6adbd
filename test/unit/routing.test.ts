import { describe, expect, it } from "vitest";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import { idempotencyKey } from "../../src/core/invocation.ts";
import { checkRecord } from "../../src/core/plan.ts";
import {
  checkRouting,
  laneKeyBytes,
  parsePointer,
  routeRecord,
  routingOf,
} from "../../src/core/routing.ts";
import { normaliseSubscriptionOptions } from "../../src/core/subscription-options.ts";
import { mskEvent } from "../helpers/kafka-events.ts";

const recordWith = (value: unknown, key: string | null = "kafka-key") => {
  const record = decodeKafkaEvent(mskEvent([{ partition: 0, offset: 3, key, value }])).partitions[0]
    ?.records[0];
  if (!record) throw new Error("no record");
  return record;
};
const routed = (options: Record<string, string>, value: unknown) => {
  const routing = routingOf(normaliseSubscriptionOptions(options));
  if (!routing) throw new Error("no routing");
  return routeRecord(recordWith(value), routing);
};
const keyed = { keyed: true, ordered: true, input: "json" } as const;

describe("JSON pointers", () => {
  it("parses RFC 6901 pointers with their escapes", () => {
    expect(parsePointer("o", "/a/b")).toEqual(["a", "b"]);
    expect(parsePointer("o", "/a~1b/c~0d")).toEqual(["a/b", "c~d"]);
    expect(parsePointer("o", "/")).toEqual([""]);
    for (const bad of ["a/b", "", "/a~2", "/a~"]) {
      expect(() => parsePointer("object.key.pointer", bad)).toThrow("must be a JSON pointer");
    }
  });

  it("finds strings and numbers, in objects and arrays", () => {
    expect(
      routed({ "object.key.pointer": "/customer/id" }, { customer: { id: "c-1" } }).routed,
    ).toEqual({ objectKey: "c-1" });
    expect(
      routed({ "object.key.pointer": "/items/1/sku" }, { items: [{}, { sku: 42 }] }).routed,
    ).toEqual({ objectKey: "42" });
    expect(routed({ "idempotency.key.pointer": "/a~1b" }, { "a/b": "x" }).routed).toEqual({
      idempotencyKey: "x",
    });
  });

  it.each([
    [{ other: 1 }, "finds nothing"],
    [{ customer: { id: { nested: true } } }, "finds an object"],
    [{ customer: { id: [1] } }, "finds an array"],
    [{ customer: { id: null } }, "finds null"],
    [{ customer: { id: true } }, "finds a boolean"],
    [{ customer: { id: "" } }, "finds an empty string"],
  ])("a record where the pointer finds no key is terminal: %j", (value, message) => {
    const record = routed({ "object.key.pointer": "/customer/id" }, value);
    const checked = checkRecord(record, keyed);
    expect("reason" in checked && checked.reason).toContain(message);
    expect("reason" in checked && checked.reason).toContain(`object.key.pointer "/customer/id"`);
  });
});

describe("what the routed keys do", () => {
  it("the object key replaces the Kafka key for the path and for the lane and parked key", () => {
    const record = routed({ "object.key.pointer": "/customer/id" }, { customer: { id: "c-9" } });
    expect(checkRecord(record, keyed)).toEqual({ objectKey: "c-9" });
    expect(Buffer.from(laneKeyBytes(record) ?? []).toString()).toBe("c-9");
    expect(Buffer.from(laneKeyBytes(recordWith({})) ?? []).toString()).toBe("kafka-key");
  });

  it("the idempotency key is the subscription's and the value's, percent-encoded", () => {
    const record = routed({ "idempotency.key.pointer": "/id" }, { id: "order 7/é" });
    expect(idempotencyKey("sub_1", record)).toBe("sub_1/order%207%2F%C3%A9");
    expect(idempotencyKey("sub_1", recordWith({ id: 1 }))).toMatch(
      /^sub_1\/orders\/0\/3\/[0-9a-f]{8}$/,
    );
  });

  it("only keyed sinks take an object key, and pointers need JSON handlers", () => {
    const options = normaliseSubscriptionOptions({ "object.key.pointer": "/id" });
    expect(() =>
      checkRouting(options, { keyed: false, input: "json", name: "service://Audit/note" }),
    ).toThrow("takes no key");
    expect(() =>
      checkRouting(options, { keyed: true, input: "binary", name: "service://Blob/put" }),
    ).toThrow("takes raw bytes");
    expect(() =>
      checkRouting(options, { keyed: true, input: "json", name: "service://Cart/add" }),
    ).not.toThrow();
  });
});
