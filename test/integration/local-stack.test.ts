// The first slice as a user meets it: the local stack's admin API, then `npm run invoke` on a
// batch with many keys over two partitions, delivered to a real HTTP sink.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { type RecordSpec, selfManagedEvent } from "../helpers/kafka-events.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";

const run = promisify(execFile);
const bootstrapServers = "127.0.0.1:19092,127.0.0.1:19093";

let dataDir: string;
let stack: LocalStack;
let sink: RecordingSink;
const failingKey = "key-07";
const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:local-token";
const TOKEN = "local_0123456789";
const savedLocalSecrets = process.env.LOCAL_SECRETS;
/** LOCAL_SECRETS binding the token to the sink's origin. */
const boundSecrets = () => JSON.stringify({ [TOKEN_ARN]: { token: TOKEN, endpoints: [sink.url] } });
const sinkLatencyMs = 20;

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.adminUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? JSON.parse(text) : undefined,
  };
}

async function invoke(event: unknown, subscriptionId?: string, env: NodeJS.ProcessEnv = {}) {
  const eventPath = join(dataDir, `event-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(eventPath, JSON.stringify(event));
  const args = ["src/local/invoke.ts", eventPath, "--data-dir", dataDir];
  if (subscriptionId) args.push("--subscription", subscriptionId);
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: process.cwd(),
      env: { ...process.env, ...env },
    });
    const lines = stdout.trim().split("\n");
    return { code: 0, response: JSON.parse(lines.at(-1) ?? ""), stderr };
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, response: undefined, stderr: failure.stderr };
  }
}

/** 20 keys spread over two partitions, 10 records each, interleaved as a producer would. */
function counterRecords(topic: string): RecordSpec[] {
  const records: RecordSpec[] = [];
  const nextOffset = [0, 0];
  for (let round = 0; round < 10; round++) {
    for (let k = 0; k < 20; k++) {
      const partition = k % 2;
      const offset = nextOffset[partition] ?? 0;
      nextOffset[partition] = offset + 1;
      const key = `key-${String(k).padStart(2, "0")}`;
      records.push({
        topic,
        partition,
        offset,
        key,
        value: JSON.stringify({ key, round }),
        headers: { trace: `t-${offset}` },
      });
    }
  }
  return records;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "local-stack-"));
  sink = await startRecordingSink((request) => ({
    status: request.path.includes(`/${failingKey}/`) ? 500 : 200,
    delayMs: sinkLatencyMs,
  }));
  // The stack's admin checks a token's binding from LOCAL_SECRETS, as the consumer does.
  process.env.LOCAL_SECRETS = boundSecrets();
  stack = await startLocalStack({ dataDir, port: 0, consumeKafka: false, log: () => {} });
});

afterAll(async () => {
  if (savedLocalSecrets === undefined) delete process.env.LOCAL_SECRETS;
  else process.env.LOCAL_SECRETS = savedLocalSecrets;
  await stack?.close();
  await sink?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("local stack", () => {
  let counterSubscription: string;
  let partialSubscription: string;

  it("registers a cluster, services and subscriptions with the reference doc's bodies", async () => {
    expect(
      (
        await api("POST", "/kafka-clusters", {
          name: "my-cluster",
          properties: { "bootstrap.servers": bootstrapServers },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api("POST", "/services", {
          name: "Counter",
          type: "virtual_object",
          endpoint: sink.url,
          handlers: { add: {} },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api("POST", "/services", {
          name: "MyService",
          type: "service",
          endpoint: sink.url,
          handlers: { handle: {} },
        })
      ).status,
    ).toBe(201);

    const created = await api("POST", "/subscriptions", {
      source: "kafka://my-cluster/my-topic",
      sink: "service://MyService/handle",
      options: { "auto.offset.reset": "earliest" },
    });
    expect(created.status).toBe(201);
    expect(created.json.id).toMatch(/^sub_[0-9A-Za-z]+$/);
    expect(created.headers.get("location")).toBe(`subscriptions/${created.json.id}`);

    const counter = await api("POST", "/subscriptions", {
      source: "kafka://my-cluster/counters",
      sink: "service://Counter/add",
    });
    expect(counter.status).toBe(201);
    counterSubscription = counter.json.id;
    const partial = await api("POST", "/subscriptions", {
      source: "kafka://my-cluster/counters-partial",
      sink: "service://Counter/add",
      options: { "lambda.report.batch.item.failures": "true" },
    });
    expect(partial.status).toBe(201);
    partialSubscription = partial.json.id;
  });

  it("delivers every record once, in key order, many keys at a time", async () => {
    sink.requests.length = 0;
    const records = counterRecords("counters").filter((r) => r.key !== failingKey);
    const result = await invoke(selfManagedEvent(bootstrapServers, records), counterSubscription);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    expect(result.response).toBeNull();

    expect(sink.requests).toHaveLength(records.length);
    for (const record of records) {
      const matching = sink.requests.filter(
        (r) =>
          r.headers["kafka.partition"] === String(record.partition) &&
          r.headers["kafka.offset"] === String(record.offset),
      );
      expect(matching).toHaveLength(1);
      const request = matching[0];
      expect(request?.method).toBe("POST");
      expect(request?.path).toBe(`/Counter/${record.key}/add`);
      expect(request?.headers["restate.subscription.id"]).toBe(counterSubscription);
      expect(request?.headers["kafka.topic"]).toBe("counters");
      expect(request?.headers["kafka.key"]).toBe(
        Buffer.from(record.key as string).toString("base64"),
      );
      expect(request?.headers["kafka.timestamp"]).toBe(String(1_700_000_000_000 + record.offset));
      expect(request?.headers["idempotency-key"]).toBeTruthy();
      expect(request?.headers["content-type"]).toBe("application/json");
      expect(request?.body.toString()).toBe(record.value);
    }
    const idempotencyKeys = new Set(sink.requests.map((r) => r.headers["idempotency-key"]));
    expect(idempotencyKeys.size).toBe(records.length);

    const offsetsByKey = new Map<string, number[]>();
    for (const request of sink.requests) {
      const key = request.path.split("/")[2] ?? "";
      offsetsByKey.set(key, [
        ...(offsetsByKey.get(key) ?? []),
        Number(request.headers["kafka.offset"]),
      ]);
    }
    for (const offsets of offsetsByKey.values()) {
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    // Many keys at a time, as the sink counts it rather than the clock (how fast is the
    // benchmark's question): requests of several keys in flight together, never two of one key.
    expect(sink.maxInFlight()).toBeGreaterThanOrEqual(10);
    expect(sink.maxInFlightPerPath()).toBe(1);
  });

  it("keeps other keys flowing when one key fails and reports the lowest undelivered offset per partition", async () => {
    sink.requests.length = 0;
    const records = counterRecords("counters-partial");
    const result = await invoke(selfManagedEvent(bootstrapServers, records), partialSubscription);
    expect(result.code).toBe(0);

    const failing = records.filter((r) => r.key === failingKey);
    const firstFailing = failing[0] as RecordSpec;
    expect(result.response).toEqual({
      batchItemFailures: [
        {
          itemIdentifier: {
            partition: `counters-partial-${firstFailing.partition}`,
            offset: firstFailing.offset,
          },
        },
      ],
    });
    const delivered = sink.requests.filter((r) => !r.path.includes(`/${failingKey}/`));
    expect(delivered).toHaveLength(records.length - failing.length);
    const failingAttempts = sink.requests.filter((r) => r.path.includes(`/${failingKey}/`));
    expect(failingAttempts.length).toBeGreaterThan(0);
    expect(new Set(failingAttempts.map((r) => r.headers["kafka.offset"]))).toEqual(
      new Set([String(firstFailing.offset)]),
    );
  });

  it("throws without partial batch responses, so that the event source retries the batch", async () => {
    const records = counterRecords("counters").filter((r) => r.key === failingKey);
    const result = await invoke(selfManagedEvent(bootstrapServers, records), counterSubscription);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/retry|undelivered|failed/i);
  });

  it("resolves a service's bearer token secret from LOCAL_SECRETS, sends it only where it is bound, or fails the batch clearly", async () => {
    const arn = TOKEN_ARN;
    const token = TOKEN;
    const service = await api("POST", "/services", {
      name: "Secured",
      type: "service",
      endpoint: sink.url,
      handlers: { handle: {} },
      auth: { bearer_token_secret: arn },
    });
    expect(service.status).toBe(201);
    // The local admin checks the binding too: another origin is refused, naming the rule.
    const elsewhere = sink.url.replace(/:(\d+)$/, (_, port) => `:${Number(port) + 1}`);
    const moved = await api("PATCH", "/services/Secured", { endpoint: elsewhere });
    expect(moved.status).toBe(400);
    expect(moved.json.message).toContain(
      `the token in ${arn} is not bound to ${new URL(elsewhere).origin}; add the origin to the secret's "endpoints"`,
    );
    const created = await api("POST", "/subscriptions", {
      source: "kafka://my-cluster/secured",
      sink: "service://Secured/handle",
    });
    expect(created.status).toBe(201);
    const records: RecordSpec[] = [
      { topic: "secured", partition: 0, offset: 1, key: null, value: '{"n":1}' },
    ];
    const event = selfManagedEvent(bootstrapServers, records);

    sink.requests.length = 0;
    const missing = await invoke(event, created.json.id, { LOCAL_SECRETS: "" });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`secret ${arn} is not in LOCAL_SECRETS`);
    expect(sink.requests).toHaveLength(0);

    // A bare token (the old format) is bound to nothing: the record is terminal (dead-lettered
    // with the rule as its reason), nothing is sent.
    const bare = await invoke(event, created.json.id, {
      LOCAL_SECRETS: JSON.stringify({ [arn]: token }),
    });
    expect(bare.code).toBe(0);
    expect(sink.requests).toHaveLength(0);
    expect(bare.stderr).not.toContain(token);
    const letters = await api("GET", `/subscriptions/${created.json.id}/dead-letters`);
    expect(letters.json.dead_letters.map((l: { reason: string }) => l.reason)).toEqual([
      `the token in ${arn} is bound to no endpoint, so it is not sent to ${new URL(sink.url).origin}: ` +
        `store the secret as {"token": "...", "endpoints": ["https://host[:port][/prefix]"]} naming ${new URL(sink.url).origin}`,
    ]);
    expect(JSON.stringify(letters.json)).not.toContain(token);

    // Once the secret is bound (the stack's LOCAL_SECRETS), the letter replays with the token.
    const replayed = await api("POST", `/subscriptions/${created.json.id}/dead-letters/replay`, {
      all: true,
    });
    expect(replayed.json).toMatchObject({ replayed: 1, failed: 0 });
    const next = selfManagedEvent(bootstrapServers, [{ ...records[0], offset: 2 } as RecordSpec]);
    const ok = await invoke(next, created.json.id, { LOCAL_SECRETS: boundSecrets() });
    expect(ok.code).toBe(0);
    expect(sink.requests.map((r) => [r.headers["kafka.offset"], r.headers.authorization])).toEqual([
      ["1", `Bearer ${token}`],
      ["2", `Bearer ${token}`],
    ]);
    expect(ok.stderr).not.toContain(token);

    // leave the stack as the later tests expect it
    expect((await api("DELETE", `/subscriptions/${created.json.id}`)).status).toBe(202);
    expect((await api("DELETE", "/services/Secured")).status).toBe(202);
  });

  it("refuses an API cluster naming a Kafka secret: there is no binding to read locally", async () => {
    const secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-prod";
    const response = await api("POST", "/kafka-clusters", {
      name: "aimed",
      properties: {
        "bootstrap.servers": "127.0.0.1:19099",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "aws.secrets.manager.arn": secret,
      },
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toBe(
      `Kafka cluster "aimed": credentials go only to the brokers their secret is bound to: the local stack has no Secrets Manager, so secret ${secret} is bound to no broker here: give "sasl.username" and "sasl.password" instead (through the API, or in the config file)`,
    );
  });

  it("finds the subscription by cluster and topic when no alias names it", async () => {
    sink.requests.length = 0;
    const records: RecordSpec[] = [
      { topic: "my-topic", partition: 0, offset: 5, key: null, value: '{"hello":"world"}' },
    ];
    const result = await invoke(selfManagedEvent("127.0.0.1:19093", records));
    expect(result.code).toBe(0);
    expect(sink.requests.map((r) => r.path)).toEqual(["/MyService/handle"]);
  });

  it("keeps its state across a restart", async () => {
    const before = await api("GET", "/subscriptions");
    await stack.close();
    stack = await startLocalStack({ dataDir, port: 0, consumeKafka: false, log: () => {} });
    const after = await api("GET", "/subscriptions");
    expect(after.status).toBe(200);
    expect(after.json.subscriptions).toHaveLength(3);
    expect(after.json).toEqual(before.json);
    expect((await api("GET", `/subscriptions/${counterSubscription}`)).json.sink).toBe(
      "service://Counter/add",
    );
  });

  it("keeps a paused subscription paused across a restart", async () => {
    const paused = await api("POST", `/subscriptions/${counterSubscription}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json.status).toBe("paused");
    await stack.close();
    const lines: string[] = [];
    stack = await startLocalStack({
      dataDir,
      port: 0,
      consumeKafka: false,
      log: (l) => lines.push(l),
    });
    const registered = lines
      .map((line) => JSON.parse(line) as { msg?: string; subscription?: string })
      .filter((entry) => entry.msg === "local mapping registered")
      .map((entry) => entry.subscription);
    expect(registered).toHaveLength(2);
    expect(registered).not.toContain(counterSubscription);
    expect((await api("GET", `/subscriptions/${counterSubscription}`)).json.status).toBe("paused");
    const resumed = await api("POST", `/subscriptions/${counterSubscription}/resume`);
    expect(resumed.json.status).toBe("active");
    expect(
      lines.some(
        (line) => line.includes("local mapping registered") && line.includes(counterSubscription),
      ),
    ).toBe(true);
  });

  it("a second stack on the same data dir or port is refused, saying why", async () => {
    // Another live process (this test's parent) holds a data dir: refused, naming it.
    const held = await mkdtemp(join(tmpdir(), "kafka-ingress-held-"));
    await writeFile(
      join(held, "stack.json"),
      JSON.stringify({
        adminUrl: "http://127.0.0.1:1",
        dynamodbEndpoint: "http://127.0.0.1:2",
        tableName: "t",
        pid: process.ppid,
      }),
    );
    await expect(startLocalStack({ dataDir: held, port: 0, log: () => {} })).rejects.toThrow(
      `a local stack (pid ${process.ppid}, admin API http://127.0.0.1:1) already uses ${held}`,
    );
    await rm(held, { recursive: true, force: true });

    // The running stack's port: refused with a hint.
    const port = Number(new URL(stack.adminUrl).port);
    const other = await mkdtemp(join(tmpdir(), "kafka-ingress-other-"));
    await expect(startLocalStack({ dataDir: other, port, log: () => {} })).rejects.toThrow(
      `127.0.0.1:${port} is already in use (another local stack?); stop it or start this one with --port`,
    );
    await rm(other, { recursive: true, force: true });
  });
});
