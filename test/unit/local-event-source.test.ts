import { afterEach, describe, expect, it } from "vitest";
import type { EsmKafkaEvent, SourceRecord } from "../../src/local/kafka/batching.ts";
import {
  LOCAL_DEFAULT_BATCH_SIZE,
  type LocalEventSource,
  startLocalEventSource,
} from "../../src/local/kafka/event-source.ts";
import type {
  FeedHandlers,
  OpenFeed,
  RecordFeed,
} from "../../src/local/kafka/platformatic-client.ts";
import { waitUntil } from "../helpers/until.ts";

/** An in-memory Kafka: a topic's partitions, a group's commits, and the latest feed's handlers. */
class FakeKafka {
  readonly log: SourceRecord[][] = [[], []];
  readonly commits = new Map<number, number>();
  handlers: FeedHandlers | undefined;
  opens = 0;
  failOpens = 0;
  /** Offset of the earliest record kept (records before it were deleted by retention). */
  logStart = 0;

  produce(partition: number, count: number): void {
    const records = this.log[partition] as SourceRecord[];
    for (let i = 0; i < count; i++) {
      records.push({
        topic: "t",
        partition,
        offset: records.length,
        timestamp: 1,
        key: Buffer.from("k"),
        value: Buffer.from("{}"),
        headers: [],
      });
    }
  }

  /** Delivers everything from the committed offsets on, like a fresh consumer would. */
  feedAll(): void {
    this.log.forEach((records, partition) => {
      for (const r of records.slice(this.commits.get(partition) ?? 0)) this.handlers?.onRecord(r);
    });
  }

  readonly open: OpenFeed = async (_options, handlers) => {
    this.opens++;
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new Error("connection refused");
    }
    this.handlers = handlers;
    handlers.onAssigned([0, 1]);
    const feed: RecordFeed = {
      pause: () => {},
      resume: () => {},
      commit: async (offsets) => {
        for (const { partition, offset } of offsets) this.commits.set(partition, offset);
      },
      highWatermarks: async () => new Map(this.log.map((r, p) => [p, r.length])),
      lowWatermarks: async () => new Map(this.log.map((_, p) => [p, this.logStart])),
      committedOffsets: async () => new Map(this.commits),
      close: async () => {},
    };
    queueMicrotask(() => this.feedAll());
    return feed;
  };
}

const until = waitUntil({ timeoutMs: 5_000, pollMs: 5 });

const offsetsOf = (event: EsmKafkaEvent, id: string) =>
  (event.records[id] ?? []).map((r) => r.offset);

describe("startLocalEventSource", () => {
  let source: LocalEventSource | undefined;
  afterEach(async () => {
    await source?.stop();
    source = undefined;
  });

  const start = (
    kafka: FakeKafka,
    invoke: (e: EsmKafkaEvent) => Promise<unknown>,
    options: Record<string, string> = {},
  ) =>
    startLocalEventSource({
      subscription: {
        id: "sub_1",
        topic: "t",
        options: {
          "auto.offset.reset": "earliest",
          "lambda.batch.window.seconds": "0",
          ...options,
        },
      },
      cluster: { name: "local", properties: { "bootstrap.servers": "PLAINTEXT://127.0.0.1:9" } },
      invoke,
      log: () => {},
      openFeed: kafka.open,
      reportBatchItemFailures: true,
      retry: { initialMs: 5, maxMs: 20 },
      statusRefreshMs: 20,
    });

  it("delivers every record once in batches and commits after success", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 1_250);
    kafka.produce(1, 30);
    const events: EsmKafkaEvent[] = [];
    source = start(kafka, async (event) => {
      events.push(event);
    });
    await until("commits", () => kafka.commits.get(0) === 1_250 && kafka.commits.get(1) === 30);
    const seen0 = events.flatMap((e) => offsetsOf(e, "t-0"));
    expect(seen0).toEqual(Array.from({ length: 1_250 }, (_, i) => i));
    // Without `lambda.batch.size`, batches fill up to the local default (500), never beyond.
    expect(LOCAL_DEFAULT_BATCH_SIZE).toBe(500);
    expect(Math.max(...events.map((e) => Object.values(e.records).flat().length))).toBe(500);
    expect(events[0]?.bootstrapServers).toBe("127.0.0.1:9");
    await until("status", () => source?.status().partitions[0]?.lag === 0);
    expect(source.status()).toMatchObject({
      state: "running",
      groupId: "sub_1",
      recordsCompleted: 1_280,
    });
  });

  it("keeps batches within the subscription's lambda.batch.size", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 450);
    const sizes: number[] = [];
    source = start(
      kafka,
      async (event) => {
        sizes.push(Object.values(event.records).flat().length);
      },
      { "lambda.batch.size": "100" },
    );
    await until("commits", () => kafka.commits.get(0) === 450);
    expect(Math.max(...sizes)).toBe(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(450);
  });

  it("a group that has committed nothing shows its lag from where it starts", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 40);
    kafka.produce(1, 15);
    kafka.logStart = 10; // auto.offset.reset=earliest starts at the log start offset
    source = start(kafka, async () => {
      throw new Error("sink down");
    });
    await until("lag", () => {
      const partitions = source?.status().partitions ?? [];
      return partitions.length === 2 && partitions.every((p) => p.lag !== undefined);
    });
    const partitions = source.status().partitions;
    expect(partitions.map((p) => [p.committedOffset, p.highWatermark, p.lag])).toEqual([
      [undefined, 40, 30],
      [undefined, 15, 5],
    ]);
    expect(kafka.commits.size).toBe(0);
  });

  it("retries a failed batch with backoff, blocking its partitions, then commits", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 3);
    let calls = 0;
    const events: EsmKafkaEvent[] = [];
    source = start(kafka, async (event) => {
      calls++;
      events.push(event);
      if (calls <= 2) throw new Error("sink down");
    });
    await until("commit", () => kafka.commits.get(0) === 3);
    expect(events.map((e) => offsetsOf(e, "t-0"))).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(source.status().lastError?.message).toContain("sink down");
    expect(source.status().state).toBe("running");
    expect(source.status()).toMatchObject({
      batchesInvoked: 3,
      batchesFailed: 2,
      recordsPolled: 3,
    });
  });

  it("redelivers a partition from the offset a partial batch response names", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 5);
    kafka.produce(1, 5);
    const seen: Array<[string, number[]]> = [];
    let failed = false;
    source = start(kafka, async (event) => {
      for (const id of Object.keys(event.records)) seen.push([id, offsetsOf(event, id)]);
      if (!failed && event.records["t-0"]) {
        failed = true;
        return { batchItemFailures: [{ itemIdentifier: { partition: "t-0", offset: 3 } }] };
      }
      return {};
    });
    await until("commits", () => kafka.commits.get(0) === 5 && kafka.commits.get(1) === 5);
    const p0 = seen.filter(([id]) => id === "t-0").flatMap(([, o]) => o);
    const p1 = seen.filter(([id]) => id === "t-1").flatMap(([, o]) => o);
    expect(p0).toEqual([0, 1, 2, 3, 4, 3, 4]);
    expect(p1).toEqual([0, 1, 2, 3, 4]);
  });

  it("keeps retrying when Kafka is unreachable, then consumes", async () => {
    const kafka = new FakeKafka();
    kafka.failOpens = 3;
    kafka.produce(1, 2);
    const events: EsmKafkaEvent[] = [];
    source = start(kafka, async (e) => {
      events.push(e);
    });
    await until("retrying", () => source?.status().state === "retrying");
    expect(source.status().lastError?.message).toContain("connection refused");
    await until("commit", () => kafka.commits.get(1) === 2);
    expect(kafka.opens).toBe(4);
    expect(source.status().state).toBe("running");
  });

  it("stops at once while a failed batch waits for its retry, invoking it no more", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 3);
    let calls = 0;
    const started = startLocalEventSource({
      subscription: {
        id: "sub_1",
        topic: "t",
        options: { "auto.offset.reset": "earliest", "lambda.batch.window.seconds": "0" },
      },
      cluster: { name: "local", properties: { "bootstrap.servers": "PLAINTEXT://127.0.0.1:9" } },
      invoke: async () => {
        calls++;
        throw new Error("sink down");
      },
      log: () => {},
      openFeed: kafka.open,
      retry: { initialMs: 60_000, maxMs: 60_000 },
    });
    await until("first failure", () => started.status().state === "retrying");
    const stopping = Date.now();
    await started.stop();
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(calls).toBe(1);
    expect(started.status().state).toBe("stopped");
    expect(kafka.commits.size).toBe(0);
  });

  it("stops at once while waiting to reconnect", async () => {
    const kafka = new FakeKafka();
    kafka.failOpens = 1_000;
    const started = startLocalEventSource({
      subscription: { id: "sub_1", topic: "t", options: {} },
      cluster: { name: "local", properties: { "bootstrap.servers": "127.0.0.1:9" } },
      invoke: async () => {},
      log: () => {},
      openFeed: kafka.open,
      retry: { initialMs: 60_000, maxMs: 60_000 },
    });
    await until("first open failed", () => started.status().state === "retrying");
    const stopping = Date.now();
    await started.stop();
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(kafka.opens).toBe(1);
  });

  it("does not deliver duplicates when a reconnect refetches from the committed offsets", async () => {
    const kafka = new FakeKafka();
    kafka.produce(0, 10);
    const offsets: number[] = [];
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    source = start(kafka, async (event) => {
      offsets.push(...offsetsOf(event, "t-0"));
      await gate;
    });
    await until("first batch", () => offsets.length === 10);
    kafka.handlers?.onError(new Error("broker restarted"));
    await until("reopen", () => kafka.opens === 2);
    release?.();
    await until("commit", () => kafka.commits.get(0) === 10);
    kafka.feedAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(offsets).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});
