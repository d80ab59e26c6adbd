import { describe, expect, it } from "vitest";
import type { KafkaCluster, Subscription } from "../../src/core/model.ts";
import type {
  LocalEventSource,
  LocalEventSourceOptions,
} from "../../src/local/kafka/event-source.ts";
import { LocalFeedControl } from "../../src/local/local-feeds.ts";

const cluster: KafkaCluster = {
  name: "c",
  properties: { "bootstrap.servers": "127.0.0.1:9092" },
  origin: "api",
};
const subscription: Subscription = {
  id: "sub_1",
  source: "kafka://c/t",
  sink: "service://S/h",
  options: {},
  cluster: "c",
  topic: "t",
  service: "S",
  handler: "h",
  status: "active",
  createdAt: "2026-01-01T00:00:00.000Z",
};

describe("LocalFeedControl pause / resume", () => {
  it("stops the source on pause (once) and starts a new one on resume", async () => {
    const started: string[] = [];
    let stops = 0;
    const feeds = new LocalFeedControl({
      invoke: async () => null,
      log: () => {},
      startSource: (options: LocalEventSourceOptions): LocalEventSource => {
        started.push(options.subscription.id);
        return {
          status: () => ({
            state: "running",
            groupId: "g",
            topic: "t",
            batchesInvoked: 0,
            batchesFailed: 0,
            recordsPolled: 0,
            recordsFiltered: 0,
            recordsCompleted: 0,
            partitions: [],
          }),
          stop: async () => {
            stops++;
          },
        };
      },
    });
    const feed = await feeds.create(subscription, cluster);
    expect(started).toEqual(["sub_1"]);
    expect(await feeds.status(subscription)).toMatchObject({ state: "running" });

    await feeds.pause(subscription);
    await feeds.pause(subscription); // idempotent
    expect(stops).toBe(1);
    expect(await feeds.status({ ...subscription, status: "paused" })).toEqual({ state: "paused" });

    await feeds.resume(subscription, feed, cluster);
    await feeds.resume(subscription, feed, cluster); // idempotent
    expect(started).toEqual(["sub_1", "sub_1"]);
    await feeds.close();
    expect(stops).toBe(2);
  });
});

describe("LocalFeedControl credentials", () => {
  it("adds a config cluster's in-memory credentials for the Kafka client, and only for it", async () => {
    const given: Array<LocalEventSourceOptions["cluster"]> = [];
    const feeds = new LocalFeedControl({
      invoke: async () => null,
      log: () => {},
      clusterCredentials: new Map([["c", { "sasl.username": "u", "sasl.password": "p" }]]),
      startSource: (options) => {
        given.push(options.cluster);
        return {
          status: () => ({
            state: "running",
            groupId: "g",
            topic: "t",
            batchesInvoked: 0,
            batchesFailed: 0,
            recordsPolled: 0,
            recordsFiltered: 0,
            recordsCompleted: 0,
            partitions: [],
          }),
          stop: async () => {},
        };
      },
    });
    const stored: KafkaCluster = {
      name: "c",
      properties: { "bootstrap.servers": "127.0.0.1:9092", "security.protocol": "SASL_PLAINTEXT" },
      origin: "config",
    };
    await feeds.create(subscription, stored);
    // An API cluster of the same name (the config file no longer declares it) gets none.
    await feeds.create({ ...subscription, id: "sub_2" }, { ...stored, origin: "api" });
    expect(given).toEqual([
      {
        ...stored,
        properties: { ...stored.properties, "sasl.username": "u", "sasl.password": "p" },
      },
      { ...stored, origin: "api" },
    ]);
    expect(stored.properties["sasl.password"]).toBeUndefined();
    await feeds.close();
  });
});
