import { describe, expect, it } from "vitest";
import { type ConsumerSettings, createConsumer } from "../../src/app/consumer.ts";
import {
  clusterMatchesSource,
  subscriptionIdFromArn,
} from "../../src/app/subscription-resolution.ts";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
import {
  BatchRetryError,
  MalformedEventError,
  SubscriptionResolutionError,
} from "../../src/core/errors.ts";
import type { SinkRequest } from "../../src/core/invocation.ts";
import type { DeliveryResult } from "../../src/core/retry.ts";
import { type MemoryCatalog, memoryCatalog } from "../../src/local/memory-catalog.ts";
import {
  demoCluster,
  functionArn,
  SUB_ID,
  service,
  subscription,
} from "../helpers/catalog-fixtures.ts";
import { loadEvent } from "../helpers/kafka-events.ts";

const config: ConsumerSettings = {
  ...CONSUMER_DEFAULTS,
  MAX_CONCURRENCY: 8,
  CATALOG_CACHE_TTL_MS: 10_000,
  MAX_ATTEMPTS: 2,
  REQUEST_TIMEOUT_MS: 1_000,
  DEADLINE_MARGIN_MS: 1_000,
};
/** `null`: invoked without a subscription alias. */
const context = (qualifier: string | null = SUB_ID) => ({
  invokedFunctionArn: functionArn(qualifier ?? undefined),
  getRemainingTimeInMillis: () => 60_000,
});

function setup(
  catalog: MemoryCatalog = memoryCatalog({
    subscriptions: [subscription()],
    services: [service()],
    clusters: [demoCluster],
  }),
  reply: (r: SinkRequest) => DeliveryResult = () => ({ kind: "success", status: 200 }),
) {
  const requests: SinkRequest[] = [];
  const lines: string[] = [];
  const clock = { now: 1_000_000 };
  const consumer = createConsumer({
    catalog,
    config,
    deliver: async (r) => {
      requests.push(r);
      return reply(r);
    },
    now: () => clock.now,
    sleep: async (ms) => {
      clock.now += ms;
    },
    random: () => 0,
    log: (line) => lines.push(line),
  });
  return { consumer, catalog, requests, logs: () => lines.map((l) => JSON.parse(l)), clock };
}

describe("subscriptionIdFromArn", () => {
  it("reads the alias when it looks like a subscription id", () => {
    expect(subscriptionIdFromArn(functionArn(SUB_ID))).toBe(SUB_ID);
    expect(subscriptionIdFromArn(functionArn())).toBeUndefined();
    expect(subscriptionIdFromArn(functionArn("live"))).toBeUndefined();
    expect(subscriptionIdFromArn(functionArn("$LATEST"))).toBeUndefined();
    expect(subscriptionIdFromArn("not an arn")).toBeUndefined();
  });
});

describe("clusterMatchesSource", () => {
  it("matches MSK by ARN, and any source by an overlapping bootstrap server", () => {
    const msk = { kind: "msk" as const, clusterArn: "arn:x", bootstrapServers: ["b-1:9098"] };
    const selfManaged = {
      kind: "self-managed" as const,
      bootstrapServers: ["Kafka-1:9092", "k2:9092"],
    };
    const c = (properties: Record<string, string>) => ({
      name: "c",
      properties,
      origin: "api" as const,
    });
    expect(clusterMatchesSource(c({ "aws.msk.cluster.arn": "arn:x" }), msk)).toBe(true);
    expect(clusterMatchesSource(c({ "aws.msk.cluster.arn": "arn:y" }), msk)).toBe(false);
    expect(clusterMatchesSource(c({ "bootstrap.servers": "b-0:9098, b-1:9098" }), msk)).toBe(true);
    expect(
      clusterMatchesSource(c({ "bootstrap.servers": "PLAINTEXT://kafka-1:9092" }), selfManaged),
    ).toBe(true);
    expect(clusterMatchesSource(c({ "bootstrap.servers": "kafka-1:9093" }), selfManaged)).toBe(
      false,
    );
  });
});

describe("createConsumer", () => {
  it("delivers a batch for the subscription named by the alias and returns undefined", async () => {
    const { consumer, requests, logs } = setup();
    const response = await consumer.processEvent(loadEvent("msk-basic"), context());
    expect(response).toBeUndefined();
    expect(requests).toHaveLength(9);
    expect(requests.map((r) => r.url)).toContain("http://127.0.0.1:9/Orders/customer-4/process");
    expect(requests.every((r) => r.headers["restate.subscription.id"] === SUB_ID)).toBe(true);
    expect(logs().at(-1)).toMatchObject({
      level: "info",
      msg: "batch processed",
      subscription: SUB_ID,
      total: 9,
      delivered: 9,
      lanes: 5,
    });
    const metrics = logs().find((line) => line.msg === "batch metrics");
    expect(metrics).toMatchObject({ Subscription: SUB_ID, Delivered: 9, Failed: 0, Retried: 0 });
    expect(metrics?.DeliveryLatency).toHaveLength(9);
  });

  it("writes the EMF line to its metrics writer, top-level `_aws`, and not to the log", async () => {
    const emf: string[] = [];
    const lines: string[] = [];
    const consumer = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [subscription()],
        services: [service()],
        clusters: [demoCluster],
      }),
      config,
      deliver: async () => ({ kind: "success", status: 200 }),
      log: (line) => lines.push(line),
      metrics: (line) => emf.push(line),
    });
    await consumer.processEvent(loadEvent("msk-basic"), context());
    expect(emf).toHaveLength(1);
    const line = JSON.parse(emf[0] ?? "");
    expect(line._aws.CloudWatchMetrics[0].Namespace).toBe("KafkaLambdaIngress");
    expect(line).toMatchObject({ level: "info", Subscription: SUB_ID, Delivered: 9 });
    expect(lines.map((l) => JSON.parse(l).msg)).not.toContain("batch metrics");
    expect(lines.map((l) => JSON.parse(l).msg)).toContain("batch processed");
  });

  it("passes each entry's level to the log with its line", async () => {
    const levels: [string, string | undefined][] = [];
    const consumer = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [subscription()],
        services: [service()],
        clusters: [demoCluster],
      }),
      config,
      deliver: async () => ({ kind: "terminal", status: 400, reason: "HTTP 400" }),
      log: (line, level) => levels.push([JSON.parse(line).msg, level]),
    });
    await consumer.processEvent(loadEvent("msk-basic"), context());
    expect(levels).toContainEqual(["record not delivered (terminal)", "error"]);
    expect(levels).toContainEqual(["batch metrics", "info"]);
  });

  it("partial mode: returns {batchItemFailures: []} when all is delivered", async () => {
    const { consumer } = setup(
      memoryCatalog({
        subscriptions: [subscription({ options: { "lambda.report.batch.item.failures": "true" } })],
        services: [service()],
        clusters: [demoCluster],
      }),
    );
    expect(await consumer.processEvent(loadEvent("msk-basic"), context())).toEqual({
      batchItemFailures: [],
    });
  });

  it("partial mode: reports the lowest undelivered offset per partition", async () => {
    const { consumer } = setup(
      memoryCatalog({
        subscriptions: [subscription({ options: { "lambda.report.batch.item.failures": "true" } })],
        services: [service()],
        clusters: [demoCluster],
      }),
      (r) =>
        r.url.includes("/customer-2/") || r.url.includes("/customer-4/")
          ? { kind: "retryable", reason: "HTTP 503", status: 503 }
          : { kind: "success", status: 200 },
    );
    expect(await consumer.processEvent(loadEvent("msk-basic"), context())).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: "orders-0", offset: 101 } },
        { itemIdentifier: { partition: "orders-1", offset: 200 } },
      ],
    });
  });

  it("whole-batch mode: throws BatchRetryError when something is left", async () => {
    const { consumer, logs } = setup(undefined, (r) =>
      r.url.includes("/customer-3/")
        ? { kind: "retryable", reason: "HTTP 500", status: 500 }
        : { kind: "success", status: 200 },
    );
    await expect(consumer.processEvent(loadEvent("msk-basic"), context())).rejects.toThrow(
      BatchRetryError,
    );
    expect(logs().at(-1)).toMatchObject({
      level: "warn",
      failed: 1,
      firstFailure: { offset: 103, reason: "HTTP 500 (after 2 attempts)" },
    });
  });

  it("logs terminal records (undeliverable and 4xx) one line each and does not retry them", async () => {
    const { consumer, logs } = setup(undefined, (r) =>
      r.headers["kafka.offset"] === "100"
        ? { kind: "terminal", reason: "HTTP 400: bad input", status: 400 }
        : { kind: "success", status: 200 },
    );
    const response = await consumer.processEvent(loadEvent("tombstones-and-null-keys"), context());
    expect(response).toBeUndefined();
    const terminal = logs().filter((l) => l.msg === "record not delivered (terminal)");
    expect(terminal.map((l) => [l.offset, l.reason])).toEqual([
      [12, "record has no key (keyed handler needs one)"],
      [13, "record has no key (keyed handler needs one)"],
    ]);
    expect(terminal[0]).toMatchObject({
      level: "error",
      subscription: SUB_ID,
      topic: "orders",
      partition: 0,
    });
  });

  it("with requireAlias (the Lambda), refuses a batch sent to the bare function", async () => {
    const requests: SinkRequest[] = [];
    const strict = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [subscription()],
        services: [service()],
        clusters: [demoCluster],
      }),
      config,
      deliver: async (r) => {
        requests.push(r);
        return { kind: "success", status: 200 };
      },
      log: () => {},
      requireAlias: true,
    });
    await expect(strict.processEvent(loadEvent("msk-basic"), context(null))).rejects.toThrow(
      /invoked without a subscription alias/,
    );
    expect(requests).toHaveLength(0);
    await strict.processEvent(loadEvent("msk-basic"), context());
    expect(requests).toHaveLength(9);
  });

  it("resolves the subscription from the event's cluster and topic without an alias", async () => {
    const catalog = memoryCatalog({
      subscriptions: [
        subscription(),
        subscription({ id: "sub_other", topic: "payments", source: "kafka://demo/payments" }),
        subscription({ id: "sub_elsewhere", cluster: "other", source: "kafka://other/orders" }),
      ],
      services: [service()],
      clusters: [
        demoCluster,
        { name: "other", properties: { "bootstrap.servers": "x:9092" }, origin: "api" },
      ],
    });
    const { consumer, requests } = setup(catalog);
    await consumer.processEvent(loadEvent("msk-basic"), context(null));
    expect(requests).toHaveLength(9);
    expect(requests[0]?.headers["restate.subscription.id"]).toBe(SUB_ID);
  });

  it("self-managed events match a cluster by bootstrap servers", async () => {
    const catalog = memoryCatalog({
      subscriptions: [subscription({ cluster: "onprem", source: "kafka://onprem/orders" })],
      services: [service()],
      clusters: [
        {
          name: "onprem",
          properties: { "bootstrap.servers": "kafka-2.internal.example.com:9092" },
          origin: "config",
        },
      ],
    });
    const { consumer, requests } = setup(catalog);
    await consumer.processEvent(loadEvent("self-managed-basic"), context(null));
    expect(requests.map((r) => r.url)).toEqual([
      "http://127.0.0.1:9/Orders/store-7/process",
      "http://127.0.0.1:9/Orders/store-8/process",
      "http://127.0.0.1:9/Orders/store-7/process",
    ]);
  });

  it("ambiguous or missing matches fail with an error listing what matched", async () => {
    const two = memoryCatalog({
      subscriptions: [subscription(), subscription({ id: "sub_second", handler: "audit" })],
      services: [service()],
      clusters: [demoCluster],
    });
    await expect(
      setup(two).consumer.processEvent(loadEvent("msk-basic"), context(null)),
    ).rejects.toThrow(
      /clusters matching arn:aws:kafka:.*: \[demo\]; subscriptions on them for topic orders: \[sub_0123456789abcdefABCDEF \(kafka:\/\/demo\/orders → service:\/\/Orders\/process\), sub_second .*invoke the function through the subscription's alias/,
    );
    const none = memoryCatalog({ clusters: [demoCluster] });
    await expect(
      setup(none).consumer.processEvent(loadEvent("msk-basic"), context(null)),
    ).rejects.toThrow(SubscriptionResolutionError);
  });

  it("fails clearly on an unknown subscription alias, service or handler", async () => {
    const noSub = memoryCatalog({ services: [service()], clusters: [demoCluster] });
    await expect(
      setup(noSub).consumer.processEvent(loadEvent("msk-basic"), context()),
    ).rejects.toThrow(
      `Subscription ${SUB_ID} (the alias this function was invoked through) does not exist`,
    );
    const noService = memoryCatalog({ subscriptions: [subscription()], clusters: [demoCluster] });
    await expect(
      setup(noService).consumer.processEvent(loadEvent("msk-basic"), context()),
    ).rejects.toThrow("Service Orders of subscription");
    const noHandler = memoryCatalog({
      subscriptions: [subscription({ handler: "gone" })],
      services: [service()],
      clusters: [demoCluster],
    });
    await expect(
      setup(noHandler).consumer.processEvent(loadEvent("msk-basic"), context()),
    ).rejects.toThrow("Service Orders has no handler gone");
  });

  it("rejects records of another topic than the subscription's", async () => {
    const raw = loadEvent("msk-basic");
    raw.records["payments-0"] = [{ ...raw.records["orders-0"][0], topic: "payments" }];
    await expect(setup().consumer.processEvent(raw, context())).rejects.toThrow(
      "reads topic orders but the event holds partitions payments-0",
    );
  });

  it("rejects an event from another MSK cluster than the subscription's", async () => {
    const raw = loadEvent("msk-basic");
    raw.eventSourceArn = "arn:aws:kafka:us-east-1:123456789012:cluster/other/ffff-1";
    await expect(setup().consumer.processEvent(raw, context())).rejects.toThrow(
      /but the event comes from/,
    );
  });

  it("malformed events throw MalformedEventError; empty events are a no-op", async () => {
    const { consumer, requests, catalog } = setup();
    await expect(consumer.processEvent(loadEvent("malformed"), context())).rejects.toThrow(
      MalformedEventError,
    );
    const empty = { ...loadEvent("msk-basic"), records: {} };
    expect(await consumer.processEvent(empty, context())).toBeUndefined();
    expect(requests).toHaveLength(0);
    expect(catalog.reads.count).toBe(0);
  });

  it("caches catalog reads across invocations for CATALOG_CACHE_TTL_MS", async () => {
    const { consumer, catalog, clock } = setup();
    await consumer.processEvent(loadEvent("msk-basic"), context());
    const afterFirst = catalog.reads.count;
    expect(afterFirst).toBe(3); // subscription, cluster (ARN check), service
    await consumer.processEvent(loadEvent("msk-basic"), context());
    expect(catalog.reads.count).toBe(afterFirst);
    clock.now += config.CATALOG_CACHE_TTL_MS + 1;
    await consumer.processEvent(loadEvent("msk-basic"), context());
    expect(catalog.reads.count).toBe(afterFirst * 2);
  });

  it("uses the service's invocation mode and payload format", async () => {
    const catalog = memoryCatalog({
      subscriptions: [subscription({ handler: "raw", sink: "service://Orders/raw" })],
      services: [
        service({
          type: "service",
          invocation: "send",
          endpoint: "http://gw/prefix/",
          handlers: { raw: { shared: false, input: "binary" } },
        }),
      ],
      clusters: [demoCluster],
    });
    const { consumer, requests } = setup(catalog);
    await consumer.processEvent(loadEvent("binary-values"), context());
    expect(requests.map((r) => r.url)).toEqual(Array(4).fill("http://gw/prefix/Orders/raw/send"));
    expect(requests.map((r) => r.headers["content-type"])).toEqual(
      Array(4).fill("application/octet-stream"),
    );
  });
});
