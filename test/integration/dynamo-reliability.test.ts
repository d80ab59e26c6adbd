// ProgressStore and DeadLetterStore against dynalite, plus error mapping with a mocked client.

import {
  BatchGetItemCommand,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { ensureTable } from "../../src/adapters/dynamo/ensure-table.ts";
import { DynamoProgressStore } from "../../src/adapters/dynamo/progress-store.ts";
import { type DrainRun, drainKey, newDrainTally } from "../../src/app/dead-letter-drain.ts";
import { commitReliability, loadReliabilityState } from "../../src/app/reliability-flow.ts";
import {
  buildDeadLetter,
  type DeadLetter,
  letterRef,
  letterToRecord,
  parkedKeyId,
} from "../../src/core/dead-letters.ts";
import { ConflictError, DependencyError } from "../../src/core/errors.ts";
import type { DecodedEvent, DecodedRecord } from "../../src/core/event.ts";
import type { PartitionProgress } from "../../src/core/progress.ts";
import { postDispatch, preDispatch } from "../../src/core/reliability.ts";
import type { DeadLetterStore } from "../../src/core/reliability-ports.ts";
import { deliverInOrder, type LetterOutcome } from "../../src/core/replay.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import { fingerprintsOf } from "../helpers/progress.ts";

let dynamo: TestDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

async function freshTable(): Promise<string> {
  tables += 1;
  const table = `reliability-${process.pid}-${tables}`;
  await ensureTable(dynamo.client, table, { pollMs: 10 });
  return table;
}

const NOW = 1_700_000_000_000;
const T = "orders";
const P0 = `${T}-0`;
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

function rec(partition: number, offset: number, key: string | null, value = "{}"): DecodedRecord {
  return {
    topic: T,
    partition,
    offset,
    timestamp: NOW,
    timestampType: "CREATE_TIME",
    key: key === null ? null : utf8(key),
    value: utf8(value),
    headers: [],
  };
}

function letter(offset: number, key: string, parks: boolean, partition = 0): DeadLetter {
  const partitionId = `${T}-${partition}`;
  return buildDeadLetter({
    subscriptionId: "sub_1",
    partitionId,
    record: rec(partition, offset, key, `{"n":${offset}}`),
    kind: offset === 0 ? "exhausted" : "parked-behind",
    reason: "HTTP 503",
    attempts: 3,
    firstFailedAt: NOW,
    parkedAt: NOW,
    ...(parks ? { parksKey: parkedKeyId(partitionId, utf8(key)) } : {}),
  });
}

const progress = (settled: PartitionProgress["settled"], version: number): PartitionProgress => ({
  partitionId: P0,
  settled,
  fingerprints: fingerprintsOf(settled),
  failures: { "3": { attempts: 2, firstFailedAt: NOW, lastError: "HTTP 503" } },
  version,
});

/** A replay (with `deliverOne`) or discard of sub_1's letters with a minute to spare. */
function replayRun(
  store: DeadLetterStore,
  deliverOne?: (letter: DeadLetter) => Promise<LetterOutcome>,
): DrainRun {
  return {
    store,
    subscriptionId: "sub_1",
    deliver:
      deliverOne &&
      ((letters, options) => deliverInOrder(letters, deliverOne, { ...options, now: Date.now })),
    deadline: Date.now() + 60_000,
    now: Date.now,
    tally: newDrainTally(),
  };
}

describe("DynamoProgressStore", () => {
  it("saves, loads (many partitions), updates conditionally and removes", async () => {
    const store = new DynamoProgressStore(dynamo.client, await freshTable());
    expect((await store.load("sub_1", [P0])).size).toBe(0);
    await store.save("sub_1", progress([[0, 2]], 1), undefined);
    await expect(store.save("sub_1", progress([[0, 2]], 1), undefined)).rejects.toThrow(
      ConflictError,
    );
    await store.save(
      "sub_1",
      progress(
        [
          [0, 2],
          [4, 9],
        ],
        2,
      ),
      1,
    );
    const loaded = await store.load("sub_1", [P0, "orders-1"]);
    expect(loaded.get(P0)).toEqual(
      progress(
        [
          [0, 2],
          [4, 9],
        ],
        2,
      ),
    );
    expect(loaded.has("orders-1")).toBe(false);
    await expect(store.remove("sub_1", P0, 1)).rejects.toThrow(ConflictError);
    await store.remove("sub_1", P0, 2);
    await store.remove("sub_1", P0, 2); // gone already: fine
    expect((await store.load("sub_1", [P0])).size).toBe(0);

    // more than one BatchGetItem chunk (100 keys)
    const ids = Array.from({ length: 150 }, (_, i) => `${T}-${i}`);
    await Promise.all(
      ids.map((id) =>
        store.save(
          "sub_2",
          {
            partitionId: id,
            settled: [[1, 1]],
            fingerprints: fingerprintsOf([[1, 1]]),
            failures: {},
            version: 1,
          },
          undefined,
        ),
      ),
    );
    const all = await store.load("sub_2", ids);
    expect(all.size).toBe(150);
    expect(all.get(`${T}-149`)?.settled).toEqual([[1, 1]]);
    await store.clear("sub_2");
    expect((await store.load("sub_2", ids)).size).toBe(0);
  });

  it("two saves expecting the same version: exactly one wins", async () => {
    const store = new DynamoProgressStore(dynamo.client, await freshTable());
    await store.save("sub_1", progress([[0, 0]], 1), undefined);
    const results = await Promise.allSettled([
      store.save("sub_1", progress([[0, 5]], 2), 1),
      store.save("sub_1", progress([[0, 7]], 2), 1),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
  });

  it("stores the worst case of a 10,000-record batch in one item", async () => {
    const store = new DynamoProgressStore(dynamo.client, await freshTable());
    const settled: Array<[number, number]> = [];
    const failures: Record<string, { attempts: number; firstFailedAt: number; lastError: string }> =
      {};
    for (let o = 5_000_000; o < 5_010_000; o++) {
      if (o % 2 === 0) settled.push([o, o]);
      else
        failures[String(o)] = {
          attempts: (o % 97) + 1,
          firstFailedAt: NOW - (o % 100_000),
          lastError: `HTTP 503 ${o % 40}`,
        };
    }
    const state: PartitionProgress = {
      partitionId: P0,
      settled,
      fingerprints: fingerprintsOf(settled),
      failures,
      version: 1,
    };
    await store.save("sub_1", state, undefined);
    expect((await store.load("sub_1", [P0])).get(P0)).toEqual(state);
  });
});

describe("DynamoDeadLetterStore", () => {
  it("parks letters and keys, lists in offset order with paging, unparks conditionally", async () => {
    const store = new DynamoDeadLetterStore(dynamo.client, await freshTable());
    const keyA = parkedKeyId(P0, utf8("a"));
    await store.park([letter(10, "a", true), letter(0, "a", true), letter(5, "b", false)]);
    await store.park([letter(0, "x", false, 1)]);

    expect(await store.parkedKeys("sub_1", [P0, "orders-1"])).toEqual(new Set([keyA]));
    expect(await store.parkedKeys("sub_1", ["orders-1"])).toEqual(new Set());
    const parked = await store.getParkedKey("sub_1", keyA);
    expect(parked).toMatchObject({ id: keyA, partitionId: P0, version: 2, key: "YQ==" });

    const page1 = await store.list("sub_1", { limit: 2 });
    expect(page1.items.map((l) => [l.partitionId, l.offset])).toEqual([
      [P0, 0],
      [P0, 5],
    ]);
    const page2 = await store.list("sub_1", {
      limit: 2,
      ...(page1.cursor ? { cursor: page1.cursor } : {}),
    });
    expect(page2.items.map((l) => [l.partitionId, l.offset])).toEqual([
      [P0, 10],
      ["orders-1", 0],
    ]);
    const ofKey = await store.list("sub_1", { parkedKey: keyA });
    expect(ofKey.items.map((l) => l.offset)).toEqual([0, 10]);
    expect(await store.get("sub_1", { partitionId: P0, offset: 10 })).toEqual(
      letter(10, "a", true),
    );

    // a letter parked behind the key meanwhile makes the unpark fail
    await store.park([letter(11, "a", true)]);
    await expect(store.unpark("sub_1", keyA, 2)).rejects.toThrow(ConflictError);
    await store.unpark("sub_1", keyA, 3);
    expect(await store.parkedKeys("sub_1", [P0])).toEqual(new Set());
    await store.unpark("sub_1", keyA, 3); // not parked: fine

    await store.remove("sub_1", [{ partitionId: P0, offset: 5 }]);
    expect(await store.get("sub_1", { partitionId: P0, offset: 5 })).toBeUndefined();
    await store.clear("sub_1");
    expect((await store.list("sub_1")).items).toEqual([]);
  });

  it("keeps the first letter when the same record is parked again; still marks its key", async () => {
    const store = new DynamoDeadLetterStore(dynamo.client, await freshTable());
    const first = letter(0, "a", true);
    await store.park([first]);
    const keyA = parkedKeyId(P0, utf8("a"));
    const before = await store.getParkedKey("sub_1", keyA);
    // The batch is sent again; the key is parked, so the record is parked behind it.
    const again = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: rec(0, 0, "a", '{"n":0}'),
      kind: "parked-behind",
      reason: "key is parked behind earlier dead letters",
      attempts: 0,
      firstFailedAt: NOW + 60_000,
      parkedAt: NOW + 60_000,
      parksKey: keyA,
    });
    await store.park([again, letter(3, "a", true)]);
    expect(await store.get("sub_1", { partitionId: P0, offset: 0 })).toEqual(first);
    expect((await store.list("sub_1")).items.map((l) => [l.offset, l.kind])).toEqual([
      [0, "exhausted"],
      [3, "parked-behind"],
    ]);
    const after = await store.getParkedKey("sub_1", keyA);
    expect(after?.version).toBe((before?.version ?? 0) + 2);
  });

  it("keeps another record parked at a reused offset beside the first letter", async () => {
    const store = new DynamoDeadLetterStore(dynamo.client, await freshTable());
    const first = letter(0, "a", true);
    await store.park([first]);
    // The topic was recreated: offset 0 holds another record, which fails terminally.
    const other = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: { ...rec(0, 0, "b", '{"new":true}'), timestamp: NOW + 1 },
      kind: "terminal",
      reason: "HTTP 400",
      attempts: 1,
      firstFailedAt: NOW + 1,
      parkedAt: NOW + 1,
    });
    await store.park([other, letter(1, "a", true)]);
    await store.park([other]); // parked again: still one copy
    const listed = (await store.list("sub_1")).items;
    expect(listed.map((l) => [l.offset, l.kind, l.value, l.variant])).toEqual([
      [0, "exhausted", first.value, undefined],
      [0, "terminal", other.value, other.fingerprint],
      [1, "parked-behind", letter(1, "a", true).value, undefined],
    ]);
    const variant = listed[1] as DeadLetter;
    expect(await store.get("sub_1", letterRef(variant))).toEqual(variant);
    expect(await store.get("sub_1", { partitionId: P0, offset: 0 })).toEqual(first);
    await store.remove("sub_1", [letterRef(variant)]);
    expect((await store.list("sub_1")).items.map((l) => [l.offset, l.kind])).toEqual([
      [0, "exhausted"],
      [1, "parked-behind"],
    ]);
  });

  it("stores a letter too large for one item in chunks, replays it whole, removes every chunk", async () => {
    const table = await freshTable();
    const store = new DynamoDeadLetterStore(dynamo.client, table);
    const inline = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: rec(0, 1, "k", JSON.stringify("y".repeat(190_000))),
      kind: "terminal",
      reason: "HTTP 413",
      attempts: 1,
      firstFailedAt: NOW,
      parkedAt: NOW,
    });
    const bigValue = JSON.stringify("z".repeat(2_500_000));
    const keyK = parkedKeyId(P0, utf8("k"));
    const big = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: P0,
      record: rec(0, 2, "k", bigValue),
      kind: "exhausted",
      reason: "HTTP 503",
      attempts: 10,
      firstFailedAt: NOW,
      parkedAt: NOW,
      parksKey: keyK,
    });
    await store.park([inline, big]);
    const chunkItems = async () => {
      let count = 0;
      let start: QueryCommandOutput["LastEvaluatedKey"];
      do {
        const out: QueryCommandOutput = await dynamo.client.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": { S: "dead-letter#sub_1#spill" } },
            Select: "COUNT",
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        count += out.Count ?? 0;
        start = out.LastEvaluatedKey;
      } while (start);
      return count;
    };
    expect(await chunkItems()).toBeGreaterThanOrEqual(10);

    expect(await store.get("sub_1", { partitionId: P0, offset: 1 })).toEqual(inline);
    const stub = await store.get("sub_1", { partitionId: P0, offset: 2 });
    expect(stub?.value).toBeNull();
    expect(stub?.spilled?.chunks).toBeGreaterThanOrEqual(10);
    const listed = await store.list("sub_1");
    expect(listed.items.map((l) => [l.offset, l.spilled === undefined])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(await store.whole(stub as DeadLetter)).toEqual(big);

    // Replaying the key hands over the stub; the delivery reads it whole: the exact bytes.
    const delivered: string[] = [];
    const run = replayRun(store, async (letter) => {
      expect(letter.spilled).toBeDefined();
      const record = letterToRecord(await store.whole(letter));
      delivered.push(Buffer.from(record?.value ?? []).toString());
      return { outcome: "delivered" };
    });
    expect(await drainKey(run, keyK)).toBe("unparked");
    expect(run.tally.delivered).toBe(1);
    expect(delivered).toEqual([bigValue]);
    expect(await chunkItems()).toBe(0);

    await store.park([big]);
    expect(await chunkItems()).toBeGreaterThanOrEqual(10);
    await store.clear("sub_1");
    expect(await chunkItems()).toBe(0);
    expect((await store.list("sub_1")).items).toEqual([]);
  });

  it("a huge key parks without copying it into the parked-key item", async () => {
    const store = new DynamoDeadLetterStore(dynamo.client, await freshTable());
    const hugeKey = new Uint8Array(350_000).fill(0x61);
    const keyId = parkedKeyId(P0, hugeKey);
    await store.park([
      buildDeadLetter({
        subscriptionId: "sub_1",
        partitionId: P0,
        record: { ...rec(0, 4, null, "{}"), key: hugeKey },
        kind: "exhausted",
        reason: "HTTP 500",
        attempts: 10,
        firstFailedAt: NOW,
        parkedAt: NOW,
        parksKey: keyId,
      }),
    ]);
    expect(await store.getParkedKey("sub_1", keyId)).toMatchObject({ key: null, version: 1 });
    const stub = (await store.list("sub_1")).items[0] as DeadLetter;
    expect(stub.key).toBeNull(); // listed without it
    expect(Buffer.from((await store.whole(stub)).key ?? "", "base64")).toEqual(
      Buffer.from(hugeKey),
    );
  });

  it("chunks left by an interrupted write never mix with a later one", async () => {
    const table = await freshTable();
    const store = new DynamoDeadLetterStore(dynamo.client, table);
    const big = (reason: string) =>
      buildDeadLetter({
        subscriptionId: "sub_1",
        partitionId: P0,
        record: rec(0, 9, "k", JSON.stringify("q".repeat(700_000))),
        kind: "exhausted",
        reason,
        attempts: 10,
        firstFailedAt: NOW,
        parkedAt: NOW,
      });
    // The first write stored its chunks, then stopped before the letter item.
    await store.park([big("first")]);
    await store.remove("sub_1", [{ partitionId: P0, offset: 9 }]); // the letter item only
    await store.park([big("second, longer reason ".repeat(50))]);
    const stub = await store.get("sub_1", { partitionId: P0, offset: 9 });
    expect((await store.whole(stub as DeadLetter)).reason).toMatch(/^second/);
  });

  it("replays a parked key in order, then unparks it; discard empties it", async () => {
    const store = new DynamoDeadLetterStore(dynamo.client, await freshTable());
    const keyA = parkedKeyId(P0, utf8("a"));
    await store.park([letter(0, "a", true), letter(3, "a", true), letter(7, "a", true)]);
    const seen: number[] = [];
    const failing = replayRun(store, async (l) => {
      if (l.offset === 7) return { outcome: "failed", reason: "HTTP 503" };
      seen.push(l.offset);
      return { outcome: "delivered" };
    });
    expect(await drainKey(failing, keyA)).toBe("failed");
    expect(failing.tally).toMatchObject({
      delivered: 2,
      stillParked: [keyA],
      failures: [{ keyId: keyA, ref: { offset: 7 }, reason: "HTTP 503" }],
    });
    expect(await store.parkedKeys("sub_1", [P0])).toEqual(new Set([keyA]));
    const ok = replayRun(store, async (l) => {
      seen.push(l.offset);
      return { outcome: "delivered" };
    });
    expect(await drainKey(ok, keyA)).toBe("unparked");
    expect(ok.tally).toMatchObject({ delivered: 1, unparked: [keyA] });
    expect(seen).toEqual([0, 3, 7]);
    expect(await store.parkedKeys("sub_1", [P0])).toEqual(new Set());

    await store.park([letter(20, "a", true), letter(21, "a", true)]);
    const discard = replayRun(store);
    expect(await drainKey(discard, keyA)).toBe("unparked");
    expect(discard.tally).toMatchObject({ discarded: 2, unparked: [keyA] });
    expect((await store.list("sub_1")).items).toEqual([]);
  });
});

describe("DynamoDeadLetterStore: counting and walking on", () => {
  it("counts letters (of a key, of a partition, up to a bound) and lists on after a position", async () => {
    const store = new DynamoDeadLetterStore(dynamo.client, await freshTable());
    const keyA = parkedKeyId(P0, utf8("a"));
    const keyB = parkedKeyId(P0, utf8("b"));
    await store.park([
      ...[1, 2, 3].map((o) => letter(o, "a", true)),
      ...[4, 5].map((o) => letter(o, "b", true)),
      letter(6, "c", false),
      letter(1, "d", false, 1),
    ]);
    expect(await store.count("sub_1")).toBe(7);
    expect(await store.count("sub_1", { parkedKey: keyA })).toBe(3);
    expect(await store.count("sub_1", { partitionId: `${T}-1` })).toBe(1);
    expect(await store.count("sub_1", { upTo: 2 })).toBe(2);
    expect(await store.count("sub_2")).toBe(0);

    const after = await store.list("sub_1", { startAfter: { partitionId: P0, offset: 3 } });
    expect(after.items.map((l) => [l.partitionId, l.offset])).toEqual([
      [P0, 4],
      [P0, 5],
      [P0, 6],
      [`${T}-1`, 1],
    ]);
    const ofB = await store.list("sub_1", {
      parkedKey: keyB,
      startAfter: { partitionId: P0, offset: 4 },
    });
    expect(ofB.items.map((l) => l.offset)).toEqual([5]);
    // A position outside the partition asked for is refused, as a foreign cursor is.
    await expect(
      store.list("sub_1", { parkedKey: keyB, startAfter: { partitionId: `${T}-1`, offset: 0 } }),
    ).rejects.toThrow(/invalid cursor/);

    const keys = await store.listParkedKeys("sub_1", { startAfter: keyA });
    expect(keys.items.map((k) => k.id)).toEqual([keyB]);
    expect((await store.listParkedKeys("sub_1", { startAfter: keyB })).items).toEqual([]);
  });
});

describe("the flow over both stores", () => {
  it("a redelivered batch skips what was settled and parks behind an exhausted key", async () => {
    const table = await freshTable();
    const stores = {
      progress: new DynamoProgressStore(dynamo.client, table),
      deadLetters: new DynamoDeadLetterStore(dynamo.client, table),
    };
    const records = [rec(0, 0, "a"), rec(0, 1, "b"), rec(0, 2, "a"), rec(0, 3, "b")];
    const event: DecodedEvent = {
      source: { kind: "self-managed", bootstrapServers: ["b:9092"] },
      partitions: [{ id: P0, topic: T, partition: 0, records }],
    };
    const settings = { maxAttempts: 4, maxAgeMs: 3_600_000, keyPolicy: "park" as const };
    const invoke = async (
      outcomeOf: (r: DecodedRecord) => "delivered" | "failed" | "not_attempted",
    ) => {
      const state = await loadReliabilityState(stores, "sub_1", event, true);
      const pre = preDispatch({ event, ...state, ordered: true });
      const dispatched = pre.toDispatch.partitions.flatMap((p) => p.records);
      const post = postDispatch({
        subscriptionId: "sub_1",
        event,
        pre,
        outcomes: dispatched.map((r) => {
          const status = outcomeOf(r);
          return {
            partitionId: P0,
            record: r,
            status,
            attempts: status === "failed" ? 2 : status === "delivered" ? 1 : 0,
            // the handler's own error: an outage (503s alone) would not count attempts
            ...(status === "failed" ? { reason: "HTTP 500", httpStatus: 500 } : {}),
          };
        }),
        progress: state.progress,
        settings,
        ordered: true,
        partialBatchResponse: false,
        now: NOW,
      });
      await commitReliability(stores, "sub_1", post);
      return { pre, post, dispatched: dispatched.map((r) => r.offset) };
    };
    // 1: key a fails (2 attempts), b delivered; the handler throws (retry-batch)
    const first = await invoke((r) =>
      r.offset === 0 ? "failed" : r.offset === 2 ? "not_attempted" : "delivered",
    );
    expect(first.post.mode).toBe("retry-batch");
    // 2: redelivered whole: b's records are skipped; a fails again → 4 attempts = exhausted
    const second = await invoke((r) => (r.offset === 0 ? "failed" : "not_attempted"));
    expect(second.dispatched).toEqual([0, 2]);
    expect(second.post.mode).toBe("done");
    expect(second.post.letters.map((l) => [l.offset, l.kind])).toEqual([
      [0, "exhausted"],
      [2, "parked-behind"],
    ]);
    expect((await stores.progress.load("sub_1", [P0])).size).toBe(0);
    expect(await stores.deadLetters.parkedKeys("sub_1", [P0])).toEqual(
      new Set([parkedKeyId(P0, utf8("a"))]),
    );
    // 3: a later batch with key a: parked behind, not dispatched
    const third = await invoke(() => "delivered");
    expect(third.pre.parkedBehind.map((h) => h.record.offset)).toEqual([0, 2]);
  });

  it("merges on a conflicting save", async () => {
    const table = await freshTable();
    const stores = {
      progress: new DynamoProgressStore(dynamo.client, table),
      deadLetters: new DynamoDeadLetterStore(dynamo.client, table),
    };
    await stores.progress.save("sub_1", progress([[0, 1]], 1), undefined);
    await stores.progress.save("sub_1", progress([[0, 2]], 2), 1); // someone else moved it on
    await commitReliability(stores, "sub_1", {
      letters: [],
      progress: [{ partitionId: P0, next: progress([[5, 6]], 2), expectedVersion: 1 }],
      outcomes: [],
      mode: "retry-batch",
      counts: {
        skipped: 0,
        deadLettered: 0,
        terminal: 0,
        exhausted: 0,
        parkedBehind: 0,
        keysParked: 0,
        sinkDown: false,
      },
    });
    const stored = (await stores.progress.load("sub_1", [P0])).get(P0);
    expect(stored?.settled).toEqual([
      [0, 2],
      [5, 6],
    ]);
    expect(stored?.version).toBe(3);
  });
});

describe("error mapping (mocked client)", () => {
  const client = new DynamoDBClient({ region: "local" });
  const mock = mockClient(client);
  const throttled = () =>
    new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} });

  it("maps throttling to DependencyError", async () => {
    mock.reset();
    mock.on(PutItemCommand).rejects(throttled());
    const store = new DynamoProgressStore(client, "t");
    const error = await store.save("s", progress([[0, 0]], 1), undefined).catch((e) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect(String(error.message)).toContain("throttled");
  });

  it("retries unprocessed keys, then gives up with DependencyError", async () => {
    mock.reset();
    const key = { pk: { S: "progress#s" }, sk: { S: P0 } };
    mock
      .on(BatchGetItemCommand)
      .resolvesOnce({ Responses: { t: [] }, UnprocessedKeys: { t: { Keys: [key] } } })
      .resolvesOnce({
        Responses: {
          t: [
            {
              ...key,
              version: { N: "1" },
              settled: { S: "0.2" },
              fingerprints: { S: Buffer.alloc(12).toString("base64") },
            },
          ],
        },
      });
    const store = new DynamoProgressStore(client, "t", { sleep: async () => {} });
    expect((await store.load("s", [P0])).get(P0)?.settled).toEqual([[0, 2]]);

    mock.reset();
    mock
      .on(BatchGetItemCommand)
      .resolves({ Responses: { t: [] }, UnprocessedKeys: { t: { Keys: [key] } } });
    const stuck = new DynamoProgressStore(client, "t", { sleep: async () => {}, maxRounds: 2 });
    await expect(stuck.load("s", [P0])).rejects.toThrow(DependencyError);
  });
});
