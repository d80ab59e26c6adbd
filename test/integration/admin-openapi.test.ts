// GET /openapi: the document is valid OpenAPI 3.1, names every route of the admin API (and every
// route it names is served, on AWS too), and real requests and responses of the admin API over
// dynalite — clusters, services (imported from a loopback Restate admin API too), subscriptions,
// dead letters replayed to a loopback sink, and their errors — all match it.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTemplate } from "../../infra/template.ts";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../../src/adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../../src/adapters/dynamo/progress-store.ts";
import { createRestateAdminClient } from "../../src/adapters/restate-admin.ts";
import type { AdminContext } from "../../src/app/admin/context.ts";
import { openApiDocument } from "../../src/app/admin/openapi.ts";
import {
  type AdminApi,
  type AdminApiDeps,
  adminRoutes,
  createAdminApi,
} from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { buildDeadLetter, parkedKeyId } from "../../src/core/dead-letters.ts";
import { sinkTokenCheck } from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";
import { createHttpSinkReplay } from "../../src/wiring/consumer.ts";
import { call, FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";
import {
  checkedCaller,
  OpenApiChecker,
  type OpenApiDocument,
  operationKey,
} from "../helpers/openapi.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";

const document = openApiDocument() as unknown as OpenApiDocument;
const checker = new OpenApiChecker(document);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const documented = Object.entries(document.paths).flatMap(([template, item]) =>
  Object.keys(item)
    .filter((method) => METHODS.includes(method))
    .map((method) => ({ method: method.toUpperCase(), template })),
);

const TOPIC = "orders";
const INGRESS = "http://127.0.0.1:8080";
const TOKEN_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:restate/ingress-Ab12Cd";
const NOW = 1_700_000_000_000;
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
const restateServices = readFileSync(
  new URL("../fixtures/restate-1.7-services.json", import.meta.url),
  "utf8",
);

let dynamo: TestDynamo;
let sink: RecordingSink;
let restate: Server;
let restateUrl: string;
let deps: AdminApiDeps;
let api: AdminApi;
let checked: ReturnType<typeof checkedCaller>;
let letters: DynamoDeadLetterStore;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  sink = await startRecordingSink(() => ({ status: 200 }));
  // A Restate admin API on loopback, serving the listing captured from restate-server 1.7.
  restate = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(req.url === "/services" ? restateServices : JSON.stringify({ version: "1.7.12" }));
  });
  await new Promise<void>((resolve) => restate.listen(0, "127.0.0.1", resolve));
  restateUrl = `http://127.0.0.1:${(restate.address() as AddressInfo).port}`;

  const table = await dynamo.freshTable();
  const store = new DynamoAdminStore(dynamo.client, table);
  letters = new DynamoDeadLetterStore(dynamo.client, table);
  const replay = createHttpSinkReplay({
    catalog: store,
    deadLetters: letters,
    requestTimeoutMs: 2_000,
    retryDelayMs: 1,
  });
  deps = {
    store,
    feeds: new FakeFeedControl(),
    maxBodyBytes: 64 * 1024,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    deadLetters: letters,
    progress: new DynamoProgressStore(dynamo.client, table),
    replayDelivery: (subscription) => replay.forSubscription(subscription),
    restateAdmin: createRestateAdminClient({ timeoutMs: 2_000 }),
    // The ingress token's secret, as LOCAL_SECRETS holds it locally: bound to the ingress.
    sinkTokenCheck: sinkTokenCheck(
      localSecretResolver({
        LOCAL_SECRETS: JSON.stringify({ [TOKEN_ARN]: { token: "t0ken", endpoints: [INGRESS] } }),
      }),
    ),
    log: () => {},
  };
  api = createAdminApi(deps);
  checked = checkedCaller(api, checker);
  const [cluster] = clustersFromConfigFile({
    ingress: { "kafka-clusters": [{ name: "from-config", brokers: ["PLAINTEXT://broker:9092"] }] },
  });
  if (cluster) await store.upsertConfigCluster(cluster);
});

afterAll(async () => {
  await new Promise<void>((resolve) => restate.close(() => resolve()));
  await sink.close();
  await dynamo.close();
});

describe("the document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    const result = await validator.validate(
      structuredClone(document) as unknown as Record<string, unknown>,
    );
    expect(result).toEqual({ valid: true });
    expect(validator.version).toBe("3.1");
    expect(document.openapi).toBe("3.1.0");
    const ids = documented.map(({ method, template }) => {
      return document.paths[template]?.[method.toLowerCase()]?.operationId;
    });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("is served as JSON at /openapi and under the version prefixes", async () => {
    for (const path of ["/openapi", "/v2/openapi", "/v4/openapi"]) {
      const response = await checked("GET", path);
      expect(response.status).toBe(200);
      expect(response.headers["content-type"]).toBe("application/json");
      expect(response.json).toEqual(document);
    }
  });

  it("names every route of the route tables", () => {
    const ctx: AdminContext = { deps, newId: () => "sub_x", now: () => new Date(), log: () => {} };
    const routes = adminRoutes(ctx);
    const missing: string[] = [];
    for (const [pattern, methods] of Object.entries(routes)) {
      const template = `/${pattern.replace(/:(\w+)/g, "{$1}")}`;
      const matcher = new RegExp(`^${template.replace(/\{\w+\}/g, "[^/{}]+")}$`);
      for (const method of Object.keys(methods)) {
        // At its own template, or at paths the pattern serves (`/services/import`).
        const at = Object.keys(document.paths).filter((p) => p === template || matcher.test(p));
        if (!at.some((p) => document.paths[p]?.[method.toLowerCase()] !== undefined)) {
          missing.push(operationKey(method, template));
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("names only routes the API serves", async () => {
    const unrouted: string[] = [];
    for (const { method, template } of documented) {
      const path = template.replace(/\{\w+\}/g, "no-such-thing");
      const response = await call(api, method, path);
      const served =
        response.status !== 405 &&
        !(response.status === 404 && String(response.json?.message).startsWith("no route"));
      if (!served) unrouted.push(operationKey(method, template));
    }
    expect(unrouted).toEqual([]);
  });

  it("has every path routed to the admin function on AWS, with and without the version", () => {
    const events = Object.values(
      (
        loadTemplate().Resources as unknown as Record<
          string,
          {
            Properties: { Events?: Record<string, { Type: string; Properties: { Path: string } }> };
          }
        >
      ).AdminFunction?.Properties.Events ?? {},
    )
      .filter((event) => event.Type === "HttpApi")
      .map((event) => new RegExp(`^${event.Properties.Path.replace(/\{\w+\}/g, "[^/]+")}$`));
    const unrouted = Object.keys(document.paths)
      .flatMap((path) => [path, `/v4${path}`])
      .filter((path) => !events.some((route) => route.test(path)));
    expect(unrouted).toEqual([]);
  });

  it("tells a response that does not match from one that does", async () => {
    const response = await checked("GET", "/kafka-clusters");
    const [config] = response.json.clusters;
    const ok = { ...response, body: JSON.stringify({ clusters: [config] }) };
    expect(checker.callProblems("GET", "/kafka-clusters", undefined, {}, ok)).toEqual([]);
    const bad = (value: unknown) => ({ ...response, body: JSON.stringify(value) });
    const { origin: _origin, ...noOrigin } = config;
    for (const tampered of [
      { clusters: [noOrigin] },
      { clusters: [{ ...config, password: "hunter2" }] },
      { clusters: [{ ...config, properties: { "bootstrap.servers": 9092 } }] },
      { clusters: config },
    ]) {
      expect(
        checker.callProblems("GET", "/kafka-clusters", undefined, {}, bad(tampered)),
      ).not.toEqual([]);
    }
    expect(
      checker.callProblems("GET", "/kafka-clusters", undefined, {}, { ...response, status: 299 }),
    ).not.toEqual([]);
  });
});

describe("requests and responses of a representative flow match the document", () => {
  let subscriptionId = "";

  it("meta routes", async () => {
    expect((await checked("GET", "/version")).json.max_admin_api_version).toBe(4);
    expect((await checked("GET", "/v3/health")).status).toBe(200);
  });

  it("Kafka clusters: register, list, show; 400, 404 and 409 errors", async () => {
    const body = {
      name: "orders",
      properties: { "bootstrap.servers": "b-1.example:9092", "security.protocol": "PLAINTEXT" },
    };
    expect((await checked("POST", "/kafka-clusters", body)).status).toBe(201);
    expect((await checked("POST", "/kafka-clusters", body)).status).toBe(409);
    expect((await checked("POST", "/kafka-clusters", { ...body, name: "bad name" })).status).toBe(
      400,
    );
    expect((await checked("GET", "/kafka-clusters")).json.clusters).toHaveLength(2);
    expect((await checked("GET", "/kafka-clusters/orders")).json.subscriptions).toEqual([]);
    expect((await checked("GET", "/kafka-clusters/nope")).status).toBe(404);
    expect((await checked("DELETE", "/kafka-clusters/from-config")).status).toBe(409);
    const moved = { properties: { ...body.properties, "bootstrap.servers": "b-2.example:9092" } };
    const patched = await checked("PATCH", "/kafka-clusters/orders", moved);
    expect(patched.json.properties["bootstrap.servers"]).toBe("b-2.example:9092");
    expect((await checked("PATCH", "/kafka-clusters/orders", {})).status).toBe(400);
    expect((await checked("PATCH", "/kafka-clusters/nope", moved)).status).toBe(404);
    expect((await checked("PATCH", "/kafka-clusters/from-config", moved)).status).toBe(409);
  });

  it("services: register, import from Restate, list, show, change; errors", async () => {
    const orders = {
      name: "Orders",
      type: "virtual_object",
      endpoint: sink.url,
      handlers: { process: {}, peek: { shared: true } },
    };
    expect((await checked("POST", "/services", orders)).status).toBe(201);
    expect((await checked("POST", "/services", orders)).status).toBe(409);
    expect(
      (await checked("POST", "/services", { ...orders, name: "Other", handlers: {} })).status,
    ).toBe(400);
    const imported = await checked("POST", "/services/import", {
      admin_url: restateUrl,
      ingress_url: INGRESS,
    });
    expect(imported.status).toBe(201);
    expect(imported.json.skipped.length).toBeGreaterThan(0);
    // Again: every name is registered now, nothing is overwritten.
    const again = await checked("POST", "/v4/services/import", {
      admin_url: restateUrl,
      ingress_url: INGRESS,
    });
    expect(again.status).toBe(200);
    expect(again.json.imported).toEqual([]);
    expect((await checked("GET", "/services")).json.services.length).toBeGreaterThan(2);
    expect((await checked("GET", "/services/Tally")).json.type).toBe("virtual_object");
    expect(
      (await checked("PATCH", "/services/Tally", { invocation: "send" })).json.invocation,
    ).toBe("send");
    const auth = { bearer_token_secret: TOKEN_ARN };
    expect((await checked("PATCH", "/services/Tally", { auth })).json.auth).toEqual(auth);
    const signup = { name: "Signup2", type: "workflow", endpoint: INGRESS, handlers: { run: {} } };
    expect((await checked("POST", "/services", { ...signup, auth })).json.auth).toEqual(auth);
    expect((await checked("PATCH", "/services/Tally", { auth: null })).json.auth).toBeUndefined();
    expect((await checked("PATCH", "/services/Tally", {})).status).toBe(400);
    expect((await checked("GET", "/services/Nope")).status).toBe(404);
    expect((await checked("DELETE", "/services/Audit")).status).toBe(202);
  });

  it("subscriptions: create, list and filter, show, pause, resume; errors", async () => {
    const body = {
      source: `kafka://orders/${TOPIC}`,
      sink: "service://Orders/process",
      options: { "auto.offset.reset": "earliest" },
    };
    const created = await checked("POST", "/subscriptions", body);
    expect(created.status).toBe(201);
    subscriptionId = created.json.id;
    expect((await checked("POST", "/subscriptions", body)).status).toBe(409);
    const unknownCluster = { ...body, source: "kafka://nope/t" };
    expect((await checked("POST", "/subscriptions", unknownCluster)).status).toBe(400);
    const listed = await checked("GET", "/subscriptions", undefined, { sink: body.sink });
    expect(listed.json.subscriptions.map((s: { id: string }) => s.id)).toEqual([subscriptionId]);
    const filtered = await checked("GET", "/subscriptions", undefined, {
      source: body.source,
      sink: "service://Tally/record",
    });
    expect(filtered.json.subscriptions).toEqual([]);
    expect((await checked("GET", `/subscriptions/${subscriptionId}`)).json.status).toBe("active");
    expect((await checked("GET", "/subscriptions/sub_nope")).status).toBe(404);
    const withSubscriptions = await checked("GET", "/kafka-clusters/orders", undefined, {
      include_subscriptions: "true",
    });
    expect(withSubscriptions.json.subscriptions).toHaveLength(1);
    expect((await checked("POST", `/subscriptions/${subscriptionId}/pause`)).json.status).toBe(
      "paused",
    );
    expect((await checked("POST", `/subscriptions/${subscriptionId}/resume`)).json.status).toBe(
      "active",
    );
  });

  it("dead letters: list letters and parked keys, replay a key, discard the rest", async () => {
    const letter = (offset: number, key: string, parks: boolean) => {
      const partitionId = `${TOPIC}-0`;
      return buildDeadLetter({
        subscriptionId,
        partitionId,
        record: {
          topic: TOPIC,
          partition: 0,
          offset,
          timestamp: NOW + offset,
          timestampType: "CREATE_TIME",
          key: utf8(key),
          value: utf8(`{"n":${offset}}`),
          headers: [["trace", utf8(`t-${offset}`)] as const],
        },
        kind: parks ? "exhausted" : "terminal",
        reason: parks ? "HTTP 503" : "HTTP 400: bad input",
        ...(parks ? {} : { httpStatus: 400 }),
        attempts: 3,
        firstFailedAt: NOW,
        parkedAt: NOW,
        ...(parks ? { parksKey: parkedKeyId(partitionId, utf8(key)) } : {}),
      });
    };
    await letters.park([letter(5, "k1", true), letter(6, "k1", true), letter(9, "k2", false)]);
    const base = `/subscriptions/${subscriptionId}`;
    const page = await checked("GET", `${base}/dead-letters`, undefined, { limit: "2" });
    expect(page.json.dead_letters).toHaveLength(2);
    const rest = await checked("GET", `${base}/dead-letters`, undefined, {
      limit: "2",
      cursor: page.json.cursor,
      partition: "0",
    });
    expect(rest.json.dead_letters).toHaveLength(1);
    expect((await checked("GET", `${base}/dead-letters`, undefined, { limit: "0" })).status).toBe(
      400,
    );
    const keys = await checked("GET", `${base}/parked-keys`);
    expect(keys.json.parked_keys).toHaveLength(1);
    const replayed = await checked("POST", `${base}/dead-letters/replay`, {
      key_id: keys.json.parked_keys[0].id,
    });
    expect(replayed.json).toMatchObject({ replayed: 2, failed: 0, remaining: 0 });
    expect((await checked("POST", `${base}/dead-letters/replay`, {})).status).toBe(400);
    expect(
      (await checked("POST", `${base}/dead-letters/discard`, { partition: 0, offset: 1 })).status,
    ).toBe(404);
    const discarded = await checked("POST", `${base}/dead-letters/discard`, { all: true });
    expect(discarded.json).toMatchObject({ discarded: 1, remaining: 0 });
  });

  it("bodies the API refuses for what JSON Schema can say, the document refuses too", async () => {
    const service = { name: "S", type: "service", endpoint: "http://h", handlers: { h: {} } };
    const refused: Array<[string, string, Record<string, unknown>]> = [
      ["POST", "/subscriptions", { source: "kafka://a/b", sink: "service://S/h", extra: 1 }],
      ["POST", "/subscriptions", { source: "kafka://a/b" }],
      ["POST", "/kafka-clusters", { name: "bad name", properties: {} }],
      [
        "POST",
        "/services",
        { name: "S", type: "actor", endpoint: "http://h", handlers: { h: {} } },
      ],
      ["POST", "/services", { ...service, auth: { token: "clear-token" } }],
      ["PATCH", "/services/Tally", { auth: { bearer_token: "clear-token" } }],
      ["PATCH", "/services/Tally", { invocation: "maybe" }],
      ["POST", "/services/import", { admin_url: restateUrl, services: [] }],
      ["POST", `/subscriptions/${subscriptionId}/dead-letters/replay`, { all: false }],
    ];
    for (const [method, path, body] of refused) {
      const response = await call(api, method, path, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const found = checker.find(method, path);
      const schema = found?.operation.requestBody?.content["application/json"]?.schema;
      expect(checker.problems(schema, body, path), JSON.stringify(body)).not.toEqual([]);
    }
  });

  it("deletes: refused while in use, forced, then 202 and 404", async () => {
    const other = await checked("POST", "/subscriptions", {
      source: `kafka://orders/${TOPIC}-audit`,
      sink: "service://Orders/peek",
    });
    expect(other.status).toBe(201);
    expect((await checked("DELETE", "/services/Orders")).status).toBe(409);
    expect((await checked("DELETE", "/kafka-clusters/orders")).status).toBe(409);
    const cluster = "/kafka-clusters/orders";
    const moved = { properties: { "bootstrap.servers": "b-3.example:9092" } };
    expect((await checked("PATCH", cluster, moved)).status).toBe(409);
    const force = { force: "true" };
    const subscription = `/subscriptions/${subscriptionId}`;
    expect((await checked("DELETE", subscription, undefined, force)).status).toBe(202);
    expect((await checked("DELETE", subscription)).status).toBe(404);
    // Force deletes the cluster's remaining subscription first.
    expect((await checked("DELETE", cluster, undefined, force)).status).toBe(202);
    expect((await checked("GET", `/subscriptions/${other.json.id}`)).status).toBe(404);
    expect((await checked("DELETE", "/services/Orders")).status).toBe(202);
    expect((await checked("DELETE", cluster)).status).toBe(404);
  });

  it("exercised every documented operation with a success status", () => {
    const unexercised = documented
      .map(({ method, template }) => operationKey(method, template))
      .filter((key) => ![...(checker.exercised.get(key) ?? [])].some((status) => status < 300));
    expect(unexercised).toEqual([]);
  });
});
