// Drives the consumer the way the event source mapping does — redelivering each partition from
// the offset a partial batch response names, or the whole batch when the handler throws —
// against a loopback sink that fails, hangs and resets connections at random, and a DynamoDB
// that throttles. Over thousands of records and many keys: nothing lost (each record delivered
// or dead-lettered), per-key order kept, no record delivered twice, and one poison key holds up
// no other key.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
import type { DeadLetter } from "../../src/core/dead-letters.ts";
import type { DeadLetterStore } from "../../src/core/reliability-ports.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import { createConsumerHandler, reliabilityStores } from "../../src/wiring/consumer.ts";
import { demoCluster, functionArn, service, subscription } from "../helpers/catalog-fixtures.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import { type RecordSpec, selfManagedEvent } from "../helpers/kafka-events.ts";

const PARTITIONS = 4;
const RECORDS_PER_PARTITION = 600;
const KEYS = 48;
const BATCH_SIZE = 150;
const POISON_KEY = "key-13";
const MAX_ROUNDS = 300;

/** Deterministic PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Delivery {
  readonly key: string;
  readonly partition: number;
  readonly offset: number;
}

interface FaultySink {
  readonly url: string;
  readonly deliveries: Delivery[];
  readonly faults: { error500: number; reset: number; hang: number; poison: number };
  close(): Promise<void>;
}

/** Answers 200 only when it processed the record; every fault leaves the record unprocessed. */
async function startFaultySink(random: () => number): Promise<FaultySink> {
  const deliveries: Delivery[] = [];
  const faults = { error500: 0, reset: 0, hang: 0, poison: 0 };
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const key = decodeURIComponent((request.url ?? "").split("/")[2] ?? "");
      const partition = Number(request.headers["kafka.partition"]);
      const offset = Number(request.headers["kafka.offset"]);
      if (key === POISON_KEY) {
        faults.poison++;
        response.writeHead(500).end("poison");
        return;
      }
      const dice = random();
      if (dice < 0.08) {
        faults.error500++;
        response.writeHead(503).end("unavailable");
      } else if (dice < 0.11) {
        faults.reset++;
        request.socket.destroy();
      } else if (dice < 0.13) {
        faults.hang++;
        setTimeout(() => request.socket.destroy(), 5_000);
      } else {
        deliveries.push({ key, partition, offset });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deliveries,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Makes a share of the client's calls fail with throttling before they reach the store. */
function throttle(client: DynamoDBClient, random: () => number, rate: number) {
  const injected = { count: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      if (random() < rate) {
        injected.count++;
        throw new ProvisionedThroughputExceededException({
          message: "injected throttle",
          $metadata: { httpStatusCode: 400 },
        });
      }
      return next(args);
    },
    { step: "finalizeRequest", name: "injectThrottle", priority: "low" },
  );
  return injected;
}

/** Keyed records as a producer writes them: a key always lands in the same partition. */
function topicRecords(topic: string): RecordSpec[] {
  const random = prng(7);
  const records: RecordSpec[] = [];
  const next = new Array<number>(PARTITIONS).fill(0);
  for (let i = 0; i < PARTITIONS * RECORDS_PER_PARTITION; i++) {
    const n = Math.floor(random() * KEYS);
    const key = `key-${String(n).padStart(2, "0")}`;
    const partition = n % PARTITIONS;
    const offset = next[partition] ?? 0;
    next[partition] = offset + 1;
    records.push({ topic, partition, offset, key, value: JSON.stringify({ key, offset }) });
  }
  return records;
}

async function allDeadLetters(store: DeadLetterStore, subscriptionId: string) {
  const letters: DeadLetter[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(subscriptionId, { limit: 500, ...(cursor ? { cursor } : {}) });
    letters.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return letters;
}

interface RunFigures {
  readonly rounds: number;
  readonly thrownBatches: number;
  readonly roundsUntilOthersDelivered: number;
  readonly roundPoisonParked: number;
}

/** The event source: one batch at a time over all partitions, resumed the way AWS resumes. */
async function driveLikeTheEventSource(
  records: RecordSpec[],
  invoke: (event: unknown) => Promise<unknown>,
  isDone: () => boolean,
  othersDelivered: () => boolean,
  poisonParked: () => Promise<boolean>,
): Promise<RunFigures> {
  const position = Array.from({ length: PARTITIONS }, () => 0);
  let rounds = 0;
  let thrownBatches = 0;
  let roundsUntilOthersDelivered = -1;
  let roundPoisonParked = -1;
  while (rounds < MAX_ROUNDS) {
    const batch = records.filter(
      (r) =>
        r.offset >= (position[r.partition] ?? 0) &&
        r.offset < (position[r.partition] ?? 0) + BATCH_SIZE,
    );
    if (batch.length === 0) break;
    rounds++;
    const event = selfManagedEvent("127.0.0.1:9092", batch);
    try {
      const response = (await invoke(event)) as
        | { batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[] }
        | undefined;
      const failed = new Map(
        (response?.batchItemFailures ?? []).map((f) => [
          f.itemIdentifier.partition,
          f.itemIdentifier.offset,
        ]),
      );
      for (let p = 0; p < PARTITIONS; p++) {
        const inBatch = batch.filter((r) => r.partition === p);
        const last = inBatch.at(-1);
        if (last === undefined) continue;
        position[p] = failed.get(`orders-${p}`) ?? last.offset + 1;
      }
    } catch {
      thrownBatches++;
    }
    if (roundsUntilOthersDelivered < 0 && othersDelivered()) roundsUntilOthersDelivered = rounds;
    if (roundPoisonParked < 0 && (await poisonParked())) roundPoisonParked = rounds;
    if (isDone()) break;
  }
  return { rounds, thrownBatches, roundsUntilOthersDelivered, roundPoisonParked };
}

describe("fault injection: the consumer under a faulty sink and a throttling store", () => {
  let dynamo: TestDynamo;

  beforeAll(async () => {
    dynamo = await startTestDynamo();
  });
  afterAll(async () => {
    await dynamo.close();
  });

  for (const partialBatchResponse of [true, false]) {
    const mode = partialBatchResponse ? "partial batch responses" : "whole-batch retries";
    it(`loses nothing, duplicates nothing and keeps key order with ${mode}`, async () => {
      const random = prng(partialBatchResponse ? 101 : 202);
      const sink = await startFaultySink(random);
      const table = await dynamo.freshTable();
      const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
      const client = new DynamoDBClient({
        endpoint: dynamo.db.endpoint,
        region: "local",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
        maxAttempts: 2,
      });
      const throttles = throttle(client, random, 0.1);
      const stores = reliabilityStores(client, table);
      // What the test itself reads afterwards goes past the injected throttling.
      const observed = reliabilityStores(
        new DynamoDBClient({
          endpoint: dynamo.db.endpoint,
          region: "local",
          credentials: { accessKeyId: "test", secretAccessKey: "test" },
        }),
        table,
      );
      const sub = subscription({
        options: {
          // A record must fail in four invocations in a row (3 attempts each) to be dead-lettered:
          // the random faults alone almost never do that; the poison key always does.
          "dead.letter.max.attempts": "12",
          ...(partialBatchResponse ? { "lambda.report.batch.item.failures": "true" } : {}),
        },
      });
      const handler = createConsumerHandler({
        catalog: memoryCatalog({
          subscriptions: [sub],
          services: [service({ endpoint: sink.url })],
          clusters: [demoCluster],
        }),
        config: {
          ...CONSUMER_DEFAULTS,
          MAX_CONCURRENCY: 64,
          CATALOG_CACHE_TTL_MS: 60_000,
          MAX_ATTEMPTS: 3,
          REQUEST_TIMEOUT_MS: 2_500,
          DEADLINE_MARGIN_MS: 1_000,
          RETRY_BASE_DELAY_MS: 5,
          RETRY_MAX_DELAY_MS: 40,
        },
        reliability: stores,
        log: () => {},
      });
      const records = topicRecords("orders");
      const others = records.filter((r) => r.key !== POISON_KEY);
      const deliveredOnce = () => new Set(sink.deliveries.map((d) => `${d.partition}/${d.offset}`));

      try {
        const figures = await driveLikeTheEventSource(
          records,
          (event) =>
            handler(event, {
              invokedFunctionArn: functionArn(sub.id),
              getRemainingTimeInMillis: () => 60_000,
            }),
          () => false,
          () => {
            const delivered = deliveredOnce();
            return others.every((r) => delivered.has(`${r.partition}/${r.offset}`));
          },
          async () => (await observed.deadLetters.listParkedKeys(sub.id)).items.length > 0,
        );
        const letters = await allDeadLetters(observed.deadLetters, sub.id);

        // Nothing lost: every record delivered or dead-lettered, never both.
        const delivered = deliveredOnce();
        const lettered = new Set(letters.map((l) => `${l.partition}/${l.offset}`));
        const lost = records.filter(
          (r) =>
            !delivered.has(`${r.partition}/${r.offset}`) &&
            !lettered.has(`${r.partition}/${r.offset}`),
        );
        expect(lost).toEqual([]);
        expect([...lettered].filter((id) => delivered.has(id))).toEqual([]);

        // Nothing duplicated: each record got exactly one successful delivery.
        const duplicates = sink.deliveries.length - delivered.size;
        expect(duplicates).toBe(0);

        // Per-key order: each key's deliveries arrive in offset order within its partition.
        const lastOffset = new Map<string, number>();
        for (const d of sink.deliveries) {
          const lane = `${d.partition}/${d.key}`;
          expect(d.offset).toBeGreaterThan(lastOffset.get(lane) ?? -1);
          lastOffset.set(lane, d.offset);
        }

        // The poison key is dead-lettered (its first record exhausted, the rest parked behind it);
        // no other record is.
        const poison = records.filter((r) => r.key === POISON_KEY);
        expect(letters.map((l) => `${l.partition}/${l.offset}`).sort()).toEqual(
          poison.map((r) => `${r.partition}/${r.offset}`).sort(),
        );
        expect(letters.filter((l) => l.kind === "exhausted").length).toBeGreaterThan(0);
        expect(others.every((r) => delivered.has(`${r.partition}/${r.offset}`))).toBe(true);

        // The poison key holds up no other key for long: every other record is delivered within
        // a few rounds of the fault-free minimum, while the poison key is parked on its own.
        const minimumRounds = Math.ceil(RECORDS_PER_PARTITION / BATCH_SIZE);
        expect(figures.roundPoisonParked).toBeGreaterThan(0);
        expect(figures.roundsUntilOthersDelivered).toBeLessThanOrEqual(minimumRounds + 12);

        console.log(
          JSON.stringify({
            mode,
            records: records.length,
            keys: KEYS,
            delivered: delivered.size,
            deadLettered: letters.length,
            lost: lost.length,
            duplicateDeliveries: duplicates,
            sinkFaults: sink.faults,
            storeThrottlesInjected: throttles.count,
            eventSourceRounds: figures.rounds,
            batchesThrown: figures.thrownBatches,
            roundsUntilOtherKeysDelivered: figures.roundsUntilOthersDelivered,
            fastestPossibleRounds: minimumRounds,
            roundPoisonKeyParked: figures.roundPoisonParked,
          }),
        );
      } finally {
        client.destroy();
        await sink.close();
      }
    }, 120_000);
  }
});

// The same guarantees when the log itself misbehaves: offsets reused (the topic deleted and
// recreated while progress of the old one is still stored), batches smaller than the ones before
// them (the event source resumes at a failed offset with fewer records), and invocations that die
// mid-batch (nothing more reaches the store or the sink). The sink behaves as a Restate ingress:
// a request whose idempotency key already ran is answered without running again.
describe("fault injection: reused offsets, smaller redelivered batches, crashes mid-batch", () => {
  let dynamo: TestDynamo;
  beforeAll(async () => {
    dynamo = await startTestDynamo();
  });
  afterAll(async () => {
    await dynamo.close();
  });

  it("runs every record of the new topic once, in key order, and sends nothing settled again", async () => {
    const random = prng(303);
    const state = {
      dead: false,
      round: 0,
      ran: new Map<string, { gen: number; partition: number; offset: number; key: string }>(),
      /** idempotency key → round in which the sink answered 200. */
      answered: new Map<string, number>(),
      requests: [] as Array<{ id: string; round: number }>,
      order: [] as Array<{ gen: number; partition: number; offset: number; key: string }>,
    };
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (c: Buffer) => chunks.push(c));
      request.on("end", () => {
        if (state.dead) return request.socket.destroy();
        const id = String(request.headers["idempotency-key"]);
        state.requests.push({ id, round: state.round });
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          gen: number;
          key: string;
          offset: number;
        };
        if (body.key === POISON_KEY) return response.writeHead(500).end("poison");
        setTimeout(() => answer(id, body, request, response), 1 + Math.floor(random() * 3));
      });
    });
    const answer = (
      id: string,
      body: { gen: number; key: string; offset: number },
      request: import("node:http").IncomingMessage,
      response: import("node:http").ServerResponse,
    ) => {
      if (state.dead) return request.socket.destroy();
      if (!state.ran.has(id)) {
        const dice = random();
        if (dice < 0.06) return response.writeHead(503).end("unavailable");
        if (dice < 0.08) return request.socket.destroy();
        const partition = Number(request.headers["kafka.partition"]);
        const entry = { gen: body.gen, partition, offset: body.offset, key: body.key };
        state.ran.set(id, entry);
        state.order.push(entry);
      }
      state.answered.set(id, state.round);
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    };
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const client = dynamo.faultyClient(() =>
      state.dead ? new Error("the process is gone") : undefined,
    );
    const table = await dynamo.freshTable();
    const stores = reliabilityStores(client, table);
    const sub = subscription({
      options: { "dead.letter.max.attempts": "9", "lambda.report.batch.item.failures": "true" },
    });
    const handler = createConsumerHandler({
      catalog: memoryCatalog({
        subscriptions: [sub],
        services: [service({ endpoint: url })],
        clusters: [demoCluster],
      }),
      config: {
        ...CONSUMER_DEFAULTS,
        MAX_CONCURRENCY: 32,
        CATALOG_CACHE_TTL_MS: 60_000,
        MAX_ATTEMPTS: 3,
        REQUEST_TIMEOUT_MS: 2_500,
        DEADLINE_MARGIN_MS: 1_000,
        CHECKPOINT_INTERVAL_MS: 20,
        RETRY_BASE_DELAY_MS: 2,
        RETRY_MAX_DELAY_MS: 20,
      },
      reliability: stores,
      log: () => {},
    });

    const generation = (gen: number, perPartition: number): RecordSpec[] => {
      const pick = prng(gen * 11);
      const next = new Array<number>(PARTITIONS).fill(0);
      const out: RecordSpec[] = [];
      for (let i = 0; i < PARTITIONS * perPartition; i++) {
        const n = Math.floor(pick() * KEYS);
        const key = `key-${String(n).padStart(2, "0")}`;
        const partition = n % PARTITIONS;
        const offset = next[partition] ?? 0;
        if (offset >= perPartition) continue;
        next[partition] = offset + 1;
        out.push({
          topic: "orders",
          partition,
          offset,
          key,
          value: JSON.stringify({ gen, key, offset }),
          timestamp: 1_700_000_000_000 + gen * 1_000_000 + offset,
        });
      }
      return out;
    };

    const position = Array.from({ length: PARTITIONS }, () => 0);
    const committedRounds = new Set<number>();
    const crashes = { count: 0 };
    let smallerBatches = 0;
    const lastSize = new Array<number>(PARTITIONS).fill(0);
    /** One event-source round: a batch of random size from each partition's position; every
     * fourth round the process dies once some records are through. */
    const round = async (records: RecordSpec[]) => {
      state.round++;
      const size = 10 + Math.floor(random() * 50);
      const batch = records.filter(
        (r) =>
          r.offset >= (position[r.partition] ?? 0) &&
          r.offset < (position[r.partition] ?? 0) + size,
      );
      if (batch.length === 0) return false;
      for (let p = 0; p < PARTITIONS; p++) {
        const n = batch.filter((r) => r.partition === p).length;
        if (n > 0 && n < (lastSize[p] ?? 0)) smallerBatches++;
        lastSize[p] = n;
      }
      const crash = state.round % 4 === 0;
      const answeredBefore = state.answered.size;
      const crashAfter = 1 + Math.floor(random() * 30);
      let watcher: NodeJS.Timeout | undefined;
      if (crash) {
        crashes.count++;
        watcher = setInterval(() => {
          if (state.answered.size - answeredBefore >= crashAfter) state.dead = true;
        }, 2);
      }
      try {
        const response = (await handler(selfManagedEvent("127.0.0.1:9092", batch), {
          invokedFunctionArn: functionArn(sub.id),
          getRemainingTimeInMillis: () => 60_000,
        })) as { batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[] };
        if (!state.dead) committedRounds.add(state.round);
        const failed = new Map(
          response.batchItemFailures.map((f) => [
            f.itemIdentifier.partition,
            f.itemIdentifier.offset,
          ]),
        );
        for (let p = 0; p < PARTITIONS; p++) {
          const last = batch.filter((r) => r.partition === p).at(-1);
          if (last !== undefined) position[p] = failed.get(`orders-${p}`) ?? last.offset + 1;
        }
      } catch {
        // thrown (or the process died): the event source sends the same offsets again
      } finally {
        clearInterval(watcher);
        state.dead = false;
      }
      return true;
    };

    try {
      // The old topic: a few rounds, leaving progress (failures, settled offsets) behind.
      const old = generation(1, 200);
      for (let i = 0; i < 2; i++) await round(old);
      const stale = await stores.progress.load(
        sub.id,
        Array.from({ length: PARTITIONS }, (_, p) => `orders-${p}`),
      );
      expect([...stale.values()].some((p) => p.settled.length > 0)).toBe(true);
      // Deleted and recreated: the same offsets again, other records; the group starts over.
      const fresh = generation(2, 300);
      position.fill(0);
      const ranBefore = new Set(state.ran.keys());
      let rounds = 0;
      while (rounds++ < MAX_ROUNDS && (await round(fresh))) {}

      const letters = await allDeadLetters(stores.deadLetters, sub.id);
      const letterOf = (l: DeadLetter) =>
        JSON.parse(Buffer.from(l.value ?? "", "base64").toString("utf8")) as { gen: number };
      const freshLetters = letters.filter((l) => letterOf(l).gen === 2);
      const ranFresh = [...state.ran.entries()].filter(
        ([id, r]) => r.gen === 2 && !ranBefore.has(id),
      );

      // Nothing lost: every record of the new topic ran or was dead-lettered, never both.
      const ranAt = new Set(ranFresh.map(([, r]) => `${r.partition}/${r.offset}`));
      const letteredAt = new Set(freshLetters.map((l) => `${l.partition}/${l.offset}`));
      const lost = fresh.filter(
        (r) =>
          !ranAt.has(`${r.partition}/${r.offset}`) && !letteredAt.has(`${r.partition}/${r.offset}`),
      );
      expect(lost).toEqual([]);
      expect([...letteredAt].filter((at) => ranAt.has(at))).toEqual([]);
      expect(ranFresh).toHaveLength(ranAt.size); // ran once each
      expect(
        freshLetters.every((l) => (l.key ?? "") === Buffer.from(POISON_KEY).toString("base64")),
      ).toBe(true);

      // Per-key order among the new topic's records.
      const last = new Map<string, number>();
      for (const r of state.order.filter((o) => o.gen === 2)) {
        const lane = `${r.partition}/${r.key}`;
        expect(r.offset).toBeGreaterThan(last.get(lane) ?? -1);
        last.set(lane, r.offset);
      }

      // Nothing settled is sent again: a request after a 200 answered in a round that committed.
      const resentAfterCommit = state.requests.filter((q) => {
        const answeredIn = state.answered.get(q.id);
        return (
          answeredIn !== undefined &&
          q.round > answeredIn &&
          committedRounds.has(answeredIn) &&
          state.requests.some((p) => p.id === q.id && p.round === answeredIn)
        );
      });
      expect(resentAfterCommit.length).toBe(0);
      expect(crashes.count).toBeGreaterThanOrEqual(3);
      expect(smallerBatches).toBeGreaterThan(0);

      console.log(
        JSON.stringify({
          mode: "reused offsets, smaller batches, crashes",
          records: fresh.length,
          ran: ranFresh.length,
          deadLettered: freshLetters.length,
          lost: lost.length,
          eventSourceRounds: state.round,
          crashes: crashes.count,
          smallerBatches,
          requests: state.requests.length,
        }),
      );
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }, 180_000);
});
