// SASL/PLAIN against a real Apache Kafka broker: the broker's client listener is SASL_PLAINTEXT;
// the local event source authenticates with the cluster's `sasl.*` properties and gets every
// record; with a wrong password it keeps retrying and its status never shows the password. And
// the local stack end to end: a cluster registered through its API with `sasl.username` /
// `sasl.password` consumes from the broker, also after a restart (the credentials kept in the
// data dir), into a service on loopback.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin, Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningKafka, startKafka } from "../../infra/local/kafka.ts";
import type { EsmKafkaEvent } from "../../src/local/kafka/batching.ts";
import {
  type LocalEventSource,
  startLocalEventSource,
} from "../../src/local/kafka/event-source.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";
import { waitUntil } from "../helpers/until.ts";

const TOPIC = "secured";
const RECORDS = 25;
const USER = "alice";
const PASSWORD = "alice-s3cret-pw";
const WRONG_PASSWORD = "definitely-wrong-pw-4711";

let kafka: RunningKafka | undefined;
const sources: LocalEventSource[] = [];

const until = waitUntil({ timeoutMs: 120_000, pollMs: 50 });

const clientSasl = () => ({ mechanism: "PLAIN" as const, username: USER, password: PASSWORD });

function start(
  id: string,
  password: string,
  invoke: (event: EsmKafkaEvent) => Promise<unknown>,
  logs: string[] = [],
): LocalEventSource {
  const source = startLocalEventSource({
    subscription: { id, topic: TOPIC, options: { "auto.offset.reset": "earliest" } },
    cluster: {
      name: "sasl",
      properties: {
        "bootstrap.servers": kafka?.bootstrapServers ?? "",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": USER,
        "sasl.password": password,
      },
    },
    invoke,
    log: (line) => logs.push(line),
    retry: { initialMs: 200, maxMs: 1_000 },
    statusRefreshMs: 500,
  });
  sources.push(source);
  return source;
}

beforeAll(async () => {
  const t0 = Date.now();
  kafka = await startKafka({
    log: (line) => console.log(line),
    sasl: { mechanism: "PLAIN", users: { [USER]: PASSWORD, bob: "bob-pw" } },
  });
  console.log(`SASL Kafka ready in ${Date.now() - t0} ms at ${kafka.bootstrapServers}`);
  expect(kafka.securityProtocol).toBe("SASL_PLAINTEXT");

  // Without credentials the listener refuses: a plain client gets no metadata.
  const anonymous = new Admin({
    clientId: "e2e-anonymous",
    bootstrapBrokers: [kafka.bootstrapServers],
    retries: 0,
    connectTimeout: 2_000,
    requestTimeout: 3_000,
  });
  await expect(anonymous.metadata({ topics: [] })).rejects.toThrow();
  await anonymous.close().catch(() => {});

  const admin = new Admin({
    clientId: "e2e-admin",
    bootstrapBrokers: [kafka.bootstrapServers],
    sasl: clientSasl(),
  });
  await admin.createTopics({ topics: [TOPIC], partitions: 2, replicas: 1 });
  await admin.close();
  const producer = new Producer({
    clientId: "e2e-producer",
    bootstrapBrokers: [kafka.bootstrapServers],
    sasl: clientSasl(),
    idempotent: true,
  });
  await producer.send({
    messages: Array.from({ length: RECORDS }, (_, n) => ({
      topic: TOPIC,
      key: Buffer.from(`k-${n % 5}`),
      value: Buffer.from(JSON.stringify({ n })),
    })),
  });
  await producer.close();
});

afterAll(async () => {
  for (const source of sources) await source.stop();
  await kafka?.stop();
});

describe("local event source on a SASL/PLAIN broker", () => {
  it("authenticates with sasl.username/sasl.password and delivers every record", async () => {
    const values: number[] = [];
    const source = start("sub_sasl_ok", PASSWORD, async (event) => {
      for (const records of Object.values(event.records)) {
        for (const r of records) {
          values.push(JSON.parse(Buffer.from(r.value ?? "", "base64").toString()).n as number);
        }
      }
      return {};
    });
    await until("all records delivered", () => values.length >= RECORDS);
    await until(
      "offsets committed",
      () =>
        source.status().partitions.reduce((n, p) => n + (p.committedOffset ?? 0), 0) === RECORDS,
    );
    expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
    expect(source.status().state).toBe("running");
  });

  it("with a wrong password: retries, delivers nothing, never reveals the password", async () => {
    let invoked = 0;
    const logs: string[] = [];
    const source = start(
      "sub_sasl_wrong",
      WRONG_PASSWORD,
      async () => {
        invoked++;
        return {};
      },
      logs,
    );
    await until(
      "an authentication error in the status",
      () => {
        const s = source.status();
        return (s.state === "retrying" || s.state === "failed") && s.lastError !== undefined;
      },
      60_000,
    );
    // Give it a few retry rounds.
    await new Promise((r) => setTimeout(r, 3_000));
    const status = source.status();
    console.log(`wrong password → state ${status.state}, lastError: ${status.lastError?.message}`);
    expect(["retrying", "failed"]).toContain(status.state);
    // The status names the cause, not only the group operation that hit it.
    expect(status.lastError?.message).toMatch(/authentication failed: check sasl\.\*/);
    expect(invoked).toBe(0);
    expect(status.recordsCompleted).toBe(0);
    expect(JSON.stringify(status)).not.toContain(WRONG_PASSWORD);
    for (const line of logs) expect(line).not.toContain(WRONG_PASSWORD);
    // The broker refused the credentials (not some other failure).
    expect(readFileSync(kafka?.logFile ?? "", "utf8")).toMatch(
      /Failed authentication with .*Invalid username or password/,
    );
  });
});

describe("local stack: a cluster registered through the API with sasl.username / sasl.password", () => {
  let work = "";
  let stack: LocalStack | undefined;
  let sink: RecordingSink | undefined;

  afterAll(async () => {
    await stack?.close();
    await sink?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(new URL(path, stack?.adminUrl), {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
  }

  const delivered = () =>
    (sink?.requests ?? []).map((r) => JSON.parse(r.body.toString("utf8")).n as number);

  it("consumes every record with them, and again after a restart", async () => {
    work = await mkdtemp(join(tmpdir(), "kafka-sasl-api-"));
    const dataDir = join(work, "data");
    sink = await startRecordingSink(() => ({ status: 200 }));
    stack = await startLocalStack({ dataDir, port: 0, log: () => {} });
    const cluster = await api("POST", "/kafka-clusters", {
      name: "sasl-api",
      properties: {
        "bootstrap.servers": kafka?.bootstrapServers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": USER,
        "sasl.password": PASSWORD,
      },
    });
    expect(cluster.status).toBe(201);
    expect(cluster.text).not.toContain(PASSWORD);
    expect(
      (
        await api("POST", "/services", {
          name: "Secured",
          type: "service",
          endpoint: sink.url,
          handlers: { take: {} },
        })
      ).status,
    ).toBe(201);
    const sub = await api("POST", "/subscriptions", {
      source: `kafka://sasl-api/${TOPIC}`,
      sink: "service://Secured/take",
      options: { "auto.offset.reset": "earliest" },
    });
    expect(sub.status).toBe(201);
    await until("every record delivered to the service", () => delivered().length >= RECORDS);
    expect([...delivered()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: RECORDS }, (_, i) => i),
    );
    expect(new Set(sink.requests.map((r) => r.path))).toEqual(new Set(["/Secured/take"]));
    // Committed before the restart, so that the restarted source starts after them.
    const committed = async () => {
      const status = (await api("GET", `/subscriptions/${sub.json.id}`)).json.feedStatus;
      return (status.partitions as { committedOffset?: number }[]).reduce(
        (n, p) => n + (p.committedOffset ?? 0),
        0,
      );
    };
    for (let round = 0; (await committed()) !== RECORDS; round++) {
      if (round > 600) throw new Error("offsets not committed within a minute");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Restarted from the same data dir, the subscription authenticates with the kept credentials.
    await stack.close();
    stack = await startLocalStack({ dataDir, port: 0, log: () => {} });
    const producer = new Producer({
      clientId: "e2e-producer-after-restart",
      bootstrapBrokers: [kafka?.bootstrapServers ?? ""],
      sasl: clientSasl(),
    });
    await producer.send({
      messages: [{ topic: TOPIC, key: Buffer.from("k-0"), value: Buffer.from('{"n":1000}') }],
    });
    await producer.close();
    await until("the record produced after the restart delivered", () =>
      delivered().includes(1000),
    );
    expect(delivered()).toHaveLength(RECORDS + 1);
    const feed = await api("GET", `/subscriptions/${sub.json.id}`);
    expect(feed.json.feedStatus.state).toBe("running");
    expect(feed.text).not.toContain(PASSWORD);
  });
});
