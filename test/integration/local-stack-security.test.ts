// The local stack as other local users and web pages meet it: a data dir only its user can read,
// a store that refuses clients without the stack's key, config-file credentials held in memory
// only, and an admin API that takes JSON bodies only, from its own host and origin; a 413 leaves
// the kept-alive connection usable.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { ensureTable } from "../../src/adapters/dynamo/ensure-table.ts";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { startEmbeddedDynamoDb } from "../../src/local/embedded-dynamodb.ts";
import { type LocalStack, localDynamoDbClient, startLocalStack } from "../../src/local/stack.ts";

const username = `user-${randomBytes(8).toString("hex")}`;
const password = `pw-${randomBytes(16).toString("hex")}`;

let work: string;
let dataDir: string;
let configFile: string;
let stack: LocalStack;
let port: number;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies freely
  json: any;
}

/** One request with exactly these headers (Host included), on a fresh connection. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, method, path, headers, agent: false, setHost: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json: text && JSON.parse(text),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const own = () => ({ host: `127.0.0.1:${port}` });
const jsonHeaders = () => ({ ...own(), "content-type": "application/json" });

async function clusterNames(): Promise<string[]> {
  const listed = await raw("GET", "/kafka-clusters", own());
  return (listed.json.clusters as Array<{ name: string }>).map((c) => c.name);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: free } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return free;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "local-stack-security-"));
  dataDir = join(work, "data");
  // An existing data dir, open to everyone as a default umask leaves it.
  await mkdir(dataDir);
  await chmod(dataDir, 0o755);
  configFile = join(work, "restate.toml");
  await writeFile(
    configFile,
    `[[ingress.kafka-clusters]]
name = "secured"
brokers = ["SASL_PLAINTEXT://127.0.0.1:${await closedPort()}"]
"sasl.mechanism" = "PLAIN"
"sasl.username" = "${username}"
"sasl.password" = "${password}"
`,
  );
  stack = await startLocalStack({ dataDir, configFile, port: 0, log: () => {} });
  port = Number(new URL(stack.adminUrl).port);
});

afterAll(async () => {
  await stack?.close();
  await rm(work, { recursive: true, force: true });
});

describe("local data and store", () => {
  it("makes the data dir, the store's dir and stack.json private to the user", async () => {
    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(join(dataDir, "dynamodb"))).toBe(0o700);
    expect(await mode(join(dataDir, "stack.json"))).toBe(0o600);
  });

  it("serves the store only to clients with the stack's access key", async () => {
    const info = JSON.parse(await readFile(join(dataDir, "stack.json"), "utf8"));
    expect(info.dynamodbEndpoint).toBe(stack.dynamodbEndpoint);
    expect(new URL(info.dynamodbEndpoint).hostname).toBe("127.0.0.1");

    const stranger = localDynamoDbClient(info.dynamodbEndpoint, "local");
    await expect(stranger.send(new ListTablesCommand({}))).rejects.toMatchObject({
      name: "UnrecognizedClientException",
      $metadata: { httpStatusCode: 403 },
    });
    stranger.destroy();
    // Unsigned, as a browser page would send it (dynalite itself answers CORS requests).
    const unsigned = await fetch(info.dynamodbEndpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.ListTables",
        origin: "http://evil.example",
      },
      body: "{}",
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get("access-control-allow-origin")).toBeNull();

    const owner = localDynamoDbClient(info.dynamodbEndpoint, info.dynamodbAccessKeyId);
    expect((await owner.send(new ListTablesCommand({}))).TableNames).toContain(stack.tableName);
    owner.destroy();
  });

  it("keeps config-file credentials in memory: the feed has them, no file under the data dir does", async () => {
    const service = await raw(
      "POST",
      "/services",
      jsonHeaders(),
      JSON.stringify({
        name: "S",
        type: "service",
        endpoint: "http://127.0.0.1:9",
        handlers: { h: {} },
      }),
    );
    expect(service.status).toBe(201);
    const created = await raw(
      "POST",
      "/subscriptions",
      jsonHeaders(),
      JSON.stringify({ source: "kafka://secured/orders", sink: "service://S/h" }),
    );
    expect(created.status).toBe(201);
    // Without the credentials the source would fail at once ("needs sasl.username ...").
    const feed = await raw("GET", `/subscriptions/${created.json.id}`, own());
    expect(feed.json.feedStatus.state).not.toBe("failed");
    expect(JSON.stringify(feed.json)).not.toMatch(/sasl\.username/);
    const cluster = await raw("GET", "/kafka-clusters/secured", own());
    expect(cluster.json.properties["sasl.password"]).toBeUndefined();

    // After a restart from the same config file the stored subscription gets them again.
    await stack.close();
    stack = await startLocalStack({ dataDir, configFile, port: 0, log: () => {} });
    port = Number(new URL(stack.adminUrl).port);
    const again = await raw("GET", `/subscriptions/${created.json.id}`, own());
    expect(again.json.feedStatus.state).not.toBe("failed");

    await stack.close();
    const files = await filesUnder(dataDir);
    expect(files.some((f) => f.includes("dynamodb"))).toBe(true);
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.includes(password), file).toBe(false);
      expect(bytes.includes(username), file).toBe(false);
    }
    stack = await startLocalStack({ dataDir, configFile, port: 0, log: () => {} });
    port = Number(new URL(stack.adminUrl).port);
  });

  it("drops credentials an earlier version stored for a cluster no longer in the config file", async () => {
    const old = join(work, "old");
    const db = await startEmbeddedDynamoDb({ dataDir: join(old, "dynamodb") });
    const client = localDynamoDbClient(db.endpoint, "any");
    await ensureTable(client, "kafka-ingress");
    const [legacy] = clustersFromConfigFile({
      ingress: {
        "kafka-clusters": [
          {
            name: "legacy",
            brokers: ["SASL_PLAINTEXT://127.0.0.1:9092"],
            "sasl.mechanism": "PLAIN",
            "sasl.username": username,
            "sasl.password": password,
          },
        ],
      },
    });
    if (legacy) await new DynamoAdminStore(client, "kafka-ingress").upsertConfigCluster(legacy);
    client.destroy();
    await db.close();

    const upgraded = await startLocalStack({ dataDir: old, port: 0, log: () => {} });
    const reader = localDynamoDbClient(upgraded.dynamodbEndpoint, upgraded.dynamodbAccessKeyId);
    const stored = await new DynamoAdminStore(reader, "kafka-ingress").getCluster("legacy");
    reader.destroy();
    await upgraded.close();
    expect(stored?.properties).toEqual({
      "bootstrap.servers": "127.0.0.1:9092",
      "security.protocol": "SASL_PLAINTEXT",
      "sasl.mechanism": "PLAIN",
    });
  });
});

const cluster = (name: string) =>
  JSON.stringify({ name, properties: { "bootstrap.servers": "127.0.0.1:9092" } });

describe("admin API requests from browsers", () => {
  it("takes bodies only as JSON: 415 for the types a page may send without asking", async () => {
    for (const type of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/json; charset=latin1",
    ]) {
      const refused = await raw(
        "POST",
        "/kafka-clusters",
        { ...own(), "content-type": type },
        cluster("c415"),
      );
      expect(refused.status, type).toBe(415);
      expect(refused.json.message).toMatch(/content-type application\/json/);
    }
    const untyped = await raw("POST", "/kafka-clusters", own(), cluster("c415"));
    expect(untyped.status).toBe(415);
    expect(await clusterNames()).not.toContain("c415");

    const charset = await raw(
      "POST",
      "/kafka-clusters",
      { ...own(), "content-type": "application/json; charset=utf-8" },
      cluster("c-charset"),
    );
    expect(charset.status).toBe(201);
  });

  it("refuses a foreign Origin (403) and takes the API's own", async () => {
    for (const origin of [
      "http://evil.example",
      "null",
      `http://127.0.0.1:${port + 1}`,
      `https://127.0.0.1:${port}`,
    ]) {
      const refused = await raw(
        "POST",
        "/kafka-clusters",
        { ...jsonHeaders(), origin },
        cluster("c-origin"),
      );
      expect(refused.status, origin).toBe(403);
      expect(refused.json.message).toMatch(/cross-origin requests are refused/);
    }
    const preflight = await raw("OPTIONS", "/kafka-clusters", {
      ...own(),
      origin: "http://evil.example",
      "access-control-request-method": "POST",
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    expect(await clusterNames()).not.toContain("c-origin");

    for (const [origin, name] of [
      [`http://127.0.0.1:${port}`, "c-own-1"],
      [`http://localhost:${port}`, "c-own-2"],
    ] as const) {
      const taken = await raw(
        "POST",
        "/kafka-clusters",
        { ...jsonHeaders(), origin },
        cluster(name),
      );
      expect(taken.status, origin).toBe(201);
    }
  });

  it("answers only requests whose Host names the API, so a rebinding name reads nothing", async () => {
    for (const host of [
      `evil.example:${port}`,
      `127.0.0.1:${port + 1}`,
      "127.0.0.1",
      `localhost.evil.example:${port}`,
    ]) {
      const refused = await raw("GET", "/subscriptions", { host });
      expect(refused.status, host).toBe(403);
      expect(refused.json.message).toMatch(/does not name this API/);
      expect(refused.json.subscriptions).toBeUndefined();
    }
    // No Host at all: Node refuses an HTTP/1.1 request without one before the API sees it.
    expect((await raw("GET", "/subscriptions", {})).status).toBe(400);
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
    ]) {
      expect((await raw("GET", "/subscriptions", { host })).status, host).toBe(200);
    }
  });

  it("refuses what a browser marks as coming from another site", async () => {
    const crossSite = await raw("GET", "/subscriptions", {
      ...own(),
      "sec-fetch-site": "cross-site",
    });
    expect(crossSite.status).toBe(403);
    const sameSite = await raw("GET", "/subscriptions", {
      ...own(),
      "sec-fetch-site": "same-site",
    });
    expect(sameSite.status).toBe(403);
    const typedIn = await raw("GET", "/subscriptions", { ...own(), "sec-fetch-site": "none" });
    expect(typedIn.status).toBe(200);
  });

  it("still serves the Restate CLI, curl --json and fetch in Node as they send requests", async () => {
    // The CLI: Host 127.0.0.1:<port>, JSON bodies, no Origin.
    const cli = await raw(
      "POST",
      "/kafka-clusters",
      {
        ...own(),
        "content-type": "application/json",
        accept: "application/json",
        "user-agent": "restate-cli",
      },
      cluster("c-cli"),
    );
    expect(cli.status).toBe(201);
    // curl --json: the same with curl's Accept.
    const curl = await raw(
      "POST",
      "/kafka-clusters",
      {
        host: `localhost:${port}`,
        "content-type": "application/json",
        accept: "application/json",
        "user-agent": "curl/8.5.0",
      },
      cluster("c-curl"),
    );
    expect(curl.status).toBe(201);
    const viaFetch = await fetch(`${stack.adminUrl}/kafka-clusters/c-cli`);
    expect(viaFetch.status).toBe(200);
  });
});

describe("oversized bodies", () => {
  it("answers 413 and the next request on the same kept-alive connection still works", async () => {
    const big = JSON.stringify({ name: "big", properties: { x: "y".repeat(200 * 1024) } });
    const tooLarge = await fetch(`${stack.adminUrl}/kafka-clusters`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { message: string }).message).toMatch(
      /larger than 65536 bytes/,
    );
    const next = await fetch(`${stack.adminUrl}/kafka-clusters`);
    expect(next.status).toBe(200);
    const created = await fetch(`${stack.adminUrl}/kafka-clusters`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: cluster("after-413"),
    });
    expect(created.status).toBe(201);
  });

  it("a body refused unread (foreign Origin) does not break the connection either", async () => {
    const refused = await fetch(`${stack.adminUrl}/kafka-clusters`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: JSON.stringify({ pad: "x".repeat(100 * 1024) }),
    });
    expect(refused.status).toBe(403);
    await refused.text();
    expect((await fetch(`${stack.adminUrl}/kafka-clusters`)).status).toBe(200);
  });
});
