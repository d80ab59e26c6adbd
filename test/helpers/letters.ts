// A dead letter as the consumer parks one after a sink kept answering 503: offset 7 of
// partition orders-0, for the replay tests.
import { buildDeadLetter, type DeadLetter } from "../../src/core/dead-letters.ts";

export const exhaustedLetter = (value: string, key = "k1"): DeadLetter =>
  buildDeadLetter({
    subscriptionId: "sub_1",
    partitionId: "orders-0",
    record: {
      topic: "orders",
      partition: 0,
      offset: 7,
      timestamp: 1_700_000_000_000,
      timestampType: "CREATE_TIME",
      key: new Uint8Array(Buffer.from(key)),
      value: new Uint8Array(Buffer.from(value)),
      headers: [],
    },
    kind: "exhausted",
    reason: "HTTP 503",
    attempts: 10,
    firstFailedAt: 1_700_000_000_000,
    parkedAt: 1_700_000_000_000,
  });
