// Object keys that URL handling likes to rewrite, delivered by the consumer (real undici sink) to a
// real restate-server: a virtual object's handler must see `.`, `..` and a key with `/` and `%`
// as its key, and keys too long for a request line must be refused before anything is sent.
import * as restate from "@restatedev/restate-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningRestate,
  registerDeployment,
  startRestate,
} from "../../infra/local/restate.ts";
import { createHttpSink, type HttpSink } from "../../src/adapters/http-sink.ts";
import { createConsumer } from "../../src/app/consumer.ts";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import {
  demoCluster,
  functionArn,
  SUB_ID,
  service,
  subscription,
} from "../helpers/catalog-fixtures.ts";
import { mskEvent } from "../helpers/kafka-events.ts";
import { type SdkEndpoint, serveSdkEndpoint } from "../helpers/sdk-endpoint.ts";

/** What the object's handler saw, per Kafka offset. */
const seen = new Map<number, string>();

const Keys = restate.object({
  name: "Keys",
  handlers: {
    add: async (ctx: restate.ObjectContext, _body: unknown): Promise<string> => {
      seen.set(Number(ctx.request().headers.get("kafka.offset")), ctx.key);
      return ctx.key;
    },
  },
});

let server: SdkEndpoint | undefined;
let restateServer: RunningRestate | undefined;
let sink: HttpSink | undefined;

beforeAll(async () => {
  server = await serveSdkEndpoint([Keys]);
  restateServer = await startRestate();
  await registerDeployment(restateServer.adminUrl, server.url);
  sink = createHttpSink({ connections: 4, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await sink?.close();
  await restateServer?.stop();
  await server?.close();
});

describe("object keys through a real Restate ingress", () => {
  it("'.', '..' and 'a/../b%2E%c' arrive as those keys; a 12 KiB key is refused up front", async () => {
    const lines: string[] = [];
    const consumer = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [
          subscription({
            service: "Keys",
            handler: "add",
            options: { "lambda.report.batch.item.failures": "true" },
          }),
        ],
        services: [
          service({
            name: "Keys",
            endpoint: restateServer?.ingressUrl ?? "",
            handlers: { add: { shared: false, input: "json" } },
          }),
        ],
        clusters: [demoCluster],
      }),
      config: {
        ...CONSUMER_DEFAULTS,
        MAX_CONCURRENCY: 4,
        CATALOG_CACHE_TTL_MS: 10_000,
        MAX_ATTEMPTS: 3,
        REQUEST_TIMEOUT_MS: 10_000,
        DEADLINE_MARGIN_MS: 500,
      },
      deliver: (sink as HttpSink).deliver,
      log: (line) => lines.push(line),
    });
    const end = Date.now() + 60_000;
    const keys: Record<number, string> = { 1: ".", 2: "..", 3: "a/../b%2E%c", 4: "plain" };
    const response = await consumer.processEvent(
      mskEvent([
        ...Object.entries(keys).map(([offset, key]) => ({
          partition: 0,
          offset: Number(offset),
          key,
          value: { offset },
        })),
        { partition: 0, offset: 5, key: "k".repeat(12 * 1024), value: {} },
      ]),
      { invokedFunctionArn: functionArn(SUB_ID), getRemainingTimeInMillis: () => end - Date.now() },
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(Object.fromEntries(seen)).toEqual(keys);
    const reasons = lines.map((l) => JSON.parse(l)).filter((l) => l.reason !== undefined);
    expect(reasons.map((l) => [l.offset, l.reason])).toEqual([
      [5, "object key is 12,288 bytes URL-encoded; the limit is 2,048 (MAX_KEY_URL_BYTES)"],
    ]);
  });
});
