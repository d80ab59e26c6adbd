import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { ensureTable } from "../../src/adapters/dynamo/ensure-table.ts";
import {
  AlreadyExistsError,
  ConflictError,
  DependencyError,
  NotFoundError,
} from "../../src/core/errors.ts";
import type { KafkaCluster, ServiceDefinition, Subscription } from "../../src/core/model.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

const cluster = (name: string, origin: "api" | "config" = "api"): KafkaCluster => ({
  name,
  properties: { "bootstrap.servers": `${name}:9092` },
  origin,
});

const service = (name: string): ServiceDefinition => ({
  name,
  type: "virtual_object",
  endpoint: "http://localhost:8080",
  invocation: "call",
  handlers: { add: { shared: false, input: "json" }, get: { shared: true, input: "json" } },
});

function subscription(id: string, over: Partial<Subscription> = {}): Subscription {
  const clusterName = over.cluster ?? "c";
  const topic = over.topic ?? "t";
  const serviceName = over.service ?? "S";
  const handler = over.handler ?? "add";
  return {
    id,
    source: `kafka://${clusterName}/${topic}`,
    sink: `service://${serviceName}/${handler}`,
    options: {},
    cluster: clusterName,
    topic,
    service: serviceName,
    handler,
    status: "provisioning",
    createdAt: "2025-01-01T00:00:00.000Z",
    ...over,
  };
}

describe("ensureTable", () => {
  it("creates the table once and is idempotent", async () => {
    await ensureTable(dynamo.client, "ensure-me", { pollMs: 10 });
    await ensureTable(dynamo.client, "ensure-me", { pollMs: 10 });
    const table = await dynamo.client.send(new DescribeTableCommand({ TableName: "ensure-me" }));
    expect(table.Table?.TableStatus).toBe("ACTIVE");
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ]);
    expect(table.Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST");
  });

  it("survives concurrent creation", async () => {
    await Promise.all(
      [1, 2, 3].map(() => ensureTable(dynamo.client, "ensure-race", { pollMs: 10 })),
    );
  });
});

describe("clusters and services", () => {
  it("creates, reads, lists and deletes", async () => {
    const store = await dynamo.freshStore();
    await store.createCluster(cluster("b"));
    await store.createCluster(cluster("a"));
    await store.createService(service("S"));
    expect(await store.getCluster("a")).toEqual(cluster("a"));
    expect(await store.getCluster("zzz")).toBeUndefined();
    expect((await store.listClusters()).map((c) => c.name)).toEqual(["a", "b"]);
    expect(await store.getService("S")).toEqual(service("S"));
    expect(await store.listServices()).toEqual([service("S")]);

    await expect(store.createCluster(cluster("a"))).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(store.createService(service("S"))).rejects.toBeInstanceOf(AlreadyExistsError);

    await store.deleteCluster("a");
    await store.deleteService("S");
    expect(await store.getCluster("a")).toBeUndefined();
    expect(await store.listServices()).toEqual([]);
    await expect(store.deleteCluster("a")).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.deleteService("S")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("upserts config clusters, keeping their references", async () => {
    const store = await dynamo.freshStore();
    await store.upsertConfigCluster(cluster("c", "config"));
    await store.createService(service("S"));
    await store.createSubscription(subscription("sub_1"));
    const changed: KafkaCluster = {
      ...cluster("c", "config"),
      properties: { "bootstrap.servers": "new:9092" },
    };
    await store.upsertConfigCluster(changed);
    expect(await store.getCluster("c")).toEqual(changed);
    await expect(store.deleteCluster("c")).rejects.toBeInstanceOf(ConflictError);
  });

  it("lets exactly one of ten concurrent creates of a cluster win", async () => {
    const store = await dynamo.freshStore();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        store.createCluster({ ...cluster("race"), properties: { "bootstrap.servers": `h${i}:1` } }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    for (const r of lost)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AlreadyExistsError);
    expect(await store.listClusters()).toHaveLength(1);
  });

  it("pages through long lists", async () => {
    const store = await dynamo.freshStore({ pageSize: 2 });
    const names = Array.from({ length: 7 }, (_, i) => `c${i}`);
    await Promise.all(names.map((n) => store.createCluster(cluster(n))));
    expect((await store.listClusters()).map((c) => c.name)).toEqual(names);
  });
});

describe("subscriptions", () => {
  async function seeded() {
    const store = await dynamo.freshStore();
    await store.createCluster(cluster("c"));
    await store.createService(service("S"));
    return store;
  }

  it("creates, updates, lists and deletes, holding references meanwhile", async () => {
    const store = await seeded();
    await store.createSubscription(subscription("sub_1"));
    expect(await store.getSubscription("sub_1")).toEqual(subscription("sub_1"));
    await expect(store.deleteCluster("c")).rejects.toBeInstanceOf(ConflictError);
    await expect(store.deleteService("S")).rejects.toBeInstanceOf(ConflictError);

    const feed = {
      kind: "aws" as const,
      eventSourceMappingUuid: "u-1",
      functionAliasArn: "arn:alias",
    };
    await store.updateSubscription({ ...subscription("sub_1"), status: "active", feed });
    expect(await store.getSubscription("sub_1")).toEqual({
      ...subscription("sub_1"),
      status: "active",
      feed,
    });
    expect(await store.listSubscriptions()).toHaveLength(1);

    await store.deleteSubscription("sub_1");
    expect(await store.getSubscription("sub_1")).toBeUndefined();
    await expect(store.deleteSubscription("sub_1")).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.updateSubscription(subscription("sub_1"))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    // references released: both can go now
    await store.deleteCluster("c");
    await store.deleteService("S");
  });

  it("counts references per subscription", async () => {
    const store = await seeded();
    await store.createSubscription(subscription("sub_1", { topic: "t1" }));
    await store.createSubscription(subscription("sub_2", { topic: "t2" }));
    await store.deleteSubscription("sub_1");
    await expect(store.deleteCluster("c")).rejects.toBeInstanceOf(ConflictError);
    await store.deleteSubscription("sub_2");
    await store.deleteCluster("c");
  });

  it("refuses a missing cluster or service and leaves no reference behind", async () => {
    const store = await seeded();
    await expect(
      store.createSubscription(subscription("sub_1", { cluster: "nope" })),
    ).rejects.toThrow(/cluster "nope" not found/);
    await expect(
      store.createSubscription(subscription("sub_2", { service: "Nope" })),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.listSubscriptions()).toEqual([]);
    await store.deleteCluster("c"); // the failed attempt's cluster reference was undone
    await store.deleteService("S");
  });

  it("refuses a duplicate (source, sink) pair and undoes its references", async () => {
    const store = await seeded();
    await store.createSubscription(subscription("sub_1"));
    await expect(store.createSubscription(subscription("sub_2"))).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    await expect(
      store.createSubscription(subscription("sub_1", { topic: "other" })),
    ).rejects.toBeInstanceOf(AlreadyExistsError);
    expect((await store.listSubscriptions()).map((s) => s.id)).toEqual(["sub_1"]);
    await store.deleteSubscription("sub_1");
    await store.deleteCluster("c");
    // the pair is free again after deletion
    const again = await seeded();
    await again.createSubscription(subscription("sub_3"));
    await again.deleteSubscription("sub_3");
    await again.createSubscription(subscription("sub_4"));
  });

  it("lets one of many concurrent creates of the same pair win", async () => {
    const store = await seeded();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.createSubscription(subscription(`sub_${i}`))),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await store.listSubscriptions()).toHaveLength(1);
    const [only] = await store.listSubscriptions();
    await store.deleteSubscription(only?.id ?? "");
    await store.deleteCluster("c");
    await store.deleteService("S");
  });

  it("never leaves a subscription pointing at a deleted cluster under concurrency", async () => {
    for (let round = 0; round < 5; round++) {
      const store = await seeded();
      const creates = Array.from({ length: 5 }, (_, i) =>
        store.createSubscription(subscription(`sub_${round}_${i}`, { topic: `t${i}` })),
      );
      const [deletion, ...created] = await Promise.allSettled([
        store.deleteCluster("c"),
        ...creates,
      ]);
      const subscriptions = await store.listSubscriptions();
      const clusterExists = (await store.getCluster("c")) !== undefined;
      if (deletion?.status === "fulfilled") {
        expect(clusterExists).toBe(false);
        expect(subscriptions).toEqual([]);
      } else {
        expect((deletion as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
        expect(clusterExists).toBe(true);
      }
      expect(subscriptions).toHaveLength(created.filter((r) => r.status === "fulfilled").length);
    }
  });

  it("releases references once when deleted concurrently", async () => {
    const store = await seeded();
    await store.createSubscription(subscription("sub_1", { topic: "t1" }));
    await store.createSubscription(subscription("sub_2", { topic: "t2" }));
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => store.deleteSubscription("sub_1")),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    // sub_2 still holds a reference: a double release would have let this succeed
    await expect(store.deleteCluster("c")).rejects.toBeInstanceOf(ConflictError);
  });

  it("pages through subscriptions", async () => {
    const store = await dynamo.freshStore({ pageSize: 3 });
    await store.createCluster(cluster("c"));
    await store.createService(service("S"));
    for (let i = 0; i < 8; i++)
      await store.createSubscription(subscription(`sub_${i}`, { topic: `t${i}` }));
    expect((await store.listSubscriptions()).map((s) => s.id).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `sub_${i}`),
    );
  });
});

describe("failures", () => {
  it("turns SDK failures into DependencyError", async () => {
    const store = new DynamoAdminStore(dynamo.client, "no-such-table");
    await expect(store.getCluster("c")).rejects.toBeInstanceOf(DependencyError);
    await expect(store.listSubscriptions()).rejects.toBeInstanceOf(DependencyError);
    await expect(store.createCluster(cluster("c"))).rejects.toThrow(
      /DynamoDB PutItem cluster failed: ResourceNotFoundException/,
    );
  });
});
