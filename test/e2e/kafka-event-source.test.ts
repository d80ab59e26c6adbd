// The local event source against a real Apache Kafka broker: every record arrives once, in the
// exact ESM shape, offsets committed to the group; a partial batch response redelivers exactly the
// reported partition from the reported offset.
import { Admin, Producer } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningKafka, startKafka } from "../../infra/local/kafka.ts";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import type { EsmKafkaEvent } from "../../src/local/kafka/batching.ts";
import {
  LOCAL_DEFAULT_BATCH_SIZE,
  type LocalEventSource,
  startLocalEventSource,
} from "../../src/local/kafka/event-source.ts";
import { waitUntil } from "../helpers/until.ts";

const TOPIC = "orders";
const PARTITIONS = 4;
const RECORDS = 2_000;
const KEYS = 150;

interface Delivered {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

let kafka: RunningKafka | undefined;
const sources: LocalEventSource[] = [];

const until = waitUntil({ timeoutMs: 120_000, pollMs: 50 });

/** Validates the event like the consumer does and flattens it. */
function recordEvent(event: EsmKafkaEvent, into: Delivered[]): void {
  const raw = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  expect(raw.eventSource).toBe("SelfManagedKafka");
  expect(raw.bootstrapServers).toBe(kafka?.bootstrapServers);
  expect(raw).not.toHaveProperty("eventSourceArn");
  const decoded = decodeKafkaEvent(raw);
  for (const partition of decoded.partitions) {
    expect(partition.id).toBe(`${TOPIC}-${partition.partition}`);
    for (const r of partition.records) {
      expect(r.decodeError).toBeUndefined();
      into.push({
        partition: r.partition,
        offset: r.offset,
        key: r.key === null ? null : Buffer.from(r.key).toString(),
        value: r.value === null ? null : Buffer.from(r.value).toString(),
        headers: r.headers.map(([n, v]) => [n, Buffer.from(v).toString()] as const),
      });
    }
  }
}

function start(
  id: string,
  invoke: (event: EsmKafkaEvent) => Promise<unknown>,
  options: Record<string, string> = {},
): LocalEventSource {
  const source = startLocalEventSource({
    subscription: { id, topic: TOPIC, options: { "auto.offset.reset": "earliest", ...options } },
    cluster: { name: "local", properties: { "bootstrap.servers": kafka?.bootstrapServers ?? "" } },
    invoke,
    log: () => {},
    reportBatchItemFailures: true,
    retry: { initialMs: 200, maxMs: 2_000 },
    statusRefreshMs: 500,
  });
  sources.push(source);
  return source;
}

const committedTotal = (source: LocalEventSource) =>
  source.status().partitions.reduce((n, p) => n + (p.committedOffset ?? 0), 0);

beforeAll(async () => {
  const t0 = Date.now();
  kafka = await startKafka({ log: (line) => console.log(line) });
  console.log(`Kafka ready in ${Date.now() - t0} ms at ${kafka.bootstrapServers}`);
  const admin = new Admin({ clientId: "e2e-admin", bootstrapBrokers: [kafka.bootstrapServers] });
  await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 });
  await admin.close();
  const producer = new Producer({
    clientId: "e2e-producer",
    bootstrapBrokers: [kafka.bootstrapServers],
    // A retried send (slow broker right after topic creation) must not write records twice.
    idempotent: true,
  });
  for (let i = 0; i < RECORDS; i += 250) {
    await producer.send({
      messages: Array.from({ length: 250 }, (_, j) => {
        const n = i + j;
        return {
          topic: TOPIC,
          // every 100th record has no key (partitioned round-robin / sticky by the producer)
          ...(n % 100 === 99 ? {} : { key: Buffer.from(`key-${n % KEYS}`) }),
          value: Buffer.from(JSON.stringify({ n })),
          headers: new Map([[Buffer.from("n"), Buffer.from(String(n))]]),
        };
      }),
    });
  }
  await producer.close();
});

afterAll(async () => {
  for (const source of sources) await source.stop();
  await kafka?.stop();
});

describe("local event source on a real Kafka broker", () => {
  it("delivers 2,000 records once each, in ESM shape, and commits them to the group", async () => {
    const delivered: Delivered[] = [];
    const batchSizes: number[] = [];
    const partitionsPerBatch: number[] = [];
    const t0 = Date.now();
    const source = start("sub_e2e_all", async (event) => {
      batchSizes.push(Object.values(event.records).flat().length);
      partitionsPerBatch.push(Object.keys(event.records).length);
      recordEvent(event, delivered);
      return {};
    });
    await until("all records delivered and committed", () => committedTotal(source) === RECORDS);
    console.log(
      `delivered ${delivered.length} records in ${batchSizes.length} batches, ${Date.now() - t0} ms`,
    );

    expect(delivered).toHaveLength(RECORDS);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(LOCAL_DEFAULT_BATCH_SIZE);
    expect(Math.max(...partitionsPerBatch)).toBeGreaterThan(1);
    for (let p = 0; p < PARTITIONS; p++) {
      const offsets = delivered.filter((d) => d.partition === p).map((d) => d.offset);
      expect(offsets.length).toBeGreaterThan(0);
      // increasing, no gaps, no duplicates, from the start of the log
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    }
    const values = delivered
      .map((d) => JSON.parse(d.value ?? "null").n as number)
      .sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
    for (const d of delivered) {
      const n = JSON.parse(d.value ?? "null").n as number;
      expect(d.key).toBe(n % 100 === 99 ? null : `key-${n % KEYS}`);
      expect(d.headers).toEqual([["n", String(n)]]);
    }
    // one key stays in one partition
    const partitionOfKey = new Map<string, number>();
    for (const d of delivered) {
      if (d.key === null) continue;
      expect(partitionOfKey.get(d.key) ?? d.partition).toBe(d.partition);
      partitionOfKey.set(d.key, d.partition);
    }

    await until("status", () => source.status().partitions.every((p) => p.lag === 0), 10_000);
    expect(source.status()).toMatchObject({ state: "running", groupId: "sub_e2e_all" });
    await source.stop();
    expect(source.status().state).toBe("stopped");

    // The commits are in Kafka: the same group starts at the end and gets nothing.
    const again: Delivered[] = [];
    const restarted = start("sub_e2e_all", async (event) => {
      recordEvent(event, again);
      return {};
    });
    await until("restarted member running", () => restarted.status().state === "running", 60_000);
    await until("committed offsets read", () => committedTotal(restarted) === RECORDS, 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(again).toEqual([]);
    await restarted.stop();
  });

  it("redelivers one partition from the offset a partial batch response reports", async () => {
    const delivered: Delivered[] = [];
    let failure: { partition: number; offset: number; batchEnd: number } | undefined;
    const source = start(
      "sub_e2e_partial",
      async (event) => {
        const before = delivered.length;
        recordEvent(event, delivered);
        const mine = delivered.slice(before).filter((d) => d.partition === 2);
        if (!failure && mine.length >= 5) {
          const failed = mine[2] as Delivered;
          failure = {
            partition: 2,
            offset: failed.offset,
            batchEnd: (mine[mine.length - 1] as Delivered).offset,
          };
          return {
            batchItemFailures: [
              { itemIdentifier: { partition: `${TOPIC}-2`, offset: failed.offset } },
            ],
          };
        }
        return { batchItemFailures: [] };
      },
      { "group.id": "e2e-partial-group" },
    );
    await until("all committed", () => committedTotal(source) === RECORDS);
    expect(source.status().groupId).toBe("e2e-partial-group");
    expect(failure).toBeDefined();
    const { offset: x, batchEnd } = failure as { offset: number; batchEnd: number };

    for (let p = 0; p < PARTITIONS; p++) {
      const offsets = delivered.filter((d) => d.partition === p).map((d) => d.offset);
      const count = new Set(offsets).size;
      const expected = Array.from({ length: count }, (_, i) => i);
      if (p !== 2) {
        expect(offsets).toEqual(expected);
        continue;
      }
      // first pass up to the end of the failed batch, then again from X
      const redelivered = Array.from({ length: batchEnd - x + 1 }, (_, i) => x + i);
      expect(offsets).toEqual([
        ...expected.slice(0, batchEnd + 1),
        ...redelivered,
        ...expected.slice(batchEnd + 1),
      ]);
    }
    expect(delivered).toHaveLength(RECORDS + (batchEnd - x + 1));
    await source.stop();
  });

  it("shows the lag of a group that has committed nothing yet, from auto.offset.reset", async () => {
    const lags = (source: LocalEventSource) => {
      const partitions = source.status().partitions;
      return partitions.length === PARTITIONS && partitions.every((p) => p.lag !== undefined)
        ? partitions.map((p) => p.lag ?? 0)
        : undefined;
    };
    const failing = async () => {
      throw new Error("sink down");
    };
    const fromStart = start("sub_e2e_never_committed", failing);
    await until("lag from the log start", () => lags(fromStart) !== undefined, 60_000);
    expect(lags(fromStart)?.reduce((a, b) => a + b, 0)).toBe(RECORDS);
    expect(fromStart.status().partitions.every((p) => p.committedOffset === undefined)).toBe(true);
    const fromEnd = start("sub_e2e_latest", failing, { "auto.offset.reset": "latest" });
    await until("lag from the log end", () => lags(fromEnd) !== undefined, 60_000);
    expect(lags(fromEnd)).toEqual(Array.from({ length: PARTITIONS }, () => 0));
    // What arrives after it started is what it has left to consume (this test runs last: the
    // others count the topic's records).
    const producer = new Producer({
      clientId: "e2e-late-producer",
      bootstrapBrokers: [kafka?.bootstrapServers ?? ""],
      idempotent: true,
    });
    await producer.send({
      messages: Array.from({ length: 8 }, (_, n) => ({
        topic: TOPIC,
        key: Buffer.from(`late-${n}`),
        value: Buffer.from(JSON.stringify({ late: n })),
      })),
    });
    await producer.close();
    await until(
      "lag of the late records",
      () => lags(fromEnd)?.reduce((a, b) => a + b, 0) === 8,
      30_000,
    );
    await fromStart.stop();
    await fromEnd.stop();
  });
});

describe("starting at a time", () => {
  it("a group without commits starts at the first record at or after the time, as AT_TIMESTAMP", async () => {
    const topic = "timed";
    const bootstrap = kafka?.bootstrapServers ?? "";
    const admin = new Admin({ clientId: "e2e-admin-timed", bootstrapBrokers: [bootstrap] });
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    await admin.close();
    const producer = new Producer({
      clientId: "e2e-timed",
      bootstrapBrokers: [bootstrap],
      // A retried send on a loaded machine must not write records twice.
      idempotent: true,
    });
    const send = (from: number) =>
      producer.send({
        messages: Array.from({ length: 10 }, (_, i) => ({
          topic,
          key: Buffer.from(`k-${i % 4}`),
          value: Buffer.from(JSON.stringify({ n: from + i })),
        })),
      });
    let startAt = 0;
    try {
      await send(0);
      await new Promise((r) => setTimeout(r, 200));
      startAt = Date.now();
      await new Promise((r) => setTimeout(r, 200));
      await send(10);
    } finally {
      await producer.close();
    }

    const seen: number[] = [];
    const source = startLocalEventSource({
      subscription: {
        id: "sub_e2e_timed",
        topic,
        options: { "lambda.starting.position.timestamp": new Date(startAt).toISOString() },
      },
      cluster: { name: "local", properties: { "bootstrap.servers": bootstrap } },
      invoke: async (event) => {
        for (const record of decodeKafkaEvent(JSON.parse(JSON.stringify(event))).partitions.flatMap(
          (p) => p.records,
        )) {
          seen.push(JSON.parse(Buffer.from(record.value ?? []).toString()).n);
        }
        return {};
      },
      log: () => {},
      retry: { initialMs: 200, maxMs: 2_000 },
      statusRefreshMs: 500,
    });
    sources.push(source);
    await until("the records after the time", () => seen.length >= 10);
    // Nothing before the time arrives: wait for what a second batch would bring.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    // Everything up to the log end is committed: what lay before the time was skipped, not lost.
    const partitions = source.status().partitions;
    const committed = partitions.reduce((n, p) => n + (p.committedOffset ?? 0), 0);
    expect(committed).toBe(partitions.reduce((n, p) => n + (p.highWatermark ?? 0), 0));
    expect(committed).toBe(20);
  });
});

describe("filters", () => {
  it("records no pattern lets through are not delivered, and their offsets are committed", async () => {
    const topic = "filtered";
    const bootstrap = kafka?.bootstrapServers ?? "";
    const admin = new Admin({ clientId: "e2e-admin-filtered", bootstrapBrokers: [bootstrap] });
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await admin.close();
    const producer = new Producer({
      clientId: "e2e-filtered",
      bootstrapBrokers: [bootstrap],
      idempotent: true,
    });
    try {
      await producer.send({
        messages: Array.from({ length: 20 }, (_, n) => ({
          topic,
          value: Buffer.from(
            n === 19 ? "plain text" : JSON.stringify({ n, type: n % 2 === 0 ? "order" : "refund" }),
          ),
        })),
      });
    } finally {
      await producer.close();
    }
    const seen: number[] = [];
    const source = startLocalEventSource({
      subscription: {
        id: "sub_e2e_filtered",
        topic,
        options: {
          "auto.offset.reset": "earliest",
          "lambda.filter.patterns": JSON.stringify({ value: { type: ["order"] } }),
        },
      },
      cluster: { name: "local", properties: { "bootstrap.servers": bootstrap } },
      invoke: async (event) => {
        for (const record of Object.values(event.records).flat()) {
          seen.push(JSON.parse(Buffer.from(record.value ?? "", "base64").toString()).n);
        }
        return {};
      },
      log: () => {},
      retry: { initialMs: 200, maxMs: 2_000 },
      statusRefreshMs: 500,
    });
    sources.push(source);
    const committed = () =>
      source.status().partitions.reduce((n, p) => n + (p.committedOffset ?? 0), 0);
    await until("every offset committed", () => committed() === 20);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i * 2));
    // The mapping's polled and filtered counts, as the dashboard shows them.
    expect(source.status()).toMatchObject({ recordsPolled: 20, recordsFiltered: 10 });
  });
});
