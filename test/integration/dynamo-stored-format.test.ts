// The items the DynamoDB stores write, attribute by attribute: existing tables must keep working,
// so the names and types pinned here may only change together with a migration. Items written
// by hand in this format are read back too.
import { PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import type { Item } from "../../src/adapters/dynamo/calls.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../../src/adapters/dynamo/progress-store.ts";
import { buildDeadLetter, parkedKeyId } from "../../src/core/dead-letters.ts";
import type { Subscription } from "../../src/core/model.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import { fingerprintsOf } from "../helpers/progress.ts";

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

const NOW = 1_700_000_000_000;
const P0 = "orders-0";
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

/** Every item of the table, by `pk sk`. */
async function itemsOf(table: string): Promise<Map<string, Item>> {
  const out = await dynamo.client.send(new ScanCommand({ TableName: table }));
  return new Map((out.Items ?? []).map((item) => [`${item.pk?.S} ${item.sk?.S}`, item]));
}

/** The type letter of each attribute (`S`, `N`, `B`, …). */
const typesOf = (item: Item | undefined): Record<string, string | undefined> =>
  Object.fromEntries(
    Object.entries(item ?? {}).map(([name, value]) => [name, Object.keys(value)[0]]),
  );

const subscription: Subscription = {
  id: "sub_1",
  source: "kafka://c/t",
  sink: "service://S/add",
  options: {},
  cluster: "c",
  topic: "t",
  service: "S",
  handler: "add",
  status: "provisioning",
  createdAt: "2025-01-01T00:00:00.000Z",
};

describe("stored format", () => {
  it("admin entities: pk = kind, sk = name, doc = JSON, refs = N", async () => {
    const table = await dynamo.freshTable();
    const store = new DynamoAdminStore(dynamo.client, table);
    const cluster = {
      name: "c",
      properties: { "bootstrap.servers": "c:9092" },
      origin: "api" as const,
    };
    const service = {
      name: "S",
      type: "service" as const,
      endpoint: "http://localhost:8080",
      invocation: "call" as const,
      handlers: { add: { shared: false, input: "json" as const } },
    };
    await store.createCluster(cluster);
    await store.createService(service);
    await store.createSubscription(subscription);

    const items = await itemsOf(table);
    expect(items.get("cluster c")).toEqual({
      pk: { S: "cluster" },
      sk: { S: "c" },
      doc: { S: JSON.stringify(cluster) },
      refs: { N: "1" },
    });
    expect(items.get("service S")).toEqual({
      pk: { S: "service" },
      sk: { S: "S" },
      doc: { S: JSON.stringify(service) },
      refs: { N: "1" },
    });
    expect(items.get("subscription sub_1")).toEqual({
      pk: { S: "subscription" },
      sk: { S: "sub_1" },
      doc: { S: JSON.stringify(subscription) },
    });
    expect(items.get("subscription-pair kafka://c/t service://S/add")).toEqual({
      pk: { S: "subscription-pair" },
      sk: { S: "kafka://c/t service://S/add" },
      id: { S: "sub_1" },
    });
    const group = [...items.values()].find((item) => item.pk?.S === "consumer-group");
    expect(typesOf(group)).toEqual({ pk: "S", sk: "S", doc: "S" });
    expect(group?.doc).toEqual({ S: JSON.stringify({ id: "sub_1" }) });
  });

  it("progress: version and updatedAt N, settled, fingerprints and failures S", async () => {
    const table = await dynamo.freshTable();
    const store = new DynamoProgressStore(dynamo.client, table, { now: () => NOW });
    const settled: Array<[number, number]> = [[0, 2]];
    await store.save(
      "sub_1",
      {
        partitionId: P0,
        settled,
        fingerprints: fingerprintsOf(settled),
        failures: { "3": { attempts: 2, firstFailedAt: NOW, lastError: "HTTP 503" } },
        version: 1,
      },
      undefined,
    );
    await store.save(
      "sub_1",
      { partitionId: "orders-1", settled: [], fingerprints: new Map(), failures: {}, version: 1 },
      undefined,
    );
    const items = await itemsOf(table);
    expect(typesOf(items.get(`progress#sub_1 ${P0}`))).toEqual({
      pk: "S",
      sk: "S",
      version: "N",
      updatedAt: "N",
      settled: "S",
      fingerprints: "S",
      failures: "S",
    });
    expect(items.get(`progress#sub_1 ${P0}`)).toMatchObject({
      version: { N: "1" },
      updatedAt: { N: String(NOW) },
    });
    // Nothing settled and no failures: those attributes are absent, not empty.
    expect(items.get("progress#sub_1 orders-1")).toEqual({
      pk: { S: "progress#sub_1" },
      sk: { S: "orders-1" },
      version: { N: "1" },
      updatedAt: { N: String(NOW) },
    });
  });

  it("reads progress written by hand in the stored format", async () => {
    const table = await dynamo.freshTable();
    const fingerprints = fingerprintsOf([[0, 2]]);
    const bytes = Buffer.alloc(12);
    for (let offset = 0; offset <= 2; offset++) {
      bytes.writeUInt32BE(fingerprints.get(offset) ?? 0, offset * 4);
    }
    await dynamo.client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: "progress#sub_1" },
          sk: { S: P0 },
          version: { N: "4" },
          updatedAt: { N: String(NOW) },
          settled: { S: "0.2" },
          fingerprints: { S: bytes.toString("base64") },
        },
      }),
    );
    const loaded = await new DynamoProgressStore(dynamo.client, table).load("sub_1", [P0]);
    expect(loaded.get(P0)).toMatchObject({ version: 4, settled: [[0, 2]], fingerprints });
  });

  it("dead letters, their chunks and parked keys", async () => {
    const table = await dynamo.freshTable();
    const store = new DynamoDeadLetterStore(dynamo.client, table);
    const parksKey = parkedKeyId(P0, utf8("k"));
    const record = (offset: number, value: string) => ({
      topic: "orders",
      partition: 0,
      offset,
      timestamp: NOW,
      timestampType: "CREATE_TIME" as const,
      key: utf8("k"),
      value: utf8(value),
      headers: [],
    });
    const facts = {
      subscriptionId: "sub_1",
      partitionId: P0,
      kind: "exhausted" as const,
      reason: "HTTP 503",
      attempts: 3,
      firstFailedAt: NOW,
      parkedAt: NOW,
      parksKey,
    };
    const small = buildDeadLetter({ ...facts, record: record(7, "{}") });
    const large = buildDeadLetter({
      ...facts,
      record: record(8, JSON.stringify("y".repeat(400_000))),
    });
    await store.park([small, large]);

    const items = await itemsOf(table);
    expect(items.get(`dead-letter#sub_1 ${P0}#00000000000000000007`)).toEqual({
      pk: { S: "dead-letter#sub_1" },
      sk: { S: `${P0}#00000000000000000007` },
      doc: { S: JSON.stringify(small) },
      kind: { S: "exhausted" },
      parkedAt: { N: String(NOW) },
      parksKey: { S: parksKey },
    });
    expect(typesOf(items.get(`dead-letter#sub_1 ${P0}#00000000000000000008`))).toEqual({
      pk: "S",
      sk: "S",
      doc: "S",
      kind: "S",
      parkedAt: "N",
      parksKey: "S",
    });
    const chunks = [...items.values()].filter((item) => item.pk?.S === "dead-letter#sub_1#spill");
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(typesOf(chunk)).toEqual({ pk: "S", sk: "S", data: "B" });
      expect(chunk.sk?.S).toMatch(new RegExp(`^${P0}#00000000000000000008#[0-9a-f]{16}#\\d{4}$`));
    }
    expect(items.get(`parked-key#sub_1 ${parksKey}`)).toEqual({
      pk: { S: "parked-key#sub_1" },
      sk: { S: parksKey },
      partitionId: { S: P0 },
      keyB64: { S: Buffer.from("k").toString("base64") },
      parkedAt: { N: String(NOW) },
      version: { N: "2" },
    });
    const stub = await store.get("sub_1", large);
    expect(stub && (await store.whole(stub))).toEqual(large);
  });

  it("reads a parked key written by hand in the stored format", async () => {
    const table = await dynamo.freshTable();
    const id = parkedKeyId(P0, utf8("k"));
    await dynamo.client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: "parked-key#sub_1" },
          sk: { S: id },
          partitionId: { S: P0 },
          parkedAt: { N: String(NOW) },
          version: { N: "3" },
        },
      }),
    );
    const store = new DynamoDeadLetterStore(dynamo.client, table);
    expect(await store.getParkedKey("sub_1", id)).toEqual({
      subscriptionId: "sub_1",
      id,
      partitionId: P0,
      key: null,
      version: 3,
      parkedAt: NOW,
    });
    expect(await store.parkedKeys("sub_1", [P0])).toEqual(new Set([id]));
  });
});
