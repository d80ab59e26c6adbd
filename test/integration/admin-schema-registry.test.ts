// Schema registries through the admin API (DynamoDB on dynalite): a cluster names its registry,
// a subscription asks to decode key and/or value, and what cannot work is a clear 400.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AdminApi, createAdminApi } from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { call, FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

const BASIC_AUTH = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-AbCdEf";

let dynamo: TestDynamo;
let feeds: FakeFeedControl;
let api: AdminApi;

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  feeds = new FakeFeedControl();
  api = createAdminApi({
    store: await dynamo.freshStore(),
    feeds,
    maxBodyBytes: 4096,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    log: () => {},
  });
  for (const [name, properties] of [
    [
      "with-registry",
      {
        "bootstrap.servers": "broker:9092",
        "schema.registry.url": "https://registry.example.com/",
        "schema.registry.basic.auth.arn": BASIC_AUTH,
      },
    ],
    ["plain", { "bootstrap.servers": "broker:9092" }],
  ] as const) {
    const created = await call(api, "POST", "/kafka-clusters", { name, properties });
    expect(created.status, created.body).toBe(201);
  }
  const service = await call(api, "POST", "/services", {
    name: "Readings",
    type: "virtual_object",
    endpoint: "http://localhost:8080",
    handlers: { record: {} },
  });
  expect(service.status, service.body).toBe(201);
});

describe("schema registries", () => {
  it("a cluster shows its registry, credentials by reference", async () => {
    const shown = await call(api, "GET", "/kafka-clusters/with-registry");
    expect(shown.status).toBe(200);
    expect(shown.json.properties).toMatchObject({
      "schema.registry.url": "https://registry.example.com",
      "schema.registry.basic.auth.arn": BASIC_AUTH,
    });
  });

  it("a subscription decoding with its cluster's registry gets the mapping's settings", async () => {
    const created = await call(api, "POST", "/subscriptions", {
      source: "kafka://with-registry/readings",
      sink: "service://Readings/record",
      options: { "schema.registry.decode": "value,key" },
    });
    expect(created.status, created.body).toBe(201);
    expect(created.json.options).toMatchObject({ "schema.registry.decode": "key,value" });
    expect(feeds.created[0]?.subscription.options).toEqual({
      "schema.registry.decode": "key,value",
    });
  });

  it.each([
    [
      "a cluster without a registry",
      { source: "kafka://plain/readings", options: { "schema.registry.decode": "value" } },
      `option "schema.registry.decode" needs a schema registry on cluster "plain": set its "schema.registry.url"`,
    ],
    [
      "a format without decoding",
      {
        source: "kafka://with-registry/readings",
        options: { "schema.registry.record.format": "SOURCE" },
      },
      `option "schema.registry.record.format" needs "schema.registry.decode"`,
    ],
    [
      "an unknown part",
      {
        source: "kafka://with-registry/readings",
        options: { "schema.registry.decode": "headers" },
      },
      `option "schema.registry.decode" must be "key", "value" or "key,value", got "headers"`,
    ],
  ])("%s is a 400, and nothing is created", async (_what, body, message) => {
    const refused = await call(api, "POST", "/subscriptions", {
      sink: "service://Readings/record",
      ...body,
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toBe(message);
    expect(feeds.created).toEqual([]);
    expect((await call(api, "GET", "/subscriptions")).json.subscriptions).toEqual([]);
  });

  it("registry credentials in the URL are refused without echoing them", async () => {
    const refused = await call(api, "POST", "/kafka-clusters", {
      name: "leaky",
      properties: {
        "bootstrap.servers": "broker:9092",
        "schema.registry.url": "https://alice:hunter2@registry.example.com",
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).not.toContain("hunter2");
    expect(refused.json.message).toContain("schema.registry.basic.auth.arn");
  });
});

describe("queue mode through the admin API", () => {
  it("an exclusive handler of a virtual object cannot be fed in queue mode: 400, nothing created", async () => {
    const refused = await call(api, "POST", "/subscriptions", {
      source: "kafka://plain/readings",
      sink: "service://Readings/record",
      options: { "lambda.consumption.mode": "queue" },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain("does not keep order");
    expect(feeds.created).toEqual([]);
  });
});
