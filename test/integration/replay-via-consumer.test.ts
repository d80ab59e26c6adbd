// Replays and token checks as they run on AWS: the admin API (no access to sink tokens) invokes
// the consumer function through the Lambda API, naming batches of letters and the time each may
// take, or asking whether a service's token may go to its endpoint; the consumer reads the letters
// and the token from its own stores and delivers only where the token's secret binds it. The
// Lambda API is the only fake (aws-sdk-client-mock, exact Invoke requests asserted); its Invoke
// runs the real consumer function code, against dynalite and a real loopback sink.
import { InvokeCommand, type InvokeCommandInput, LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../../src/adapters/dynamo/progress-store.ts";
import { ConsumerFunctionReplay } from "../../src/adapters/lambda-replay.ts";
import { consumerFunctionTokenCheck } from "../../src/adapters/lambda-token-check.ts";
import { type AdminApi, createAdminApi } from "../../src/app/admin-api.ts";
import { consumerConfig } from "../../src/config.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { buildDeadLetter, parkedKeyId } from "../../src/core/dead-letters.ts";
import { SecretUnavailableError } from "../../src/core/errors.ts";
import { REPLAY_COMMAND } from "../../src/core/replay-command.ts";
import { credentialFromSecretString, type SecretResolver } from "../../src/core/secrets.ts";
import {
  encodeTokenCheckCommand,
  TOKEN_CHECK_COMMAND,
} from "../../src/core/token-check-command.ts";
import { createConsumerFunction } from "../../src/wiring/consumer.ts";
import { call, FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import {
  type RecordedRequest,
  type RecordingSink,
  type SinkReply,
  startRecordingSink,
} from "../helpers/recording-sink.ts";

const TOPIC = "orders";
const CONSUMER = "kafka-ingress-ConsumerFunction-AbC123";
const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token-AbCdEf";
const TOKEN = "restate-cloud-token-0123456789";
const NOW = 1_700_000_000_000;
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

let dynamo: TestDynamo;
let sink: RecordingSink;
let reply: (request: RecordedRequest) => SinkReply;
let letters: DynamoDeadLetterStore;
let api: AdminApi;
/** The admin API with a replay budget of `replayBudgetMs`. */
let apiWithBudget: (replayBudgetMs: number) => AdminApi;
let subId: string;
let tokenReadable: boolean;
/** The secret's `endpoints` (default: the sink's origin). */
let boundEndpoints: string[];
let invocation: number;
/** Invocations (1-based) the fake Lambda fails with a function error. */
let failingInvocations: Set<number>;
let catalog: DynamoAdminStore;
let consumer: ReturnType<typeof createConsumerFunction>;
const lambda = new LambdaClient({
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const lambdaMock = mockClient(lambda);

const invocations = (): Array<{ input: InvokeCommandInput; payload: Record<string, unknown> }> =>
  lambdaMock.commandCalls(InvokeCommand).map((c) => ({
    input: c.args[0].input,
    payload: JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)),
  }));

beforeAll(async () => {
  dynamo = await startTestDynamo();
  sink = await startRecordingSink((request) => reply(request));
});
afterAll(async () => {
  await sink.close();
  await dynamo.close();
});
afterEach(() => {
  lambdaMock.reset();
});

beforeEach(async () => {
  sink.requests.length = 0;
  reply = () => ({ status: 200 });
  tokenReadable = true;
  boundEndpoints = [sink.url];
  failingInvocations = new Set();
  const table = await dynamo.freshTable();
  const store = new DynamoAdminStore(dynamo.client, table);
  letters = new DynamoDeadLetterStore(dynamo.client, table);
  // The consumer function: may read the sink token.
  const secrets: SecretResolver = {
    resolve: async (ref) => {
      if (ref === TOKEN_ARN && tokenReadable) {
        return credentialFromSecretString(
          ref,
          JSON.stringify({ token: TOKEN, endpoints: boundEndpoints }),
        );
      }
      throw new SecretUnavailableError(ref, `cannot read secret ${ref} (AccessDeniedException)`);
    },
  };
  catalog = store;
  consumer = createConsumerFunction({
    catalog: store,
    config: consumerConfig({}),
    secrets,
    reliability: { deadLetters: letters, progress: new DynamoProgressStore(dynamo.client, table) },
    log: () => {},
  });
  invocation = 0;
  lambdaMock.on(InvokeCommand).callsFake(async (input: InvokeCommandInput) => {
    const event = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array));
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    invocation++;
    if (failingInvocations.has(invocation)) {
      return {
        StatusCode: 200,
        FunctionError: "Unhandled",
        Payload: encode({ errorType: "Runtime.OutOfMemory", errorMessage: "out of memory" }),
      };
    }
    const reply =
      event.command === TOKEN_CHECK_COMMAND
        ? await consumer.checkToken(event)
        : await consumer.replay(event);
    return { StatusCode: 200, Payload: encode(reply) };
  });
  // The admin function: no secrets at all, replays through the consumer function.
  const replay = new ConsumerFunctionReplay(lambda, CONSUMER, 2_000);
  apiWithBudget = (replayBudgetMs) =>
    createAdminApi({
      store,
      feeds: new FakeFeedControl(),
      maxBodyBytes: 64 * 1024,
      deadLetters: letters,
      progress: new DynamoProgressStore(dynamo.client, table),
      replayDelivery: (subscription) => replay.forSubscription(subscription),
      replayBudgetMs,
      sinkTokenCheck: consumerFunctionTokenCheck(lambda, CONSUMER),
      log: () => {},
    });
  api = apiWithBudget(20_000);
  const [cluster] = clustersFromConfigFile({
    ingress: { "kafka-clusters": [{ name: "my-cluster", brokers: ["PLAINTEXT://broker:9092"] }] },
  });
  if (cluster) await store.upsertConfigCluster(cluster);
  const service = await call(api, "POST", "/services", {
    name: "Orders",
    type: "virtual_object",
    endpoint: sink.url,
    handlers: { process: {} },
    auth: { bearer_token_secret: TOKEN_ARN },
  });
  expect(service.status).toBe(201);
  const created = await call(api, "POST", "/subscriptions", {
    source: `kafka://my-cluster/${TOPIC}`,
    sink: "service://Orders/process",
  });
  expect(created.status).toBe(201);
  subId = created.json.id;
  // Setting up asked the consumer to check the token binding: tests count from here.
  lambdaMock.resetHistory();
  invocation = 0;
  await letters.park([5, 6].map(keyLetter));
});

/** A letter of key k1 in partition 0, parking the key (the first one exhausted). */
function keyLetter(offset: number) {
  const partitionId = `${TOPIC}-0`;
  return buildDeadLetter({
    subscriptionId: subId,
    partitionId,
    record: {
      topic: TOPIC,
      partition: 0,
      offset,
      timestamp: NOW + offset,
      timestampType: "CREATE_TIME",
      key: utf8("k1"),
      value: utf8(`{"n":${offset}}`),
      headers: [["trace", new Uint8Array([0xff, 0x00, 0x41])]],
    },
    kind: offset === 5 ? "exhausted" : "parked-behind",
    reason: "HTTP 503",
    attempts: 3,
    firstFailedAt: NOW,
    parkedAt: NOW,
    parksKey: parkedKeyId(partitionId, utf8("k1")),
  });
}

const K1 = parkedKeyId(`${TOPIC}-0`, utf8("k1"));

const replayAll = () =>
  call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, { all: true });

describe("replay through the consumer function", () => {
  it("delivers with the token only the consumer may read, invoking it with exact requests", async () => {
    const response = await replayAll();
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ replayed: 2, failed: 0, remaining: 0 });

    expect(sink.requests.map((r) => [r.path, r.headers["kafka.offset"]])).toEqual([
      ["/Orders/k1/process", "5"],
      ["/Orders/k1/process", "6"],
    ]);
    for (const request of sink.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    }
    expect(sink.requests[0]?.headers["idempotency-key"]).toMatch(
      new RegExp(`^${subId}/${TOPIC}/0/5/[0-9a-f]{8}$`),
    );
    expect(sink.requests[0]?.headers["kafka.header-b64.trace"]).toBe(
      Buffer.from([0xff, 0x00, 0x41]).toString("base64"),
    );
    expect(sink.requests[0]?.body.toString()).toBe('{"n":5}');

    const calls = invocations();
    for (const { input } of calls) {
      expect(input.FunctionName).toBe(CONSUMER);
      expect(input.InvocationType).toBe("RequestResponse");
      expect(Object.keys(input).sort()).toEqual(["FunctionName", "InvocationType", "Payload"]);
    }
    // A check of the subscription's service, then one invocation naming both letters of the
    // key, in order, with the time it may take: the consumer reads the letters itself, so no
    // record content crosses the payload.
    expect(calls.map((c) => c.payload)).toEqual([
      { command: REPLAY_COMMAND, subscriptionId: subId, requestTimeoutMs: 2_000 },
      {
        command: REPLAY_COMMAND,
        subscriptionId: subId,
        requestTimeoutMs: 2_000,
        ordered: true,
        budgetMs: expect.any(Number),
        letters: [5, 6].map((offset) => ({ partitionId: `${TOPIC}-0`, offset })),
      },
    ]);
    const budgetMs = calls[1]?.payload.budgetMs as number;
    expect(Number.isInteger(budgetMs)).toBe(true);
    expect(budgetMs).toBeLessThanOrEqual(20_000);
    expect(budgetMs).toBeGreaterThan(15_000);
    // The token never travels through the admin side.
    expect(JSON.stringify(calls)).not.toContain(TOKEN);
    expect(JSON.stringify(response.json)).not.toContain(TOKEN);
  });

  it("a service with auth goes only to endpoints its token's secret names: POST and PATCH ask the consumer, 400 naming the rule", async () => {
    const elsewhere = "https://ingress.elsewhere.example";
    const registered = await call(api, "POST", "/services", {
      name: "Moved",
      type: "service",
      endpoint: elsewhere,
      handlers: { run: {} },
      auth: { bearer_token_secret: TOKEN_ARN },
    });
    const rule = `the token in ${TOKEN_ARN} is not bound to ${elsewhere}; add the origin to the secret's "endpoints"`;
    expect(registered.status).toBe(400);
    expect(registered.json.message).toBe(
      `invalid service: auth.bearer_token_secret: a token goes only to the endpoints its secret names: ${rule}`,
    );
    expect((await call(api, "GET", "/services/Moved")).status).toBe(404);

    const moved = await call(api, "PATCH", "/services/Orders", { endpoint: elsewhere });
    expect(moved.status).toBe(400);
    expect(moved.json.message).toContain(rule);
    expect((await call(api, "GET", "/services/Orders")).json.endpoint).toBe(sink.url);

    const calls = invocations();
    expect(calls.map((c) => c.input.FunctionName)).toEqual([CONSUMER, CONSUMER]);
    for (const { input, payload } of calls) {
      expect(Object.keys(input).sort()).toEqual(["FunctionName", "InvocationType", "Payload"]);
      expect(input.InvocationType).toBe("RequestResponse");
      expect(payload).toEqual({
        command: TOKEN_CHECK_COMMAND,
        secretRef: TOKEN_ARN,
        endpoint: elsewhere,
      });
    }
    expect(JSON.stringify([registered.json, moved.json])).not.toContain(TOKEN);

    // The secret's owner binds the new origin: now the move is accepted.
    boundEndpoints = [sink.url, elsewhere];
    expect((await call(api, "PATCH", "/services/Orders", { endpoint: elsewhere })).status).toBe(
      200,
    );

    // A secret the consumer cannot read is refused too, naming the ARN.
    tokenReadable = false;
    const unreadable = await call(api, "PATCH", "/services/Orders", { endpoint: sink.url });
    expect(unreadable.status).toBe(400);
    expect(unreadable.json.message).toContain(`cannot read secret ${TOKEN_ARN}`);
  });

  it("the consumer refuses token checks it cannot read (a bad ARN, a non-http endpoint)", async () => {
    for (const payload of [
      { command: TOKEN_CHECK_COMMAND, secretRef: TOKEN, endpoint: sink.url },
      { command: TOKEN_CHECK_COMMAND, secretRef: TOKEN_ARN, endpoint: "file:///etc/passwd" },
      { command: TOKEN_CHECK_COMMAND, secretRef: TOKEN_ARN },
    ]) {
      await expect(consumer.checkToken(payload)).rejects.toThrow(/^invalid token check: /);
    }
    expect(
      await consumer.checkToken(
        encodeTokenCheckCommand({ secretRef: TOKEN_ARN, endpoint: `${sink.url}/x` }),
      ),
    ).toEqual({ bound: true });
  });

  it("a replay to an endpoint the token is not bound to sends nothing and says why; the letters stay", async () => {
    const other = await startRecordingSink(() => ({ status: 200 }));
    try {
      // A service stored with an endpoint its token is not bound to (e.g. moved before the check).
      const current = await catalog.getService("Orders");
      if (current === undefined) throw new Error("service missing");
      await catalog.replaceService(current, { ...current, endpoint: other.url });
      const response = await replayAll();
      expect(response.status).toBe(200);
      expect(response.json).toMatchObject({ replayed: 0, failed: 1, remaining: 2 });
      expect(JSON.stringify(response.json.failures)).toContain(
        `the token in ${TOKEN_ARN} is not bound to ${new URL(other.url).origin}; add the origin to the secret's \\"endpoints\\"`,
      );
      expect(other.requests).toHaveLength(0);
      expect(sink.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it("answers 409 when the consumer cannot read the token either; the letters stay", async () => {
    tokenReadable = false;
    const response = await replayAll();
    expect(response.status).toBe(409);
    expect(response.json.message).toContain("authenticates with a bearer token");
    expect(response.json.message).toContain(TOKEN_ARN);
    expect(sink.requests).toHaveLength(0);
    const left = await call(api, "GET", `/subscriptions/${subId}/dead-letters`);
    expect(left.json.dead_letters).toHaveLength(2);
  });

  it("answers 502 when the consumer function fails the check; the letters stay", async () => {
    failingInvocations = new Set([1]);
    const response = await replayAll();
    expect(response.status).toBe(502);
    expect(sink.requests).toHaveLength(0);
    const left = await call(api, "GET", `/subscriptions/${subId}/dead-letters`);
    expect(left.json.dead_letters).toHaveLength(2);
  });

  it("a failed invocation for a batch stops the key at its first letter and says why", async () => {
    failingInvocations = new Set([2]); // the check, then the batch of letters 5 and 6
    const response = await replayAll();
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      replayed: 0,
      failed: 1,
      remaining: 2,
      failures: [{ partition: `${TOPIC}-0`, offset: 5 }],
    });
    expect(JSON.stringify(response.json.failures)).toContain("Runtime.OutOfMemory");
    expect(response.json.incomplete).toBeUndefined();
    const left = await call(api, "GET", `/subscriptions/${subId}/dead-letters`);
    expect(left.json.dead_letters.map((l: { offset: number }) => l.offset)).toEqual([5, 6]);
  });

  it("a failing letter stops the rest of its batch; the consumer answers per letter", async () => {
    reply = (request) =>
      request.headers["kafka.offset"] === "5" ? { status: 400 } : { status: 200 };
    const answer = await consumer.replay({
      command: REPLAY_COMMAND,
      subscriptionId: subId,
      ordered: true,
      budgetMs: 10_000,
      letters: [5, 6].map((offset) => ({ partitionId: `${TOPIC}-0`, offset })),
    });
    expect(answer).toEqual({
      results: [
        { partitionId: `${TOPIC}-0`, offset: 5, outcome: "failed", reason: "HTTP 400: {}" },
        { partitionId: `${TOPIC}-0`, offset: 6, outcome: "skipped" },
      ],
    });
    expect(sink.requests.map((r) => r.headers["kafka.offset"])).toEqual(["5"]);
  });

  it("a letter removed meanwhile is reported gone, not delivered", async () => {
    await letters.remove(subId, [{ partitionId: `${TOPIC}-0`, offset: 6 }]);
    const answer = await consumer.replay({
      command: REPLAY_COMMAND,
      subscriptionId: subId,
      letters: [{ partitionId: `${TOPIC}-0`, offset: 6 }],
    });
    expect(answer).toEqual({
      results: [{ partitionId: `${TOPIC}-0`, offset: 6, outcome: "gone" }],
    });
    expect(sink.requests).toHaveLength(0);
  });

  it("a consumer without a dead-letter store refuses commands naming a letter", async () => {
    const bare = createConsumerFunction({ catalog, config: consumerConfig({}), log: () => {} });
    expect(
      await bare.replay({
        command: REPLAY_COMMAND,
        subscriptionId: subId,
        letters: [{ partitionId: `${TOPIC}-0`, offset: 5 }],
      }),
    ).toEqual({ refused: "conflict", message: "this consumer has no dead-letter store" });
    expect(sink.requests).toHaveLength(0);
  });

  it("drains a key of many letters in batches over repeated calls, in offset order", async () => {
    // 130 letters: two pages, six batches; 20 ms each at the sink against a 1 s budget, so it
    // takes several calls, each carrying on where the last stopped.
    const offsets = Array.from({ length: 128 }, (_, i) => 7 + i);
    await letters.park(offsets.map(keyLetter));
    reply = () => ({ status: 200, delayMs: 20 });
    const budgeted = apiWithBudget(1_000);
    const answers = [];
    for (let round = 0; round < 20; round++) {
      const response = await call(budgeted, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
        key_id: K1,
      });
      expect(response.status).toBe(200);
      answers.push(response.json);
      if (!response.json.incomplete) break;
    }
    expect(answers.length).toBeGreaterThan(1);
    for (const answer of answers.slice(0, -1)) {
      expect(answer).toMatchObject({ failed: 0, incomplete: true, still_parked_keys: [K1] });
      expect(answer.replayed).toBeGreaterThan(0);
      expect(answer.cursor).toBeUndefined(); // a key: the same request again
    }
    expect(answers.at(-1)).toMatchObject({ failed: 0, remaining: 0, unparked_keys: [K1] });
    expect(answers.reduce((n, a) => n + a.replayed, 0)).toBe(130);
    const all = [5, 6, ...offsets];
    expect(sink.requests.map((r) => Number(r.headers["kafka.offset"]))).toEqual(all);
    expect(await letters.parkedKeys(subId, [`${TOPIC}-0`])).toEqual(new Set());

    // Every batch names up to 25 letters of the key, in offset order; none is named twice
    // once delivered, and each call's last batch is cut short at its deadline at worst.
    const batches = invocations()
      .map((c) => c.payload)
      .filter((p) => p.letters !== undefined);
    const named = batches.map((p) =>
      (p.letters as Array<{ partitionId: string; offset: number }>).map((l) => l.offset),
    );
    for (const batch of named) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(25);
      expect([...batch].sort((a, b) => a - b)).toEqual(batch);
    }
    expect(named[0]).toEqual(all.slice(0, 25));
    for (const p of batches) {
      expect(Object.keys(p).sort()).toEqual([
        "budgetMs",
        "command",
        "letters",
        "ordered",
        "requestTimeoutMs",
        "subscriptionId",
      ]);
      expect(p).toMatchObject({ command: REPLAY_COMMAND, subscriptionId: subId, ordered: true });
      expect(p.budgetMs as number).toBeLessThanOrEqual(1_000);
    }
  });

  it("a hanging sink: answers within its budget, the letters stay parked, incomplete", async () => {
    reply = () => ({ status: 200, delayMs: 3_000 });
    const budgeted = apiWithBudget(800);
    const started = Date.now();
    const response = await call(budgeted, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      key_id: K1,
    });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      replayed: 0,
      failed: 0,
      remaining: 2,
      unparked_keys: [],
      still_parked_keys: [K1],
      failures: [],
      incomplete: true,
    });
    expect(elapsed).toBeLessThan(800 + 1_500);
    const left = await call(api, "GET", `/subscriptions/${subId}/dead-letters`);
    expect(left.json.dead_letters.map((l: { offset: number }) => l.offset)).toEqual([5, 6]);
    expect(await letters.parkedKeys(subId, [`${TOPIC}-0`])).toEqual(new Set([K1]));
  });
});
