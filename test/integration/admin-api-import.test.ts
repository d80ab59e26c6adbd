// POST /services/import against a fake Restate admin API on loopback serving the `GET /services`
// listing captured from restate-server 1.7.12.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRestateAdminClient } from "../../src/adapters/restate-admin.ts";
import { type AdminApi, createAdminApi } from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import type { AdminStore } from "../../src/core/ports.ts";
import { call, FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

/** How long the import waits for a Restate admin API in these tests. */
const IMPORT_TIMEOUT_MS = 3_000;

const captured = readFileSync(
  new URL("../fixtures/restate-1.7-services.json", import.meta.url),
  "utf8",
);
const INGRESS = "http://127.0.0.1:8080";

let dynamo: TestDynamo;
let fake: Server;
let fakeUrl: string;
let closedPortUrl: string;
const requests: string[] = [];
let store: AdminStore;
let api: AdminApi;

/** Routes of the fake admin API: the captured listing and some misbehaviour. */
function fakeAdmin(): Server {
  return createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(body);
    };
    switch (req.url) {
      case "/services":
      case "/prefix/services":
        return send(200, captured);
      case "/version":
      case "/prefix/version":
        return send(200, JSON.stringify({ version: "1.7.12", ingress_endpoint: `${INGRESS}/` }));
      case "/not-restate/services":
        return send(200, JSON.stringify({ hello: "world" }));
      case "/html/services":
        return send(200, "<html>secret internal page</html>", { "content-type": "text/html" });
      case "/redirect/services":
        return send(302, "", { location: "http://169.254.169.254/latest/meta-data/" });
      case "/huge/services":
        return send(200, JSON.stringify({ services: [], pad: "x".repeat(5 * 1024 * 1024) }));
      case "/slow/services":
        setTimeout(() => send(200, captured), IMPORT_TIMEOUT_MS * 3);
        return;
      default:
        return send(404, JSON.stringify({ message: "secret internal detail" }));
    }
  });
}

beforeAll(async () => {
  dynamo = await startTestDynamo();
  fake = fakeAdmin();
  await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  // A port nobody listens on: bind, note, close.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPortUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  fake.closeAllConnections();
  await new Promise<void>((resolve) => fake.close(() => resolve()));
  await dynamo.close();
});

beforeEach(async () => {
  store = await dynamo.freshStore();
  requests.length = 0;
  api = createAdminApi({
    store,
    feeds: new FakeFeedControl(),
    maxBodyBytes: 4096,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    log: () => {},
    // Long enough that a loaded machine still sends the 5 MiB answer before it runs out.
    restateAdmin: createRestateAdminClient({ timeoutMs: IMPORT_TIMEOUT_MS }),
  });
});

describe("POST /services/import", () => {
  it("registers every public service with the ingress as endpoint, and they can be subscribed to", async () => {
    const response = await call(api, "POST", "/services/import", {
      admin_url: fakeUrl,
      ingress_url: INGRESS,
    });
    expect(response.status).toBe(201);
    expect(response.json.imported.map((s: { name: string }) => s.name)).toEqual([
      "Audit",
      "AuditLog",
      "Signup",
      "Tally",
      "TallyR",
    ]);
    expect(response.json.skipped).toEqual([
      {
        name: "Internal",
        reason: "private in Restate (ingressPrivate): it cannot be invoked through the ingress",
      },
    ]);
    expect(requests).toEqual(["GET /services"]);
    const tally = await call(api, "GET", "/services/Tally");
    expect(tally.json).toEqual({
      name: "Tally",
      type: "virtual_object",
      endpoint: INGRESS,
      invocation: "call",
      handlers: { record: { shared: false, input: "json" }, get: { shared: true, input: "json" } },
    });

    const [cluster] = clustersFromConfigFile({
      ingress: { "kafka-clusters": [{ name: "my-cluster", brokers: ["PLAINTEXT://b:9092"] }] },
    });
    if (cluster) await store.upsertConfigCluster(cluster);
    const subscription = await call(api, "POST", "/subscriptions", {
      source: "kafka://my-cluster/tally-in",
      sink: "service://Tally/record",
    });
    expect(subscription.status).toBe(201);
  });

  it("skips names already registered without overwriting them (200 when nothing is new)", async () => {
    const mine = {
      name: "Tally",
      type: "virtual_object",
      endpoint: "http://elsewhere:9000",
      invocation: "send",
      handlers: { record: {} },
    };
    expect((await call(api, "POST", "/services", mine)).status).toBe(201);
    const first = await call(api, "POST", "/services/import", {
      admin_url: fakeUrl,
      ingress_url: INGRESS,
      services: ["Tally", "TallyR"],
    });
    expect(first.status).toBe(201);
    expect(first.json.imported.map((s: { name: string }) => s.name)).toEqual(["TallyR"]);
    expect(first.json.skipped).toEqual([
      { name: "Tally", reason: "already registered (not overwritten)" },
    ]);
    expect((await call(api, "GET", "/services/Tally")).json).toMatchObject({
      endpoint: "http://elsewhere:9000",
      invocation: "send",
    });
    const again = await call(api, "POST", "/services/import", {
      admin_url: fakeUrl,
      ingress_url: INGRESS,
      services: ["TallyR"],
    });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({
      imported: [],
      skipped: [{ name: "TallyR", reason: "already registered (not overwritten)" }],
    });
  });

  it("applies invocation send, reports unknown names, and defaults the ingress to /version's", async () => {
    const response = await call(api, "POST", "/services/import", {
      admin_url: `${fakeUrl}/prefix/`,
      invocation: "send",
      services: ["Audit", "Nope"],
    });
    expect(response.status).toBe(201);
    expect(response.json.imported).toEqual([
      {
        name: "Audit",
        type: "service",
        endpoint: INGRESS,
        invocation: "send",
        handlers: {
          note: { shared: false, input: "json" },
          raw: { shared: false, input: "binary" },
        },
      },
    ]);
    expect(response.json.skipped).toEqual([
      { name: "Nope", reason: "Restate does not list a service of that name" },
    ]);
    expect(requests).toEqual(["GET /prefix/services", "GET /prefix/version"]);
  });

  it("accepts only http(s) admin URLs without credentials (an SSRF surface)", async () => {
    for (const admin_url of [
      "file:///etc/passwd",
      "ftp://127.0.0.1/",
      "gopher://127.0.0.1:70/",
      "http://user:pw@127.0.0.1:9070",
      `${fakeUrl}/?x=1`,
      "127.0.0.1:9070",
    ]) {
      const response = await call(api, "POST", "/services/import", { admin_url });
      expect(response.status, admin_url).toBe(400);
      expect(response.json.message).toMatch(/^invalid import: admin_url /);
    }
    expect(requests).toEqual([]);
    const unknown = await call(api, "POST", "/services/import", { admin_url: fakeUrl, x: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toBe('invalid import: unknown field "x"');
    const bad = await call(api, "POST", "/services/import", {
      admin_url: fakeUrl,
      invocation: "maybe",
      services: [],
    });
    expect(bad.json.message).toBe(
      'invalid import: invocation must be "call" or "send"; services must name at least one service',
    );
  });

  it("answers 502 with what went wrong, never with what the remote server said", async () => {
    const cases: Array<[string, RegExp]> = [
      [closedPortUrl, /cannot reach the Restate admin API \(ECONNREFUSED\)/],
      [`${fakeUrl}/missing`, /answered 404; is this a Restate admin API/],
      [`${fakeUrl}/html`, /the answer is not JSON/],
      [`${fakeUrl}/not-restate`, /something other than \{"services": \[\.\.\.\]\}/],
      [`${fakeUrl}/redirect`, /answered a redirect \(302\); not followed/],
      [`${fakeUrl}/huge`, /larger than 4194304 bytes/],
      [`${fakeUrl}/slow`, new RegExp(`no answer within ${IMPORT_TIMEOUT_MS} ms`)],
    ];
    for (const [admin_url, message] of cases) {
      const response = await call(api, "POST", "/services/import", {
        admin_url,
        ingress_url: INGRESS,
      });
      expect(response.status, admin_url).toBe(502);
      expect(response.json.message, admin_url).toMatch(message);
      expect(response.body).not.toMatch(/secret internal/);
    }
    expect(await store.listServices()).toEqual([]);
  });

  it("answers 501 where the deployment reads no Restate admin API", async () => {
    const bare = createAdminApi({
      store,
      feeds: new FakeFeedControl(),
      maxBodyBytes: 4096,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
      log: () => {},
    });
    const response = await call(bare, "POST", "/services/import", {
      admin_url: fakeUrl,
      ingress_url: INGRESS,
    });
    expect(response.status).toBe(501);
    expect(response.json.message).toMatch(/not available in this deployment/);
    expect(requests).toEqual([]);
  });

  it("keeps /services/import usable as a service name for GET and DELETE", async () => {
    expect((await call(api, "GET", "/services/import")).status).toBe(404);
    const post = await call(api, "POST", "/services/other", {});
    expect(post.status).toBe(405);
  });
});
