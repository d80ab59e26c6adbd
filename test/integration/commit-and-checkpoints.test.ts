// The commit has time of its own, and long batches are checkpointed: a throttled store at the end
// of a batch that used all its delivery time is retried inside the deadline margin, and an
// invocation that dies mid-batch (nothing more reaches the store or the sink) leaves behind what
// it delivered so far, so the event source's whole-batch redelivery repeats only the rest.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
import { BatchRetryError } from "../../src/core/errors.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import { createConsumerHandler, reliabilityStores } from "../../src/wiring/consumer.ts";
import { demoCluster, functionArn, service, subscription } from "../helpers/catalog-fixtures.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import { type RecordSpec, selfManagedEvent } from "../helpers/kafka-events.ts";

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

/** A sink that answers after `delayMs`, runs each idempotency key once (as Restate does: a
 * repeated key is answered without running again), hangs on the keys in `hang`, and, once
 * `dead`, drops every connection unprocessed. */
async function startSink(delayMs: number) {
  const state = {
    dead: false,
    hang: new Set<string>(),
    requests: 0,
    processed: new Set<string>(),
    deduplicated: 0,
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (state.dead) return req.socket.destroy();
      state.requests++;
      const key = (req.url ?? "").split("/")[2] ?? "";
      if (state.hang.has(key)) return; // never answers
      setTimeout(() => {
        if (state.dead) return req.socket.destroy();
        const id = String(req.headers["idempotency-key"]);
        if (state.processed.has(id)) state.deduplicated++;
        state.processed.add(id);
        res.writeHead(200).end("{}");
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    state,
    url,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A DynamoDB client whose calls can be made to fail: `throttleNext` throttles that many, `dead`
 * fails all (the process is gone). */
function faultyClient() {
  const faults = { throttleNext: 0, dead: false, throttled: 0 };
  const client = dynamo.faultyClient(() => {
    if (faults.dead) return new Error("the process is gone");
    if (faults.throttleNext <= 0) return undefined;
    faults.throttleNext--;
    faults.throttled++;
    return new ProvisionedThroughputExceededException({
      message: "injected throttle",
      $metadata: { httpStatusCode: 400 },
    });
  });
  return { client, faults };
}

function consumerFor(
  endpoint: string,
  client: DynamoDBClient,
  table: string,
  checkpointMs: number,
) {
  const sub = subscription({ options: {} }); // whole-batch retries: the handler throws on failure
  const handler = createConsumerHandler({
    catalog: memoryCatalog({
      subscriptions: [sub],
      services: [service({ endpoint })],
      clusters: [demoCluster],
    }),
    config: {
      ...CONSUMER_DEFAULTS,
      MAX_CONCURRENCY: 4,
      CATALOG_CACHE_TTL_MS: 60_000,
      MAX_ATTEMPTS: 2,
      REQUEST_TIMEOUT_MS: 5_000,
      DEADLINE_MARGIN_MS: 2_000,
      COMMIT_MARGIN_MS: 200,
      CHECKPOINT_INTERVAL_MS: checkpointMs,
      RETRY_BASE_DELAY_MS: 1,
      RETRY_MAX_DELAY_MS: 5,
    },
    reliability: reliabilityStores(client, table),
    log: () => {},
  });
  return (batch: RecordSpec[], remainingMs: number) => {
    const started = Date.now();
    return handler(selfManagedEvent("127.0.0.1:9092", batch), {
      invokedFunctionArn: functionArn(sub.id),
      getRemainingTimeInMillis: () => remainingMs - (Date.now() - started),
    });
  };
}

/** One key: a single ordered lane, delivered one record after another. */
const lane = (count: number, key = "a"): RecordSpec[] =>
  Array.from({ length: count }, (_, offset) => ({
    topic: "orders",
    partition: 0,
    offset,
    key,
    value: JSON.stringify({ offset }),
  }));

describe("the commit's own time", () => {
  it("a throttled store after a batch that used all its delivery time is retried in the margin", async () => {
    const sink = await startSink(1);
    const { client, faults } = faultyClient();
    const invoke = consumerFor(sink.url, client, await dynamo.freshTable(), 0);
    // Key "b" hangs until the delivery deadline; key "a" is delivered.
    sink.state.hang.add("b");
    const batch = [...lane(3, "a"), { ...lane(1, "b")[0], offset: 3 } as RecordSpec];
    const run = invoke(batch, 3_000);
    // When deliveries stop (3 s − 2 s margin), the first two store writes are throttled.
    setTimeout(() => {
      faults.throttleNext = 2;
    }, 900);
    // b failed: the batch comes back (the consumer's own error, not the store's)
    await expect(run).rejects.toBeInstanceOf(BatchRetryError);
    expect(faults.throttled).toBe(2);
    // ... and the commit got through: the redelivery skips a's records.
    sink.state.hang.clear();
    const requestsBefore = sink.state.requests;
    await invoke(batch, 3_000);
    expect(sink.state.requests - requestsBefore).toBe(1);
    client.destroy();
    await sink.close();
  });
});

describe("checkpoints", () => {
  for (const checkpointMs of [100, 0]) {
    it(`an invocation that dies mid-batch repeats ${checkpointMs ? "little" : "everything"} (checkpoint every ${checkpointMs} ms)`, async () => {
      const sink = await startSink(20);
      const { client, faults } = faultyClient();
      const invoke = consumerFor(sink.url, client, await dynamo.freshTable(), checkpointMs);
      const batch = lane(60);
      const crashed = invoke(batch, 60_000).catch((error: unknown) => error);
      // The process dies once about 30 records are through.
      while (sink.state.processed.size < 30) await new Promise((r) => setTimeout(r, 5));
      faults.dead = true;
      sink.state.dead = true;
      expect(await crashed).toBeInstanceOf(Error);
      const beforeCrash = sink.state.processed.size;

      // The event source sends the whole batch again, to a new process.
      faults.dead = false;
      sink.state.dead = false;
      const requestsBefore = sink.state.requests;
      expect(await invoke(batch, 60_000)).toBeUndefined();
      const resent = sink.state.requests - requestsBefore;

      // Nothing lost: every record ran once (with the idempotency keys of the first attempt).
      expect(sink.state.processed.size).toBe(60);
      const undelivered = 60 - beforeCrash;
      expect(resent).toBe(undelivered + sink.state.deduplicated);
      if (checkpointMs > 0) {
        // Only what came after the last checkpoint (a few records at 20 ms each) is sent again.
        expect(sink.state.deduplicated).toBeLessThan(15);
      } else {
        expect(resent).toBe(60);
      }
      client.destroy();
      await sink.close();
    }, 30_000);
  }
});
