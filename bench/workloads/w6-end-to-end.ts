// Workload 6, end to end: a real Kafka broker, a real restate-server, a Restate TS SDK endpoint
// (bench/restate-endpoint.ts) and our local stack (`node src/local/main.ts`), each in its own
// process. On the same records (N JSON records, 4 partitions, 200 uniform keys, each contender on
// its own fresh topic), contenders feed a virtual object's exclusive handler: Restate's own Kafka
// ingress (a Restate subscription), our stack → Restate's ingress with `call` and with `send`,
// and the floor of any HTTP feed, which sends our requests for the same records (built ahead, no
// Kafka, every key's lane at once) from this process to Restate's ingress with `send`. Measured
// per contender from subscription creation (the floor's first request) until Restate holds every
// record in the objects' state: records/s, time to first record, CPU ms per record of each
// process, and for ours the batches from the stack's `batch processed` log lines. Correctness on
// every run: every record once, offsets increasing per key.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Admin, Producer } from "@platformatic/kafka";
import type { Agent } from "undici";
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
import type { SinkRequest } from "../../src/core/invocation.ts";
import { VIRTUAL_OBJECT } from "../contenders.ts";
import { bareAgent, buildEvent, median, prepare, prng, progress, referenceLanes } from "../lib.ts";
import type { E2eEntry, E2eObject, FromEndpoint, ToEndpoint } from "../restate-endpoint.ts";
import type {
  E2eContender,
  E2eContenderResult,
  E2eProcess,
  E2eResult,
  E2eRun,
} from "../results.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CLUSTER = "bench";
const PARTITIONS = 4;
const KEYS = 200;
/** Records per contender in the warm-up repetition. */
const WARM_UP_RECORDS = 2_000;
/** How long one contender may take before the run is declared failed. */
const CONTENDER_TIMEOUT_MS = 600_000;

const OBJECT: Record<E2eContender, E2eObject> = {
  "restate-ingress": "BenchR",
  "ours-call": "BenchCall",
  "ours-send": "BenchSend",
  "http-send": "BenchHttp",
};
const CONTENDERS: readonly E2eContender[] = [
  "restate-ingress",
  "ours-call",
  "ours-send",
  "http-send",
];
/** The contenders that read the records from Kafka (each from a topic of its own). */
const KAFKA_CONTENDERS = CONTENDERS.filter((c) => c !== "http-send");

export interface E2eOptions {
  readonly records: number;
  readonly runs: number;
  /** More options for our stack's subscriptions (`--e2e-options`), e.g. a batch size to try. */
  readonly ourOptions?: Readonly<Record<string, string>>;
  /** Where our stack writes a V8 CPU profile when it stops (`--e2e-profile`). */
  readonly profileDir?: string;
}

// ---- processes and their CPU time ------------------------------------------------------------------

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime (all threads) from a `/proc/<pid>/stat` line, in ms. */
export function cpuMsOfStat(stat: string): number {
  // Fields after `(comm)` (which may hold spaces); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** utime + stime of a process (all its threads), in ms; NaN when it is gone. */
function cpuMs(pid: number): number {
  try {
    return cpuMsOfStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return Number.NaN;
  }
}

/** The process whose command line mentions `marker` (a temporary dir only it uses). */
function pidWithArgument(marker: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(marker) && Number(entry) !== process.pid) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no process with ${marker} in its arguments`);
}

type ProcessName = E2eProcess;

class Endpoint {
  readonly #child: ChildProcess;
  readonly url: string;
  readonly pid: number;
  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.url = `http://127.0.0.1:${port}`;
    this.pid = child.pid ?? 0;
  }
  static async start(): Promise<Endpoint> {
    const child = fork(new URL("../restate-endpoint.ts", import.meta.url), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ready = await nextMessage(child, "ready");
    if (ready.type !== "ready") throw new Error("unreachable");
    return new Endpoint(child, ready.port);
  }
  async reset(): Promise<void> {
    const reply = nextMessage(this.#child, "reset");
    this.#child.send({ type: "reset" } satisfies ToEndpoint);
    await reply;
  }
  async stats(): Promise<Extract<FromEndpoint, { type: "stats" }>["objects"]> {
    const reply = nextMessage(this.#child, "stats");
    this.#child.send({ type: "stats" } satisfies ToEndpoint);
    const message = await reply;
    if (message.type !== "stats") throw new Error("unreachable");
    return message.objects;
  }
  stop(): void {
    if (this.#child.connected) this.#child.disconnect();
  }
}

function nextMessage(child: ChildProcess, type: FromEndpoint["type"]): Promise<FromEndpoint> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromEndpoint) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`SDK endpoint exited (${code}) while waiting for ${type}`));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

// ---- HTTP helpers --------------------------------------------------------------------------------

async function call(
  method: string,
  url: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: admin answers are inspected loosely
): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, json };
}

async function expectStatus(
  what: string,
  method: string,
  url: string,
  body: unknown,
  status: number,
  // biome-ignore lint/suspicious/noExplicitAny: admin answers are inspected loosely
): Promise<any> {
  const answer = await call(method, url, body);
  if (answer.status !== status) {
    throw new Error(`${what}: ${method} ${url} → ${answer.status}: ${JSON.stringify(answer.json)}`);
  }
  return answer.json;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the records -----------------------------------------------------------------------------------

/** Key of each record: uniform over KEYS, seeded per repetition; keys are named per repetition. */
function keysFor(run: number, records: number): string[] {
  const random = prng(0xe2e0 + run);
  return Array.from({ length: records }, () => `r${run}-k-${Math.floor(random() * KEYS)}`);
}

async function produce(bootstrap: string, topic: string, keys: readonly string[]): Promise<void> {
  const producer = new Producer({
    clientId: "bench-e2e-producer",
    bootstrapBrokers: [bootstrap],
    // A retried send must not write records twice: every record is counted.
    idempotent: true,
  });
  try {
    for (let i = 0; i < keys.length; i += 500) {
      await producer.send({
        messages: keys.slice(i, i + 500).map((key, j) => ({
          topic,
          key: Buffer.from(key),
          value: Buffer.from(JSON.stringify({ seq: i + j, key })),
        })),
      });
    }
  } finally {
    await producer.close();
  }
}

// ---- correctness -----------------------------------------------------------------------------------

export interface Check {
  readonly total: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly orderViolations: number;
}

/** Every key's state: each record once, in the order produced, offsets strictly increasing. */
async function readState(
  ingressUrl: string,
  object: E2eObject,
  keys: readonly string[],
): Promise<Map<string, E2eEntry[]>> {
  const distinct = [...new Set(keys)];
  const out = new Map<string, E2eEntry[]>();
  for (let i = 0; i < distinct.length; i += 25) {
    await Promise.all(
      distinct.slice(i, i + 25).map(async (key) => {
        const answer = await call("POST", `${ingressUrl}/${object}/${key}/get`);
        if (answer.status !== 200) throw new Error(`${object}/${key}/get → ${answer.status}`);
        out.set(key, answer.json as E2eEntry[]);
      }),
    );
  }
  return out;
}

/** `keys[seq]` is the key record `seq` was produced with. */
export function check(state: Map<string, E2eEntry[]>, keys: readonly string[]): Check {
  const expected = new Map<string, number[]>();
  keys.forEach((key, seq) => {
    const list = expected.get(key) ?? [];
    list.push(seq);
    expected.set(key, list);
  });
  let total = 0;
  let missing = 0;
  let duplicates = 0;
  let orderViolations = 0;
  for (const [key, seqs] of expected) {
    const entries = state.get(key) ?? [];
    total += entries.length;
    const got = new Set(entries.map((e) => e.seq));
    duplicates += entries.length - got.size;
    missing += seqs.filter((s) => !got.has(s)).length;
    for (let i = 1; i < entries.length; i++) {
      const prev = entries[i - 1] as E2eEntry;
      const cur = entries[i] as E2eEntry;
      if (!(cur.offset > prev.offset) || !(cur.seq > prev.seq)) orderViolations++;
    }
  }
  return { total, missing, duplicates, orderViolations };
}

// ---- our stack's batches ----------------------------------------------------------------------------

export interface Batches {
  readonly count: number;
  readonly meanRecords: number;
  readonly meanLanes: number;
  readonly p50SpanMs: number;
  readonly p90SpanMs: number;
}

/** The `batch processed` lines of one subscription in the stack's log. */
export function batchesOf(log: string, subscription: string): Batches | undefined {
  const sizes: number[] = [];
  const lanes: number[] = [];
  const spans: number[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes('"batch processed"') || !line.includes(subscription)) continue;
    try {
      const parsed = JSON.parse(line) as {
        subscription?: string;
        total?: number;
        lanes?: number;
        durationMs?: number;
      };
      if (parsed.subscription !== subscription) continue;
      sizes.push(parsed.total ?? 0);
      lanes.push(parsed.lanes ?? 0);
      spans.push(parsed.durationMs ?? 0);
    } catch {
      // not one of ours
    }
  }
  if (sizes.length === 0) return undefined;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sorted = [...spans].sort((a, b) => a - b);
  return {
    count: sizes.length,
    meanRecords: mean(sizes),
    meanLanes: mean(lanes),
    p50SpanMs: median(spans),
    p90SpanMs: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))] ?? 0,
  };
}

// ---- the workload ------------------------------------------------------------------------------------

interface Rig {
  readonly kafka: RunningKafka;
  readonly restate: RunningRestate;
  readonly endpoint: Endpoint;
  readonly stack: ManagedProcess;
  readonly stackUrl: string;
  readonly pids: Record<ProcessName, number>;
  /** The bare HTTP feed's client. */
  readonly agent: Agent;
}

async function startRig(work: string, profileDir: string | undefined): Promise<Rig> {
  const kafka = await startKafka({ numPartitions: PARTITIONS });
  let restate: RunningRestate | undefined;
  let endpoint: Endpoint | undefined;
  try {
    restate = await startRestate({
      kafkaClusters: [{ name: CLUSTER, brokers: [kafka.bootstrapServers] }],
    });
    endpoint = await Endpoint.start();
    await registerDeployment(restate.adminUrl, endpoint.url);
    writeFileSync(
      join(work, "restate.toml"),
      `[[ingress.kafka-clusters]]\nname = "${CLUSTER}"\nbrokers = ["PLAINTEXT://${kafka.bootstrapServers}"]\n`,
    );
    const port = await freePort();
    const stackUrl = `http://127.0.0.1:${port}`;
    const logFile = join(work, "stack.log");
    const stack = spawnLogged(
      process.execPath,
      [
        ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
        "src/local/main.ts",
        "--data-dir",
        join(work, "data"),
        "--port",
        String(port),
        "--config-file",
        join(work, "restate.toml"),
      ],
      { logFile, cwd: REPO },
    );
    await waitUntil(
      "local stack admin API",
      async () => (await fetch(`${stackUrl}/subscriptions`)).ok,
      { timeoutMs: 60_000, exited: stack.exited, describe: () => tail(logFile) },
    );
    // The services come from Restate's admin, as a user would import them.
    for (const [object, invocation] of [
      ["BenchCall", "call"],
      ["BenchSend", "send"],
    ] as const) {
      await expectStatus(
        `import ${object}`,
        "POST",
        `${stackUrl}/services/import`,
        {
          admin_url: restate.adminUrl,
          ingress_url: restate.ingressUrl,
          invocation,
          services: [object],
        },
        201,
      );
    }
    return {
      kafka,
      restate,
      endpoint,
      stack,
      stackUrl,
      pids: {
        "restate-server": pidWithArgument(restate.dataDir),
        "sdk-endpoint": endpoint.pid,
        "our-stack": stack.child.pid ?? 0,
        "kafka-broker": pidWithArgument(kafka.dataDir),
      },
      agent: bareAgent(KEYS),
    };
  } catch (error) {
    endpoint?.stop();
    await restate?.stop();
    await kafka.stop();
    throw error;
  }
}

async function stopRig(rig: Rig): Promise<void> {
  await rig.agent.close();
  await rig.stack.stop(10_000);
  rig.endpoint.stop();
  await rig.restate.stop();
  await rig.kafka.stop();
}

/**
 * The bare HTTP feed's requests: what our consumer sends Restate's ingress for these records (same
 * headers, idempotency keys and per-key lanes; a key's records in one partition, offsets ascending).
 */
export function httpFeedLanes(
  ingressUrl: string,
  keys: readonly string[],
  run: number,
): SinkRequest[][] {
  const event = buildEvent({
    count: keys.length,
    partitions: PARTITIONS,
    keyOf: (i) => keys[i] ?? "",
    valueOf: (seq, key) => ({ seq, key }),
  });
  return prepare(event, VIRTUAL_OBJECT, {
    subscriptionId: `bench-http-feed-${run}`,
    endpoint: ingressUrl,
    service: OBJECT["http-send"],
    handler: "record",
    invocation: "send",
  }).lanes;
}

/** One contender on its own topic: subscribe, wait until Restate holds every record, check. */
async function runContender(
  rig: Rig,
  contender: E2eContender,
  topic: string,
  keys: readonly string[],
  run: number,
  ourOptions: Readonly<Record<string, string>> = {},
): Promise<E2eRun> {
  const object = OBJECT[contender];
  const records = keys.length;
  await rig.endpoint.reset();
  const lanes =
    contender === "http-send" ? httpFeedLanes(rig.restate.ingressUrl, keys, run) : undefined;
  const cpuBefore = Object.fromEntries(
    Object.entries(rig.pids).map(([name, pid]) => [name, cpuMs(pid)]),
  ) as Record<ProcessName, number>;
  const feederBefore = process.cpuUsage();
  const source = `kafka://${CLUSTER}/${topic}`;
  const sink = `service://${object}/record`;
  const startedAt = Date.now();
  let subscription: { url: string; id: string } | undefined;
  let feed: Promise<void> | undefined;
  if (lanes !== undefined) {
    // One request per key in flight, every key at once: the most an order-keeping feed can put in
    // flight, and Restate's HTTP ingress spends less CPU per record the more it has in flight.
    feed = referenceLanes(rig.agent, lanes, KEYS, 202);
  } else if (contender === "restate-ingress") {
    const created = await expectStatus(
      "Restate subscription",
      "POST",
      `${rig.restate.adminUrl}/subscriptions`,
      { source, sink, options: { "auto.offset.reset": "earliest" } },
      201,
    );
    subscription = { url: `${rig.restate.adminUrl}/subscriptions`, id: created.id };
  } else {
    const created = await expectStatus(
      "our subscription",
      "POST",
      `${rig.stackUrl}/subscriptions`,
      { source, sink, options: { "auto.offset.reset": "earliest", ...ourOptions } },
      201,
    );
    subscription = { url: `${rig.stackUrl}/subscriptions`, id: created.id };
  }
  // Done when the endpoint has seen every record and Restate's state holds them all.
  let firstAt: number | null = null;
  let state = new Map<string, E2eEntry[]>();
  let endedAt = 0;
  // A failed request ends the run at once rather than at the timeout.
  let feedFailed: unknown;
  feed?.catch((error: unknown) => {
    feedFailed = error;
  });
  for (;;) {
    if (Date.now() - startedAt > CONTENDER_TIMEOUT_MS) {
      throw new Error(`${contender}: not done after ${CONTENDER_TIMEOUT_MS} ms`);
    }
    if (feedFailed !== undefined) throw new Error(`${contender}: ${String(feedFailed)}`);
    const stats = (await rig.endpoint.stats())[object];
    firstAt ??= stats.firstAt;
    if (stats.distinct >= records) {
      state = await readState(rig.restate.ingressUrl, object, keys);
      const held = [...state.values()].reduce((n, list) => n + list.length, 0);
      if (held >= records) {
        endedAt = Date.now();
        break;
      }
      await sleep(20);
    } else {
      await sleep(50);
    }
  }
  const cpuAfter = Object.fromEntries(
    Object.entries(rig.pids).map(([name, pid]) => [name, cpuMs(pid)]),
  ) as Record<ProcessName, number>;
  const feeder = process.cpuUsage(feederBefore);
  await feed;
  if (subscription !== undefined) {
    // Stop it consuming, so that the next contender has the machine to itself.
    const deleted = await call("DELETE", `${subscription.url}/${subscription.id}`);
    if (deleted.status >= 300) {
      progress(`  (could not delete ${subscription.id}: ${deleted.status})`);
    }
  }
  const spanMs = endedAt - startedAt;
  const verdict = check(state, keys);
  const cpuMsPerRecord = Object.fromEntries(
    Object.keys(rig.pids).map((name) => [
      name,
      (cpuAfter[name as ProcessName] - cpuBefore[name as ProcessName]) / records,
    ]),
  ) as Record<ProcessName, number>;
  const batches =
    contender === "ours-call" || contender === "ours-send"
      ? batchesOf(readFileSync(rig.stack.logFile, "utf8"), subscription?.id ?? "")
      : undefined;
  return {
    spanMs,
    recordsPerSecond: records / (spanMs / 1000),
    firstRecordMs: firstAt === null ? Number.NaN : firstAt - startedAt,
    cpuMsPerRecord,
    ...verdict,
    ...(batches === undefined ? {} : { batches }),
    ...(lanes === undefined
      ? {}
      : { feederCpuMsPerRecord: (feeder.user + feeder.system) / 1000 / records }),
  };
}

function summarise(contender: E2eContender, runs: E2eRun[]): E2eContenderResult {
  const med = (f: (r: E2eRun) => number) => median(runs.map(f));
  const withBatches = runs.filter((r) => r.batches !== undefined);
  return {
    name: contender,
    runs,
    medianRecordsPerSecond: med((r) => r.recordsPerSecond),
    medianSpanMs: med((r) => r.spanMs),
    medianFirstRecordMs: med((r) => r.firstRecordMs),
    medianCpuMsPerRecord: {
      "restate-server": med((r) => r.cpuMsPerRecord["restate-server"]),
      "sdk-endpoint": med((r) => r.cpuMsPerRecord["sdk-endpoint"]),
      "our-stack": med((r) => r.cpuMsPerRecord["our-stack"]),
      "kafka-broker": med((r) => r.cpuMsPerRecord["kafka-broker"]),
    },
    correct: runs.every((r) => r.missing === 0 && r.duplicates === 0 && r.orderViolations === 0),
    ...(withBatches.length === 0
      ? {}
      : {
          batches: {
            meanRecords: median(withBatches.map((r) => r.batches?.meanRecords ?? 0)),
            meanLanes: median(withBatches.map((r) => r.batches?.meanLanes ?? 0)),
            p50SpanMs: median(withBatches.map((r) => r.batches?.p50SpanMs ?? 0)),
            p90SpanMs: median(withBatches.map((r) => r.batches?.p90SpanMs ?? 0)),
          },
        }),
  };
}

/** CPU use, in cores, below which a process counts as idle (10 ms ticks: one tick per 200 ms). */
const IDLE_CORES = 0.05;
const SETTLE_WINDOW_MS = 500;
const SETTLE_MAX_MS = 15_000;

/** Waits (at least 1 s, at most SETTLE_MAX_MS) until every process is idle for a window. */
async function settle(pids: Record<ProcessName, number>): Promise<void> {
  await sleep(1_000);
  const deadline = Date.now() + SETTLE_MAX_MS;
  const total = () => Object.values(pids).reduce((sum, pid) => sum + cpuMs(pid), 0);
  while (Date.now() < deadline) {
    const before = total();
    await sleep(SETTLE_WINDOW_MS);
    if (total() - before <= IDLE_CORES * SETTLE_WINDOW_MS) return;
  }
  progress(`  (processes still busy after ${SETTLE_MAX_MS / 1000} s; going on)`);
}

/** System-wide CPU use (all cores busy = 100% × nproc) over a span, from /proc/stat. */
function systemBusyTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export async function endToEnd(options: E2eOptions): Promise<E2eResult> {
  progress(
    `workload 6: end to end (Kafka → Restate), ${options.records} records, ${options.runs} runs`,
  );
  const work = mkdtempSync(join(tmpdir(), "bench-e2e-"));
  const rig = await startRig(work, options.profileDir);
  const perContender = new Map<E2eContender, E2eRun[]>(CONTENDERS.map((c) => [c, []]));
  const machineBusy: number[] = [];
  try {
    // Run -1 is a warm-up (at most WARM_UP_RECORDS, not counted): the broker's and Restate's
    // first consumer groups, the JIT and RocksDB's first writes would otherwise land on run 1.
    for (let run = -1; run < options.runs; run++) {
      const warmUp = run < 0;
      const keys = keysFor(
        run,
        warmUp ? Math.min(options.records, WARM_UP_RECORDS) : options.records,
      );
      const topics = Object.fromEntries(
        CONTENDERS.map((c) => [c, `bench-e2e-r${run}-${c}`]),
      ) as Record<E2eContender, string>;
      const kafkaTopics = KAFKA_CONTENDERS.map((c) => topics[c]);
      const admin = new Admin({
        clientId: "bench-e2e-admin",
        bootstrapBrokers: [rig.kafka.bootstrapServers],
      });
      try {
        await admin.createTopics({
          topics: kafkaTopics,
          partitions: PARTITIONS,
          replicas: 1,
        });
      } finally {
        await admin.close();
      }
      for (const topic of kafkaTopics) {
        await produce(rig.kafka.bootstrapServers, topic, keys);
      }
      // The order rotates from one repetition to the next.
      const n = CONTENDERS.length;
      const order = CONTENDERS.map((_, i) => CONTENDERS[(((i + run) % n) + n) % n]);
      for (const contender of order) {
        if (contender === undefined) continue;
        const before = systemBusyTicks();
        const parentBefore = process.cpuUsage();
        const measured = await runContender(
          rig,
          contender,
          topics[contender],
          keys,
          run,
          options.ourOptions,
        );
        const parent = process.cpuUsage(parentBefore);
        const after = systemBusyTicks();
        machineBusy.push((after.busy - before.busy) / (after.total - before.total));
        // What the rest of the machine took meanwhile: busy time not spent by the four processes
        // or this one (the producer is done by then), in cores.
        const busyMs = ((after.busy - before.busy) * 1000) / CLOCK_TICKS;
        const ownMs =
          Object.values(measured.cpuMsPerRecord).reduce((a, b) => a + b, 0) * keys.length +
          (parent.user + parent.system) / 1000;
        const result: E2eRun = {
          ...measured,
          otherCores: Math.max(0, busyMs - ownMs) / measured.spanMs,
        };
        if (warmUp) {
          if (result.missing + result.duplicates + result.orderViolations > 0) {
            throw new Error(`${contender}: warm-up run lost, duplicated or reordered records`);
          }
        } else {
          perContender.get(contender)?.push(result);
        }
        progress(
          `  w6 ${warmUp ? "warm-up" : `run ${run + 1}`} ${contender}: ${Math.round(result.recordsPerSecond)} records/s, first after ${Math.round(result.firstRecordMs)} ms, ` +
            `Restate ${result.cpuMsPerRecord["restate-server"].toFixed(3)} ms CPU/record, ours ${result.cpuMsPerRecord["our-stack"].toFixed(3)}, ` +
            `other load ${result.otherCores?.toFixed(2)} cores, ${result.missing} missing, ${result.duplicates} duplicates, ${result.orderViolations} out of order` +
            (result.batches === undefined
              ? ""
              : `; ${result.batches.count} batches of ${result.batches.meanRecords.toFixed(0)} records in ${result.batches.meanLanes.toFixed(0)} lanes, p50 span ${Math.round(result.batches.p50SpanMs)} ms`),
        );
        // The next contender starts once the deleted subscription has wound down and Restate's
        // background work (RocksDB flushes and compactions) on these records is over.
        await settle(rig.pids);
      }
    }
    // Late duplicates would show up now, once everything has settled.
    for (let run = 0; run < options.runs; run++) {
      const keys = keysFor(run, options.records);
      for (const contender of CONTENDERS) {
        const state = await readState(rig.restate.ingressUrl, OBJECT[contender], keys);
        const late = check(state, keys);
        const recorded = perContender.get(contender)?.[run];
        if (recorded !== undefined && late.duplicates !== recorded.duplicates) {
          perContender.get(contender)?.splice(run, 1, { ...recorded, ...late });
        }
      }
    }
  } finally {
    await stopRig(rig);
    rmSync(work, { recursive: true, force: true });
  }
  const contenders = CONTENDERS.map((c) => summarise(c, perContender.get(c) ?? []));
  return {
    records: options.records,
    partitions: PARTITIONS,
    keys: KEYS,
    runs: options.runs,
    medianMachineBusy: median(machineBusy),
    measuredAt: new Date().toISOString(),
    node: process.version,
    contenders,
  };
}
