import { readFile } from "node:fs/promises";
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { secretsManagerKafkaBindings } from "../../src/adapters/secrets-manager.ts";
import { PRODUCT_VERSION } from "../../src/app/admin/meta.ts";
import {
  type AdminApi,
  type AdminApiDeps,
  createAdminApi,
  newSubscriptionId,
} from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { DependencyError, ValidationError } from "../../src/core/errors.ts";
import type { Subscription } from "../../src/core/model.ts";
import type { AdminStore } from "../../src/core/ports.ts";
import { sinkTokenCheck } from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";
import { call, FakeFeedControl, storeWith } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

const MSK_ARN =
  "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-AbCdEf";
const TOKEN_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:restate/ingress-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";
/** The sink token's secret, as LOCAL_SECRETS holds it locally: bound to two origins. */
const sinkSecrets = localSecretResolver({
  LOCAL_SECRETS: JSON.stringify({
    [TOKEN_ARN]: {
      token: TOKEN,
      endpoints: ["http://localhost:8080", "http://restate.internal:8080"],
    },
  }),
});

// Secrets Manager is the only fake: the admin reads Kafka secret bindings with DescribeSecret.
const secretsManager = new SecretsManagerClient({
  region: "eu-west-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const smMock = mockClient(secretsManager);
/** The tags of SECRET_ARN as Secrets Manager returns them: bound to the MSK cluster. */
let kafkaSecretTags: DescribeSecretCommandOutput["Tags"];

const REFERENCE_BODY = `{
        "source": "kafka://my-cluster/my-topic",
        "sink": "service://MyService/handle",
        "options": {"auto.offset.reset": "earliest"}
    }`;

const myService = {
  name: "MyService",
  type: "service",
  endpoint: "http://localhost:8080",
  handlers: { handle: {}, other: {} },
};

let dynamo: TestDynamo;
let store: DynamoAdminStore;
let feeds: FakeFeedControl;
let logs: Array<Record<string, unknown>>;
let api: AdminApi;

function apiOver(target: AdminStore, extra: Partial<AdminApiDeps> = {}): AdminApi {
  return createAdminApi({
    store: target,
    feeds,
    maxBodyBytes: 2048,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    log: (e) => logs.push(e),
    sinkTokenCheck: sinkTokenCheck(sinkSecrets),
    kafkaSecretBindings: secretsManagerKafkaBindings({ client: secretsManager }),
    ...extra,
  });
}

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  smMock.restore();
  await dynamo.close();
});
beforeEach(async () => {
  smMock.reset();
  kafkaSecretTags = [{ Key: "kafka-lambda-ingress:brokers", Value: MSK_ARN }];
  smMock
    .on(DescribeSecretCommand, { SecretId: SECRET_ARN })
    .callsFake(async () => ({ ARN: SECRET_ARN, Tags: kafkaSecretTags }));
  store = await dynamo.freshStore();
  feeds = new FakeFeedControl();
  logs = [];
  api = apiOver(store);
  const [cluster] = clustersFromConfigFile({
    ingress: { "kafka-clusters": [{ name: "my-cluster", brokers: ["PLAINTEXT://broker:9092"] }] },
  });
  if (cluster) await store.upsertConfigCluster(cluster);
  expect((await call(api, "POST", "/services", myService)).status).toBe(201);
});

describe("subscriptions", () => {
  it("creates from the reference doc's curl body verbatim, then reads, lists and deletes", async () => {
    const created = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    expect(created.status).toBe(201);
    expect(created.headers["content-type"]).toBe("application/json");
    const id: string = created.json.id;
    expect(id).toMatch(/^sub_1[0-9A-Za-z]{22}$/);
    expect(created.headers.location).toBe(`subscriptions/${id}`);
    expect(created.json).toEqual({
      id,
      source: "kafka://my-cluster/my-topic",
      sink: "service://MyService/handle",
      // The consumer group it reads with and Restate's client.id are shown as Restate shows
      // them, but not stored.
      options: { "auto.offset.reset": "earliest", "group.id": id, "client.id": "restate" },
      status: "active",
      createdAt: expect.any(String),
      feed: {
        kind: "aws",
        eventSourceMappingUuid: "esm-1",
        functionAliasArn: `arn:aws:lambda:eu-west-1:123456789012:function:consumer:${id}`,
      },
    });
    expect(feeds.created).toHaveLength(1);
    expect(feeds.created[0]?.subscription).toMatchObject({
      id,
      cluster: "my-cluster",
      topic: "my-topic",
      service: "MyService",
      handler: "handle",
      status: "provisioning",
    });
    expect(feeds.created[0]?.cluster.name).toBe("my-cluster");

    const fetched = await call(api, "GET", `/subscriptions/${id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual(created.json);
    expect((await store.getSubscription(id))?.status).toBe("active");
    expect((await store.getSubscription(id))?.options).toEqual({ "auto.offset.reset": "earliest" });

    const listed = await call(api, "GET", "/subscriptions");
    expect(listed.json).toEqual({ subscriptions: [created.json] });

    const deleted = await call(api, "DELETE", `/subscriptions/${id}`);
    expect(deleted.status).toBe(202);
    expect(feeds.removed).toEqual([
      { subscription: expect.objectContaining({ id }), feed: created.json.feed },
    ]);
    expect((await call(api, "GET", `/subscriptions/${id}`)).status).toBe(404);
    expect((await call(api, "DELETE", `/subscriptions/${id}`)).status).toBe(404);
  });

  it("gives every subscription a distinct id", async () => {
    const a = await call(api, "POST", "/subscriptions", {
      source: "kafka://my-cluster/a",
      sink: "service://MyService/handle",
    });
    const b = await call(api, "POST", "/subscriptions", {
      source: "kafka://my-cluster/b",
      sink: "service://MyService/handle",
    });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.json.id).not.toBe(b.json.id);
    expect(a.json.options).toEqual({ "group.id": a.json.id, "client.id": "restate" });
  });

  it("filters by exact source and sink (AND)", async () => {
    const make = (topic: string, handler: string) =>
      call(api, "POST", "/subscriptions", {
        source: `kafka://my-cluster/${topic}`,
        sink: `service://MyService/${handler}`,
      });
    const one = (await make("t1", "handle")).json.id;
    const two = (await make("t1", "other")).json.id;
    const three = (await make("t2", "handle")).json.id;
    const ids = async (query: Record<string, string>) =>
      (await call(api, "GET", "/subscriptions", undefined, query)).json.subscriptions
        .map((s: Subscription) => s.id)
        .sort();
    expect(await ids({ source: "kafka://my-cluster/t1" })).toEqual([one, two].sort());
    expect(await ids({ sink: "service://MyService/handle" })).toEqual([one, three].sort());
    expect(
      await ids({ source: "kafka://my-cluster/t1", sink: "service://MyService/other" }),
    ).toEqual([two]);
    expect(await ids({ source: "kafka://my-cluster/t" })).toEqual([]);
  });

  it("normalises options and applies them", async () => {
    const created = await call(api, "POST", "/subscriptions", {
      source: "kafka://my-cluster/t",
      sink: "service://MyService/handle",
      options: { "lambda.batch.size": 50, "lambda.report.batch.item.failures": true },
    });
    expect(created.status).toBe(201);
    expect(created.json.options).toEqual({
      "lambda.batch.size": "50",
      "lambda.report.batch.item.failures": "true",
      "group.id": created.json.id,
      "client.id": "restate",
    });
  });

  it.each([
    [
      { source: "kafka://nope/t", sink: "service://MyService/handle" },
      `Kafka cluster 'nope' not found. Available clusters: ["my-cluster"]. Register it with POST /kafka-clusters or in the config file`,
    ],
    [
      { source: "kafka://my-cluster/t", sink: "service://Nope/handle" },
      '[META0009] unknown service "Nope" in sink; registered services: "MyService"',
    ],
    [
      { source: "kafka://my-cluster/t", sink: "service://MyService/nope" },
      '[META0009] service "MyService" has no handler "nope"; its handlers: "handle", "other"',
    ],
    [
      { source: "kafka://my-cluster/bad topic", sink: "service://MyService/handle" },
      /^\[META0009\] source topic "bad topic" is not a valid Kafka topic name/,
    ],
    [
      { source: "my-cluster/t", sink: "service://MyService/handle" },
      /^\[META0009\] source must look like kafka:\/\/<cluster>\/<topic>/,
    ],
    [
      { source: "kafka://my-cluster/t", sink: "MyService/handle" },
      /^\[META0009\] sink must look like service:\/\/<Service>\/<handler>/,
    ],
    [
      {
        source: "kafka://my-cluster/t",
        sink: "service://MyService/handle",
        options: { "max.poll.records": 5 },
      },
      /unsupported subscription option "max.poll.records"; supported options: auto.offset.reset, group.id/,
    ],
    [
      {
        source: "kafka://my-cluster/t",
        sink: "service://MyService/handle",
        options: { "lambda.batch.size": 0 },
      },
      /"lambda.batch.size" must be a whole number from 1 to 10000/,
    ],
    [
      { source: "kafka://my-cluster/t", sink: "service://MyService/handle", id: "mine" },
      /unknown field "id"/,
    ],
    [{ sink: "service://MyService/handle" }, /source is required/],
  ])("refuses %j with 400", async (body, message) => {
    const response = await call(api, "POST", "/subscriptions", body);
    expect(response.status).toBe(400);
    if (typeof message === "string") expect(response.json.message).toBe(message);
    else expect(response.json.message).toMatch(message);
    // Restate's code for an invalid source or sink, and only for those.
    expect(response.json.restate_code).toBe(
      /^\[META0009\] /.test(response.json.message) ? "META0009" : null,
    );
    expect(feeds.created).toEqual([]);
    expect(await store.listSubscriptions()).toEqual([]);
  });

  it("says when no clusters exist at all", async () => {
    const empty = await dynamo.freshStore();
    await empty.createService({
      name: "S",
      type: "service",
      endpoint: "http://x",
      invocation: "call",
      handlers: { h: { shared: false, input: "json" } },
    });
    const response = await call(apiOver(empty), "POST", "/subscriptions", {
      source: "kafka://c/t",
      sink: "service://S/h",
    });
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      message: `Kafka cluster 'c' not found. Available clusters: []. Register it with POST /kafka-clusters or in the config file`,
      restate_code: null,
    });
  });

  it("refuses a duplicate (source, sink) with 409 naming the existing subscription", async () => {
    const first = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    const second = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    expect(second.status).toBe(409);
    expect(second.json.message).toBe(
      `a subscription from kafka://my-cluster/my-topic to service://MyService/handle already exists (${first.json.id})`,
    );
    expect(feeds.created).toHaveLength(1);
  });

  it("refuses a consumer group another subscription of the cluster uses, with 409 naming it", async () => {
    const body = (sink: string, group?: string) => ({
      source: "kafka://my-cluster/my-topic",
      sink,
      ...(group ? { options: { "group.id": group } } : {}),
    });
    const first = await call(
      api,
      "POST",
      "/subscriptions",
      body("service://MyService/handle", "g1"),
    );
    expect(first.status).toBe(201);
    const second = await call(
      api,
      "POST",
      "/subscriptions",
      body("service://MyService/other", "g1"),
    );
    expect(second.status).toBe(409);
    expect(second.json.message).toContain(`consumer group "g1" of cluster "my-cluster"`);
    expect(second.json.message).toContain(first.json.id);
    expect(feeds.created).toHaveLength(1); // nothing was created for the second
    expect((await call(api, "GET", "/subscriptions")).json.subscriptions).toHaveLength(1);
    // another group, or the default (the subscription id), is fine
    const third = await call(api, "POST", "/subscriptions", body("service://MyService/other"));
    expect(third.status).toBe(201);
    // once the first is gone, its group is free again
    expect((await call(api, "DELETE", `/subscriptions/${first.json.id}`)).status).toBe(202);
    const again = await call(
      api,
      "POST",
      "/subscriptions",
      body("service://MyService/handle", "g1"),
    );
    expect(again.status).toBe(201);
  });

  it("leaves nothing behind when the feed cannot be created (502, no detail)", async () => {
    feeds.failCreate = new DependencyError(
      "Lambda CreateEventSourceMapping failed: ServiceException: arn:aws:internal-detail",
    );
    const response = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    expect(response.status).toBe(502);
    expect(response.json.message).toMatch(/could not create the event source mapping/);
    expect(response.body).not.toContain("internal-detail");
    expect(await store.listSubscriptions()).toEqual([]);
    expect(JSON.stringify(logs)).toContain("internal-detail");
    // references released: the service can be deleted
    expect((await call(api, "DELETE", "/services/MyService")).status).toBe(202);
  });

  it("returns a feed's validation error as 400 and stores nothing", async () => {
    feeds.failCreate = new ValidationError(
      "AWS Lambda rejected CreateEventSourceMapping: topic too long",
    );
    const response = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    expect(response.status).toBe(400);
    expect(response.json.message).toBe(
      "AWS Lambda rejected CreateEventSourceMapping: topic too long",
    );
    expect(await store.listSubscriptions()).toEqual([]);
  });

  it("removes the feed and the subscription when storing the feed fails", async () => {
    const failing: AdminStore = storeWith(store, {
      updateSubscription: async () => {
        throw new DependencyError("DynamoDB UpdateItem subscription failed: throttled");
      },
    });
    const response = await call(apiOver(failing), "POST", "/subscriptions", REFERENCE_BODY);
    expect(response.status).toBe(502);
    expect(response.body).not.toContain("throttled");
    expect(feeds.created).toHaveLength(1);
    expect(feeds.removed).toHaveLength(1);
    expect(feeds.removed[0]?.feed).toEqual({
      kind: "aws",
      eventSourceMappingUuid: "esm-1",
      functionAliasArn: expect.stringContaining(feeds.created[0]?.subscription.id ?? "?"),
    });
    expect(await store.listSubscriptions()).toEqual([]);
  });

  it("keeps a subscription in status deleting when its feed cannot be removed, and a retry finishes", async () => {
    const id = (await call(api, "POST", "/subscriptions", REFERENCE_BODY)).json.id;
    feeds.failRemove = new DependencyError("Lambda DeleteEventSourceMapping failed: boom");
    const failed = await call(api, "DELETE", `/subscriptions/${id}`);
    expect(failed.status).toBe(502);
    expect(failed.json.message).toMatch(/stays in status deleting, retry the DELETE/);
    expect((await call(api, "GET", `/subscriptions/${id}`)).json.status).toBe("deleting");
    feeds.failRemove = undefined;
    expect((await call(api, "DELETE", `/subscriptions/${id}`)).status).toBe(202);
    expect(await store.getSubscription(id)).toBeUndefined();
  });

  it("404s unknown ids", async () => {
    expect((await call(api, "GET", "/subscriptions/sub_nope")).status).toBe(404);
    const response = await call(api, "DELETE", "/subscriptions/sub_nope");
    expect(response.status).toBe(404);
    expect(response.json.message).toBe('subscription "sub_nope" not found');
  });
});

describe("kafka clusters", () => {
  const body = {
    name: "orders",
    properties: {
      "aws.msk.cluster.arn": MSK_ARN,
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "aws.secrets.manager.arn": SECRET_ARN,
    },
  };

  it("creates, reads, lists and deletes", async () => {
    const created = await call(api, "POST", "/kafka-clusters", body);
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe("kafka-clusters/orders");
    expect(created.json).toEqual({
      ...body,
      origin: "api",
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect((await call(api, "GET", "/kafka-clusters/orders")).json).toEqual({
      ...body,
      origin: "api",
      created_at: created.json.created_at,
      subscriptions: [],
    });
    expect(
      (await call(api, "GET", "/kafka-clusters")).json.clusters.map(
        (c: { name: string }) => c.name,
      ),
    ).toEqual(["my-cluster", "orders"]);
    expect((await call(api, "POST", "/kafka-clusters", body)).status).toBe(409);
    expect((await call(api, "DELETE", "/kafka-clusters/orders")).status).toBe(202);
    expect((await call(api, "GET", "/kafka-clusters/orders")).status).toBe(404);
    expect((await call(api, "DELETE", "/kafka-clusters/orders")).status).toBe(404);
  });

  it("takes a credentials secret only with what its tags bind it to, reading them with exactly DescribeSecret", async () => {
    const rule = (cluster: string, why: string) =>
      `Kafka cluster "${cluster}": credentials go only to the brokers their secret is bound to: ${why}`;
    const how = `add them to the secret's tag kafka-lambda-ingress:brokers (space-separated)`;
    // A broker of the caller's own, with the production SASL secret.
    const aimed = await call(api, "POST", "/kafka-clusters", {
      name: "aimed",
      properties: {
        "bootstrap.servers": "kafka.attacker.example:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
    });
    expect(aimed.status).toBe(400);
    expect(aimed.json.message).toBe(
      rule("aimed", `secret ${SECRET_ARN} is not bound to kafka.attacker.example:9096; ${how}`),
    );
    // Another MSK cluster than the one the secret names.
    const otherMsk = MSK_ARN.replace("cluster/orders/", "cluster/other/");
    const other = await call(api, "POST", "/kafka-clusters", {
      name: "other",
      properties: { ...body.properties, "aws.msk.cluster.arn": otherMsk },
    });
    expect(other.status).toBe(400);
    expect(other.json.message).toBe(
      rule("other", `secret ${SECRET_ARN} is not bound to MSK cluster ${otherMsk}; ${how}`),
    );
    // Self-managed brokers all bound (host names compare case-insensitively); one more is not.
    kafkaSecretTags = [
      { Key: "kafka-lambda-ingress:brokers", Value: "kafka-1.internal:9096 Kafka-2.internal:9096" },
    ];
    const selfManaged = {
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "aws.secrets.manager.arn": SECRET_ARN,
    };
    const partly = await call(api, "POST", "/kafka-clusters", {
      name: "partly",
      properties: {
        ...selfManaged,
        "bootstrap.servers": "kafka-1.internal:9096,kafka-3.internal:9096",
      },
    });
    expect(partly.status).toBe(400);
    expect(partly.json.message).toContain(`is not bound to kafka-3.internal:9096;`);
    const onprem = await call(api, "POST", "/kafka-clusters", {
      name: "onprem",
      properties: {
        ...selfManaged,
        "bootstrap.servers": "KAFKA-1.internal:9096,kafka-2.internal:9096",
      },
    });
    expect(onprem.status).toBe(201);
    expect(
      (await call(api, "GET", "/kafka-clusters")).json.clusters.map(
        (c: { name: string }) => c.name,
      ),
    ).toEqual(["my-cluster", "onprem"]);
    const calls = smMock.commandCalls(DescribeSecretCommand).map((c) => c.args[0].input);
    expect(calls).toEqual(Array(4).fill({ SecretId: SECRET_ARN }));
  });

  it("refuses a secret whose binding cannot be read, and any secret without a binding reader", async () => {
    const unknownSecret = `${SECRET_ARN.slice(0, -6)}Zz9Zz9`;
    smMock
      .on(DescribeSecretCommand, { SecretId: unknownSecret })
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));
    const denied = await call(api, "POST", "/kafka-clusters", {
      ...body,
      properties: { ...body.properties, "aws.secrets.manager.arn": unknownSecret },
    });
    expect(denied.status).toBe(400);
    expect(denied.json.message).toBe(
      `Kafka cluster "orders": credentials go only to the brokers their secret is bound to: cannot read the binding (tags) of secret ${unknownSecret} (AccessDeniedException: not authorized)`,
    );
    const blind = apiOver(store, { kafkaSecretBindings: undefined });
    const refused = await call(blind, "POST", "/kafka-clusters", body);
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain(
      `this deployment cannot read the binding of secret ${SECRET_ARN}`,
    );
    expect((await call(api, "GET", "/kafka-clusters/orders")).status).toBe(404);
  });

  it("checks the binding again when a subscription (its event source mapping) is created", async () => {
    expect((await call(api, "POST", "/kafka-clusters", body)).status).toBe(201);
    kafkaSecretTags = []; // the secret's owner unbinds it
    const sub = await call(api, "POST", "/subscriptions", {
      source: "kafka://orders/t",
      sink: "service://MyService/handle",
    });
    expect(sub.status).toBe(400);
    expect(sub.json.message).toContain(
      `secret ${SECRET_ARN} is not bound to MSK cluster ${MSK_ARN}`,
    );
    expect(feeds.created).toHaveLength(0);
    expect((await call(api, "GET", "/subscriptions")).json.subscriptions).toEqual([]);
  });

  it("refuses incomplete clear credentials without echoing them", async () => {
    const response = await call(api, "POST", "/kafka-clusters", {
      name: "x",
      properties: { "bootstrap.servers": "b:9092", "sasl.password": "hunter2" },
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/"sasl.username" and "sasl.password" go together/);
    expect(response.body).not.toContain("hunter2");
  });

  it("never shows a config cluster's password", async () => {
    const [cluster] = clustersFromConfigFile({
      ingress: {
        "kafka-clusters": [
          {
            name: "local",
            brokers: ["PLAINTEXT://b:9092"],
            "sasl.username": "me",
            "sasl.password": "pass-123",
          },
        ],
      },
    });
    if (cluster) await store.upsertConfigCluster(cluster);
    const one = await call(api, "GET", "/kafka-clusters/local");
    const all = await call(api, "GET", "/kafka-clusters");
    expect(one.json.properties["sasl.password"]).toBe("***");
    expect(one.json.properties["sasl.username"]).toBe("***");
    expect(one.body + all.body).not.toContain("pass-123");
    expect(one.body + all.body).not.toContain('"me"');
  });

  it("refuses to delete a config-declared cluster, and one in use in Restate's words unless forced", async () => {
    const config = await call(api, "DELETE", "/kafka-clusters/my-cluster");
    expect(config.status).toBe(409);
    expect(config.json.message).toBe(
      `Kafka cluster "my-cluster" is declared in the config file; remove it there`,
    );
    const configForced = await call(api, "DELETE", "/kafka-clusters/my-cluster", undefined, {
      force: "true",
    });
    expect(configForced.status).toBe(409);

    await call(api, "POST", "/kafka-clusters", {
      name: "api-c",
      properties: { "bootstrap.servers": "b:9092" },
    });
    const sub = await call(api, "POST", "/subscriptions", {
      source: "kafka://api-c/t",
      sink: "service://MyService/handle",
    });
    const used = await call(api, "DELETE", "/kafka-clusters/api-c");
    expect(used.status).toBe(409);
    expect(used.json).toEqual({
      message: `Removing the kafka cluster 'api-c' leads to subscription '${sub.json.id}' being orphan. Remove the subscription first, or use the 'force' flag. (Used by ${sub.json.id}; force deletes them first.)`,
      restate_code: null,
    });
    expect(
      (await call(api, "DELETE", "/kafka-clusters/api-c", undefined, { force: "1" })).status,
    ).toBe(400);
    await call(api, "DELETE", `/subscriptions/${sub.json.id}`);
    expect((await call(api, "DELETE", "/kafka-clusters/api-c")).status).toBe(202);
    expect((await call(api, "GET", "/kafka-clusters/api-c")).status).toBe(404);
    expect((await call(api, "DELETE", "/kafka-clusters/api-c")).status).toBe(404);
  });

  it("deletes a cluster in use with ?force=true: its subscriptions and their feeds go first", async () => {
    await call(api, "POST", "/kafka-clusters", {
      name: "api-c",
      properties: { "bootstrap.servers": "b:9092" },
    });
    const make = (topic: string) =>
      call(api, "POST", "/subscriptions", {
        source: `kafka://api-c/${topic}`,
        sink: "service://MyService/handle",
      });
    const a = await make("a");
    const b = await make("b");
    const other = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    const forced = await call(api, "DELETE", "/kafka-clusters/api-c", undefined, {
      force: "true",
    });
    expect(forced.status).toBe(202);
    expect(await store.getCluster("api-c")).toBeUndefined();
    expect(await store.getSubscription(a.json.id)).toBeUndefined();
    expect(await store.getSubscription(b.json.id)).toBeUndefined();
    expect(feeds.removed.map((r) => r.subscription.id).sort()).toEqual(
      [a.json.id, b.json.id].sort(),
    );
    // A subscription of another cluster is untouched.
    expect((await store.getSubscription(other.json.id))?.status).toBe("active");
  });

  it("redacts as Restate does, and shows the secret reference", async () => {
    const [cluster] = clustersFromConfigFile({
      ingress: {
        "kafka-clusters": [
          {
            name: "sasl",
            brokers: ["SASL_SSL://b:9096"],
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "alice-user",
            "sasl.password": "pass-456",
          },
        ],
      },
    });
    if (cluster) await store.upsertConfigCluster(cluster);
    const shown = await call(api, "GET", "/kafka-clusters/sasl");
    expect(shown.json.properties).toEqual({
      "bootstrap.servers": "b:9096",
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.username": "***",
      "sasl.password": "***",
    });
    const created = await call(api, "POST", "/kafka-clusters", {
      name: "msk",
      properties: {
        "aws.msk.cluster.arn": MSK_ARN,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.properties["aws.secrets.manager.arn"]).toBe(SECRET_ARN);
  });

  it("takes bootstrap.servers with protocol prefixes as librdkafka does, onto security.protocol", async () => {
    const created = await call(api, "POST", "/kafka-clusters", {
      name: "prefixed",
      properties: { "bootstrap.servers": "PLAINTEXT://b1:9092, PLAINTEXT://b2:9092" },
    });
    expect(created.status).toBe(201);
    expect(created.json.properties).toEqual({
      "bootstrap.servers": "b1:9092,b2:9092",
      "security.protocol": "PLAINTEXT",
    });
    const agreeing = await call(api, "POST", "/kafka-clusters", {
      name: "agreeing",
      properties: { "bootstrap.servers": "ssl://b1:9093", "security.protocol": "ssl" },
    });
    expect(agreeing.status).toBe(201);
    expect(agreeing.json.properties).toEqual({
      "bootstrap.servers": "b1:9093",
      "security.protocol": "SSL",
    });
    for (const [properties, message] of [
      [
        { "bootstrap.servers": "PLAINTEXT://b1:9092,SSL://b2:9093" },
        `brokers mix protocols PLAINTEXT, SSL; one cluster connects with one "security.protocol"`,
      ],
      [
        { "bootstrap.servers": "PLAINTEXT://b1:9092", "security.protocol": "SSL" },
        `property "bootstrap.servers" names protocol PLAINTEXT:// but "security.protocol" is "SSL"; drop the prefix or make them agree`,
      ],
      [
        { "bootstrap.servers": "http://b1:9092" },
        `broker "http://b1:9092" has an unknown protocol prefix; use PLAINTEXT://, SSL://, SASL_PLAINTEXT://, SASL_SSL:// or none`,
      ],
    ] as const) {
      const refused = await call(api, "POST", "/kafka-clusters", { name: "bad", properties });
      expect(refused.status, message).toBe(400);
      expect(refused.json.message).toBe(message);
    }
  });
  it.each([
    [{ name: "x", properties: {} }, /need "bootstrap.servers"/],
    [
      { name: "x", properties: { "bootstrap.servers": "b:1", "linger.ms": 5 } },
      /unsupported cluster property "linger.ms"/,
    ],
    [{ name: "bad name", properties: { "bootstrap.servers": "b:1" } }, /name must be 1 to 64/],
    [{ properties: { "bootstrap.servers": "b:1" } }, /name is required/],
  ])("refuses %j with 400", async (invalid, message) => {
    const response = await call(api, "POST", "/kafka-clusters", invalid);
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(message);
  });
});

describe("PATCH /kafka-clusters/{name}", () => {
  const create = (properties: Record<string, string>) =>
    call(api, "POST", "/kafka-clusters", { name: "api-c", properties });

  it("replaces the whole properties map, validated as on POST, and answers the cluster", async () => {
    const created = await create({ "bootstrap.servers": "b:9092" });
    expect(created.status).toBe(201);
    const patched = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: { "bootstrap.servers": "SSL://b1:9093,b2:9093" },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toEqual({
      name: "api-c",
      origin: "api",
      properties: { "bootstrap.servers": "b1:9093,b2:9093", "security.protocol": "SSL" },
      created_at: created.json.created_at,
    });
    expect((await store.getCluster("api-c"))?.properties).toEqual({
      "bootstrap.servers": "b1:9093,b2:9093",
      "security.protocol": "SSL",
    });
    // A key left out is removed: the map is replaced, not merged.
    const dropped = await call(api, "PATCH", "/v4/kafka-clusters/api-c", {
      properties: { "bootstrap.servers": "b1:9093" },
    });
    expect(dropped.json.properties).toEqual({ "bootstrap.servers": "b1:9093" });

    for (const [body, message] of [
      [{ properties: {} }, /need "bootstrap.servers"/],
      [
        { properties: { "bootstrap.servers": "b:1", "linger.ms": "5" } },
        /unsupported cluster property "linger.ms"/,
      ],
      [
        { properties: { "bootstrap.servers": "b:1", "sasl.password": "hunter2" } },
        /"sasl.username" and "sasl.password" go together/,
      ],
      [
        {
          properties: {
            "bootstrap.servers": "b:1",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "alice",
            "sasl.password": "hunter2",
          },
        },
        /"sasl.username" \/ "sasl.password" cannot be changed with PATCH/,
      ],
      [{ name: "api-c", properties: { "bootstrap.servers": "b:1" } }, /unknown field "name"/],
      [{}, /properties is required/],
    ] as const) {
      const refused = await call(api, "PATCH", "/kafka-clusters/api-c", body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.json.message).toMatch(message);
      expect(refused.body).not.toContain("hunter2");
    }
    expect((await store.getCluster("api-c"))?.properties).toEqual({
      "bootstrap.servers": "b1:9093",
    });
  });

  it("404 for an unknown cluster, 409 for one from the config file", async () => {
    const missing = await call(api, "PATCH", "/kafka-clusters/nope", {
      properties: { "bootstrap.servers": "b:1" },
    });
    expect(missing.status).toBe(404);
    expect(missing.json.message).toBe(`Kafka cluster "nope" not found`);
    const config = await call(api, "PATCH", "/kafka-clusters/my-cluster", {
      properties: { "bootstrap.servers": "b:1" },
    });
    expect(config.status).toBe(409);
    expect(config.json.message).toBe(
      `Kafka cluster "my-cluster" is declared in the config file; change it there`,
    );
    expect((await store.getCluster("my-cluster"))?.properties["bootstrap.servers"]).toBe(
      "broker:9092",
    );
  });

  it("refuses to change a cluster in use (its mappings would keep the old settings); the same properties are a no-op", async () => {
    await create({ "bootstrap.servers": "b:9092" });
    const sub = await call(api, "POST", "/subscriptions", {
      source: "kafka://api-c/t",
      sink: "service://MyService/handle",
    });
    const refused = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: { "bootstrap.servers": "other:9092", "security.protocol": "PLAINTEXT" },
    });
    expect(refused.status).toBe(409);
    expect(refused.json.message).toBe(
      `Kafka cluster "api-c" is used by subscription ${sub.json.id}: their event source mappings read with its current "bootstrap.servers", "security.protocol", and would not follow the change; delete the subscriptions first (or register another cluster for the new settings)`,
    );
    expect((await store.getCluster("api-c"))?.properties).toEqual({
      "bootstrap.servers": "b:9092",
    });
    const same = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: { "bootstrap.servers": " b:9092 " },
    });
    expect(same.status).toBe(200);
    expect(same.json.properties).toEqual({ "bootstrap.servers": "b:9092" });
    await call(api, "DELETE", `/subscriptions/${sub.json.id}`);
    const after = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: { "bootstrap.servers": "other:9092" },
    });
    expect(after.status).toBe(200);
  });

  it("refuses, in the store, a change racing a subscription that took the cluster meanwhile", async () => {
    await create({ "bootstrap.servers": "b:9092" });
    const read = await store.getCluster("api-c");
    if (!read) throw new Error("cluster not stored");
    await call(api, "POST", "/subscriptions", {
      source: "kafka://api-c/t",
      sink: "service://MyService/handle",
    });
    await expect(
      store.replaceCluster(read, { ...read, properties: { "bootstrap.servers": "x:1" } }),
    ).rejects.toThrow(/used by subscriptions/);
    await expect(
      store.replaceCluster(
        { ...read, properties: { "bootstrap.servers": "stale:1" } },
        { ...read, properties: { "bootstrap.servers": "x:1" } },
      ),
    ).rejects.toThrow(/changed meanwhile/);
    await expect(
      store.replaceCluster({ ...read, name: "gone" }, { ...read, name: "gone" }),
    ).rejects.toThrow(/not found/);
    expect((await store.getCluster("api-c"))?.properties).toEqual({
      "bootstrap.servers": "b:9092",
    });
  });

  it("a subscription created while its cluster changes is refused and leaves nothing behind", async () => {
    await create({ "bootstrap.servers": "b:9092" });
    const current = await store.getCluster("api-c");
    if (!current) throw new Error("cluster not stored");
    // The first read sees the cluster as it was before a PATCH that lands meanwhile.
    let reads = 0;
    const racing = storeWith(store, {
      getCluster: async (name) =>
        name === "api-c" && reads++ === 0
          ? { ...current, properties: { "bootstrap.servers": "old:9092" } }
          : store.getCluster(name),
    });
    const response = await call(apiOver(racing), "POST", "/subscriptions", {
      source: "kafka://api-c/t",
      sink: "service://MyService/handle",
    });
    expect(response.status).toBe(409);
    expect(response.json.message).toBe(
      `Kafka cluster "api-c" changed while the subscription was being created; nothing was created, try again`,
    );
    expect(feeds.created).toEqual([]);
    expect(await store.listSubscriptions()).toEqual([]);
    // Its reference on the cluster is released: the cluster can change again.
    const patched = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: { "bootstrap.servers": "new:9092" },
    });
    expect(patched.status).toBe(200);
  });

  it("checks a secret's binding as POST does", async () => {
    await create({ "aws.msk.cluster.arn": MSK_ARN, "security.protocol": "SSL" });
    kafkaSecretTags = [{ Key: "kafka-lambda-ingress:brokers", Value: "elsewhere:9096" }];
    const refused = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: {
        "aws.msk.cluster.arn": MSK_ARN,
        "security.protocol": "SSL",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toMatch(
      /credentials go only to the brokers their secret is bound to/,
    );
    kafkaSecretTags = [{ Key: "kafka-lambda-ingress:brokers", Value: MSK_ARN }];
    const accepted = await call(api, "PATCH", "/kafka-clusters/api-c", {
      properties: {
        "aws.msk.cluster.arn": MSK_ARN,
        "security.protocol": "SSL",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.json.properties["aws.secrets.manager.arn"]).toBe(SECRET_ARN);
  });
});

describe("services", () => {
  it("creates, reads, lists, refuses duplicates and deletes", async () => {
    const counter = {
      name: "Counter",
      type: "virtual_object",
      endpoint: "http://host:8080",
      invocation: "call",
      handlers: { add: {}, get: { shared: true }, raw: { input: "binary" } },
    };
    const created = await call(api, "POST", "/services", counter);
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe("services/Counter");
    const expected = {
      ...counter,
      handlers: {
        add: { shared: false, input: "json" },
        get: { shared: true, input: "json" },
        raw: { shared: false, input: "binary" },
      },
    };
    expect(created.json).toEqual(expected);
    expect((await call(api, "GET", "/services/Counter")).json).toEqual(expected);
    expect(
      (await call(api, "GET", "/services")).json.services.map((s: { name: string }) => s.name),
    ).toEqual(["Counter", "MyService"]);
    const again = await call(api, "POST", "/services", counter);
    expect(again.status).toBe(409);
    expect(again.json.message).toBe('service "Counter" already exists');
    expect((await call(api, "DELETE", "/services/Counter")).status).toBe(202);
    expect((await call(api, "GET", "/services/Counter")).status).toBe(404);
  });

  it("refuses to delete a service in use", async () => {
    const sub = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    const response = await call(api, "DELETE", "/services/MyService");
    expect(response.status).toBe(409);
    expect(response.json.message).toContain(sub.json.id);
  });

  it("refuses an invalid service with 400", async () => {
    const response = await call(api, "POST", "/services", {
      ...myService,
      name: "X",
      type: "service",
      handlers: { h: { shared: true } },
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toBe(
      "invalid service: handlers.h.shared is only allowed for virtual_object and workflow services",
    );
  });
});

describe("PATCH /services/{name}", () => {
  it("moves a service in use to a new endpoint; subscriptions stay", async () => {
    const sub = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    expect(sub.status).toBe(201);
    const patched = await call(api, "PATCH", "/services/MyService", {
      endpoint: "http://restate.internal:8080/",
      invocation: "send",
      auth: { bearer_token_secret: TOKEN_ARN },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      name: "MyService",
      type: "service",
      endpoint: "http://restate.internal:8080",
      invocation: "send",
      auth: { bearer_token_secret: TOKEN_ARN },
    });
    expect((await call(api, "GET", "/services/MyService")).json).toEqual(patched.json);
    expect((await call(api, "GET", `/subscriptions/${sub.json.id}`)).status).toBe(200);
    // auth: null removes it; the rest is kept
    const cleared = await call(api, "PATCH", "/services/MyService", { auth: null });
    expect(cleared.json.auth).toBeUndefined();
    expect(cleared.json.endpoint).toBe("http://restate.internal:8080");
    // still in use: cannot be deleted
    expect((await call(api, "DELETE", "/services/MyService")).status).toBe(409);
  });

  it.each([
    [{}, 'give at least one of "endpoint", "invocation" or "auth"'],
    [{ type: "virtual_object" }, "type"],
    [{ handlers: { x: {} } }, "handlers"],
    [{ endpoint: "ftp://x" }, "endpoint"],
    [{ endpoint: "http://169.254.169.254/" }, "endpoint"],
    [{ auth: { bearer_token: "clear" } }, "auth.bearer_token is not accepted"],
  ])("refuses %j with 400", async (body, message) => {
    const response = await call(api, "PATCH", "/services/MyService", body);
    expect(response.status).toBe(400);
    expect(response.json.message).toContain(message);
    expect((await call(api, "GET", "/services/MyService")).json.endpoint).toBe(myService.endpoint);
  });

  it("404 for an unknown service; 409 when it changed since it was read", async () => {
    const missing = await call(api, "PATCH", "/services/Nope", { invocation: "send" });
    expect(missing.status).toBe(404);
    const read = await store.getService("MyService");
    if (read === undefined) throw new Error("unreachable");
    await store.replaceService(read, { ...read, endpoint: "http://a:1" });
    await expect(store.replaceService(read, { ...read, endpoint: "http://b:1" })).rejects.toThrow(
      /changed meanwhile/,
    );
    expect((await store.getService("MyService"))?.endpoint).toBe("http://a:1");
  });
});

describe("service auth: secret references only", () => {
  const CLEAR = "rst_live_0123456789abcdef0123456789abcdef";

  it("stores a Secrets Manager reference and shows the reference, never a value", async () => {
    const body = { ...myService, name: "Authed", auth: { bearer_token_secret: TOKEN_ARN } };
    const created = await call(api, "POST", "/services", body);
    expect(created.status).toBe(201);
    expect(created.json.auth).toEqual({ bearer_token_secret: TOKEN_ARN });
    expect((await call(api, "GET", "/services/Authed")).json.auth).toEqual({
      bearer_token_secret: TOKEN_ARN,
    });
    const listed = (await call(api, "GET", "/services")).json.services;
    expect(listed.find((s: { name: string }) => s.name === "Authed").auth).toEqual({
      bearer_token_secret: TOKEN_ARN,
    });
    // a service without auth shows none
    expect((await call(api, "GET", "/services/MyService")).json.auth).toBeUndefined();
  });

  it.each([
    ["a clear token in auth", { bearer_token: CLEAR }, "auth.bearer_token is not accepted"],
    [
      "a token as the reference",
      { bearer_token_secret: CLEAR },
      "auth.bearer_token_secret must be",
    ],
    [
      "a reference next to a clear token",
      { bearer_token_secret: TOKEN_ARN, token: CLEAR },
      "auth.token is not accepted",
    ],
    ["no reference", {}, "auth.bearer_token_secret is required"],
    ["a string", `Bearer ${CLEAR}`, "auth must be an object"],
    [
      "another service's ARN kind",
      { bearer_token_secret: "arn:aws:ssm:eu-west-1:123456789012:parameter/token" },
      "auth.bearer_token_secret must be",
    ],
  ])(
    "refuses %s with a 400 asking for a secret reference, never echoing it",
    async (_, auth, msg) => {
      const response = await call(api, "POST", "/services", { ...myService, name: "Bad", auth });
      expect(response.status).toBe(400);
      expect(response.json.message).toContain(msg);
      expect(response.json.message).toMatch(/Secrets Manager/);
      expect(response.body).not.toContain(CLEAR);
      expect((await call(api, "GET", "/services/Bad")).status).toBe(404);
    },
  );

  it("a token goes only to the endpoints its secret names: POST and PATCH refuse others with a 400 naming the rule", async () => {
    const elsewhere = "http://evil.example:8080";
    const rule = `invalid service: auth.bearer_token_secret: a token goes only to the endpoints its secret names: the token in ${TOKEN_ARN} is not bound to ${elsewhere}; add the origin to the secret's "endpoints"`;
    const auth = { bearer_token_secret: TOKEN_ARN };
    const created = await call(api, "POST", "/services", {
      ...myService,
      name: "Authed",
      endpoint: elsewhere,
      auth,
    });
    expect(created.status).toBe(400);
    expect(created.json.message).toBe(rule);
    expect((await call(api, "GET", "/services/Authed")).status).toBe(404);

    // Moving a service with auth, or adding auth to a service elsewhere, is refused the same way.
    const withAuth = await call(api, "PATCH", "/services/MyService", { auth });
    expect(withAuth.status).toBe(200);
    const moved = await call(api, "PATCH", "/services/MyService", { endpoint: elsewhere });
    expect(moved.status).toBe(400);
    expect(moved.json.message).toBe(rule.replace("invalid service:", "invalid service change:"));
    await call(api, "PATCH", "/services/MyService", { auth: null });
    await call(api, "PATCH", "/services/MyService", { endpoint: elsewhere });
    const added = await call(api, "PATCH", "/services/MyService", { auth });
    expect(added.status).toBe(400);
    expect(added.json.message).toContain(`is not bound to ${elsewhere}`);
    expect((await call(api, "GET", "/services/MyService")).json.auth).toBeUndefined();

    // A path prefix binds the path too.
    const prefixed = apiOver(store, {
      sinkTokenCheck: sinkTokenCheck(
        localSecretResolver({
          LOCAL_SECRETS: JSON.stringify({
            [TOKEN_ARN]: { token: TOKEN, endpoints: ["https://gw.example.com/restate"] },
          }),
        }),
      ),
    });
    const outside = await call(prefixed, "POST", "/services", {
      ...myService,
      name: "Outside",
      endpoint: "https://gw.example.com/admin",
      auth,
    });
    expect(outside.status).toBe(400);
    expect(outside.json.message).toContain(
      `the token in ${TOKEN_ARN} is bound to https://gw.example.com/restate, not to https://gw.example.com/admin`,
    );
    const inside = await call(prefixed, "POST", "/services", {
      ...myService,
      name: "Inside",
      endpoint: "https://gw.example.com/restate/",
      auth,
    });
    expect(inside.status).toBe(201);
    expect(JSON.stringify([created.json, moved.json, outside.json])).not.toContain(TOKEN);
  });

  it("refuses auth whose secret cannot be read, or when there is no way to check it", async () => {
    const other = `${TOKEN_ARN.slice(0, -6)}Zz9Zz9`;
    const unknown = await call(api, "POST", "/services", {
      ...myService,
      name: "Unknown",
      auth: { bearer_token_secret: other },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toContain(`secret ${other} is not in LOCAL_SECRETS`);
    const blind = apiOver(store, { sinkTokenCheck: undefined });
    const refused = await call(blind, "POST", "/services", {
      ...myService,
      name: "Blind",
      auth: { bearer_token_secret: TOKEN_ARN },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain(
      `this deployment cannot check where the token in ${TOKEN_ARN} may go`,
    );
  });

  it("a clear credential at the top level is refused with the same hint", async () => {
    for (const field of ["token", "authorization", "headers"]) {
      const body = { ...myService, name: "Bad", [field]: CLEAR };
      const response = await call(api, "POST", "/services", body);
      expect(response.status).toBe(400);
      expect(response.json.message).toContain(`unknown field "${field}"`);
      expect(response.json.message).toContain("auth.bearer_token_secret");
      expect(response.body).not.toContain(CLEAR);
    }
  });
});

describe("transport edge cases", () => {
  it("accepts trailing slashes and decodes path segments", async () => {
    await call(api, "POST", "/services", { ...myService, name: "a.b-c" });
    expect((await call(api, "GET", "/services/")).status).toBe(200);
    expect((await call(api, "GET", "/services/a.b-c/")).status).toBe(200);
    expect((await call(api, "GET", "/services/a%2Eb%2Dc")).json.name).toBe("a.b-c");
    expect((await call(api, "GET", "/services/%E0%A4%A")).status).toBe(400);
  });

  it("answers 400 for malformed or missing JSON", async () => {
    const malformed = await call(api, "POST", "/subscriptions", "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.json).toEqual({
      message: "request body is not valid JSON",
      restate_code: null,
    });
    const missing = await call(api, "POST", "/kafka-clusters");
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/request body is required/);
    const array = await call(api, "POST", "/services", "[]");
    expect(array.status).toBe(400);
    expect(array.json.message).toBe("invalid service: body must be a JSON object");
  });

  it("answers 413 for a body over the limit", async () => {
    const big = JSON.stringify({
      source: "kafka://my-cluster/t",
      sink: "service://MyService/handle",
      pad: "x".repeat(3000),
    });
    const response = await call(api, "POST", "/subscriptions", big);
    expect(response.status).toBe(413);
    expect(response.json.message).toBe("request body is larger than 2048 bytes");
    // counted in bytes, not characters
    const multibyte = `{"name":"${"é".repeat(1100)}"}`;
    expect(multibyte.length).toBeLessThan(2048);
    expect((await call(api, "POST", "/services", multibyte)).status).toBe(413);
  });

  it("answers 404 for unknown routes and 405 with Allow for wrong methods", async () => {
    for (const path of ["/", "/nope", "/subscriptions/a/b", "/constructor", "/kafka-clusters//x"]) {
      const response = await call(api, "GET", path);
      expect(response.status, path).toBe(404);
      expect(response.json.message).toMatch(/no route/);
    }
    const put = await call(api, "PUT", "/subscriptions");
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("GET, POST");
    const post = await call(api, "POST", "/kafka-clusters/x");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, PATCH, DELETE");
  });

  it("answers 500 without internals for unexpected errors, and logs them", async () => {
    const broken: AdminStore = storeWith(store, {
      listServices: async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'secret-internal')");
      },
    });
    const response = await call(apiOver(broken), "GET", "/services");
    expect(response.status).toBe(500);
    expect(response.json).toEqual({ message: "internal error", restate_code: null });
    expect(logs.at(-1)).toMatchObject({ level: "error", error: "TypeError", path: "/services" });
    expect(JSON.stringify(logs.at(-1))).toContain("secret-internal");
  });

  it("answers 502 for dependency failures without their detail", async () => {
    const broken: AdminStore = storeWith(store, {
      getSubscription: async () => {
        throw new DependencyError(
          "DynamoDB GetItem failed: arn:aws:dynamodb:eu-west-1:123:table/x",
        );
      },
    });
    const response = await call(apiOver(broken), "GET", "/subscriptions/sub_x");
    expect(response.status).toBe(502);
    expect(response.body).not.toContain("arn:aws");
  });
});

describe("Restate admin API compatibility (what the restate CLI asks)", () => {
  it("answers GET /version with the admin API versions served and GET /health with 200", async () => {
    const version = await call(api, "GET", "/version");
    expect(version.status).toBe(200);
    expect(version.json).toEqual({
      version: PRODUCT_VERSION,
      min_admin_api_version: 2,
      max_admin_api_version: 4,
      features: {},
    });
    const health = await call(api, "GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body).toBe("");
    expect((await call(api, "POST", "/version")).status).toBe(405);
  });

  it("keeps the product version equal to package.json's", async () => {
    const manifest = JSON.parse(
      await readFile(new URL("../../package.json", import.meta.url), "utf8"),
    );
    expect(PRODUCT_VERSION).toBe(manifest.version);
  });

  it("serves every route under /v2, /v3 and /v4 too, and refuses /v1", async () => {
    await call(api, "POST", "/services", myService);
    for (const prefix of ["/v2", "/v3", "/v4"]) {
      expect((await call(api, "GET", `${prefix}/services/${myService.name}`)).json.name).toBe(
        myService.name,
      );
      expect((await call(api, "GET", `${prefix}/kafka-clusters`)).status).toBe(200);
      expect((await call(api, "GET", `${prefix}/version`)).json.max_admin_api_version).toBe(4);
    }
    const v1 = await call(api, "GET", "/v1/kafka-clusters");
    expect(v1.status).toBe(400);
    expect(v1.json).toEqual({
      message: "Unsupported Admin API version V1. This server supports versions between V2 and V4.",
      restate_code: null,
    });
    expect((await call(api, "GET", "/v9/kafka-clusters")).status).toBe(404);
    expect((await call(api, "GET", "/v4")).status).toBe(404);
    expect((await call(api, "GET", "/v4x/services")).status).toBe(404);
  });

  it("shows clusters with created_at and, on request, their subscriptions", async () => {
    const configured = await call(api, "GET", "/kafka-clusters/my-cluster");
    expect(configured.json.created_at).toBe("1970-01-01T00:00:00Z");
    expect(configured.json.subscriptions).toEqual([]);
    const created = await call(api, "POST", "/subscriptions", REFERENCE_BODY);
    expect(created.status).toBe(201);
    expect((await call(api, "GET", "/kafka-clusters/my-cluster")).json.subscriptions).toEqual([]);
    const withSubscriptions = await call(api, "GET", "/v4/kafka-clusters/my-cluster", undefined, {
      include_subscriptions: "true",
    });
    expect(withSubscriptions.json.subscriptions).toEqual([created.json]);
    const listed = await call(api, "GET", "/kafka-clusters");
    expect(listed.json.clusters[0].created_at).toBe("1970-01-01T00:00:00Z");
    const bad = await call(api, "GET", "/kafka-clusters/my-cluster", undefined, {
      include_subscriptions: "yes",
    });
    expect(bad.status).toBe(400);
  });

  it("makes subscription ids as Restate does: sub_1 and a 128-bit value in 22 base62 digits", () => {
    const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const id = newSubscriptionId();
      expect(id).toMatch(/^sub_1[0-9A-Za-z]{22}$/);
      let value = 0n;
      for (const digit of id.slice(5)) value = value * 62n + BigInt(alphabet.indexOf(digit));
      expect(value < 2n ** 128n).toBe(true);
      ids.add(id);
    }
    expect(ids.size).toBe(200);
  });

  it("answers every error with Restate's body: message and restate_code", async () => {
    const missing = await call(api, "GET", "/v4/kafka-clusters/nope");
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ message: expect.any(String), restate_code: null });
    const wrongMethod = await call(api, "PUT", "/kafka-clusters");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json.restate_code).toBeNull();
  });
});
