import { describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/core/event.ts";
import { batchMetrics, functionNameFromArn, METRICS_NAMESPACE } from "../../src/core/metrics.ts";
import type { RecordOutcome } from "../../src/core/outcome.ts";

const record = (offset: number): DecodedRecord => ({
  topic: "orders",
  partition: 0,
  offset,
  timestamp: 0,
  timestampType: "CREATE_TIME",
  key: null,
  value: null,
  headers: [],
});

const outcome = (offset: number, fields: Partial<RecordOutcome>): RecordOutcome => ({
  partitionId: "orders-0",
  record: record(offset),
  status: "delivered",
  attempts: 1,
  ...fields,
});

describe("embedded metric format", () => {
  it("declares every metric under the subscription dimension and counts outcomes", () => {
    const line = batchMetrics({
      subscriptionId: "sub_1",
      outcomes: [
        outcome(1, { latencyMs: 12 }),
        outcome(2, { attempts: 3, latencyMs: 40 }),
        outcome(3, { status: "failed", attempts: 4 }),
        outcome(4, { status: "not_attempted", attempts: 0 }),
        outcome(5, { status: "terminal", attempts: 1 }),
      ],
      skipped: 7,
      deadLettered: 2,
      durationMs: 150,
      timestampMs: 1_700_000_000_000,
    });
    const aws = line._aws as {
      Timestamp: number;
      CloudWatchMetrics: Array<Record<string, unknown>>;
    };
    expect(aws.Timestamp).toBe(1_700_000_000_000);
    const directive = aws.CloudWatchMetrics[0] as {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string }[];
    };
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([["Subscription"]]);
    // Every declared metric has a value on the line, as EMF requires.
    for (const { Name } of directive.Metrics) expect(line).toHaveProperty(Name);
    expect(line).toMatchObject({
      Subscription: "sub_1",
      Delivered: 2,
      Retried: 2 + 3,
      Failed: 2,
      Terminal: 1,
      DeadLettered: 2,
      Skipped: 7,
      SinkUnavailable: 0,
      DeliveryLatency: [12, 40],
      BatchDuration: 150,
    });
    const down = batchMetrics({
      subscriptionId: "sub_1",
      outcomes: [outcome(1, { status: "failed", attempts: 4 })],
      skipped: 0,
      deadLettered: 0,
      durationMs: 1,
      timestampMs: 0,
      sinkDown: true,
    });
    expect(down.SinkUnavailable).toBe(1);
  });

  it("samples at most 100 latencies, spread over the batch", () => {
    const outcomes = Array.from({ length: 1_000 }, (_, i) => outcome(i, { latencyMs: i }));
    const line = batchMetrics({
      subscriptionId: "sub_1",
      outcomes,
      skipped: 0,
      deadLettered: 0,
      durationMs: 1,
      timestampMs: 0,
    });
    const latencies = line.DeliveryLatency as number[];
    expect(latencies).toHaveLength(100);
    expect(latencies[0]).toBe(0);
    expect(latencies.at(-1)).toBe(990);
  });

  it("with the function's name, also publishes every metric per function, for the stack's alarms", () => {
    const line = batchMetrics({
      subscriptionId: "sub_1",
      functionName: functionNameFromArn(
        "arn:aws:lambda:us-east-1:123456789012:function:stack-ConsumerFunction-Ab1:sub_1",
      ),
      outcomes: [outcome(1, { latencyMs: 3 })],
      skipped: 0,
      deadLettered: 1,
      durationMs: 5,
      timestampMs: 1,
    });
    const directive = (line._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] })
      .CloudWatchMetrics[0];
    expect(directive?.Dimensions).toEqual([["FunctionName", "Subscription"], ["FunctionName"]]);
    expect(line).toMatchObject({
      FunctionName: "stack-ConsumerFunction-Ab1",
      Subscription: "sub_1",
      DeadLettered: 1,
    });
    expect(functionNameFromArn("not an arn")).toBeUndefined();
  });
});
