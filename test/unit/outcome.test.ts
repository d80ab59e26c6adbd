import { describe, expect, it } from "vitest";
import { BatchRetryError } from "../../src/core/errors.ts";
import type { DecodedRecord } from "../../src/core/event.ts";
import {
  buildBatchResponse,
  consoleLogger,
  logJson,
  logTerminalOutcomes,
  lowestUndelivered,
  type OutcomeStatus,
  type RecordOutcome,
} from "../../src/core/outcome.ts";

const outcome = (
  partition: number,
  offset: number,
  status: OutcomeStatus,
  reason?: string,
): RecordOutcome => {
  const record: DecodedRecord = {
    topic: "orders",
    partition,
    offset,
    timestamp: 0,
    timestampType: "CREATE_TIME",
    key: null,
    value: null,
    headers: [],
  };
  return {
    partitionId: `orders-${partition}`,
    record,
    status,
    attempts: 1,
    ...(reason ? { reason } : {}),
  };
};

const mixed = [
  outcome(0, 105, "failed", "HTTP 503"),
  outcome(0, 100, "delivered"),
  outcome(0, 103, "not_attempted"),
  outcome(0, 101, "terminal", "HTTP 400"),
  outcome(1, 7, "delivered"),
  outcome(1, 9, "not_attempted"),
  outcome(2, 50, "terminal"),
  outcome(3, 1, "delivered"),
];

describe("lowestUndelivered", () => {
  it("names the lowest failed or not-attempted offset of each partition", () => {
    expect(lowestUndelivered(mixed, ["orders-0", "orders-1", "orders-2", "orders-3"])).toEqual([
      { itemIdentifier: { partition: "orders-0", offset: 103 } },
      { itemIdentifier: { partition: "orders-1", offset: 9 } },
    ]);
  });

  it("follows the given partition order", () => {
    expect(
      lowestUndelivered(mixed, ["orders-1", "orders-0"]).map((f) => f.itemIdentifier.partition),
    ).toEqual(["orders-1", "orders-0"]);
  });
});

describe("buildBatchResponse", () => {
  it("partial mode: batchItemFailures, empty when everything is delivered or terminal", () => {
    expect(buildBatchResponse(mixed, { partialBatchResponse: true })).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: "orders-0", offset: 103 } },
        { itemIdentifier: { partition: "orders-1", offset: 9 } },
      ],
    });
    const done = [outcome(0, 1, "delivered"), outcome(0, 2, "terminal")];
    expect(buildBatchResponse(done, { partialBatchResponse: true })).toEqual({
      batchItemFailures: [],
    });
  });

  it("whole-batch mode: undefined when done, BatchRetryError with counts otherwise", () => {
    const done = [outcome(0, 1, "delivered"), outcome(0, 2, "terminal")];
    expect(buildBatchResponse(done, { partialBatchResponse: false })).toBeUndefined();
    let error: unknown;
    try {
      buildBatchResponse(mixed, { partialBatchResponse: false, subscriptionId: "sub_x" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BatchRetryError);
    const retry = error as BatchRetryError;
    expect(retry.counts).toEqual({
      total: 8,
      delivered: 3,
      terminal: 2,
      failed: 1,
      notAttempted: 2,
    });
    expect(retry.message).toBe(
      "Batch not fully delivered for subscription sub_x: 1 failed, 2 not attempted, 3 delivered, " +
        "2 terminal of 8 records; the batch will be retried (first failure: HTTP 503)",
    );
  });
});

describe("logTerminalOutcomes", () => {
  it("writes one JSON line per terminal record", () => {
    const lines: string[] = [];
    logTerminalOutcomes(mixed, "sub_x", (line) => lines.push(line));
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        level: "error",
        msg: "record not delivered (terminal)",
        subscription: "sub_x",
        topic: "orders",
        partition: 0,
        offset: 101,
        reason: "HTTP 400",
        attempts: 1,
      },
      {
        level: "error",
        msg: "record not delivered (terminal)",
        subscription: "sub_x",
        topic: "orders",
        partition: 2,
        offset: 50,
        reason: "unknown",
        attempts: 1,
      },
    ]);
  });
});

describe("consoleLogger", () => {
  it("logs each entry through the console method of its level (the runtime's JSON level)", () => {
    const seen: [string, string][] = [];
    const saved = { info: console.info, warn: console.warn, error: console.error };
    console.info = (line: string) => seen.push(["info", line]);
    console.warn = (line: string) => seen.push(["warn", line]);
    console.error = (line: string) => seen.push(["error", line]);
    try {
      for (const level of ["info", "warn", "error", "fatal"]) {
        logJson(consoleLogger, { level, msg: level });
      }
    } finally {
      Object.assign(console, saved);
    }
    expect(seen).toEqual([
      ["info", '{"level":"info","msg":"info"}'],
      ["warn", '{"level":"warn","msg":"warn"}'],
      ["error", '{"level":"error","msg":"error"}'],
      ["error", '{"level":"fatal","msg":"fatal"}'],
    ]);
  });
});
