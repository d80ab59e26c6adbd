// Dead-letter routes, pause / resume and endpoint policy of the admin API, against dynalite, with
// replayed letters delivered to a real loopback HTTP sink.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../../src/adapters/dynamo/progress-store.ts";
import { type AdminApi, type AdminApiDeps, createAdminApi } from "../../src/app/admin-api.ts";
import type { SinkReplay } from "../../src/app/sink-replay.ts";
import { ADMIN_DEFAULTS, CONSUMER_DEFAULTS } from "../../src/config.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { buildDeadLetter, type DeadLetter, parkedKeyId } from "../../src/core/dead-letters.ts";
import { parseEndpointAllowList } from "../../src/core/endpoint-policy.ts";
import type { DecodedRecord } from "../../src/core/event.ts";
import type { DeadLetterStore } from "../../src/core/reliability-ports.ts";
import { REPLAY_PAGE_SIZE } from "../../src/core/replay.ts";
import { createConsumerHandler, createHttpSinkReplay } from "../../src/wiring/consumer.ts";
import { call, FakeFeedControl } from "../helpers/admin.ts";
import { functionArn } from "../helpers/catalog-fixtures.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import { selfManagedEvent } from "../helpers/kafka-events.ts";
import {
  type RecordedRequest,
  type RecordingSink,
  type SinkReply,
  startRecordingSink,
} from "../helpers/recording-sink.ts";

const NOW = 1_700_000_000_000;
const TOPIC = "orders";
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

let dynamo: TestDynamo;
let sink: RecordingSink;
let reply: (request: RecordedRequest) => SinkReply;
let store: DynamoAdminStore;
let letters: DynamoDeadLetterStore;
let progress: DynamoProgressStore;
let feeds: FakeFeedControl;
let replay: SinkReplay;
let api: AdminApi;
let subId: string;

function apiWith(overrides: Partial<AdminApiDeps> = {}): AdminApi {
  return createAdminApi({
    store,
    feeds,
    maxBodyBytes: 64 * 1024,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    deadLetters: letters,
    progress,
    replayDelivery: (subscription) => replay.forSubscription(subscription),
    log: () => {},
    ...overrides,
  });
}

function record(partition: number, offset: number, key: string | null, value: string) {
  return {
    topic: TOPIC,
    partition,
    offset,
    timestamp: NOW + offset,
    timestampType: "CREATE_TIME",
    key: key === null ? null : utf8(key),
    value: utf8(value),
    headers: [["trace", utf8(`t-${offset}`)] as const],
  } satisfies DecodedRecord;
}

/** A letter of `subId`; `parks` makes it part of its key's parked sequence. */
function letter(
  partition: number,
  offset: number,
  key: string,
  parks: boolean,
  value = `{"n":${offset}}`,
): DeadLetter {
  const partitionId = `${TOPIC}-${partition}`;
  return buildDeadLetter({
    subscriptionId: subId,
    partitionId,
    record: record(partition, offset, key, value),
    kind: parks ? (offset === 5 ? "exhausted" : "parked-behind") : "terminal",
    reason: parks ? "HTTP 503" : "HTTP 400: bad input",
    attempts: 3,
    firstFailedAt: NOW,
    parkedAt: NOW,
    ...(parks ? { parksKey: parkedKeyId(partitionId, utf8(key)) } : {}),
  });
}

const K1 = `${TOPIC}-0#${Buffer.from("k1").toString("base64")}`;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  sink = await startRecordingSink((request) => reply(request));
});
afterAll(async () => {
  await sink.close();
  await dynamo.close();
});
beforeEach(async () => {
  reply = () => ({ status: 200 });
  sink.requests.length = 0;
  const table = await dynamo.freshTable();
  store = new DynamoAdminStore(dynamo.client, table);
  letters = new DynamoDeadLetterStore(dynamo.client, table);
  progress = new DynamoProgressStore(dynamo.client, table);
  feeds = new FakeFeedControl();
  replay = createHttpSinkReplay({
    catalog: store,
    deadLetters: letters,
    requestTimeoutMs: 2_000,
    retryDelayMs: 1,
  });
  api = apiWith();
  const [cluster] = clustersFromConfigFile({
    ingress: { "kafka-clusters": [{ name: "my-cluster", brokers: ["PLAINTEXT://broker:9092"] }] },
  });
  if (cluster) await store.upsertConfigCluster(cluster);
  const service = await call(api, "POST", "/services", {
    name: "Orders",
    type: "virtual_object",
    endpoint: sink.url,
    handlers: { process: {} },
  });
  expect(service.status).toBe(201);
  const created = await call(api, "POST", "/subscriptions", {
    source: `kafka://my-cluster/${TOPIC}`,
    sink: "service://Orders/process",
  });
  expect(created.status).toBe(201);
  subId = created.json.id;
});

async function markDeleting(): Promise<void> {
  const subscription = await store.getSubscription(subId);
  if (!subscription) throw new Error("subscription gone");
  await store.updateSubscription({ ...subscription, status: "deleting" });
}

async function parkSample(): Promise<void> {
  await letters.park([
    letter(0, 5, "k1", true),
    letter(0, 6, "k1", true),
    letter(0, 7, "k1", true),
    letter(0, 9, "k2", false),
    letter(1, 3, "k3", false),
  ]);
}

describe("listing", () => {
  it("lists letters in (partition, offset) order with base64 values, pages and filters", async () => {
    await parkSample();
    const all = await call(api, "GET", `/subscriptions/${subId}/dead-letters`);
    expect(all.status).toBe(200);
    expect(all.json.cursor).toBeUndefined();
    expect(all.json.dead_letters.map((l: DeadLetter) => [l.partitionId, l.offset])).toEqual([
      ["orders-0", 5],
      ["orders-0", 6],
      ["orders-0", 7],
      ["orders-0", 9],
      ["orders-1", 3],
    ]);
    expect(all.json.dead_letters[0]).toEqual({
      partitionId: "orders-0",
      topic: TOPIC,
      partition: 0,
      offset: 5,
      timestamp: NOW + 5,
      timestampType: "CREATE_TIME",
      key: Buffer.from("k1").toString("base64"),
      value: Buffer.from('{"n":5}').toString("base64"),
      headers: [{ name: "trace", value: Buffer.from("t-5").toString("base64") }],
      fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
      kind: "exhausted",
      reason: "HTTP 503",
      attempts: 3,
      firstFailedAt: NOW,
      parkedAt: NOW,
      parksKey: K1,
    });

    const first = await call(api, "GET", `/subscriptions/${subId}/dead-letters`, undefined, {
      limit: "2",
    });
    expect(first.json.dead_letters).toHaveLength(2);
    expect(typeof first.json.cursor).toBe("string");
    const second = await call(api, "GET", `/subscriptions/${subId}/dead-letters`, undefined, {
      limit: "2",
      cursor: first.json.cursor,
    });
    expect(second.json.dead_letters.map((l: DeadLetter) => l.offset)).toEqual([7, 9]);

    for (const partition of ["1", "orders-1"]) {
      const one = await call(api, "GET", `/subscriptions/${subId}/dead-letters`, undefined, {
        partition,
      });
      expect(one.json.dead_letters.map((l: DeadLetter) => l.offset)).toEqual([3]);
    }
  });

  it("answers 400 for a bad limit, cursor or partition and 404 for an unknown subscription", async () => {
    const path = `/subscriptions/${subId}/dead-letters`;
    const garbage = Buffer.from('{"sk":""}').toString("base64url");
    const queries: Array<Record<string, string>> = [
      { limit: "0" },
      { limit: "1001" },
      { limit: "abc" },
      { limit: "-1" },
      { cursor: "!!" },
      { cursor: "abc" },
      { cursor: garbage },
      { partition: "x#y" },
    ];
    for (const query of queries) {
      const response = await call(api, "GET", path, undefined, query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(response.json.message).toEqual(expect.any(String));
    }
    // A cursor from another partition's listing is refused, not passed to DynamoDB.
    const outside = Buffer.from('{"sk":"orders-1#00000000000000000003"}').toString("base64url");
    const response = await call(api, "GET", path, undefined, { partition: "0", cursor: outside });
    expect(response.status).toBe(400);
    expect((await call(api, "GET", "/subscriptions/sub_nope/dead-letters")).status).toBe(404);
    expect((await call(api, "GET", "/subscriptions/sub_nope/parked-keys")).status).toBe(404);
  });

  it("lists parked keys with their letter counts", async () => {
    await parkSample();
    const response = await call(api, "GET", `/subscriptions/${subId}/parked-keys`);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      parked_keys: [
        {
          id: K1,
          partitionId: "orders-0",
          key: Buffer.from("k1").toString("base64"),
          parkedAt: NOW,
          letters: 3,
        },
      ],
    });
  });
});

describe("replay", () => {
  it("delivers a parked key's letters in offset order through the sink, then unparks it", async () => {
    await parkSample();
    const response = await call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      key_id: K1,
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      replayed: 3,
      failed: 0,
      remaining: 0,
      unparked_keys: [K1],
      failures: [],
    });
    expect(sink.requests.map((r) => [r.method, r.path, r.headers["kafka.offset"]])).toEqual([
      ["POST", "/Orders/k1/process", "5"],
      ["POST", "/Orders/k1/process", "6"],
      ["POST", "/Orders/k1/process", "7"],
    ]);
    expect(sink.requests[0]?.headers["idempotency-key"]).toMatch(
      new RegExp(`^${subId}/${TOPIC}/0/5/[0-9a-f]{8}$`),
    );
    expect(sink.requests[0]?.headers["kafka.header.trace"]).toBe("t-5");
    expect(sink.requests[0]?.body.toString()).toBe('{"n":5}');
    expect(await letters.parkedKeys(subId, ["orders-0"])).toEqual(new Set());
    const left = await call(api, "GET", `/subscriptions/${subId}/dead-letters`);
    expect(left.json.dead_letters.map((l: DeadLetter) => l.offset)).toEqual([9, 3]);
  });

  it("stops at a failing letter, keeps it and the later ones parked, and says why", async () => {
    await parkSample();
    reply = (request) =>
      request.headers["kafka.offset"] === "6"
        ? { status: 400, body: '{"message":"no such order"}' }
        : { status: 200 };
    const response = await call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      key_id: K1,
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      replayed: 1,
      failed: 1,
      remaining: 2,
      unparked_keys: [],
      still_parked_keys: [K1],
      failures: [
        { key_id: K1, partition: "orders-0", offset: 6, reason: expect.stringMatching(/HTTP 400/) },
      ],
    });
    expect(sink.requests.map((r) => r.headers["kafka.offset"])).toEqual(["5", "6"]);
    expect(await letters.parkedKeys(subId, ["orders-0"])).toEqual(new Set([K1]));

    // Fixed: replaying again delivers the rest and unparks.
    reply = () => ({ status: 200 });
    const again = await call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      key_id: K1,
    });
    expect(again.json).toMatchObject({ replayed: 2, failed: 0, remaining: 0 });
  });

  it("retries retryable failures briefly before giving up", async () => {
    await letters.park([letter(0, 9, "k2", false)]);
    let calls = 0;
    reply = () => (++calls < 3 ? { status: 503 } : { status: 200 });
    const response = await call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      partition: 0,
      offset: 9,
    });
    expect(response.json).toMatchObject({ replayed: 1, failed: 0, remaining: 0 });
    expect(calls).toBe(3);
  });

  it("replays everything with all: parked keys first, then free letters", async () => {
    await parkSample();
    const response = await call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      all: true,
    });
    expect(response.json).toEqual({
      replayed: 5,
      failed: 0,
      remaining: 0,
      unparked_keys: [K1],
      failures: [],
    });
    expect(sink.requests.map((r) => r.path)).toEqual([
      "/Orders/k1/process",
      "/Orders/k1/process",
      "/Orders/k1/process",
      "/Orders/k2/process",
      "/Orders/k3/process",
    ]);
  });

  it("refuses a letter whose value cannot be delivered to a JSON handler, without calling the sink", async () => {
    await letters.park([letter(0, 9, "k2", false, "not json")]);
    const response = await call(api, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      partition: "orders-0",
      offset: 9,
    });
    expect(response.json).toMatchObject({
      replayed: 0,
      failed: 1,
      remaining: 1, // the letter stays
      failures: [{ partition: "orders-0", offset: 9, reason: expect.stringMatching(/JSON/) }],
    });
    expect(sink.requests).toHaveLength(0);
    expect(await letters.get(subId, { partitionId: "orders-0", offset: 9 })).toBeDefined();
  });

  it("answers 404 for an unknown key or letter and 400 for a bad body", async () => {
    const path = `/subscriptions/${subId}/dead-letters/replay`;
    expect((await call(api, "POST", path, { key_id: "orders-0#eA==" })).status).toBe(404);
    expect((await call(api, "POST", path, { partition: 0, offset: 1 })).status).toBe(404);
    for (const body of [
      {},
      { all: false },
      { key_id: K1, all: true },
      { partition: 0 },
      { offset: 1 },
      { partition: -1, offset: 1 },
      { key_id: 5 },
      { extra: 1 },
      [],
      "null",
    ]) {
      const response = await call(api, "POST", path, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
  });
});

/** A store that delegates to `inner` except for the overridden methods. */
function storeWith(inner: DeadLetterStore, overrides: Partial<DeadLetterStore>): DeadLetterStore {
  const methods = [
    "park",
    "list",
    "count",
    "get",
    "whole",
    "remove",
    "parkedKeys",
    "listParkedKeys",
    "getParkedKey",
    "unpark",
    "clear",
  ] as const;
  const delegate: Record<string, unknown> = {};
  for (const method of methods) delegate[method] = overrides[method] ?? inner[method].bind(inner);
  return delegate as unknown as DeadLetterStore;
}

const replayPath = () => `/subscriptions/${subId}/dead-letters/replay`;

describe("replay within a time budget, page by page", () => {
  it("a hanging sink: answers within its budget with the letter still parked, incomplete", async () => {
    await letters.park([letter(0, 5, "k1", true), letter(0, 6, "k1", true)]);
    reply = () => ({ status: 200, delayMs: 3_000 });
    const budgeted = apiWith({ replayBudgetMs: 600 });
    const started = Date.now();
    const response = await call(budgeted, "POST", replayPath(), { key_id: K1 });
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
    expect(response.json.cursor).toBeUndefined();
    expect(elapsed).toBeLessThan(600 + 1_500);
    expect(await letters.parkedKeys(subId, ["orders-0"])).toEqual(new Set([K1]));
    expect((await letters.list(subId)).items.map((l) => l.offset)).toEqual([5, 6]);
  });

  it("all: lists no more than a page of letters at a time, and counts without reading values", async () => {
    // 240 letters behind no key over two partitions, and a key of 130 letters.
    const free = Array.from({ length: 240 }, (_, i) => letter(i % 2, 1_000 + i, `f${i}`, false));
    const keyed = Array.from({ length: 130 }, (_, i) => letter(0, 5 + i, "k1", true));
    await letters.park([...free, ...keyed]);
    const lists: Array<{ limit: number | undefined; items: number }> = [];
    const counting = storeWith(letters, {
      list: async (id, options) => {
        const page = await letters.list(id, options);
        lists.push({ limit: options?.limit, items: page.items.length });
        return page;
      },
    });
    const response = await call(apiWith({ deadLetters: counting }), "POST", replayPath(), {
      all: true,
    });
    expect(response.json).toMatchObject({ replayed: 370, failed: 0, remaining: 0 });
    expect(response.json.incomplete).toBeUndefined();
    expect(sink.requests).toHaveLength(370);
    expect(lists.length).toBeGreaterThan(3);
    for (const page of lists) {
      expect(page.limit).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
      expect(page.items).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
    }
    // Each letter was listed once, to be replayed: `remaining` was counted, not listed.
    expect(lists.reduce((n, page) => n + page.items, 0)).toBe(370);
    // The key's letters in offset order before the free ones.
    expect(sink.requests.slice(0, 130).map((r) => Number(r.headers["kafka.offset"]))).toEqual(
      keyed.map((l) => l.offset),
    );
  });

  it("all: a failing key is reported once and passed over; the cursor carries on to the end", async () => {
    // Three parked keys of 15 letters; every letter of k1 is refused with 503 at once, the others
    // take 30 ms each against a 700 ms budget: several calls.
    const keys = ["k1", "k2", "k3"];
    await letters.park(
      keys.flatMap((key, k) =>
        Array.from({ length: 15 }, (_, i) => letter(0, 100 * k + 5 + i, key, true)),
      ),
    );
    reply = (request) =>
      request.path.includes("/k1/") ? { status: 503 } : { status: 200, delayMs: 30 };
    const budgeted = apiWith({ replayBudgetMs: 700 });
    const answers = [];
    let cursor: string | undefined;
    for (let round = 0; round < 20; round++) {
      const response = await call(budgeted, "POST", replayPath(), {
        all: true,
        ...(cursor === undefined ? {} : { cursor }),
      });
      expect(response.status).toBe(200);
      answers.push(response.json);
      cursor = response.json.cursor;
      if (!response.json.incomplete) break;
      expect(typeof cursor).toBe("string");
    }
    expect(answers.length).toBeGreaterThan(1);
    expect(answers.at(-1).incomplete).toBeUndefined();
    expect(answers.at(-1).cursor).toBeUndefined();
    expect(answers.flatMap((a) => a.failures)).toEqual([
      { key_id: K1, partition: "orders-0", offset: 5, reason: "HTTP 503: {}" },
    ]);
    // k1's first letter had its attempts once, in the first call; later calls went on after it.
    expect(sink.requests.filter((r) => r.path.includes("/k1/"))).toHaveLength(3);
    expect(answers.reduce((n, a) => n + a.replayed, 0)).toBe(30);
    expect(answers.at(-1).remaining).toBe(15);
    for (const key of ["k2", "k3"]) {
      const offsets = sink.requests
        .filter((r) => r.path.includes(`/${key}/`))
        .map((r) => Number(r.headers["kafka.offset"]));
      const first = key === "k2" ? 105 : 205;
      expect(offsets).toEqual(Array.from({ length: 15 }, (_, i) => first + i));
    }
    const parked = await letters.parkedKeys(subId, ["orders-0"]);
    expect(parked).toEqual(new Set([K1]));
  });

  it("a hot key that keeps parking while it is replayed still drains, then is unparked", async () => {
    await letters.park([
      letter(0, 5, "k1", true),
      letter(0, 6, "k1", true),
      letter(0, 7, "k1", true),
    ]);
    // As the consumer would: as many new letters parked behind the key as were just replayed,
    // 40 in all.
    let next = 100;
    const hot = storeWith(letters, {
      remove: async (id, refs) => {
        await letters.remove(id, refs);
        const more = refs.map(() => next++).filter((offset) => offset < 140);
        await letters.park(more.map((offset) => letter(0, offset, "k1", true)));
      },
    });
    const response = await call(apiWith({ deadLetters: hot }), "POST", replayPath(), {
      key_id: K1,
    });
    expect(response.json).toEqual({
      replayed: 43,
      failed: 0,
      remaining: 0,
      unparked_keys: [K1],
      failures: [],
    });
    expect(sink.requests.map((r) => Number(r.headers["kafka.offset"]))).toEqual([
      5,
      6,
      7,
      ...Array.from({ length: 40 }, (_, i) => 100 + i),
    ]);
    expect(await letters.parkedKeys(subId, ["orders-0"])).toEqual(new Set());
  });

  it("refuses a cursor it did not make, and a cursor without all", async () => {
    await parkSample();
    for (const body of [
      { all: true, cursor: "bm90IGEgY3Vyc29y" },
      { all: true, cursor: "!!" },
      { all: true, cursor: 5 },
      { key_id: K1, cursor: "eyJrIjoiIn0" },
    ]) {
      const response = await call(api, "POST", replayPath(), body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.json.message).toMatch(/cursor/);
    }
    expect(sink.requests).toHaveLength(0);
  });
});

describe("discard", () => {
  it("discards one letter, a key's letters, or everything, and counts", async () => {
    await parkSample();
    const path = `/subscriptions/${subId}/dead-letters/discard`;
    const one = await call(api, "POST", path, { partition: 1, offset: 3 });
    expect(one.json).toEqual({ discarded: 1, remaining: 0, unparked_keys: [] });

    const key = await call(api, "POST", path, { key_id: K1 });
    expect(key.json).toEqual({ discarded: 3, remaining: 0, unparked_keys: [K1] });
    expect(await letters.parkedKeys(subId, ["orders-0"])).toEqual(new Set());

    await parkSample();
    const all = await call(api, "POST", path, { all: true });
    expect(all.json).toEqual({ discarded: 5, remaining: 0, unparked_keys: [K1] });
    expect(sink.requests).toHaveLength(0);
    expect((await call(api, "POST", path, { partition: 1, offset: 3 })).status).toBe(404);
  });

  it("unparks a key when its last letter is discarded one by one", async () => {
    await letters.park([letter(0, 5, "k1", true), letter(0, 6, "k1", true)]);
    const path = `/subscriptions/${subId}/dead-letters/discard`;
    const first = await call(api, "POST", path, { partition: 0, offset: 5 });
    expect(first.json).toEqual({ discarded: 1, remaining: 1, unparked_keys: [] });
    const second = await call(api, "POST", path, { partition: 0, offset: 6 });
    expect(second.json).toEqual({ discarded: 1, remaining: 0, unparked_keys: [K1] });
  });
});

describe("deleting a subscription with dead letters", () => {
  it("is refused with 409 unless forced; forced, it clears dead letters and progress", async () => {
    await parkSample();
    await progress.save(
      subId,
      { partitionId: "orders-0", settled: [], fingerprints: new Map(), failures: {}, version: 1 },
      undefined,
    );
    const refused = await call(api, "DELETE", `/subscriptions/${subId}`);
    expect(refused.status).toBe(409);
    expect(refused.json.message).toMatch(/dead letters.*force=true/);
    expect((await store.getSubscription(subId))?.status).toBe("active");
    expect(feeds.removed).toHaveLength(0);

    const bad = await call(api, "DELETE", `/subscriptions/${subId}`, undefined, { force: "yes" });
    expect(bad.status).toBe(400);

    const forced = await call(api, "DELETE", `/subscriptions/${subId}`, undefined, {
      force: "true",
    });
    expect(forced.status).toBe(202);
    expect(await store.getSubscription(subId)).toBeUndefined();
    expect((await letters.list(subId)).items).toEqual([]);
    expect((await letters.listParkedKeys(subId)).items).toEqual([]);
    expect((await progress.load(subId, ["orders-0"])).size).toBe(0);
  });

  it("clears progress on a plain delete when there are no dead letters", async () => {
    await progress.save(
      subId,
      { partitionId: "orders-0", settled: [], fingerprints: new Map(), failures: {}, version: 1 },
      undefined,
    );
    expect((await call(api, "DELETE", `/subscriptions/${subId}`)).status).toBe(202);
    expect((await progress.load(subId, ["orders-0"])).size).toBe(0);
  });
});

describe("deleting a Kafka cluster with ?force=true", () => {
  it("is refused with 409 while a subscription of it holds dead letters, and deletes nothing", async () => {
    expect(
      (
        await call(api, "POST", "/kafka-clusters", {
          name: "api-c",
          properties: { "bootstrap.servers": "b:9092" },
        })
      ).status,
    ).toBe(201);
    const make = (topic: string) =>
      call(api, "POST", "/subscriptions", {
        source: `kafka://api-c/${topic}`,
        sink: "service://Orders/process",
      });
    const clean = (await make("clean")).json.id as string;
    const lettered = (await make("lettered")).json.id as string;
    await letters.park([{ ...letter(0, 4, "k4", false), subscriptionId: lettered }]);
    expect((await letters.list(lettered)).items).toHaveLength(1);

    const refused = await call(api, "DELETE", "/kafka-clusters/api-c", undefined, {
      force: "true",
    });
    expect(refused.status).toBe(409);
    expect(refused.json.message).toBe(
      `Kafka cluster "api-c": subscription ${lettered} holds dead letters; replay or discard them (or DELETE the subscription with ?force=true to drop them) before deleting the cluster with force; nothing was deleted`,
    );
    expect((await store.getSubscription(clean))?.status).toBe("active");
    expect((await store.getSubscription(lettered))?.status).toBe("active");
    expect(feeds.removed).toEqual([]);

    expect(
      (await call(api, "DELETE", `/subscriptions/${lettered}`, undefined, { force: "true" }))
        .status,
    ).toBe(202);
    const forced = await call(api, "DELETE", "/kafka-clusters/api-c", undefined, {
      force: "true",
    });
    expect(forced.status).toBe(202);
    expect(await store.getSubscription(clean)).toBeUndefined();
    expect(await store.getCluster("api-c")).toBeUndefined();
    // The subscription on the config cluster is untouched.
    expect((await store.getSubscription(subId))?.status).toBe("active");
  });
});

describe("deleting while records are still being dead-lettered", () => {
  it("a letter parked while the mapping is removed is seen: 409, kept; discard, then 202", async () => {
    // A commit that got past the consumer's check just before the DELETE lands meanwhile.
    feeds.duringRemove = async () => {
      await letters.park([letter(0, 9, "k9", false)]);
    };
    const refused = await call(api, "DELETE", `/subscriptions/${subId}`);
    expect(refused.status).toBe(409);
    expect(refused.json.message).toMatch(/while it was being deleted.*force=true.*DELETE again/);
    expect((await letters.list(subId)).items.map((l) => l.offset)).toEqual([9]);
    expect((await store.getSubscription(subId))?.status).toBe("deleting");
    feeds.duringRemove = undefined;
    const discarded = await call(api, "POST", `/subscriptions/${subId}/dead-letters/discard`, {
      all: true,
    });
    expect(discarded.status).toBe(200);
    expect((await call(api, "DELETE", `/subscriptions/${subId}`)).status).toBe(202);
    expect(await store.getSubscription(subId)).toBeUndefined();
  });

  it("an invocation in flight during the DELETE saves nothing for the subscription", async () => {
    reply = () => ({ status: 400 }); // terminal: the record would be dead-lettered
    const consumer = createConsumerHandler({
      catalog: store,
      config: {
        ...CONSUMER_DEFAULTS,
        MAX_CONCURRENCY: 4,
        CATALOG_CACHE_TTL_MS: 60_000, // a warm cache still says "active"
        MAX_ATTEMPTS: 1,
        REQUEST_TIMEOUT_MS: 2_000,
        DEADLINE_MARGIN_MS: 500,
      },
      reliability: { progress, deadLetters: letters },
      log: () => {},
    });
    const invoke = () =>
      consumer(
        selfManagedEvent("broker:9092", [
          { topic: TOPIC, partition: 0, offset: 1, key: "k", value: "{}" },
        ]),
        { invokedFunctionArn: functionArn(subId), getRemainingTimeInMillis: () => 10_000 },
      );
    reply = () => ({ status: 200 });
    await invoke(); // warms the catalog cache while the subscription is active
    reply = () => ({ status: 400 });
    let inFlight: unknown;
    feeds.duringRemove = async () => {
      inFlight = await invoke().catch((error: unknown) => error);
      expect((await letters.list(subId)).items).toEqual([]);
      expect((await progress.load(subId, ["orders-0"])).size).toBe(0);
    };
    expect((await call(api, "DELETE", `/subscriptions/${subId}`)).status).toBe(202);
    expect(String(inFlight)).toMatch(/being deleted: nothing of this batch is saved/);
  });
});

describe("without the reliability stores", () => {
  it("answers 501 with a clear message", async () => {
    const bare = createAdminApi({
      store,
      feeds,
      maxBodyBytes: 4096,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
      log: () => {},
    });
    for (const [method, path, body] of [
      ["GET", `/subscriptions/${subId}/dead-letters`, undefined],
      ["GET", `/subscriptions/${subId}/parked-keys`, undefined],
      ["POST", `/subscriptions/${subId}/dead-letters/replay`, { all: true }],
      ["POST", `/subscriptions/${subId}/dead-letters/discard`, { all: true }],
    ] as const) {
      const response = await call(bare, method, path, body);
      expect(response.status).toBe(501);
      expect(response.json.message).toMatch(/not available/);
    }
    const noReplay = apiWith({ replayDelivery: undefined });
    const response = await call(noReplay, "POST", `/subscriptions/${subId}/dead-letters/replay`, {
      all: true,
    });
    expect(response.status).toBe(501);
    expect(response.json.message).toMatch(/replaying dead letters is not available/);
  });
});

describe("pause and resume", () => {
  it("pauses and resumes the feed, idempotently, and shows the status", async () => {
    const paused = await call(api, "POST", `/subscriptions/${subId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ id: subId, status: "paused" });
    expect((await call(api, "GET", `/subscriptions/${subId}`)).json.status).toBe("paused");
    expect((await call(api, "POST", `/subscriptions/${subId}/pause`)).status).toBe(200);
    expect(feeds.paused).toHaveLength(2);

    const resumed = await call(api, "POST", `/subscriptions/${subId}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.json.status).toBe("active");
    expect(feeds.resumed.map((r) => r.cluster.name)).toEqual(["my-cluster"]);
    expect((await call(api, "POST", `/subscriptions/${subId}/resume`)).json.status).toBe("active");
  });

  it("answers 404, 405 and 409 where it must", async () => {
    expect((await call(api, "POST", "/subscriptions/sub_nope/pause")).status).toBe(404);
    const get = await call(api, "GET", `/subscriptions/${subId}/pause`);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("POST");
    await markDeleting();
    const deleting = await call(api, "POST", `/subscriptions/${subId}/pause`);
    expect(deleting.status).toBe(409);
    expect(deleting.json.message).toMatch(/deleting/);
    expect(feeds.paused).toHaveLength(0);
  });

  it("keeps the status unchanged when the feed cannot be paused", async () => {
    feeds.failPause = new Error("boom");
    const response = await call(api, "POST", `/subscriptions/${subId}/pause`);
    expect(response.status).toBe(500);
    expect((await store.getSubscription(subId))?.status).toBe("active");
  });

  it("never resurrects or overwrites a subscription deleted or being deleted meanwhile", async () => {
    // The store's conditional status write: a concurrent DELETE wins.
    const racing = createAdminApi({
      store,
      feeds: Object.assign(new FakeFeedControl(), {
        pause: async () => {
          await markDeleting();
        },
      }),
      maxBodyBytes: 4096,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
      log: () => {},
    });
    const response = await call(racing, "POST", `/subscriptions/${subId}/pause`);
    expect(response.status).toBe(409);
    expect((await store.getSubscription(subId))?.status).toBe("deleting");

    await store.deleteSubscription(subId);
    await expect(store.setSubscriptionStatus(subId, "paused", ["active"])).rejects.toThrow(
      /not found/,
    );
    expect(await store.getSubscription(subId)).toBeUndefined();
  });
});

describe("service endpoint policy", () => {
  const service = (endpoint: string) => ({
    name: "S",
    type: "service",
    endpoint,
    handlers: { h: {} },
  });

  it("refuses link-local, unspecified and metadata endpoints, in every spelling", async () => {
    for (const endpoint of [
      "http://169.254.169.254/latest",
      "http://[fd00:ec2::254]/",
      "http://metadata.google.internal/",
      "http://[fe80::1]:8080",
      "http://[::ffff:169.254.169.254]/",
      "http://0xA9FEA9FE/",
      // passed before names and unspecified / translated forms were checked
      "http://169.254.169.254.nip.io/",
      "http://instance-data/latest/meta-data",
      "http://metadata/computeMetadata/v1",
      "http://0.0.0.0:9070/",
      "http://[::]:9070/",
      "http://[64:ff9b:1::a9fe:a9fe]/",
      "http://[::ffff:0:a9fe:a9fe]/",
    ]) {
      const response = await call(api, "POST", "/services", service(endpoint));
      expect(response.status, endpoint).toBe(400);
      expect(response.json.message).toMatch(/^invalid service: endpoint /);
    }
    expect((await store.listServices()).map((s) => s.name)).toEqual(["Orders"]);
  });

  it("accepts only allowed hosts when an allow-list is set", async () => {
    const strict = apiWith({
      endpointAllow: parseEndpointAllowList("*.example.com,restate.internal:8080"),
    });
    expect((await call(strict, "POST", "/services", service("https://a.example.com"))).status).toBe(
      201,
    );
    const refused = await call(strict, "POST", "/services", {
      ...service("http://restate.internal:9090"),
      name: "T",
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toMatch(/SERVICE_ENDPOINT_ALLOW/);
    const imported = await call(strict, "POST", "/services/import", {
      admin_url: "http://169.254.169.254:9070",
    });
    expect(imported.status).toBe(400);
    expect(imported.json.message).toMatch(/admin_url/);
  });
});
