import { describe, expect, it } from "vitest";
import {
  noReliability,
  type ReliabilityStores,
  storedReliability,
} from "../../src/app/reliability-flow.ts";
import { DEFAULT_DEAD_LETTER_SETTINGS } from "../../src/core/dead-letters.ts";
import { SubscriptionResolutionError } from "../../src/core/errors.ts";
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

/** Stores that record the writes the commit makes (the reads are not used by `settle`). */
function recordingStores(): { stores: ReliabilityStores; writes: string[] } {
  const writes: string[] = [];
  const stores = {
    progress: {
      save: async (_sub: string, next: { partitionId: string }) => {
        writes.push(`save ${next.partitionId}`);
      },
      remove: async (_sub: string, partitionId: string) => {
        writes.push(`remove ${partitionId}`);
      },
    },
    deadLetters: {
      park: async (letters: readonly unknown[]) => {
        writes.push(`park ${letters.length}`);
      },
    },
  } as unknown as ReliabilityStores;
  return { stores, writes };
}

describe("storedReliability commit", () => {
  const event: DecodedEvent = {
    source: { kind: "self-managed", bootstrapServers: ["k:9092"] },
    partitions: [
      { id: "orders-0", topic: "orders", partition: 0, records: [record(1), record(2)] },
    ],
  };
  const settle = (stores: ReliabilityStores, outcomes: RecordOutcome[]) => {
    const progress = new Map();
    return storedReliability(stores).settle({
      subscriptionId: "sub_1",
      event,
      pre: preDispatch({ event, progress, parkedKeys: new Set(), ordered: true }),
      outcomes,
      progress,
      settings: DEFAULT_DEAD_LETTER_SETTINGS,
      ordered: true,
      partialBatchResponse: false,
      now: 0,
    });
  };
  const window = (accepting: () => Promise<boolean>) => ({
    deadlineMs: Number.POSITIVE_INFINITY,
    accepting,
    now: () => 0,
    sleep: async () => {},
    log: () => {},
  });
  const delivered = (offset: number): RecordOutcome => ({
    partitionId: "orders-0",
    record: record(offset),
    status: "delivered",
    attempts: 1,
  });

  it("neither writes nor asks whether writes are taken when the batch was delivered whole", async () => {
    const { stores, writes } = recordingStores();
    let asked = 0;
    await settle(stores, [delivered(1), delivered(2)]).commit(
      window(async () => {
        asked++;
        return true;
      }),
    );
    expect(asked).toBe(0);
    expect(writes).toEqual([]);
  });

  it("asks before saving progress, and saves nothing for a subscription being deleted", async () => {
    const failed: RecordOutcome = {
      partitionId: "orders-0",
      record: record(2),
      status: "failed",
      reason: "HTTP 503",
      attempts: 1,
    };
    const active = recordingStores();
    let asked = 0;
    await settle(active.stores, [delivered(1), failed]).commit(
      window(async () => {
        asked++;
        return true;
      }),
    );
    expect(asked).toBe(1);
    expect(active.writes).toEqual(["save orders-0"]);

    const deleting = recordingStores();
    await expect(
      settle(deleting.stores, [delivered(1), failed]).commit(window(async () => false)),
    ).rejects.toBeInstanceOf(SubscriptionResolutionError);
    expect(deleting.writes).toEqual([]);
  });
});
