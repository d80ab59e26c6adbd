// Routing from the payload through the consumer to a real HTTP sink on loopback: the object key
// and the idempotency key come from JSON pointers into the value; records of one routed key keep
// their offset order whatever their Kafka keys; a record where a pointer finds nothing is
// terminal with the reason, and the rest flows.
import { afterEach, describe, expect, it } from "vitest";
import { createHttpSink } from "../../src/adapters/http-sink.ts";
import { type ConsumerSettings, createConsumer } from "../../src/app/consumer.ts";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
import { normaliseSubscriptionOptions } from "../../src/core/subscription-options.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import {
  demoCluster,
  functionArn,
  SUB_ID,
  service,
  subscription,
} from "../helpers/catalog-fixtures.ts";
import { mskEvent } from "../helpers/kafka-events.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";

const config: ConsumerSettings = {
  ...CONSUMER_DEFAULTS,
  MAX_CONCURRENCY: 16,
  CATALOG_CACHE_TTL_MS: 10_000,
  MAX_ATTEMPTS: 2,
  REQUEST_TIMEOUT_MS: 2_000,
  DEADLINE_MARGIN_MS: 500,
};

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function run(options: Record<string, string>, sink: RecordingSink) {
  const http = createHttpSink({ connections: 16, requestTimeoutMs: 2_000 });
  cleanup.push(() => http.close());
  const lines: string[] = [];
  const consumer = createConsumer({
    catalog: memoryCatalog({
      subscriptions: [
        subscription({
          options: normaliseSubscriptionOptions({
            "lambda.report.batch.item.failures": "true",
            ...options,
          }),
        }),
      ],
      services: [service({ endpoint: sink.url })],
      clusters: [demoCluster],
    }),
    config,
    deliver: http.deliver,
    log: (line) => lines.push(line),
  });
  const end = Date.now() + 30_000;
  // Kafka keys alternate between two devices; the customer each record is for is in the value.
  const records = Array.from({ length: 12 }, (_, offset) => ({
    partition: 0,
    offset,
    key: `device-${offset % 2}`,
    value:
      offset === 7
        ? { order: offset }
        : {
            order: offset,
            customer: { id: `c-${Math.floor(offset / 4)}` },
            orderId: `o-${offset}`,
          },
  }));
  const response = await consumer.processEvent(mskEvent(records), {
    invokedFunctionArn: functionArn(SUB_ID),
    getRemainingTimeInMillis: () => end - Date.now(),
  });
  return { response, logs: lines.map((line) => JSON.parse(line)) };
}

describe("routing from the payload", () => {
  it("object and idempotency keys from JSON pointers; order per routed key; a miss is terminal", async () => {
    const sink = await startRecordingSink(() => ({ status: 200, delayMs: 10 }));
    cleanup.push(() => sink.close());
    const { response, logs } = await run(
      { "object.key.pointer": "/customer/id", "idempotency.key.pointer": "/orderId" },
      sink,
    );
    expect(response).toEqual({ batchItemFailures: [] });

    const byKey = new Map<string, number[]>();
    for (const request of sink.requests) {
      const key = decodeURIComponent(request.path.split("/")[2] ?? "");
      const order = JSON.parse(request.body.toString()).order as number;
      byKey.set(key, [...(byKey.get(key) ?? []), order]);
      expect(request.headers["idempotency-key"]).toBe(`${SUB_ID}/o-${order}`);
    }
    // Each customer's orders in offset order, though their Kafka keys alternate.
    expect(Object.fromEntries(byKey)).toEqual({
      "c-0": [0, 1, 2, 3],
      "c-1": [4, 5, 6],
      "c-2": [8, 9, 10, 11],
    });
    // One lane per customer: each request of a key starts after the previous one was answered.
    for (const key of byKey.keys()) {
      const times = sink.requests
        .filter((r) => decodeURIComponent(r.path.split("/")[2] ?? "") === key)
        .map((r) => r.receivedAt);
      for (let i = 1; i < times.length; i++) {
        expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(9);
      }
    }
    const terminal = logs.filter((line) => line.reason !== undefined);
    expect(terminal.map((line) => [line.offset, line.reason])).toEqual([
      [
        7,
        `object.key.pointer "/customer/id" finds nothing in the value (it needs a string or a number)`,
      ],
    ]);
  });

  it("without routing the Kafka key is the object key", async () => {
    const sink = await startRecordingSink(() => ({ status: 200 }));
    cleanup.push(() => sink.close());
    await run({}, sink);
    const keys = new Set(sink.requests.map((r) => decodeURIComponent(r.path.split("/")[2] ?? "")));
    expect([...keys].sort()).toEqual(["device-0", "device-1"]);
  });
});
