// Shared pieces of the benchmark: the sink process handle and its IPC messages, seeded random
// numbers, workload events, the baseline clients (bare undici), progress lines and statistics.
import { type ChildProcess, fork } from "node:child_process";
import { Agent, request } from "undici";
import { decodeKafkaEvent } from "../src/core/event.ts";
import { createRequestBuilder, type SinkRequest } from "../src/core/invocation.ts";
import { type DeliveryMode, planBatch } from "../src/core/plan.ts";
import { type EsmKafkaRecord, toEsmRecord } from "../src/local/kafka/batching.ts";

// ---------------------------------------------------------------------------------------------
// Sink process

export type Latency =
  | { readonly kind: "zero" }
  | { readonly kind: "uniform"; readonly minMs: number; readonly maxMs: number };

export const UNIFORM_0_5: Latency = { kind: "uniform", minMs: 0, maxMs: 5 };
export const ZERO: Latency = { kind: "zero" };

export type ToSink =
  | { readonly type: "config"; readonly latency: Latency; readonly seed: number }
  | { readonly type: "collect" };

export type FromSink =
  | { readonly type: "ready"; readonly port: number }
  | { readonly type: "configured" }
  | {
      readonly type: "collected";
      readonly latencies: number[];
      readonly lanes: string[];
      readonly maxInFlight: number;
    };

export interface Collected {
  /** Applied latency per request, ms, in answer order. */
  readonly latencies: number[];
  /** `<kafka.partition> <path>` per request, same order. */
  readonly lanes: string[];
  readonly maxInFlight: number;
}

/** The sink server in its own process (bench/sink-server.ts). */
export class SinkProcess {
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(): Promise<SinkProcess> {
    const { child, port } = await forkListening("./sink-server.ts");
    return new SinkProcess(child, port);
  }

  async configure(latency: Latency, seed: number): Promise<void> {
    const reply = nextMessage(this.#child, "configured");
    this.#child.send({ type: "config", latency, seed } satisfies ToSink);
    await reply;
  }

  async collect(): Promise<Collected> {
    const reply = nextMessage(this.#child, "collected");
    this.#child.send({ type: "collect" } satisfies ToSink);
    const message = await reply;
    if (message.type !== "collected") throw new Error("unreachable");
    return message;
  }

  stop(): void {
    this.#child.disconnect();
  }
}

/** The benchmark's DynamoDB (bench/store-server.ts): dynalite in its own process. */
export class StoreProcess {
  readonly endpoint: string;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.endpoint = `http://127.0.0.1:${port}`;
  }

  static async start(): Promise<StoreProcess> {
    const { child, port } = await forkListening("./store-server.ts");
    return new StoreProcess(child, port);
  }

  stop(): void {
    this.#child.disconnect();
  }
}

/** Forks a bench server script and waits for its `{type: "ready", port}`. */
async function forkListening(script: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL(script, import.meta.url), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await nextMessage(child, "ready");
  if (ready.type !== "ready") throw new Error("unreachable");
  return { child, port: ready.port };
}

function nextMessage(child: ChildProcess, type: FromSink["type"]): Promise<FromSink> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromSink) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`sink process exited (${code}) while waiting for ${type}`));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

// ---------------------------------------------------------------------------------------------
// Random numbers and workloads

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string: a stand-in for Kafka's key → partition hash. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Draws key ranks 0..n-1 with P(rank k) ∝ 1/(k+1)^s. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf: number[] = [];
  let total = 0;
  for (let k = 1; k <= n; k++) {
    total += 1 / k ** s;
    cdf.push(total);
  }
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] ?? total) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Records of every workload's batch (the largest batch an event source mapping sends). */
export const RECORDS = 10_000;

export interface WorkloadShape {
  readonly count: number;
  readonly partitions: number;
  /** Key of record i (`key-<n>`). */
  readonly keyOf: (i: number) => string;
  /** Bytes of filler in each JSON value (default 0). */
  readonly padding?: number;
  /** JSON value of record i (default `{i, key}`, plus the padding). */
  readonly valueOf?: (i: number, key: string) => unknown;
}

/** The MSK cluster of the benchmark's events (and of its catalog's cluster). */
export const BENCH_CLUSTER_ARN =
  "arn:aws:kafka:us-east-1:123456789012:cluster/demo/abcd1234-5678-90ab-cdef-1234567890ab-1";
const BENCH_BOOTSTRAP =
  "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098,b-2.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098";
const TOPIC = "orders";

/** An MSK event as the event source mapping sends it; records keyed `"<topic>-<partition>"`. */
export interface MskEvent {
  readonly eventSource: "aws:kafka";
  readonly eventSourceArn: string;
  readonly bootstrapServers: string;
  readonly records: Record<string, EsmKafkaRecord[]>;
}

/** An MSK event; a key lives in one partition (hash of the key), offsets ascend per partition. */
export function buildEvent(shape: WorkloadShape): MskEvent {
  const records: Record<string, EsmKafkaRecord[]> = {};
  const next = new Array<number>(shape.partitions).fill(0);
  const pad = shape.padding ? "x".repeat(shape.padding) : undefined;
  for (let i = 0; i < shape.count; i++) {
    const key = shape.keyOf(i);
    const partition = shape.partitions === 1 ? 0 : fnv1a(key) % shape.partitions;
    const offset = next[partition] ?? 0;
    next[partition] = offset + 1;
    const value = shape.valueOf?.(i, key) ?? (pad === undefined ? { i, key } : { i, key, pad });
    const id = `${TOPIC}-${partition}`;
    records[id] ??= [];
    records[id].push(
      toEsmRecord({
        topic: TOPIC,
        partition,
        offset,
        timestamp: 1_700_000_000_000 + offset,
        key: Buffer.from(key, "utf8"),
        value: Buffer.from(JSON.stringify(value), "utf8"),
        headers: [],
      }),
    );
  }
  return {
    eventSource: "aws:kafka",
    eventSourceArn: BENCH_CLUSTER_ARN,
    bootstrapServers: BENCH_BOOTSTRAP,
    records,
  };
}

/** The first `count` records of each partition of an event. */
export function sliceEvent(event: MskEvent, count: number): MskEvent {
  const records: Record<string, EsmKafkaRecord[]> = {};
  for (const [id, list] of Object.entries(event.records)) records[id] = list.slice(0, count);
  return { ...event, records };
}

// ---------------------------------------------------------------------------------------------
// Requests and the bare-undici clients

export interface SinkTargetSpec {
  readonly subscriptionId: string;
  readonly endpoint: string;
  readonly service: string;
  readonly handler: string;
  readonly invocation: "call" | "send";
}

export interface Prepared {
  /** The consumer's lanes (same plan), as ready-made requests. */
  readonly lanes: SinkRequest[][];
  /** Requests per partition, offset order. */
  readonly byPartition: SinkRequest[][];
  /** Every request, partition after partition: a per-record loop's order. */
  readonly all: SinkRequest[];
}

/** Exactly the requests the consumer sends for this event, built ahead (not timed). */
export function prepare(event: MskEvent, mode: DeliveryMode, target: SinkTargetSpec): Prepared {
  const decoded = decodeKafkaEvent(event);
  const plan = planBatch(decoded, mode);
  if (plan.rejected.length > 0) throw new Error("bench events must be fully deliverable");
  const build = createRequestBuilder({ ...target, keyed: mode.keyed, input: mode.input });
  const lanes = plan.lanes.map((lane) => lane.map((p) => build(p.record, p.objectKey)));
  const byPartition = decoded.partitions.map((partition) =>
    partition.records.map((record) => {
      const key = mode.keyed && record.key ? Buffer.from(record.key).toString("utf8") : undefined;
      return build(record, key);
    }),
  );
  return { lanes, byPartition, all: byPartition.flat() };
}

export function bareAgent(connections: number): Agent {
  return new Agent({ connections, keepAliveTimeout: 10_000 });
}

/** One request, body drained: the least an HTTP client can do. */
async function post(agent: Agent, req: SinkRequest, accepted = 200): Promise<void> {
  const res = await request(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body ?? null,
    dispatcher: agent,
  });
  await res.body.dump();
  if (res.statusCode !== accepted) throw new Error(`sink answered ${res.statusCode}`);
}

/** The reference: the same lanes, one request at a time per lane, `concurrency` lanes at once. */
export async function referenceLanes(
  agent: Agent,
  lanes: readonly SinkRequest[][],
  concurrency: number,
  /** The status every answer must have (Restate's ingress answers `/send` with 202). */
  accepted = 200,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < lanes.length) {
      const lane = lanes[next++] ?? [];
      for (const req of lane) await post(agent, req, accepted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, lanes.length) }, worker));
}

/** What most Kafka Lambda handlers do: one await per record. */
export async function sequentialLoop(
  agent: Agent,
  requests: readonly SinkRequest[],
): Promise<void> {
  for (const req of requests) await post(agent, req);
}

/** One record at a time per partition, partitions in parallel. */
export async function partitionSerial(
  agent: Agent,
  byPartition: readonly SinkRequest[][],
): Promise<void> {
  await Promise.all(
    byPartition.map(async (requests) => {
      for (const req of requests) await post(agent, req);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Progress and statistics

/** A progress line on stderr (stdout carries the report). */
export const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export interface Bound {
  readonly boundMs: number;
  readonly longestLaneMs: number;
  readonly totalMs: number;
  readonly meanMs: number;
}

/**
 * SPEC §7: max(longest lane's summed latency, total latency / concurrency), from the latencies
 * the sink applied. Ordered: a lane is (partition, path) (the path holds the object key);
 * unordered: every request is its own lane.
 */
export function lowerBound(collected: Collected, ordered: boolean, concurrency: number): Bound {
  let totalMs = 0;
  let longestLaneMs = 0;
  const sums = new Map<string, number>();
  for (let i = 0; i < collected.latencies.length; i++) {
    const ms = collected.latencies[i] ?? 0;
    totalMs += ms;
    if (ordered) {
      const lane = collected.lanes[i] ?? "";
      const sum = (sums.get(lane) ?? 0) + ms;
      sums.set(lane, sum);
      if (sum > longestLaneMs) longestLaneMs = sum;
    } else if (ms > longestLaneMs) longestLaneMs = ms;
  }
  return {
    boundMs: Math.max(longestLaneMs, totalMs / concurrency),
    longestLaneMs,
    totalMs,
    meanMs: totalMs / Math.max(1, collected.latencies.length),
  };
}
