// Property-based tests of the admin API against dynalite: random bodies (any JSON, wrong types,
// huge and unicode strings, prototype-pollution keys), random paths (NUL, dot segments, encoded
// slashes, bad percent-encoding, very long), methods, queries and headers. Every answer must be a
// JSON response; invalid input must get a 4xx with a `message` and leave the store exactly as it
// was; nothing may answer 5xx. Fixed seeds, bounded runs: the same cases on every run.
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../../src/adapters/dynamo/progress-store.ts";
import { type AdminApi, type AdminRequest, createAdminApi } from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { buildDeadLetter, parkedKeyId } from "../../src/core/dead-letters.ts";
import { FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_101);
const RUNS = Number(process.env.FUZZ_RUNS_FACTOR ?? 1);
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

let dynamo: TestDynamo;
let fixture: Fixture;

interface Fixture {
  readonly api: AdminApi;
  readonly subId: string;
  snapshot(): Promise<string>;
}

async function makeFixture(): Promise<Fixture> {
  const table = await dynamo.freshTable();
  const store = new DynamoAdminStore(dynamo.client, table);
  const letters = new DynamoDeadLetterStore(dynamo.client, table);
  const progress = new DynamoProgressStore(dynamo.client, table);
  const errors: unknown[] = [];
  const api = createAdminApi({
    store,
    feeds: new FakeFeedControl(),
    maxBodyBytes: 64 * 1024,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    deadLetters: letters,
    progress,
    replayDelivery: async () => async (batch) =>
      batch.map(() => ({ outcome: "failed" as const, reason: "fuzz sink refuses" })),
    restateAdmin: {
      listServices: async () => ({ services: [] }),
      ingressEndpoint: async () => undefined,
    },
    log: (entry) => errors.push(entry),
  });
  const [cluster] = clustersFromConfigFile({
    ingress: { "kafka-clusters": [{ name: "my-cluster", brokers: ["PLAINTEXT://broker:9092"] }] },
  });
  if (cluster) await store.upsertConfigCluster(cluster);
  const send = (method: string, path: string, body?: unknown) =>
    api.handle({
      method,
      path,
      query: {},
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  await send("POST", "/kafka-clusters", {
    name: "api-cluster",
    properties: { "bootstrap.servers": "b:9092" },
  });
  await send("POST", "/services", {
    name: "MyService",
    type: "virtual_object",
    endpoint: "http://127.0.0.1:9",
    handlers: { handle: {} },
  });
  const created = await send("POST", "/subscriptions", {
    source: "kafka://my-cluster/orders",
    sink: "service://MyService/handle",
  });
  const subId = (JSON.parse(created.body) as { id: string }).id;
  const record = (offset: number) => ({
    topic: "orders",
    partition: 0,
    offset,
    timestamp: 1,
    timestampType: "CREATE_TIME",
    key: utf8("k"),
    value: utf8("{}"),
    headers: [],
  });
  await letters.park(
    [5, 6].map((offset) =>
      buildDeadLetter({
        subscriptionId: subId,
        partitionId: "orders-0",
        record: record(offset),
        kind: "exhausted",
        reason: "HTTP 503",
        attempts: 1,
        firstFailedAt: 1,
        parkedAt: 1,
        parksKey: parkedKeyId("orders-0", utf8("k")),
      }),
    ),
  );
  await progress.save(
    subId,
    { partitionId: "orders-0", settled: [], fingerprints: new Map(), failures: {}, version: 1 },
    undefined,
  );
  return {
    api,
    subId,
    async snapshot() {
      if (errors.length > 0) throw new Error(`logged errors: ${JSON.stringify(errors)}`);
      return JSON.stringify([
        await store.listClusters(),
        await store.listServices(),
        await store.listSubscriptions(),
        await letters.list(subId, { limit: 1000 }),
        await letters.listParkedKeys(subId),
        [...(await progress.load(subId, ["orders-0"])).values()],
      ]);
    },
  };
}

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  fixture = await makeFixture();
});

// ---- generators -------------------------------------------------------------------------------

const FIELDS = [
  "source",
  "sink",
  "options",
  "name",
  "properties",
  "type",
  "endpoint",
  "invocation",
  "handlers",
  "shared",
  "input",
  "key_id",
  "all",
  "partition",
  "offset",
  "admin_url",
  "ingress_url",
  "services",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "bootstrap.servers",
  "auto.offset.reset",
];

const weirdString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 1000, max: 5000 }).map((n) => "k".repeat(n)),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\ud800",
    "😀",
    "kafka://my-cluster/orders",
    "kafka://my-cluster/",
    "kafka:///x",
    "service://MyService/handle",
    "service://MyService/",
    "service://MyService/toString",
    "service://MyService/constructor",
    "http://169.254.169.254/",
    "http://[fe80::1]/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "orders-0#aw==",
    "orders-0#\ud800",
    "__proto__",
    "NaN",
    "-1",
    "1e309",
  ),
);

/** A JSON object as its members in order (duplicates and `__proto__` included). */
class JsonObject {
  readonly members: ReadonlyArray<readonly [string, unknown]>;
  constructor(members: ReadonlyArray<readonly [string, unknown]>) {
    this.members = members;
  }
}

/** Any JSON value, biased towards the admin API's field names and tricky strings. */
const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(-1, 0, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 1e21),
    weirdString,
    fc.array(tie("value"), { maxLength: 4 }),
    tie("object"),
  ),
  object: fc
    .array(
      fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })), tie("value")),
      {
        maxLength: 6,
      },
    )
    .map((entries) => new JsonObject(entries)),
})).value;

/** JSON text of a value, writing `{entries}` objects member by member (so `"__proto__"` stays). */
function toJson(value: unknown): string {
  if (value instanceof JsonObject) {
    return `{${value.members.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
  }
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
  return JSON.stringify(value) ?? "null";
}

const body: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  jsonish.map(toJson),
  fc.string({ maxLength: 30 }), // mostly not JSON
  fc.constantFrom(
    "",
    "   ",
    "{",
    "[]",
    "null",
    '{"__proto__": {"polluted": true}}',
    '{"constructor": {"prototype": {"polluted": true}}}',
    '{"name": "x", "properties": {"__proto__": "y"}}',
    '{"source": "kafka://my-cluster/orders", "sink": "service://MyService/handle", "options": {"__proto__": {"group.id": "x"}}}',
    '{"name": "S", "type": "service", "endpoint": "http://x:1", "handlers": {"__proto__": {}, "a": {}}}',
    '{"name": "S", "type": "service", "endpoint": "http://169.254.169.254", "handlers": {"a": {}}}',
    '{"all": false}',
    '{"partition": 0, "offset": -1}',
    '{"partition": "orders-0", "offset": 99}',
    '{"key_id": ""}',
  ),
  fc.integer({ min: 10_000, max: 70_000 }).map((n) => JSON.stringify({ name: "x".repeat(n) })),
);

const knownSegment = fc.constantFrom(
  "subscriptions",
  "kafka-clusters",
  "services",
  "import",
  "dead-letters",
  "replay",
  "discard",
  "parked-keys",
  "pause",
  "resume",
  "my-cluster",
  "api-cluster",
  "MyService",
  "SUB", // replaced by the fixture's subscription id
);
const weirdSegment = fc.oneof(
  fc.constantFrom(
    "",
    ".",
    "..",
    "%00",
    "%2F",
    "%2f..%2f",
    "%",
    "%E0%A4%A",
    "%C0%AE",
    "%5C",
    "%F0%9F%98%80",
    "\u0000",
    "\ud800",
    "😀",
    "?x=1",
    "#frag",
    ";",
    " ",
    "dead-letters%2Freplay",
    "__proto__",
    "constructor",
    "hasOwnProperty",
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => "a".repeat(n)),
);
const randomPath = fc
  .array(fc.oneof({ weight: 3, arbitrary: knownSegment }, { weight: 1, arbitrary: weirdSegment }), {
    minLength: 0,
    maxLength: 5,
  })
  .chain((segments) =>
    fc.constantFrom(`/${segments.join("/")}`, `/${segments.join("/")}/`, segments.join("/")),
  );
const TEMPLATES = [
  "/subscriptions",
  "/subscriptions/:p",
  "/subscriptions/:p/dead-letters",
  "/subscriptions/:p/dead-letters/replay",
  "/subscriptions/:p/dead-letters/discard",
  "/subscriptions/:p/parked-keys",
  "/subscriptions/:p/pause",
  "/subscriptions/:p/resume",
  "/kafka-clusters",
  "/kafka-clusters/:p",
  "/services",
  "/services/:p",
  "/services/import",
];
const param = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("SUB", "my-cluster", "api-cluster", "MyService") },
  { weight: 2, arbitrary: weirdSegment },
);
/** Mostly the API's own routes with odd parameters, sometimes an extra odd segment. */
const structuredPath = fc
  .tuple(fc.constantFrom(...TEMPLATES), param, fc.option(weirdSegment, { freq: 4 }), fc.boolean())
  .map(
    ([template, p, extra, slash]) =>
      template.replace(":p", p) + (extra === null ? "" : `/${extra}`) + (slash ? "/" : ""),
  );
const path = fc.oneof(
  { weight: 3, arbitrary: structuredPath },
  { weight: 1, arbitrary: randomPath },
);

const method = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("GET", "POST", "DELETE") },
  {
    weight: 1,
    arbitrary: fc.constantFrom("PUT", "PATCH", "HEAD", "OPTIONS", "get", "Post", "", "\u0000"),
  },
);

const queryValue = fc.oneof(
  weirdString,
  fc.constantFrom("0", "1", "1000", "1001", "true", "false", "orders-0", "eyJzayI6IiJ9"),
);
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        "limit",
        "cursor",
        "partition",
        "force",
        "source",
        "sink",
        "__proto__",
        "constructor",
      ),
      queryValue,
    ),
    { maxLength: 4 },
  )
  .map((entries) => {
    const q: Record<string, string> = {};
    for (const [k, v] of entries)
      Object.defineProperty(q, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return q;
  });
/** Mostly JSON, sometimes a type the API refuses (415), or none. */
const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant("application/json") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      undefined,
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/json; charset=latin1",
      "application/merge-patch+json",
    ),
  },
);
const headers = fc
  .tuple(
    contentType,
    fc.array(fc.tuple(fc.string({ maxLength: 20 }), weirdString), { maxLength: 4 }),
  )
  .map(([type, entries]) => {
    const h: Record<string, string> = type === undefined ? {} : { "content-type": type };
    for (const [k, v] of entries)
      Object.defineProperty(h, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return h;
  });

// ---- properties -------------------------------------------------------------------------------

function expectJsonError(status: number, text: string, context: string): void {
  expect(status, context).toBeGreaterThanOrEqual(400);
  expect(status, context).toBeLessThan(500);
  const parsed = JSON.parse(text) as { message?: unknown };
  expect(typeof parsed.message, context).toBe("string");
}

/** Runs one request; returns whether the store may have changed (a 2xx). */
async function check(request: AdminRequest): Promise<boolean> {
  const context = JSON.stringify({ ...request, body: request.body?.slice(0, 200) });
  const before = await fixture.snapshot();
  const response = await fixture.api.handle(request);
  expect(response.status, context).toBeLessThan(500);
  if (response.status < 400) return true;
  expectJsonError(response.status, response.body, context);
  expect(await fixture.snapshot(), context).toBe(before);
  return false;
}

describe("admin API fuzz", () => {
  it("answers random requests with a JSON 4xx or success, never 5xx, never a partial write", async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, async (m, p, q, h, b) => {
        const request = {
          method: m,
          path: p.replaceAll("SUB", fixture.subId),
          query: q,
          headers: h,
          body: b,
        };
        if (await check(request)) fixture = await makeFixture(); // a valid request: start over
      }),
      { seed: SEED, numRuns: 250 * RUNS },
    );
  }, 30_000);

  it("refuses random bodies on every write route with a 4xx and no change", async () => {
    const routes = [
      "/subscriptions",
      "/kafka-clusters",
      "/services",
      "/services/import",
      "/subscriptions/SUB/dead-letters/replay",
      "/subscriptions/SUB/dead-letters/discard",
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async (route, b) => {
        const request = {
          method: "POST",
          path: route.replace("SUB", fixture.subId),
          query: {},
          headers: { "content-type": "application/json" },
          body: b,
        };
        if (await check(request)) fixture = await makeFixture();
      }),
      { seed: SEED + 1, numRuns: 150 * RUNS },
    );
  }, 30_000);

  it("never lets __proto__ members through, at any depth", async () => {
    const cases = [
      [
        "/kafka-clusters",
        '{"name": "c2", "properties": {"bootstrap.servers": "b:1", "__proto__": {"x": "y"}}}',
      ],
      [
        "/services",
        '{"name": "S2", "type": "service", "endpoint": "http://x:1", "handlers": {"__proto__": {}, "a": {}}}',
      ],
      [
        "/subscriptions",
        '{"source": "kafka://api-cluster/t", "sink": "service://MyService/handle", "options": {"__proto__": {}}}',
      ],
    ];
    for (const [route, text] of cases) {
      const response = await fixture.api.handle({
        method: "POST",
        path: route ?? "",
        query: {},
        headers: { "content-type": "application/json" },
        body: text,
      });
      expect(response.status).toBe(400);
      expect(JSON.parse(response.body).message).toMatch(/__proto__/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
