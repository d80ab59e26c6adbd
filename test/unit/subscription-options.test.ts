import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.ts";
import {
  feedSettings,
  normaliseSubscriptionOptions,
  reportsBatchItemFailures,
} from "../../src/core/subscription-options.ts";

describe("normaliseSubscriptionOptions", () => {
  it("accepts no options", () => {
    expect(normaliseSubscriptionOptions(undefined)).toEqual({});
    expect(normaliseSubscriptionOptions({})).toEqual({});
  });

  it("normalises numbers, booleans and aliases to canonical strings", () => {
    expect(
      normaliseSubscriptionOptions({
        "auto.offset.reset": "Smallest",
        "group.id": "my-group",
        "lambda.batch.size": 500,
        "lambda.batch.window.seconds": "0",
        "lambda.min.pollers": " 2 ",
        "lambda.max.pollers": 10,
        "lambda.report.batch.item.failures": true,
      }),
    ).toEqual({
      "auto.offset.reset": "earliest",
      "group.id": "my-group",
      "lambda.batch.size": "500",
      "lambda.batch.window.seconds": "0",
      "lambda.min.pollers": "2",
      "lambda.max.pollers": "10",
      "lambda.report.batch.item.failures": "true",
    });
    expect(normaliseSubscriptionOptions({ "auto.offset.reset": "largest" })).toEqual({
      "auto.offset.reset": "latest",
    });
    expect(normaliseSubscriptionOptions({ "lambda.report.batch.item.failures": "FALSE" })).toEqual({
      "lambda.report.batch.item.failures": "false",
    });
  });

  it("names an unknown key and lists the supported ones", () => {
    expect(() => normaliseSubscriptionOptions({ "enable.auto.commit": "false" })).toThrow(
      /unsupported subscription option "enable.auto.commit"; supported options: auto.offset.reset, group.id, lambda.batch.size/,
    );
    expect(() => normaliseSubscriptionOptions({ a: "1", b: "2" })).toThrow(
      /unsupported subscription options "a", "b"/,
    );
  });

  it.each([
    ["auto.offset.reset", "error", /must be "earliest" or "latest"/],
    ["group.id", "has space", /"group.id" must be 1 to 200 characters/],
    ["group.id", "g".repeat(201), /"group.id" must be 1 to 200 characters/],
    ["lambda.batch.size", 0, /from 1 to 10000/],
    ["lambda.batch.size", 10_001, /from 1 to 10000/],
    ["lambda.batch.size", 1.5, /whole number/],
    ["lambda.batch.size", "ten", /whole number/],
    ["lambda.batch.size", "", /whole number/],
    ["lambda.batch.window.seconds", 301, /from 0 to 300/],
    ["lambda.batch.window.seconds", -1, /from 0 to 300/],
    ["lambda.min.pollers", 0, /from 1 to 200/],
    ["lambda.min.pollers", 201, /from 1 to 200/],
    ["lambda.max.pollers", 2001, /from 1 to 2000/],
    ["lambda.report.batch.item.failures", "yes", /must be "true" or "false"/],
  ])("rejects %s = %j", (key, value, message) => {
    expect(() => normaliseSubscriptionOptions({ [key]: value })).toThrow(ValidationError);
    expect(() => normaliseSubscriptionOptions({ [key]: value })).toThrow(message);
  });

  it("accepts range bounds", () => {
    expect(() =>
      normaliseSubscriptionOptions({
        "lambda.batch.size": 10_000,
        "lambda.batch.window.seconds": 300,
        "lambda.min.pollers": 200,
        "lambda.max.pollers": 2000,
      }),
    ).not.toThrow();
    expect(() =>
      normaliseSubscriptionOptions({ "lambda.batch.size": 1, "lambda.min.pollers": 1 }),
    ).not.toThrow();
  });

  it("refuses min pollers above max pollers, including the default max", () => {
    expect(() =>
      normaliseSubscriptionOptions({ "lambda.min.pollers": 5, "lambda.max.pollers": 4 }),
    ).toThrow(/"lambda.min.pollers" \(5\) must not exceed "lambda.max.pollers" \(4\)/);
    expect(() => normaliseSubscriptionOptions({ "lambda.max.pollers": 1 })).not.toThrow();
  });

  it("refuses values that are not scalars", () => {
    expect(() => normaliseSubscriptionOptions({ "group.id": { a: 1 } })).toThrow(
      /must be a string, a number or a boolean/,
    );
    expect(() => normaliseSubscriptionOptions({ "lambda.batch.size": Number.NaN })).toThrow(
      /must be a string, a number or a boolean/,
    );
  });
});

describe("feedSettings", () => {
  it("applies defaults: LATEST, group id = subscription id, on-demand mode", () => {
    expect(feedSettings("sub_1", {})).toEqual({
      startingPosition: "LATEST",
      consumerGroupId: "sub_1",
      reportBatchItemFailures: false,
    });
  });

  it("maps earliest to TRIM_HORIZON and carries the ESM settings", () => {
    expect(
      feedSettings("sub_1", {
        "auto.offset.reset": "earliest",
        "group.id": "g",
        "lambda.batch.size": "50",
        "lambda.batch.window.seconds": "2",
      }),
    ).toEqual({
      startingPosition: "TRIM_HORIZON",
      consumerGroupId: "g",
      batchSize: 50,
      batchingWindowSeconds: 2,
      reportBatchItemFailures: false,
    });
  });

  it("turns on provisioned mode for partial batch responses: a share of the poller group", () => {
    const settings = feedSettings("s", { "lambda.report.batch.item.failures": "true" });
    expect(settings.pollers).toEqual({ minimum: 1, maximum: 20 });
    expect(
      feedSettings("s", {
        "lambda.report.batch.item.failures": "true",
        "lambda.poller.group": "none",
      }).pollers,
    ).toEqual({ minimum: 1, maximum: 200 });
    expect(settings.reportBatchItemFailures).toBe(true);
    expect(reportsBatchItemFailures({ "lambda.report.batch.item.failures": "true" })).toBe(true);
    expect(reportsBatchItemFailures({})).toBe(false);
  });

  it("fills the missing poller bound with the default (a group's share, never below the minimum)", () => {
    expect(feedSettings("s", { "lambda.min.pollers": "3" }).pollers).toEqual({
      minimum: 3,
      maximum: 20,
    });
    expect(feedSettings("s", { "lambda.min.pollers": "50" }).pollers).toEqual({
      minimum: 50,
      maximum: 50,
    });
    expect(
      feedSettings("s", { "lambda.min.pollers": "3", "lambda.poller.group": "none" }).pollers,
    ).toEqual({ minimum: 3, maximum: 200 });
    expect(feedSettings("s", { "lambda.max.pollers": "7" }).pollers).toEqual({
      minimum: 1,
      maximum: 7,
    });
  });
});

describe("lambda.starting.position.timestamp", () => {
  it("takes RFC 3339 with any offset, or epoch milliseconds, and stores UTC", () => {
    expect(
      normaliseSubscriptionOptions({
        "lambda.starting.position.timestamp": "2026-11-30T09:00:00+01:00",
      }),
    ).toEqual({ "lambda.starting.position.timestamp": "2026-11-30T08:00:00.000Z" });
    expect(
      normaliseSubscriptionOptions({ "lambda.starting.position.timestamp": 1_764_489_600_000 }),
    ).toEqual({ "lambda.starting.position.timestamp": "2025-11-30T08:00:00.000Z" });
  });

  it.each(["yesterday", "2026-11-30", "2026-13-01T00:00:00Z", "-5"])("refuses %j", (value) => {
    expect(() =>
      normaliseSubscriptionOptions({ "lambda.starting.position.timestamp": value }),
    ).toThrow(`option "lambda.starting.position.timestamp" must be an RFC 3339 time`);
  });

  it("does not go with auto.offset.reset", () => {
    expect(() =>
      normaliseSubscriptionOptions({
        "lambda.starting.position.timestamp": "2026-11-30T08:00:00Z",
        "auto.offset.reset": "earliest",
      }),
    ).toThrow(`do not go together`);
  });
});
