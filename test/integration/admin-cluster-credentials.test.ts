// Clear SASL credentials given through POST /kafka-clusters on AWS: the admin API with the real
// Secrets Manager adapters (the credential vault and the binding reader) against a loopback
// Secrets Manager that accepts only the exact request shapes, and the DynamoDB store on
// dynalite. The credentials become a secret of the stack's prefix, tagged with the brokers; the
// table, the answers and the logs never hold them; the mapping uses the secret; deleting the
// cluster deletes it.
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import {
  secretsManagerCredentialVault,
  secretsManagerKafkaBindings,
} from "../../src/adapters/secrets-manager.ts";
import { type AdminApi, createAdminApi } from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { brokerBindingTags } from "../../src/core/cluster-credentials.ts";
import { DependencyError } from "../../src/core/errors.ts";
import { buildFeedParams } from "../../src/core/feed-params.ts";
import type { AdminStore } from "../../src/core/ports.ts";
import {
  type FakeSecretsManager,
  startFakeSecretsManager,
} from "../deploy/fake-secrets-manager.ts";
import { call, FakeFeedControl, storeWith } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

const PREFIX = "kafka-lambda-ingress/kafka-ingress-dev/kafka-clusters/";
const USER = "svc-orders";
const PASSWORD = "Zq8!pL2#wR9-orders-password";
const BROKERS = "b-1.kafka.internal:9096,b-2.kafka.internal:9096";

let dynamo: TestDynamo;
let sm: FakeSecretsManager;
let client: SecretsManagerClient;
let store: AdminStore;
let table: string;
let feeds: FakeFeedControl;
let logs: Record<string, unknown>[];
let api: AdminApi;

function apiOver(target: AdminStore): AdminApi {
  return createAdminApi({
    store: target,
    feeds,
    maxBodyBytes: 65_536,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    log: (entry) => logs.push(entry),
    kafkaSecretBindings: secretsManagerKafkaBindings({ client }),
    credentialVault: secretsManagerCredentialVault({
      prefix: PREFIX,
      client,
      suffix: () => "a1b2c3",
    }),
    restateAdmin: { listServices: async () => [] } as never,
  });
}

const saslCluster = (name = "orders", extra: Record<string, string> = {}) => ({
  name,
  properties: {
    "bootstrap.servers": BROKERS,
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": USER,
    "sasl.password": PASSWORD,
    ...extra,
  },
});

beforeAll(async () => {
  dynamo = await startTestDynamo();
  sm = await startFakeSecretsManager();
  client = new SecretsManagerClient({
    endpoint: sm.url,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDADMIN", secretAccessKey: "test" },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await sm.close();
  await dynamo.close();
});
beforeEach(async () => {
  table = await dynamo.freshTable();
  store = new DynamoAdminStore(dynamo.client, table);
  feeds = new FakeFeedControl();
  logs = [];
  sm.reset();
  api = apiOver(store);
});

/** Every item of the table, as text. */
async function tableText(): Promise<string> {
  const scan = await dynamo.client.send(new ScanCommand({ TableName: table }));
  return JSON.stringify(scan.Items);
}

describe("clusters registered with sasl.username / sasl.password on AWS", () => {
  it("creates the cluster's secret (exact CreateSecret), stores only its ARN, shows no credentials", async () => {
    const created = await call(api, "POST", "/kafka-clusters", saslCluster());
    expect(created.status).toBe(201);
    const name = `${PREFIX}orders/a1b2c3`;
    const create = sm.calls.find((c) => c.target === "secretsmanager.CreateSecret");
    expect(create?.body).toEqual({
      // The SDK's idempotency token: a retried CreateSecret does not make a second version.
      ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Name: name,
      Description:
        "SASL credentials of Kafka cluster orders, given through the kafka-lambda-ingress admin API",
      SecretString: JSON.stringify({ username: USER, password: PASSWORD }),
      Tags: [
        {
          Key: "kafka-lambda-ingress:brokers",
          Value: "b-1.kafka.internal:9096 b-2.kafka.internal:9096",
        },
      ],
    });
    expect(create?.authorization).toMatch(
      /Credential=AKIDADMIN\/\d{8}\/us-east-1\/secretsmanager\//,
    );
    const arn = [...sm.secrets.keys()].find((key) => key.includes(name)) ?? "";
    expect(sm.secrets.get(arn)).toBe(JSON.stringify({ username: USER, password: PASSWORD }));

    expect(created.json.properties).toEqual({
      "bootstrap.servers": BROKERS,
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "aws.secrets.manager.arn": arn,
    });
    const shown = await call(api, "GET", "/kafka-clusters/orders");
    expect(shown.json.properties).toEqual(created.json.properties);
    for (const text of [
      created.body,
      shown.body,
      (await call(api, "GET", "/kafka-clusters")).body,
    ]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(USER);
    }
    const stored = await tableText();
    expect(stored).toContain(arn);
    expect(stored).not.toContain(PASSWORD);
    expect(stored).not.toContain(USER);
    expect(JSON.stringify(logs)).not.toContain(PASSWORD);
  });

  it("subscribes through the secret (binding read back, SASL_SCRAM_512_AUTH), deletes it with the cluster", async () => {
    await call(api, "POST", "/kafka-clusters", saslCluster());
    const arn = [...sm.secrets.keys()][0] ?? "";
    await call(api, "POST", "/services", {
      name: "Orders",
      type: "service",
      endpoint: "https://orders.example.com",
      handlers: { add: {} },
    });
    const sub = await call(api, "POST", "/subscriptions", {
      source: "kafka://orders/orders",
      sink: "service://Orders/add",
    });
    expect(sub.status).toBe(201);
    expect(sm.calls.filter((c) => c.target === "secretsmanager.DescribeSecret")).toEqual([
      expect.objectContaining({ secretId: arn, body: { SecretId: arn } }),
    ]);
    const fed = feeds.created[0];
    expect(fed?.cluster.properties["sasl.password"]).toBeUndefined();
    const params = buildFeedParams(
      fed?.subscription as never,
      fed?.cluster as never,
      "arn:aws:lambda:us-east-1:123456789012:function:consumer:alias",
    );
    expect(params.SourceAccessConfigurations).toEqual([{ Type: "SASL_SCRAM_512_AUTH", URI: arn }]);

    // In use: the cluster and its secret stay.
    expect((await call(api, "DELETE", "/kafka-clusters/orders")).status).toBe(409);
    expect(sm.secrets.has(arn)).toBe(true);
    expect((await call(api, "DELETE", `/subscriptions/${sub.json.id}`)).status).toBe(202);
    sm.calls.length = 0;
    expect((await call(api, "DELETE", "/kafka-clusters/orders")).status).toBe(202);
    expect(sm.calls.map((c) => [c.target, c.body])).toEqual([
      ["secretsmanager.DeleteSecret", { SecretId: arn, ForceDeleteWithoutRecovery: true }],
    ]);
    expect(sm.secrets.has(arn)).toBe(false);
    // The name is free again: a cluster of that name gets a new secret.
    expect((await call(api, "POST", "/kafka-clusters", saslCluster())).status).toBe(201);
  });

  it("refuses incomplete or contradictory credentials before any secret is made", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ "sasl.password": PASSWORD }, /"sasl.username" and "sasl.password" go together/],
      [
        { "bootstrap.servers": BROKERS, "sasl.username": USER, "sasl.password": PASSWORD },
        /need "sasl.mechanism" PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512/,
      ],
    ];
    for (const [properties, message] of cases) {
      const answer = await call(api, "POST", "/kafka-clusters", {
        name: "bad",
        properties: { "bootstrap.servers": BROKERS, ...properties },
      });
      expect(answer.status).toBe(400);
      expect(answer.json.message).toMatch(message);
      expect(answer.body).not.toContain(PASSWORD);
    }
    const both = await call(
      api,
      "POST",
      "/kafka-clusters",
      saslCluster("both", {
        "aws.secrets.manager.arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf",
      }),
    );
    expect(both.status).toBe(400);
    expect(both.json.message).toMatch(
      /either "sasl.username" \/ "sasl.password" or "aws.secrets.manager.arn"/,
    );
    const msk = await call(api, "POST", "/kafka-clusters", {
      name: "msk",
      properties: {
        "aws.msk.cluster.arn":
          "arn:aws:kafka:us-east-1:123456789012:cluster/orders/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": USER,
        "sasl.password": PASSWORD,
      },
    });
    expect(msk.status).toBe(400);
    expect(msk.json.message).toMatch(/AmazonMSK_/);
    expect(sm.calls).toEqual([]);
  });

  it("refuses a second cluster of the name, and one naming another cluster's secret", async () => {
    await call(api, "POST", "/kafka-clusters", saslCluster());
    const arn = [...sm.secrets.keys()][0] ?? "";
    sm.calls.length = 0;
    const again = await call(api, "POST", "/kafka-clusters", saslCluster());
    expect(again.status).toBe(409);
    const borrowed = await call(api, "POST", "/kafka-clusters", {
      name: "borrower",
      properties: {
        "bootstrap.servers": BROKERS,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "aws.secrets.manager.arn": arn,
      },
    });
    expect(borrowed.status).toBe(400);
    expect(borrowed.json.message).toMatch(/give the credentials instead/);
    expect(sm.calls.filter((c) => c.target !== "secretsmanager.DescribeSecret")).toEqual([]);
    expect(sm.secrets.size).toBe(1);
  });

  it("PATCH: may not borrow another cluster's secret; replacing its own removes it", async () => {
    await call(api, "POST", "/kafka-clusters", saslCluster("first"));
    await call(api, "POST", "/kafka-clusters", saslCluster("second"));
    const first = (await call(api, "GET", "/kafka-clusters/first")).json.properties;
    const second = (await call(api, "GET", "/kafka-clusters/second")).json.properties;
    const firstArn = first["aws.secrets.manager.arn"];
    const secondArn = second["aws.secrets.manager.arn"];
    expect(firstArn).not.toBe(secondArn);

    const borrowing = await call(api, "PATCH", "/kafka-clusters/second", {
      properties: { ...second, "aws.secrets.manager.arn": firstArn },
    });
    expect(borrowing.status).toBe(400);
    expect(borrowing.json.message).toMatch(/holds the credentials of another cluster/);

    // The owner's own secret, bound to the brokers by its tag.
    const own = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-onprem-AbCdEf";
    sm.secrets.set(own, JSON.stringify({ username: "u", password: "p" }));
    sm.tags.set(own, { "kafka-lambda-ingress:brokers": BROKERS.replace(",", " ") });
    sm.calls.length = 0;
    const moved = await call(api, "PATCH", "/kafka-clusters/second", {
      properties: { ...second, "aws.secrets.manager.arn": own },
    });
    expect(moved.status).toBe(200);
    expect(sm.calls.map((c) => [c.target, c.body])).toEqual([
      ["secretsmanager.DescribeSecret", { SecretId: own }],
      ["secretsmanager.DeleteSecret", { SecretId: secondArn, ForceDeleteWithoutRecovery: true }],
    ]);
    expect(sm.secrets.has(secondArn)).toBe(false);
    expect(sm.secrets.has(firstArn)).toBe(true);
    // Deleting the cluster now leaves the owner's secret alone.
    sm.calls.length = 0;
    expect((await call(api, "DELETE", "/kafka-clusters/second")).status).toBe(202);
    expect(sm.calls).toEqual([]);
    expect(sm.secrets.has(own)).toBe(true);
  });

  it("are refused by a deployment without a credential vault", async () => {
    const without = createAdminApi({
      store,
      feeds,
      maxBodyBytes: 65_536,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    });
    const answer = await call(without, "POST", "/kafka-clusters", saslCluster());
    expect(answer.status).toBe(400);
    expect(answer.json.message).toMatch(/this deployment cannot keep "sasl.username"/);
    expect(await store.getCluster("orders")).toBeUndefined();
  });

  it("removes the new secret when the cluster cannot be stored", async () => {
    const failing = apiOver(
      storeWith(store, {
        createCluster: async () => {
          throw new DependencyError("table unavailable");
        },
      }),
    );
    const answer = await call(failing, "POST", "/kafka-clusters", saslCluster("lost"));
    expect(answer.status).toBe(502);
    expect(sm.calls.map((c) => c.target)).toEqual([
      "secretsmanager.CreateSecret",
      "secretsmanager.DeleteSecret",
    ]);
    expect(sm.secrets.size).toBe(0);
  });
});

describe("secretsManagerCredentialVault", () => {
  const vault = () => secretsManagerCredentialVault({ prefix: PREFIX, client });
  const cluster = (arn: string) => ({
    name: "orders",
    origin: "api" as const,
    properties: { "bootstrap.servers": BROKERS, "aws.secrets.manager.arn": arn },
  });

  it("replaces credentials and brokers (exact PutSecretValue and TagResource)", async () => {
    const { "aws.secrets.manager.arn": arn = "" } = await vault().put(
      { name: "orders", origin: "api", properties: { "bootstrap.servers": BROKERS } },
      { username: "a", password: "b" },
    );
    sm.calls.length = 0;
    const moved = {
      ...cluster(arn),
      properties: { ...cluster(arn).properties, "bootstrap.servers": "c-1.kafka.internal:9096" },
    };
    await vault().replace(moved, { username: USER, password: PASSWORD });
    expect(sm.calls.map((c) => [c.target, c.body])).toEqual([
      [
        "secretsmanager.PutSecretValue",
        {
          SecretId: arn,
          SecretString: JSON.stringify({ username: USER, password: PASSWORD }),
          ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
        },
      ],
      [
        "secretsmanager.TagResource",
        {
          SecretId: arn,
          Tags: [{ Key: "kafka-lambda-ingress:brokers", Value: "c-1.kafka.internal:9096" }],
        },
      ],
    ]);
    expect(sm.secrets.get(arn)).toBe(JSON.stringify({ username: USER, password: PASSWORD }));
    await vault().remove(cluster(arn));
    await vault().remove(cluster(arn)); // gone already: fine
  });

  it("never touches secrets outside its prefix, and says so without values", async () => {
    const foreign = "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_orders-AbCdEf";
    expect(vault().owns(foreign)).toBe(false);
    expect(
      vault().owns(`arn:aws:secretsmanager:us-east-1:123456789012:secret:${PREFIX}x/1-AbCdEf`),
    ).toBe(true);
    sm.calls.length = 0;
    await vault().remove(cluster(foreign));
    await expect(
      vault().replace(cluster(foreign), { username: USER, password: PASSWORD }),
    ).rejects.toThrow(DependencyError);
    expect(sm.calls).toEqual([]);
  });

  it("turns Secrets Manager errors into DependencyError naming the secret, never the value", async () => {
    const unreachable = new SecretsManagerClient({
      endpoint: "http://127.0.0.1:9",
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
      maxAttempts: 1,
    });
    try {
      const error = await secretsManagerCredentialVault({ prefix: PREFIX, client: unreachable })
        .put(
          { name: "orders", origin: "api", properties: { "bootstrap.servers": BROKERS } },
          {
            username: USER,
            password: PASSWORD,
          },
        )
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyError);
      expect(String((error as Error).message)).toMatch(
        /cannot create secret kafka-lambda-ingress\/kafka-ingress-dev\/kafka-clusters\/orders\//,
      );
      expect(String((error as Error).message)).not.toContain(PASSWORD);
    } finally {
      unreachable.destroy();
    }
  });

  it("spreads many brokers over several binding tags of at most 256 characters", () => {
    const servers = Array.from({ length: 12 }, (_, i) => `broker-${i}.kafka.example.internal:9096`);
    const tags = brokerBindingTags({ "bootstrap.servers": servers.join(",") });
    expect(tags.map((t) => t.Key)).toEqual([
      "kafka-lambda-ingress:brokers",
      "kafka-lambda-ingress:brokers:2",
    ]);
    for (const tag of tags) expect(tag.Value.length).toBeLessThanOrEqual(256);
    expect(tags.flatMap((t) => t.Value.split(" "))).toEqual(servers);
  });
});
