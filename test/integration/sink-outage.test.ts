// A sink that is down for a while (connection refused, then 503s) must not dead-letter the
// records that happen to be in flight: the partition waits and everything is delivered once the
// sink is back. A poison key next to healthy ones is still dead-lettered on its budget.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
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

const records: RecordSpec[] = ["a", "b", "c"].flatMap((key, k) =>
  [0, 1].map((n) => ({
    topic: "orders",
    partition: 0,
    offset: k * 2 + n,
    key,
    value: JSON.stringify({ key, n }),
  })),
);

/** 503 for everything while `mode` is "unavailable"; 500 for key "p" (a poison) otherwise. */
async function startSink() {
  const state = { mode: "unavailable" as "unavailable" | "up", delivered: [] as string[] };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const key = (req.url ?? "").split("/")[2] ?? "";
      if (state.mode === "unavailable") res.writeHead(503).end();
      else if (key === "p") res.writeHead(500).end();
      else {
        state.delivered.push(`${key}@${req.headers["kafka.offset"]}`);
        res.writeHead(200).end("{}");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { state, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function consumerFor(endpoint: string, table: string) {
  const sub = subscription({
    options: { "lambda.report.batch.item.failures": "true", "dead.letter.max.attempts": "3" },
  });
  const stores = reliabilityStores(dynamo.client, table);
  const lines: Array<Record<string, unknown>> = [];
  const handler = createConsumerHandler({
    catalog: memoryCatalog({
      subscriptions: [sub],
      services: [service({ endpoint })],
      clusters: [demoCluster],
    }),
    config: {
      ...CONSUMER_DEFAULTS,
      MAX_CONCURRENCY: 8,
      CATALOG_CACHE_TTL_MS: 60_000,
      MAX_ATTEMPTS: 2,
      REQUEST_TIMEOUT_MS: 2_000,
      DEADLINE_MARGIN_MS: 500,
      RETRY_BASE_DELAY_MS: 1,
      RETRY_MAX_DELAY_MS: 5,
    },
    reliability: stores,
    log: (line) => lines.push(JSON.parse(line)),
  });
  const invoke = (batch: RecordSpec[]) =>
    handler(selfManagedEvent("127.0.0.1:9092", batch), {
      invokedFunctionArn: functionArn(sub.id),
      getRemainingTimeInMillis: () => 30_000,
    });
  const letters = async () => (await stores.deadLetters.list(sub.id)).items;
  /** SinkUnavailable of each batch's metric line, in order. */
  const sinkUnavailable = () =>
    lines.filter((l) => l.msg === "batch metrics").map((l) => l.SinkUnavailable);
  return { invoke, letters, sinkUnavailable };
}

describe("a sink outage", () => {
  it("dead-letters nothing however many invocations it lasts; all is delivered after", async () => {
    const sink = await startSink();
    const { invoke, letters, sinkUnavailable } = consumerFor(sink.url, await dynamo.freshTable());
    // 2 attempts per invocation, budget 3: without the outage rule the second invocation would
    // dead-letter every record.
    for (let i = 0; i < 6; i++) {
      const response = await invoke(records);
      expect(response?.batchItemFailures.length).toBeGreaterThan(0);
    }
    expect(await letters()).toEqual([]);
    sink.state.mode = "up";
    expect((await invoke(records))?.batchItemFailures).toEqual([]);
    expect(sink.state.delivered.sort()).toEqual(["a@0", "a@1", "b@2", "b@3", "c@4", "c@5"]);
    expect(await letters()).toEqual([]);
    // The metric an alarm can watch: 1 for each invocation during the outage, 0 after.
    expect(sinkUnavailable()).toEqual([1, 1, 1, 1, 1, 1, 0]);
    await sink.close();
  });

  it("a single-key stream waits out the outage too: one failing lane is enough", async () => {
    const sink = await startSink();
    const { invoke, letters, sinkUnavailable } = consumerFor(sink.url, await dynamo.freshTable());
    const quiet = records.filter((r) => r.key === "a");
    for (let i = 0; i < 6; i++) await invoke(quiet);
    expect(await letters()).toEqual([]);
    sink.state.mode = "up";
    expect((await invoke(quiet))?.batchItemFailures).toEqual([]);
    expect(sink.state.delivered).toEqual(["a@0", "a@1"]);
    expect(sinkUnavailable()).toEqual([1, 1, 1, 1, 1, 1, 0]);
    await sink.close();
  });

  it("a poison key among healthy ones is dead-lettered on its budget", async () => {
    const sink = await startSink();
    sink.state.mode = "up";
    const { invoke, letters } = consumerFor(sink.url, await dynamo.freshTable());
    const withPoison: RecordSpec[] = [
      ...records,
      { topic: "orders", partition: 0, offset: 6, key: "p", value: "{}" },
      { topic: "orders", partition: 0, offset: 7, key: "p", value: "{}" },
    ];
    await invoke(withPoison); // 2 attempts: within the budget of 3
    expect(await letters()).toEqual([]);
    // 4 attempts: dead-lettered, the batch is done
    expect((await invoke(withPoison))?.batchItemFailures).toEqual([]);
    expect((await letters()).map((l) => [l.offset, l.kind])).toEqual([
      [6, "exhausted"],
      [7, "parked-behind"],
    ]);
    await sink.close();
  });
});
