// The dead letter both deploy tiers replay: payments-0@42, key k1, as the consumer parks it once
// its retries ran out.
import { buildDeadLetter, type DeadLetter, parkedKeyId } from "../../src/core/dead-letters.ts";

export function exhaustedPaymentLetter(subscriptionId: string, value: string): DeadLetter {
  const partitionId = "payments-0";
  const key = new TextEncoder().encode("k1");
  return buildDeadLetter({
    subscriptionId,
    partitionId,
    record: {
      topic: "payments",
      partition: 0,
      offset: 42,
      timestamp: 1_700_000_000_000,
      timestampType: "CREATE_TIME",
      key,
      value: new TextEncoder().encode(value),
      headers: [],
    },
    kind: "exhausted",
    reason: "HTTP 503",
    attempts: 10,
    firstFailedAt: 1_700_000_000_000,
    parkedAt: 1_700_000_000_000,
    parksKey: parkedKeyId(partitionId, key),
  });
}
