// The bundles `sam build` produced, run as Lambda's Node runtime runs them: AWS's Runtime Interface
// Emulator starts Node 24 with AWS's Runtime Interface Client, which loads `consumer.handler` /
// `admin.handler` and formats the logs, with what template.yaml gives each function (log format
// and level, memory, timeout, environment). Invoked over the emulator's endpoint on loopback,
// against dynalite, loopback sinks and the loopback Lambda and Secrets Manager fakes.
//
// Needs .aws-sam/build and the emulator and client (infra/runtime-tools.sh sets LAMBDA_RIE and
// LAMBDA_RIC). Without them the suite is skipped, unless REQUIRE_BUNDLES=1: then it fails.
import { existsSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LambdaEmulator,
  type RuntimeTools,
  runtimeTools,
  startEmulator,
} from "../../infra/lambda-runtime.ts";
import { type FunctionSettings, functionSettings, loadTemplate } from "../../infra/template.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { ensureTable } from "../../src/adapters/dynamo/ensure-table.ts";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "../../src/local/embedded-dynamodb.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { CLUSTER_ARN, loadEvent } from "../helpers/kafka-events.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";
import { apiEvent } from "./api-events.ts";
import { type FakeLambdaApi, startFakeLambdaApi } from "./fake-lambda-api.ts";
import { type FakeSecretsManager, startFakeSecretsManager } from "./fake-secrets-manager.ts";
import { exhaustedPaymentLetter } from "./letters.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const buildDir = join(root, ".aws-sam/build");
const built = existsSync(join(buildDir, "template.yaml"));
const found = runtimeTools();
const required = process.env.REQUIRE_BUNDLES === "1";

if (required && !built)
  throw new Error(`no SAM build in ${buildDir}: run infra/sam-check.sh first`);
if (required && "missing" in found) {
  throw new Error(
    `the runtime tier needs the Lambda runtime emulator and client: ${found.missing}`,
  );
}
const tools: RuntimeTools | undefined = "tools" in found ? found.tools : undefined;

const TABLE = "kafka-ingress-runtime-test";
const CONSUMER = "kafka-ingress-dev-ConsumerFunction-RtM24x";
const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sink-token-RtAbCd";
const TOKEN = "runtime-tier-bearer-token";
const SHORT_TIMEOUT_S = 8;

interface AdminAnswer {
  readonly status: number;
  readonly location: string | undefined;
  readonly json: unknown;
}

/** A sink that never answers requests for one object key; the rest get 200 at once. */
async function startHangingSink(hungKey: string) {
  const received: { path: string; partition: string; offset: number }[] = [];
  const answered: { partition: string; offset: number }[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const record = {
        partition: String(request.headers["kafka.partition"]),
        offset: Number(request.headers["kafka.offset"]),
      };
      received.push({ path: request.url ?? "", ...record });
      if ((request.url ?? "").includes(`/${hungKey}/`)) {
        held.push(response);
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
      answered.push(record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Every line the function wrote is JSON with a level: the runtime's wrapping of console output
 * (level from the console method, which must be the entry's own) or a line written to stdout
 * as is (the EMF metrics line). Returns the entries, unwrapped.
 */
function functionLogEntries(emulator: LambdaEmulator): Record<string, unknown>[] {
  return emulator.functionLines().map((line) => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (typeof parsed.requestId === "string" && "message" in parsed) {
      expect(parsed.level, line).toMatch(/^(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)$/);
      const inner =
        typeof parsed.message === "string"
          ? (JSON.parse(parsed.message) as Record<string, unknown>)
          : (parsed.message as Record<string, unknown>);
      expect(String(inner.level).toUpperCase(), line).toBe(parsed.level);
      return inner;
    }
    expect(typeof parsed.level, line).toBe("string");
    return parsed;
  });
}

/** The metrics lines CloudWatch would extract: EMF objects at the top level of a log event. */
function extractableMetrics(emulator: LambdaEmulator): Record<string, unknown>[] {
  return emulator
    .functionLines()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => {
      const aws = entry._aws as { CloudWatchMetrics?: { Namespace?: string }[] } | undefined;
      return aws?.CloudWatchMetrics?.[0]?.Namespace === "KafkaLambdaIngress";
    });
}

describe.skipIf(!built || tools === undefined)("built bundles under the Lambda runtime", () => {
  const runtime = tools as RuntimeTools;
  let dynamo: EmbeddedDynamoDb;
  let sink: RecordingSink;
  let hanging: Awaited<ReturnType<typeof startHangingSink>>;
  let lambdaApi: FakeLambdaApi;
  let secretsManager: FakeSecretsManager;
  let local: LocalStack;
  let admin: LambdaEmulator;
  let adminSettings: FunctionSettings;
  let consumerSettings: FunctionSettings;
  /** The consumer as invoked through its subscription's alias (replays come here too). */
  let consumer: LambdaEmulator | undefined;
  const emulators: LambdaEmulator[] = [];
  let account: Record<string, string>;

  const startFunction = async (
    settings: FunctionSettings,
    functionName: string,
  ): Promise<LambdaEmulator> => {
    const emulator = await startEmulator({
      tools: runtime,
      taskRoot: join(buildDir, settings.logicalId),
      settings,
      functionName,
      environment: account,
    });
    emulators.push(emulator);
    return emulator;
  };

  async function callAdmin(method: string, path: string, body?: unknown): Promise<AdminAnswer> {
    const result = await admin.invoke(apiEvent(method, path, body));
    expect(result.status).toBe(200);
    const response = result.json as {
      statusCode: number;
      headers?: Record<string, string>;
      body?: string;
    };
    return {
      status: response.statusCode,
      location: response.headers?.location,
      json: response.body ? JSON.parse(response.body) : undefined,
    };
  }

  async function callLocal(method: string, path: string, body?: unknown): Promise<AdminAnswer> {
    const response = await fetch(`${local.adminUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const text = await response.text();
    return {
      status: response.status,
      location: response.headers.get("location") ?? undefined,
      json: text ? JSON.parse(text) : undefined,
    };
  }

  async function subscribe(service: Record<string, unknown>, topic: string, options = {}) {
    expect((await callAdmin("POST", "/services", service)).status).toBe(201);
    const created = await callAdmin("POST", "/subscriptions", {
      source: `kafka://demo/${topic}`,
      sink: `service://${String(service.name)}/add`,
      options,
    });
    expect(created.status).toBe(201);
    return (created.json as { id: string }).id;
  }

  beforeAll(async () => {
    dynamo = await startEmbeddedDynamoDb();
    sink = await startRecordingSink(() => ({ status: 200, delayMs: 5 }));
    hanging = await startHangingSink("customer-4");
    // The token's secret binds it to the sink (a token goes only to the endpoints it names).
    secretsManager = await startFakeSecretsManager({
      [TOKEN_ARN]: JSON.stringify({ token: TOKEN, endpoints: [sink.url] }),
    });
    // Invoke (the admin's replays) runs the consumer function under the emulator.
    lambdaApi = await startFakeLambdaApi(async (_functionName, payload) => {
      if (consumer === undefined) throw new Error("the consumer function is not running");
      const result = await consumer.invoke(payload);
      const answer = result.json as { errorType?: string; errorMessage?: string } | null;
      if (answer?.errorType !== undefined) {
        throw Object.assign(new Error(answer.errorMessage), { name: answer.errorType });
      }
      return answer;
    });
    local = await startLocalStack({ port: 0, consumeKafka: false, log: () => {} });
    await ensureTable(
      new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
      TABLE,
    );
    // What the account gives every function: region, role credentials; and endpoints that keep
    // each AWS call on loopback. The rest comes from the built template.
    account = {
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDRUNTIMETEST",
      AWS_SECRET_ACCESS_KEY: "runtime-test-secret",
      AWS_SESSION_TOKEN: "runtime-test-session",
      AWS_ENDPOINT_URL_LAMBDA: lambdaApi.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
    };
    const template = loadTemplate(join(buildDir, "template.yaml"));
    const ctx = {
      resources: { Table: TABLE, ConsumerFunction: CONSUMER },
      parameters: { DynamoDbEndpoint: dynamo.endpoint },
    };
    adminSettings = functionSettings(template, "AdminFunction", ctx);
    consumerSettings = functionSettings(template, "ConsumerFunction", ctx);
    admin = await startFunction(adminSettings, "kafka-ingress-dev-AdminFunction-RtM24x");
  });

  afterAll(async () => {
    for (const emulator of emulators) await emulator.close();
    await local?.close();
    await sink?.close();
    await hanging?.close();
    await lambdaApi?.close();
    await secretsManager?.close();
    await dynamo?.close();
  });

  it("runs what the template says: nodejs24.x, JSON logs at INFO, the handlers sam build wrote", () => {
    for (const settings of [adminSettings, consumerSettings]) {
      expect(settings.runtime).toBe("nodejs24.x");
      expect(settings.logFormat).toBe("JSON");
      expect(settings.applicationLogLevel).toBe("INFO");
      expect(settings.environment.TABLE_NAME).toBe(TABLE);
      expect(settings.environment.DYNAMODB_ENDPOINT).toBe(dynamo.endpoint);
    }
    expect(adminSettings).toMatchObject({ handler: "admin.handler", timeoutSeconds: 29 });
    expect(adminSettings.environment.CONSUMER_FUNCTION_NAME).toBe(CONSUMER);
    expect(consumerSettings).toMatchObject({ handler: "consumer.handler", memoryMb: 1024 });
  });

  it("admin: create, list, get and delete answer as the local stack does", async () => {
    // Ids and times differ, and so does what feeds a subscription: an alias and an event source
    // mapping on AWS, the local event source locally (checked below).
    const normalise = (answer: AdminAnswer, id: string | undefined) =>
      JSON.parse(
        JSON.stringify(answer)
          .replaceAll(id ?? "\0", "<id>")
          .replace(/"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"/g, '"<time>"')
          .replace(/"feed":\{[^}]*\}/g, '"feed":"<feed>"'),
      );
    let adminId: string | undefined;
    let localId: string | undefined;
    const both = async (method: string, path: (id: string) => string, body?: unknown) => {
      const onAws = await callAdmin(method, path(adminId ?? ""), body);
      const onLocal = await callLocal(method, path(localId ?? ""), body);
      adminId ??= (onAws.json as { id?: string } | undefined)?.id;
      localId ??= (onLocal.json as { id?: string } | undefined)?.id;
      expect(normalise(onAws, adminId), `${method} ${path("{id}")}`).toEqual(
        normalise(onLocal, localId),
      );
      return onAws;
    };
    const cluster = { name: "demo", properties: { "aws.msk.cluster.arn": CLUSTER_ARN } };
    expect((await both("POST", () => "/kafka-clusters", cluster)).status).toBe(201);
    const service = {
      name: "Compared",
      type: "virtual_object",
      endpoint: sink.url,
      handlers: { add: {} },
    };
    expect((await both("POST", () => "/services", service)).status).toBe(201);
    const created = await both("POST", () => "/subscriptions", {
      source: "kafka://demo/compared",
      sink: "service://Compared/add",
      options: { "auto.offset.reset": "earliest" },
    });
    expect(created).toMatchObject({
      status: 201,
      location: `subscriptions/${adminId}`,
      json: {
        feed: {
          kind: "aws",
          functionAliasArn: `arn:aws:lambda:us-east-1:123456789012:function:${CONSUMER}:${adminId}`,
          eventSourceMappingUuid: [...lambdaApi.mappings.keys()][0],
        },
      },
    });
    expect(adminId).toMatch(/^sub_[0-9A-Za-z]+$/);
    expect((await both("GET", () => "/subscriptions")).status).toBe(200);
    expect((await both("GET", (id) => `/subscriptions/${id}`)).status).toBe(200);
    expect((await both("GET", () => "/kafka-clusters/demo")).status).toBe(200);
    expect((await both("GET", () => "/services")).status).toBe(200);
    const refused = await both("POST", () => "/subscriptions", {
      source: "kafka://nowhere/orders",
      sink: "service://Compared/add",
    });
    expect(refused.status).toBe(400);
    expect((await both("DELETE", (id) => `/subscriptions/${id}`)).status).toBe(202);
    expect((await both("GET", (id) => `/subscriptions/${id}`)).status).toBe(404);
    expect((await both("DELETE", () => "/services/Compared")).status).toBe(202);
    functionLogEntries(admin);
  }, 60_000);

  it("consumer: delivers a batch end to end; every log line is JSON with a level; the metrics line is extractable EMF", async () => {
    const id = await subscribe(
      { name: "Orders", type: "virtual_object", endpoint: sink.url, handlers: { add: {} } },
      "orders",
    );
    consumer = await startFunction(consumerSettings, `${CONSUMER}:${id}`);
    const result = await consumer.invoke(loadEvent("msk-basic"));
    expect(result.status).toBe(200);
    expect(result.json ?? null).toBeNull();
    const delivered = sink.requests.filter((q) => q.headers["restate.subscription.id"] === id);
    expect(
      delivered.map((q) => `${q.headers["kafka.partition"]}/${q.headers["kafka.offset"]}`).sort(),
    ).toEqual(["0/100", "0/101", "0/102", "0/103", "0/104", "1/200", "1/201", "1/202", "1/203"]);

    const entries = functionLogEntries(consumer);
    expect(entries.map((e) => e.msg)).toContain("batch processed");
    const metrics = extractableMetrics(consumer);
    expect(metrics).toHaveLength(1);
    // Published per function too: what the template's alarms on our metrics read.
    expect(metrics[0]).toMatchObject({
      FunctionName: CONSUMER,
      Subscription: id,
      Delivered: 9,
      Failed: 0,
      DeadLettered: 0,
      SinkUnavailable: 0,
      _aws: { CloudWatchMetrics: [{ Dimensions: expect.arrayContaining([["FunctionName"]]) }] },
    });
    // Lambda's platform lines: one report per invocation, with the template's memory size.
    expect(consumer.reports()).toEqual([
      expect.objectContaining({ memorySizeMb: consumerSettings.memoryMb }),
    ]);
    expect(consumer.initDurationMs()).toBeGreaterThan(0);
  }, 60_000);

  it("consumer: a hanging sink under a short timeout still gets a correct partial batch response in time", async () => {
    const id = await subscribe(
      { name: "Hanging", type: "virtual_object", endpoint: hanging.url, handlers: { add: {} } },
      "orders",
      { "lambda.report.batch.item.failures": "true" },
    );
    const short = await startFunction(
      { ...consumerSettings, timeoutSeconds: SHORT_TIMEOUT_S },
      `${CONSUMER}:${id}`,
    );
    const result = await short.invoke(loadEvent("msk-basic"));
    expect(result.body).not.toMatch(/timed out/i);
    expect(result.status).toBe(200);
    // customer-4's first record (orders-1, 200) hangs: its partition resumes there.
    expect(result.json).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: "orders-1", offset: 200 } }],
    });
    const [report] = short.reports();
    expect(report?.durationMs).toBeLessThan(SHORT_TIMEOUT_S * 1000);
    // Nothing reported delivered that was not: what the event source will not resend (below the
    // reported offset, and all of orders-0) is exactly what the sink answered.
    const answered = hanging.answered.map((r) => `${r.partition}/${r.offset}`).sort();
    expect(answered).toEqual(["0/100", "0/101", "0/102", "0/103", "0/104", "1/201"]);
    // customer-4's later records waited behind the hanging one.
    expect(hanging.received.filter((r) => r.path.includes("/customer-4/"))).toEqual([
      { path: "/Hanging/customer-4/add", partition: "1", offset: 200 },
    ]);
    const entries = functionLogEntries(short);
    expect(entries.find((e) => e.msg === "batch processed")).toMatchObject({
      level: "warn",
      delivered: 6,
    });
    expect(extractableMetrics(short)).toEqual([
      expect.objectContaining({ Subscription: id, Delivered: 6 }),
    ]);
  }, 60_000);

  it("admin → consumer: a replay command delivers a dead letter, with the token the consumer read", async () => {
    const id = await subscribe(
      {
        name: "Secured",
        type: "virtual_object",
        endpoint: sink.url,
        handlers: { add: {} },
        auth: { bearer_token_secret: TOKEN_ARN },
      },
      "payments",
    );
    const value = JSON.stringify({ amount: 5 });
    await new DynamoDeadLetterStore(
      new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
      TABLE,
    ).park([exhaustedPaymentLetter(id, value)]);
    const before = consumer?.reports().length ?? 0;
    const replayed = await callAdmin("POST", `/subscriptions/${id}/dead-letters/replay`, {
      all: true,
    });
    expect(replayed).toMatchObject({ status: 200, json: { replayed: 1, failed: 0, remaining: 0 } });
    const request = sink.requests.find((q) => q.headers["restate.subscription.id"] === id);
    expect(request?.path).toBe("/Secured/k1/add");
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.body.toString("utf8")).toBe(value);
    // The check and the batch ran in the consumer function, under the emulator.
    expect((consumer?.reports().length ?? 0) - before).toBe(2);
    expect(secretsManager.calls.map((c) => c.secretId)).toEqual([TOKEN_ARN]);
    if (consumer) functionLogEntries(consumer);
    functionLogEntries(admin);
  }, 60_000);
});
