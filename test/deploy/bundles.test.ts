// The artifacts `sam build` produced, run as Lambda runs them: each bundle is imported natively by
// Node 24 (not through Vitest's transform) and its `handler` is called with API Gateway and Kafka
// events. Around it, real parts: dynalite for DynamoDB, an HTTP sink on loopback, and a loopback
// stand-in for the Lambda control plane (the only AWS API without a local implementation).
//
// Needs `.aws-sam/build` (run `sam build` or infra/sam-check.sh first). Without it the suite is
// skipped, unless REQUIRE_BUNDLES=1, when it fails instead.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildFunctions } from "../../scripts/build.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { ensureTable } from "../../src/adapters/dynamo/ensure-table.ts";
import { openApiDocument } from "../../src/app/admin/openapi.ts";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "../../src/local/embedded-dynamodb.ts";
import { CLUSTER_ARN, loadEvent } from "../helpers/kafka-events.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";
import {
  apiEvent,
  JWT_EVENT_TOKEN,
  jwtApiEvent,
  recordedApiEvent,
  recordedJwtEvent,
} from "./api-events.ts";
import { type FakeLambdaApi, startFakeLambdaApi } from "./fake-lambda-api.ts";
import { type FakeSecretsManager, startFakeSecretsManager } from "./fake-secrets-manager.ts";
import { exhaustedPaymentLetter } from "./letters.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const consumerBundle = join(root, ".aws-sam/build/ConsumerFunction/consumer.mjs");
const adminBundle = join(root, ".aws-sam/build/AdminFunction/admin.mjs");
const built = existsSync(consumerBundle) && existsSync(adminBundle);

if (!built && process.env.REQUIRE_BUNDLES === "1") {
  throw new Error(`no SAM build in ${join(root, ".aws-sam/build")}: run infra/sam-check.sh first`);
}

type AdminHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
type ConsumerHandler = (
  event: unknown,
  context: { invokedFunctionArn: string; getRemainingTimeInMillis(): number },
) => Promise<{ batchItemFailures: unknown[] } | null | undefined>;

// vitest.deploy.config.ts externalises .aws-sam/, so this is Node's own loader, as in Lambda.
const nativeImport = (specifier: string): Promise<{ handler: unknown }> => import(specifier);

const TABLE = "kafka-ingress-deploy-test";
const CONSUMER = "kafka-ingress-dev-ConsumerFunction-AbC123";
const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sink-token-AbCdEf";
const TOKEN = "sink-bearer-token-0123456789";
const KAFKA_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-scram-AbCdEf";
const dynamoClient = (endpoint: string) =>
  new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });

describe.skipIf(!built)("bundles built by sam build", () => {
  let dynamo: EmbeddedDynamoDb;
  let sink: RecordingSink;
  let lambdaApi: FakeLambdaApi;
  let secretsManager: FakeSecretsManager;
  let admin: AdminHandler;
  let consumer: ConsumerHandler;
  const saved = { ...process.env };

  async function call(method: string, path: string, body?: unknown) {
    const response = await admin(apiEvent(method, path, body));
    const text = response.body ?? "";
    return { ...response, json: text ? JSON.parse(text) : undefined };
  }

  beforeAll(async () => {
    dynamo = await startEmbeddedDynamoDb();
    sink = await startRecordingSink(() => ({ status: 200, delayMs: 15 }));
    // The token's secret binds it to the sink's origin.
    secretsManager = await startFakeSecretsManager(
      {
        [TOKEN_ARN]: JSON.stringify({ token: TOKEN, endpoints: [sink.url] }),
        [KAFKA_SECRET_ARN]: JSON.stringify({ username: "u", password: "p" }),
      },
      { [KAFKA_SECRET_ARN]: { "kafka-lambda-ingress:brokers": "b-1.kafka.internal:9096" } },
    );
    // Invoke runs the consumer bundle, as Lambda would for the admin's replay calls.
    lambdaApi = await startFakeLambdaApi((functionName, payload) =>
      consumer(payload, {
        invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
        getRemainingTimeInMillis: () => 60_000,
      }),
    );
    // The environment template.yaml gives the functions, plus credentials and endpoints that
    // keep every AWS call on loopback. Both handlers read it on their first invocation.
    Object.assign(process.env, {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDDEPLOYTEST",
      AWS_SECRET_ACCESS_KEY: "deploy-test-secret",
      AWS_ENDPOINT_URL_LAMBDA: lambdaApi.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
      TABLE_NAME: TABLE,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      CONSUMER_FUNCTION_NAME: CONSUMER,
      MAX_CONCURRENCY: "16",
      NODE_OPTIONS: "--enable-source-maps",
      KAFKA_CREDENTIALS_SECRET_PREFIX: "kafka-lambda-ingress/kafka-ingress-dev/kafka-clusters/",
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    await ensureTable(dynamoClient(dynamo.endpoint), TABLE);
    admin = (await nativeImport(pathToFileURL(adminBundle).href)).handler as AdminHandler;
    consumer = (await nativeImport(pathToFileURL(consumerBundle).href)).handler as ConsumerHandler;
    expect(typeof admin).toBe("function");
    expect(typeof consumer).toBe("function");
  });

  afterAll(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await sink?.close();
    await lambdaApi?.close();
    await secretsManager?.close();
    await dynamo?.close();
  });

  it("the built template's Handler settings name the bundles' files and export", () => {
    const template = readFileSync(join(root, ".aws-sam/build/template.yaml"), "utf8");
    const functions: [string, string][] = [
      ["ConsumerFunction", "consumer"],
      ["AdminFunction", "admin"],
    ];
    for (const [fn, file] of functions) {
      const section = template.slice(template.indexOf(`\n  ${fn}:\n`));
      expect(section).toMatch(
        new RegExp(`\\n {6}CodeUri: ${fn}\\n {6}Handler: ${file}\\.handler\\n`),
      );
      expect(existsSync(join(root, ".aws-sam/build", fn, `${file}.mjs`))).toBe(true);
    }
    expect(template).toMatch(/Runtime: nodejs24\.x/);
  });

  it("npm run build writes the same bundles as sam build (scripts/build.ts, from the template)", async () => {
    const out = await mkdtemp(join(tmpdir(), "kafka-ingress-build-"));
    try {
      await buildFunctions(out);
      for (const file of ["ConsumerFunction/consumer.mjs", "AdminFunction/admin.mjs"]) {
        const ours = readFileSync(join(out, file));
        expect(ours.equals(readFileSync(join(root, ".aws-sam/build", file))), file).toBe(true);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("admin: GET /subscriptions (the recorded API Gateway event) lists none on a new table", async () => {
    const response = await admin(structuredClone(recordedApiEvent));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? "")).toEqual({ subscriptions: [] });
  });

  it("admin: behind the JWT authorizer, answers GET /version and logs changes by sub/iss, never the token", async () => {
    const version = await admin(structuredClone(recordedJwtEvent));
    expect(version.statusCode).toBe(200);
    expect(JSON.parse(version.body ?? "")).toMatchObject({ max_admin_api_version: 4 });
    const info = vi.spyOn(console, "info").mockImplementation(() => {});
    try {
      const refused = await admin(jwtApiEvent("POST", "/v4/services", { name: "x" }));
      expect(refused.statusCode).toBe(400);
      const lines = info.mock.calls.map((args) => args.map(String).join(" "));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? "")).toMatchObject({
        msg: "admin: change requested",
        status: 400,
        caller: {
          auth: "jwt",
          sub: "4example0client1id2",
          iss: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
        },
      });
      expect(lines[0]).not.toContain(JWT_EVENT_TOKEN);
    } finally {
      info.mockRestore();
    }
  });

  it("admin: unknown ids are 404 and bad bodies 400, as JSON messages", async () => {
    const missing = await call("GET", "/subscriptions/sub_doesnotexist");
    expect(missing.statusCode).toBe(404);
    expect(missing.json.message).toMatch(/sub_doesnotexist/);
    const bad = await call("POST", "/subscriptions", {
      source: "kafka://nowhere/orders",
      sink: "service://Orders/add",
    });
    expect(bad.statusCode).toBe(400);
    expect(typeof bad.json.message).toBe("string");
  });

  it("admin: GET /v4/openapi answers the OpenAPI document, as generated from the sources", async () => {
    const response = await call("GET", "/v4/openapi");
    expect(response.statusCode).toBe(200);
    expect(response.headers?.["content-type"]).toBe("application/json");
    expect(response.json).toEqual(openApiDocument());
  });

  let subscription: { id: string; source: string; sink: string };
  let aliasArn: string;

  it("admin: registers a cluster and a service, then subscribes (alias + event source mapping)", async () => {
    const cluster = await call("POST", "/kafka-clusters", {
      name: "demo",
      properties: { "aws.msk.cluster.arn": CLUSTER_ARN },
    });
    expect(cluster.statusCode).toBe(201);
    const service = await call("POST", "/services", {
      name: "Orders",
      type: "virtual_object",
      endpoint: sink.url,
      handlers: { add: {} },
    });
    expect(service.statusCode).toBe(201);

    const created = await call("POST", "/subscriptions", {
      source: "kafka://demo/orders",
      sink: "service://Orders/add",
      options: { "auto.offset.reset": "earliest" },
    });
    expect(created.statusCode).toBe(201);
    subscription = created.json;
    expect(subscription.id).toMatch(/^sub_[0-9A-Za-z]+$/);
    expect(created.headers?.location).toBe(`subscriptions/${subscription.id}`);

    aliasArn = `arn:aws:lambda:us-east-1:123456789012:function:${CONSUMER}:${subscription.id}`;

    // What reached the Lambda API: signed requests for exactly one alias and one mapping.
    expect(lambdaApi.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      `POST /2015-03-31/functions/${CONSUMER}/aliases`,
      "POST /2015-03-31/event-source-mappings",
    ]);
    for (const c of lambdaApi.calls) {
      expect(c.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDDEPLOYTEST\/\d{8}\/us-east-1\/lambda\/aws4_request/,
      );
    }
    const [aliasCall, mappingCall] = lambdaApi.calls;
    expect(aliasCall?.body).toMatchObject({ Name: subscription.id, FunctionVersion: "$LATEST" });
    expect(mappingCall?.body).toMatchObject({
      FunctionName: aliasArn,
      EventSourceArn: CLUSTER_ARN,
      Topics: ["orders"],
      StartingPosition: "TRIM_HORIZON",
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: subscription.id },
    });

    const listed = await call("GET", "/subscriptions");
    expect(listed.statusCode).toBe(200);
    expect(listed.json.subscriptions).toEqual([
      expect.objectContaining({
        id: subscription.id,
        source: "kafka://demo/orders",
        sink: "service://Orders/add",
      }),
    ]);
  });

  it("consumer: delivers the msk-basic batch through the subscription's alias, in key order", async () => {
    const event = loadEvent("msk-basic");
    const response = await consumer(event, {
      invokedFunctionArn: aliasArn,
      getRemainingTimeInMillis: () => 60_000,
    });
    expect(response?.batchItemFailures ?? []).toEqual([]);

    const expected = Object.values(event.records as Record<string, Array<Record<string, unknown>>>)
      .flat()
      .map((r) => ({
        key: Buffer.from(String(r.key), "base64").toString("utf8"),
        offset: Number(r.offset),
        partition: Number(r.partition),
        value: JSON.parse(Buffer.from(String(r.value), "base64").toString("utf8")),
      }));
    expect(sink.requests).toHaveLength(expected.length);
    for (const record of expected) {
      const request = sink.requests.find(
        (q) =>
          q.headers["kafka.partition"] === String(record.partition) &&
          q.headers["kafka.offset"] === String(record.offset),
      );
      expect(request, `record ${record.partition}/${record.offset}`).toBeDefined();
      expect(request?.method).toBe("POST");
      expect(request?.path).toBe(`/Orders/${encodeURIComponent(record.key)}/add`);
      expect(request?.headers["kafka.topic"]).toBe("orders");
      expect(request?.headers["restate.subscription.id"]).toBe(subscription.id);
      expect(request?.headers["idempotency-key"]).toContain(subscription.id);
      expect(JSON.parse(request?.body.toString("utf8") ?? "")).toEqual(record.value);
    }
    // Exclusive handler of a virtual object: each key's records arrive in offset order.
    const byKey = new Map<string, number[]>();
    for (const q of sink.requests) {
      const key = q.path.split("/")[2] ?? "";
      byKey.set(key, [...(byKey.get(key) ?? []), Number(q.headers["kafka.offset"])]);
    }
    for (const offsets of byKey.values()) {
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  });

  it("consumer: refuses a batch sent to the bare function (only subscription aliases feed it)", async () => {
    const before = sink.requests.length;
    await expect(
      consumer(loadEvent("msk-basic"), {
        invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${CONSUMER}`,
        getRemainingTimeInMillis: () => 60_000,
      }),
    ).rejects.toThrow(/invoked without a subscription alias/);
    expect(sink.requests.length).toBe(before);
  });

  it("admin: DELETE /subscriptions/{id} removes the mapping and the alias", async () => {
    const [uuid] = [...lambdaApi.mappings.keys()];
    const deleted = await call("DELETE", `/subscriptions/${subscription.id}`);
    expect(deleted.statusCode).toBe(202);
    expect(lambdaApi.calls.slice(2).map((c) => `${c.method} ${c.path}`)).toEqual([
      `DELETE /2015-03-31/event-source-mappings/${uuid}`,
      `DELETE /2015-03-31/functions/${CONSUMER}/aliases/${subscription.id}`,
    ]);
    expect(lambdaApi.mappings.size).toBe(0);
    expect(lambdaApi.aliases.size).toBe(0);
    const gone = await call("GET", `/subscriptions/${subscription.id}`);
    expect(gone.statusCode).toBe(404);
  });
  it("admin: replays a dead letter to a service with auth by invoking the consumer, which adds the token", async () => {
    // Registering it asks the consumer bundle whether the token may go to the endpoint.
    const elsewhere = await call("POST", "/services", {
      name: "Elsewhere",
      type: "service",
      endpoint: "https://ingress.elsewhere.example",
      handlers: { add: {} },
      auth: { bearer_token_secret: TOKEN_ARN },
    });
    expect(elsewhere.statusCode).toBe(400);
    expect(elsewhere.json.message).toContain(
      `the token in ${TOKEN_ARN} is not bound to https://ingress.elsewhere.example`,
    );
    const service = await call("POST", "/services", {
      name: "Secured",
      type: "virtual_object",
      endpoint: sink.url,
      handlers: { add: {} },
      auth: { bearer_token_secret: TOKEN_ARN },
    });
    expect(service.statusCode).toBe(201);
    const created = await call("POST", "/subscriptions", {
      source: "kafka://demo/payments",
      sink: "service://Secured/add",
    });
    expect(created.statusCode).toBe(201);
    const id = created.json.id as string;
    // A letter as the consumer parks it after its retries ran out; 1.2 MB, so it is stored in
    // chunks and read whole by the consumer bundle.
    const value = JSON.stringify({ amount: 5, blob: "b".repeat(1_200_000) });
    const partitionId = "payments-0";
    await new DynamoDeadLetterStore(dynamoClient(dynamo.endpoint), TABLE).park([
      exhaustedPaymentLetter(id, value),
    ]);
    sink.requests.length = 0;
    const callsBefore = lambdaApi.calls.length;

    const replayed = await call("POST", `/subscriptions/${id}/dead-letters/replay`, { all: true });
    expect(replayed.statusCode).toBe(200);
    expect(replayed.json).toMatchObject({ replayed: 1, failed: 0, remaining: 0 });

    expect(sink.requests.map((q) => [q.path, q.headers["kafka.offset"]])).toEqual([
      ["/Secured/k1/add", "42"],
    ]);
    expect(sink.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sink.requests[0]?.headers["idempotency-key"]).toMatch(
      new RegExp(`^${id}/payments/0/42/[0-9a-f]{8}$`),
    );
    expect(sink.requests[0]?.body.toString("utf8")).toBe(value);
    // The admin bundle invoked the consumer (a check, then a batch naming the letter), signed; the consumer
    // bundle read the token, signed; the token never went through the admin's requests.
    const invokes = lambdaApi.calls.slice(callsBefore);
    expect(invokes.map((c) => `${c.method} ${c.path}`)).toEqual([
      `POST /2015-03-31/functions/${CONSUMER}/invocations`,
      `POST /2015-03-31/functions/${CONSUMER}/invocations`,
    ]);
    for (const c of invokes) {
      expect(c.authorization).toMatch(/Credential=AKIDDEPLOYTEST\/\d{8}\/us-east-1\/lambda\//);
      expect(JSON.stringify(c.body)).not.toContain(TOKEN);
    }
    expect(invokes[1]?.body).toEqual({
      command: "kafka-ingress.replay",
      subscriptionId: id,
      letters: [{ partitionId, offset: 42 }],
      ordered: true,
      budgetMs: expect.any(Number),
      requestTimeoutMs: 10_000,
    });
    expect(invokes[1]?.body?.budgetMs).toBeLessThanOrEqual(20_000);
    // Read afresh for each registration check; the replay used the consumer's cached value.
    const read = {
      target: "secretsmanager.GetSecretValue",
      secretId: TOKEN_ARN,
      body: { SecretId: TOKEN_ARN },
      authorization: expect.stringMatching(
        /Credential=AKIDDEPLOYTEST\/\d{8}\/us-east-1\/secretsmanager\//,
      ),
    };
    expect(
      secretsManager.calls.filter((c) => c.target === "secretsmanager.GetSecretValue"),
    ).toEqual([read, read]);
  });
  it("admin: takes a Kafka secret only with the brokers its tags bind it to (DescribeSecret, signed)", async () => {
    const properties = {
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "aws.secrets.manager.arn": KAFKA_SECRET_ARN,
    };
    const aimed = await call("POST", "/kafka-clusters", {
      name: "aimed",
      properties: { ...properties, "bootstrap.servers": "kafka.attacker.example:9096" },
    });
    expect(aimed.statusCode).toBe(400);
    expect(aimed.json.message).toContain(
      `secret ${KAFKA_SECRET_ARN} is not bound to kafka.attacker.example:9096`,
    );
    const bound = await call("POST", "/kafka-clusters", {
      name: "scram",
      properties: { ...properties, "bootstrap.servers": "b-1.kafka.internal:9096" },
    });
    expect(bound.statusCode).toBe(201);
    const described = secretsManager.calls.filter((c) => c.secretId === KAFKA_SECRET_ARN);
    expect(described.map((c) => c.target)).toEqual([
      "secretsmanager.DescribeSecret",
      "secretsmanager.DescribeSecret",
    ]);
    for (const c of described) {
      expect(c.authorization).toMatch(
        /Credential=AKIDDEPLOYTEST\/\d{8}\/us-east-1\/secretsmanager\//,
      );
    }
    expect((await call("DELETE", "/kafka-clusters/scram")).statusCode).toBe(202);
  });

  it("admin: keeps clear SASL credentials in a secret it creates (signed CreateSecret), deletes it with the cluster", async () => {
    const password = "deploy-test-scram-password-7f3a";
    const created = await call("POST", "/kafka-clusters", {
      name: "given",
      properties: {
        "bootstrap.servers": "b-9.kafka.internal:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ingress",
        "sasl.password": password,
      },
    });
    expect(created.statusCode).toBe(201);
    const arn = String(created.json.properties["aws.secrets.manager.arn"]);
    expect(arn).toMatch(
      /^arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-lambda-ingress\/kafka-ingress-dev\/kafka-clusters\/given\/[0-9a-f]{12}-/,
    );
    expect(created.body).not.toContain(password);
    const create = secretsManager.calls.find((c) => c.target === "secretsmanager.CreateSecret");
    expect(create?.authorization).toMatch(
      /Credential=AKIDDEPLOYTEST\/\d{8}\/us-east-1\/secretsmanager\//,
    );
    expect(secretsManager.secrets.get(arn)).toBe(JSON.stringify({ username: "ingress", password }));
    expect(secretsManager.tags.get(arn)).toEqual({
      "kafka-lambda-ingress:brokers": "b-9.kafka.internal:9096",
    });
    expect((await call("DELETE", "/kafka-clusters/given")).statusCode).toBe(202);
    expect(secretsManager.calls.at(-1)).toMatchObject({
      target: "secretsmanager.DeleteSecret",
      body: { SecretId: arn, ForceDeleteWithoutRecovery: true },
    });
    expect(secretsManager.secrets.has(arn)).toBe(false);
  });
});
