// Real Kafka in, real Restate out: Apache Kafka (KRaft, Maven jars), restate-server (npm binary)
// with a Restate TS SDK endpoint, and OUR local stack in a child process. Services are imported
// from Restate's admin API; two subscriptions on `tally-in` exercise `call` (Tally, a virtual
// object: per-key order) and `send` (Audit, a service). The stack is SIGKILLed mid-way and
// restarted on the same data dir: the idempotency key makes every redelivery harmless, so each
// record is processed exactly once. Restate's own Kafka ingress consumes the same topic into
// TallyR (an identical object) and must agree with us record for record, in the same per-key order.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Admin, Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningKafka, startKafka } from "../../infra/local/kafka.ts";
import {
  freePort,
  type ManagedProcess,
  spawnLogged,
  tail,
  waitUntil,
} from "../../infra/local/processes.ts";
import {
  type RunningRestate,
  registerDeployment,
  startRestate,
} from "../../infra/local/restate.ts";
import {
  executions,
  type ServedServices,
  serveTestServices,
  type TallyEntry,
} from "./restate-app/services.ts";

const TOPIC = "tally-in";
const PARTITIONS = 4;
const RECORDS = 3_000;
const KEYS = 50;
/** Records produced before the kill; the rest are produced while the stack is down. */
const FIRST_WAVE = 2_000;
/** SIGKILL once this many Tally records have been processed (some, not all, of the first wave). */
const KILL_AFTER = 600;
const REPO = resolve(import.meta.dirname, "../..");

const keyOf = (seq: number) => `k-${seq % KEYS}`;
const KEY_NAMES = Array.from({ length: KEYS }, (_, i) => `k-${i}`);

let kafka: RunningKafka | undefined;
let restate: RunningRestate | undefined;
let app: ServedServices | undefined;
let proxy: CountingProxy | undefined;
let stack: ManagedProcess | undefined;
let work = "";
let adminUrl = "";
let stackPort = 0;

// ---- a counting proxy in front of Restate's ingress: how many requests each record caused ------

interface CountingProxy {
  readonly url: string;
  /** idempotency-key → requests seen */
  readonly seen: Map<string, number>;
  close(): Promise<void>;
}

async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const key = req.headers["idempotency-key"];
    if (typeof key === "string") seen.set(key, (seen.get(key) ?? 0) + 1);
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      agent.destroy();
    },
  };
}

// ---- helpers -------------------------------------------------------------------------------------

async function api(
  method: string,
  path: string,
  body?: string,
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies freely
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${adminUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

async function startStack(): Promise<ManagedProcess> {
  const proc = spawnLogged(
    process.execPath,
    [
      "src/local/main.ts",
      "--data-dir",
      join(work, "data"),
      "--port",
      String(stackPort),
      "--config-file",
      join(work, "restate.toml"),
    ],
    { logFile: join(work, "stack.log"), cwd: REPO },
  );
  await waitUntil(
    "local stack admin API",
    async () => (await fetch(`${adminUrl}/subscriptions`)).ok,
    {
      timeoutMs: 60_000,
      exited: proc.exited,
      describe: () => `--- stack.log ---\n${tail(join(work, "stack.log"))}`,
    },
  );
  return proc;
}

async function produce(from: number, to: number): Promise<void> {
  const producer = new Producer({
    clientId: "e2e-tally-producer",
    bootstrapBrokers: [kafka?.bootstrapServers ?? ""],
    // A retried send must not write records twice: the test counts every record.
    idempotent: true,
  });
  try {
    for (let i = from; i < to; i += 250) {
      await producer.send({
        messages: Array.from({ length: Math.min(250, to - i) }, (_, j) => {
          const seq = i + j;
          return {
            topic: TOPIC,
            key: Buffer.from(keyOf(seq)),
            value: Buffer.from(JSON.stringify({ seq, key: keyOf(seq) })),
          };
        }),
      });
    }
  } finally {
    await producer.close();
  }
}

/** `POST {ingress}/{object}/{key}/get` for every key. */
async function readObjects<T>(object: string): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>();
  await Promise.all(
    KEY_NAMES.map(async (key) => {
      const response = await fetch(`${restate?.ingressUrl}/${object}/${key}/get`, {
        method: "POST",
        signal: AbortSignal.timeout(10_000),
      });
      expect(response.status, `${object}/${key}/get`).toBe(200);
      out.set(key, (await response.json()) as T[]);
    }),
  );
  return out;
}

const total = <T>(objects: Map<string, T[]>) =>
  [...objects.values()].reduce((n, list) => n + list.length, 0);

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

// ---- set-up --------------------------------------------------------------------------------------

beforeAll(async () => {
  const t0 = Date.now();
  work = mkdtempSync(join(tmpdir(), "e2e-stack-restate-"));
  kafka = await startKafka();
  const admin = new Admin({ clientId: "e2e-admin", bootstrapBrokers: [kafka.bootstrapServers] });
  await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 });
  await admin.close();
  restate = await startRestate({
    kafkaClusters: [{ name: "my-cluster", brokers: [kafka.bootstrapServers] }],
  });
  app = await serveTestServices(0);
  await registerDeployment(restate.adminUrl, app.url);
  proxy = await startCountingProxy(restate.ingressUrl);

  writeFileSync(
    join(work, "restate.toml"),
    `[[ingress.kafka-clusters]]\nname = "my-cluster"\nbrokers = ["PLAINTEXT://${kafka.bootstrapServers}"]\n`,
  );
  stackPort = await freePort();
  adminUrl = `http://127.0.0.1:${stackPort}`;
  stack = await startStack();
  console.log(`kafka, restate-server, SDK endpoint and local stack up in ${since(t0)}`);
});

afterAll(async () => {
  await stack?.stop(10_000);
  await proxy?.close();
  await app?.close();
  await restate?.stop();
  await kafka?.stop();
  // Nothing left behind: no process still runs with one of our temporary paths in its arguments.
  for (const path of [work, restate?.dataDir, kafka?.dataDir]) {
    if (!path) continue;
    let left = "";
    try {
      left = execFileSync("pgrep", ["-af", path], { encoding: "utf8" });
    } catch {
      left = ""; // pgrep exits 1 when nothing matches
    }
    expect(left, `processes left behind for ${path}`).toBe("");
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---- the test ------------------------------------------------------------------------------------

describe("local stack between a real Kafka and a real Restate", () => {
  it("delivers every record exactly once across a SIGKILL, in the same per-key order as Restate's own Kafka ingress", async () => {
    const t0 = Date.now();
    const ingressUrl = proxy?.url ?? "";
    const adminOfRestate = restate?.adminUrl ?? "";

    // 1. Import the services from Restate instead of re-typing them: Tally with `call`,
    //    Audit with `send` (the ingress answers 202 once the invocation is enqueued).
    const tally = await api(
      "POST",
      "/services/import",
      JSON.stringify({ admin_url: adminOfRestate, ingress_url: ingressUrl, services: ["Tally"] }),
    );
    expect(tally.status).toBe(201);
    expect(tally.json.imported).toEqual([
      {
        name: "Tally",
        type: "virtual_object",
        endpoint: ingressUrl,
        invocation: "call",
        handlers: {
          record: { shared: false, input: "json" },
          get: { shared: true, input: "json" },
        },
      },
    ]);
    const audit = await api(
      "POST",
      "/services/import",
      JSON.stringify({
        admin_url: adminOfRestate,
        ingress_url: ingressUrl,
        invocation: "send",
        services: ["Audit"],
      }),
    );
    expect(audit.status).toBe(201);
    expect(audit.json.imported[0]).toMatchObject({ name: "Audit", invocation: "send" });

    // 2. Subscribe, with the reference doc's body shape.
    const subscribe = async (sink: string) => {
      const created = await api(
        "POST",
        "/subscriptions",
        `{
            "source": "kafka://my-cluster/${TOPIC}",
            "sink": "${sink}",
            "options": {"auto.offset.reset": "earliest", "lambda.report.batch.item.failures": "true"}
        }`,
      );
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      return created.json.id as string;
    };
    const tallySub = await subscribe("service://Tally/record");
    const auditSub = await subscribe("service://Audit/note");

    // Restate's own Kafka ingress on the same topic, into the identical object TallyR.
    const restateSub = await fetch(`${adminOfRestate}/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        source: `kafka://my-cluster/${TOPIC}`,
        sink: "service://TallyR/record",
        options: { "auto.offset.reset": "earliest" },
      }),
    });
    expect(restateSub.status).toBe(201);

    // 3. First wave, then SIGKILL the stack after some (not all) records were processed.
    await produce(0, FIRST_WAVE);
    await until("some Tally records processed", () => executions.Tally >= KILL_AFTER, 90_000);
    stack?.child.kill("SIGKILL");
    await stack?.exited;
    const atKill = executions.Tally;
    const requestsAtKill = [...(proxy?.seen.values() ?? [])].reduce((a, b) => a + b, 0);
    console.log(
      `SIGKILL after ${atKill} Tally executions, ${requestsAtKill} sink requests (${since(t0)})`,
    );
    expect(atKill).toBeLessThan(FIRST_WAVE);

    // 4. The rest while the stack is down, then restart on the same data dir.
    await produce(FIRST_WAVE, RECORDS);
    const tRestart = Date.now();
    stack = await startStack();
    console.log(`restarted in ${since(tRestart)}`);

    // 5. Wait until our subscriptions have caught up (lag 0 on every partition).
    const caughtUp = async (id: string) => {
      const { json } = await api("GET", `/subscriptions/${id}`);
      const partitions = (json?.feedStatus?.partitions ?? []) as Array<{ lag?: number }>;
      return (
        json?.feedStatus?.state === "running" &&
        partitions.length === PARTITIONS &&
        partitions.every((p) => p.lag === 0)
      );
    };
    await until(
      "our subscriptions at lag 0",
      async () => (await caughtUp(tallySub)) && (await caughtUp(auditSub)),
      120_000,
    );
    console.log(`local stack caught up ${since(tRestart)} after the restart (${since(t0)} in all)`);

    // 6. Everything through Restate: Tally (call), AuditLog (send, then one-way), TallyR (Restate's ingress).
    let tallies = new Map<string, TallyEntry[]>();
    await until(
      "all Tally records in Restate",
      async () => {
        tallies = await readObjects<TallyEntry>("Tally");
        return total(tallies) >= RECORDS;
      },
      30_000,
    );
    let audits = new Map<string, number[]>();
    await until(
      "all Audit notes in Restate",
      async () => {
        audits = await readObjects<number>("AuditLog");
        return total(audits) >= RECORDS;
      },
      60_000,
    );
    let restateTallies = new Map<string, TallyEntry[]>();
    await until(
      "Restate's own Kafka ingress done",
      async () => {
        restateTallies = await readObjects<TallyEntry>("TallyR");
        return total(restateTallies) >= RECORDS;
      },
      90_000,
    );

    // Exactly once: every seq once, no more.
    const expectedSeqs = (key: string) =>
      Array.from({ length: RECORDS }, (_, seq) => seq).filter((seq) => keyOf(seq) === key);
    let duplicates = 0;
    for (const key of KEY_NAMES) {
      const ours = tallies.get(key) ?? [];
      const theirs = restateTallies.get(key) ?? [];
      // per-key order: our object saw the records in offset order, like Restate's own ingress
      expect(
        ours.map((e) => e.seq),
        `Tally/${key}`,
      ).toEqual(expectedSeqs(key));
      for (let i = 1; i < ours.length; i++) {
        expect((ours[i] as TallyEntry).offset).toBeGreaterThan((ours[i - 1] as TallyEntry).offset);
      }
      expect(new Set(ours.map((e) => e.partition)).size).toBe(1);
      expect(ours, `Tally/${key} vs TallyR/${key}`).toEqual(theirs);
      const notes = audits.get(key) ?? [];
      duplicates +=
        notes.length - new Set(notes).size + ours.length - new Set(ours.map((e) => e.seq)).size;
      expect(
        [...notes].sort((a, b) => a - b),
        `AuditLog/${key}`,
      ).toEqual(expectedSeqs(key));
    }
    expect(total(tallies)).toBe(RECORDS);
    expect(total(audits)).toBe(RECORDS);
    expect(duplicates).toBe(0);

    // How much was redelivered after the kill (same idempotency key seen more than once).
    const seen = proxy?.seen ?? new Map<string, number>();
    const redelivered = (sub: string) =>
      [...seen.entries()]
        .filter(([k, n]) => k.startsWith(`${sub}/`) && n > 1)
        .reduce((a, [, n]) => a + n - 1, 0);
    const distinct = (sub: string) =>
      [...seen.keys()].filter((k) => k.startsWith(`${sub}/`)).length;
    expect(distinct(tallySub)).toBe(RECORDS);
    expect(distinct(auditSub)).toBe(RECORDS);
    console.log(
      JSON.stringify({
        records: RECORDS,
        killedAfterTallyExecutions: atKill,
        redeliveredRequests: { call: redelivered(tallySub), send: redelivered(auditSub) },
        duplicates,
        seconds: (Date.now() - t0) / 1000,
      }),
    );

    // 7. The subscription's status on our stack: running, nothing left to consume.
    const status = await api("GET", `/subscriptions/${tallySub}`);
    expect(status.status).toBe(200);
    expect(status.json.feedStatus).toMatchObject({
      state: "running",
      topic: TOPIC,
      groupId: tallySub,
    });
    expect(status.json.feedStatus.partitions).toHaveLength(PARTITIONS);
    for (const partition of status.json.feedStatus.partitions) expect(partition.lag).toBe(0);
  });
});
