import { describe, expect, it } from "vitest";
import { noReliability } from "../../src/app/reliability-flow.ts";
import { DEFAULT_DEAD_LETTER_SETTINGS } from "../../src/core/dead-letters.ts";
import type { DecodedEvent } from "../../src/core/event.ts";
import type { RecordOutcome } from "../../src/core/outcome.ts";
import { preDispatch } from "../../src/core/reliability.ts";

const record = (offset: number) => ({
  topic: "orders",
  partition: 0,
  offset,
  timestamp: 0,
  timestampType: "CREATE_TIME" as const,
  key: null,
  value: null,
  headers: [],
});

describe("noReliability", () => {
  it("loads nothing, checkpoints nothing, and leaves every outcome as dispatch left it", async () => {
    const event: DecodedEvent = {
      source: { kind: "self-managed", bootstrapServers: ["k:9092"] },
      partitions: [
        { id: "orders-0", topic: "orders", partition: 0, records: [record(1), record(2)] },
      ],
    };
    const state = await noReliability.load("sub_1", event, true);
    expect(state.progress.size).toBe(0);
    expect(state.parkedKeys.size).toBe(0);
    const outcomes: RecordOutcome[] = [
      {
        partitionId: "orders-0",
        record: record(2),
        status: "terminal",
        reason: "HTTP 400",
        attempts: 1,
      },
      {
        partitionId: "orders-0",
        record: record(1),
        status: "failed",
        reason: "HTTP 503",
        attempts: 9,
      },
    ];
    const settlement = noReliability.settle({
      subscriptionId: "sub_1",
      event,
      pre: preDispatch({ event, ...state, ordered: true }),
      outcomes,
      progress: state.progress,
      settings: { ...DEFAULT_DEAD_LETTER_SETTINGS, maxAttempts: 1 },
      ordered: true,
      partialBatchResponse: true,
      now: 0,
    });
    // Nothing is dead-lettered however exhausted: there is nowhere to keep a letter.
    expect(settlement.outcomes).toBe(outcomes);
    expect(settlement.counts).toBeUndefined();
    let asked = false;
    await settlement.commit({
      deadlineMs: 0,
      accepting: async () => {
        asked = true;
        return true;
      },
      now: () => 0,
      sleep: async () => {},
      log: () => {},
    });
    expect(asked).toBe(false);
  });
});
