import { describe, expect, it } from "vitest";
import {
  clusterBodySchema,
  parseBody,
  serviceBodySchema,
  serviceFromBody,
  subscriptionBodySchema,
} from "../../src/core/admin-schemas.ts";
import { ValidationError } from "../../src/core/errors.ts";

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error("expected a ValidationError");
};

describe("subscription body", () => {
  it("accepts the reference doc's body", () => {
    expect(
      parseBody(
        subscriptionBodySchema,
        {
          source: "kafka://my-cluster/my-topic",
          sink: "service://MyService/handle",
          options: { "auto.offset.reset": "earliest" },
        },
        "subscription",
      ),
    ).toEqual({
      source: "kafka://my-cluster/my-topic",
      sink: "service://MyService/handle",
      options: { "auto.offset.reset": "earliest" },
    });
  });

  it("names unknown and missing fields in one message", () => {
    expect(
      message(() =>
        parseBody(subscriptionBodySchema, { sink: "x", extra: 1, more: 2 }, "subscription"),
      ),
    ).toBe(
      'invalid subscription: source is required and must be a string like kafka://<cluster>/<topic>; unknown fields "extra", "more"',
    );
  });

  it("describes bad option values by key", () => {
    expect(
      message(() =>
        parseBody(
          subscriptionBodySchema,
          { source: "s", sink: "t", options: { "group.id": null } },
          "subscription",
        ),
      ),
    ).toBe('invalid subscription: options["group.id"] must be a string, a number or a boolean');
    expect(
      message(() =>
        parseBody(subscriptionBodySchema, { source: "s", sink: "t", options: [] }, "subscription"),
      ),
    ).toBe("invalid subscription: options must be an object");
  });

  it("takes null options as none, as Restate's CLI sends them", () => {
    expect(
      parseBody(subscriptionBodySchema, { source: "s", sink: "t", options: null }, "subscription"),
    ).toEqual({ source: "s", sink: "t", options: null });
  });

  it("requires an object", () => {
    expect(message(() => parseBody(subscriptionBodySchema, [1], "subscription"))).toBe(
      "invalid subscription: body must be a JSON object",
    );
    expect(message(() => parseBody(subscriptionBodySchema, "text", "subscription"))).toBe(
      "invalid subscription: body must be a JSON object",
    );
  });
});

describe("cluster body", () => {
  it("accepts name and properties", () => {
    expect(
      parseBody(
        clusterBodySchema,
        { name: "c-1_x", properties: { "bootstrap.servers": "b:1" } },
        "cluster",
      ),
    ).toEqual({
      name: "c-1_x",
      properties: { "bootstrap.servers": "b:1" },
    });
  });

  it.each([
    [{ name: "bad name", properties: {} }, /name must be 1 to 64 letters/],
    [{ name: "x".repeat(65), properties: {} }, /name must be 1 to 64 letters/],
    [{ name: "", properties: {} }, /name must be 1 to 64 letters/],
    [{ name: "c" }, /properties is required and must be an object/],
    [{ name: "c", properties: {}, origin: "config" }, /unknown field "origin"/],
  ])("rejects %j", (body, expected) => {
    expect(message(() => parseBody(clusterBodySchema, body, "Kafka cluster"))).toMatch(expected);
  });

  it("does not echo property values", () => {
    expect(
      message(() =>
        parseBody(
          clusterBodySchema,
          { name: "c", properties: { "sasl.password": { v: "hunter2" } } },
          "c",
        ),
      ),
    ).not.toContain("hunter2");
  });
});

describe("service body", () => {
  const counter = {
    name: "Counter",
    type: "virtual_object",
    endpoint: "http://host:8080/",
    invocation: "call",
    handlers: { add: {}, get: { shared: true }, raw: { input: "binary" } },
  };

  it("accepts the spec's example and applies defaults", () => {
    expect(serviceFromBody(parseBody(serviceBodySchema, counter, "service"))).toEqual({
      name: "Counter",
      type: "virtual_object",
      endpoint: "http://host:8080",
      invocation: "call",
      handlers: {
        add: { shared: false, input: "json" },
        get: { shared: true, input: "json" },
        raw: { shared: false, input: "binary" },
      },
    });
    const minimal = parseBody(
      serviceBodySchema,
      { name: "S", type: "service", endpoint: "https://x.example/restate", handlers: { h: {} } },
      "service",
    );
    expect(serviceFromBody(minimal).invocation).toBe("call");
  });

  it.each([
    [{ ...counter, type: "actor" }, /type must be "service", "virtual_object" or "workflow"/],
    [{ ...counter, endpoint: "ftp://host" }, /endpoint must be an http:\/\/ or https:\/\/ URL/],
    [{ ...counter, endpoint: "host:8080" }, /endpoint must be an http:\/\/ or https:\/\/ URL/],
    [{ ...counter, endpoint: "not a url" }, /endpoint must be an absolute http/],
    [{ ...counter, endpoint: "http://user:pw@host" }, /endpoint must not contain credentials/],
    [{ ...counter, endpoint: "http://host/?a=1" }, /endpoint must not contain a query/],
    [{ ...counter, invocation: "fire" }, /invocation must be "call" or "send"/],
    [{ ...counter, handlers: {} }, /handlers must declare at least one handler/],
    [{ ...counter, handlers: { "1bad": {} } }, /handlers\["1bad"\] is not a valid handler name/],
    [{ ...counter, handlers: { h: { shared: "yes" } } }, /handlers.h.shared must be a boolean/],
    [
      { ...counter, handlers: { h: { input: "xml" } } },
      /handlers.h.input must be "json" or "binary"/,
    ],
    [{ ...counter, handlers: { h: { timeout: 1 } } }, /handlers.h: unknown field "timeout"/],
    [
      { ...counter, type: "service", handlers: { h: { shared: true } } },
      /handlers.h.shared is only allowed for virtual_object and workflow/,
    ],
    [{ ...counter, name: "9lives" }, /name must start with a letter/],
  ])("rejects %j", (body, expected) => {
    expect(message(() => parseBody(serviceBodySchema, body, "service"))).toMatch(expected);
  });

  it("allows shared handlers on workflows", () => {
    expect(() =>
      parseBody(
        serviceBodySchema,
        { ...counter, type: "workflow", handlers: { run: {}, status: { shared: true } } },
        "service",
      ),
    ).not.toThrow();
  });

  it("does not echo the endpoint's credentials", () => {
    expect(
      message(() =>
        parseBody(serviceBodySchema, { ...counter, endpoint: "http://user:pw@host" }, "service"),
      ),
    ).not.toContain("pw");
  });
});
