import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.ts";
import { formatSink, formatSource, parseSink, parseSource } from "../../src/core/uris.ts";

describe("parseSource", () => {
  it("splits kafka://cluster/topic", () => {
    expect(parseSource("kafka://my-cluster/my-topic")).toEqual({
      cluster: "my-cluster",
      topic: "my-topic",
    });
    expect(parseSource("kafka://c_1/orders.v2-eu_1")).toEqual({
      cluster: "c_1",
      topic: "orders.v2-eu_1",
    });
  });

  it("accepts a 249-character topic and refuses 250", () => {
    expect(parseSource(`kafka://c/${"a".repeat(249)}`).topic).toHaveLength(249);
    expect(() => parseSource(`kafka://c/${"a".repeat(250)}`)).toThrow(/not a valid Kafka topic/);
  });

  it.each([
    ["http://c/t", /source must look like kafka:\/\/<cluster>\/<topic>/],
    ["kafka://c", /source must look like/],
    ["kafka://c/", /source must look like/],
    ["kafka:///t", /source must look like/],
    ["kafka://c/t/extra", /source must look like/],
    ["kafka://c/to pic", /not a valid Kafka topic name/],
    ["kafka://c/..", /not a valid Kafka topic name/],
    ["kafka://c/.", /not a valid Kafka topic name/],
    ["kafka://c/t%C3%A9", /not a valid Kafka topic name/],
    ["kafka://bad.cluster/t", /cluster name "bad.cluster" is invalid/],
  ])("rejects %s", (uri, message) => {
    expect(() => parseSource(uri)).toThrow(ValidationError);
    expect(() => parseSource(uri)).toThrow(message);
  });

  it("round-trips through formatSource", () => {
    expect(formatSource(parseSource("kafka://a/b"))).toBe("kafka://a/b");
  });
});

describe("parseSink", () => {
  it("splits service://Service/handler", () => {
    expect(parseSink("service://MyService/handle")).toEqual({
      service: "MyService",
      handler: "handle",
    });
    expect(parseSink("service://com.example.Greeter/greet_1")).toEqual({
      service: "com.example.Greeter",
      handler: "greet_1",
    });
    expect(formatSink({ service: "S", handler: "h" })).toBe("service://S/h");
  });

  it.each([
    ["kafka://S/h", /sink must look like service:\/\/<Service>\/<handler>/],
    ["service://S", /sink must look like/],
    ["service://S/h/x", /sink must look like/],
    ["service://1S/h", /sink service name "1S" is invalid/],
    ["service://S/1h", /sink handler name "1h" is invalid/],
    ["service://S/h-x", /sink handler name "h-x" is invalid/],
  ])("rejects %s", (uri, message) => {
    expect(() => parseSink(uri)).toThrow(ValidationError);
    expect(() => parseSink(uri)).toThrow(message);
  });

  it("shortens very long input in messages", () => {
    const long = `service://S/${"x".repeat(500)}-`;
    try {
      parseSink(long);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(250);
    }
  });
});
