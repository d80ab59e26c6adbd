// Clear SASL credentials given through the local stack's API: kept in the data dir's
// kafka-credentials.json (0600, beside the 0700 dynamodb dir), never in the embedded store's
// files nor in any answer; the local event source gets them (it would fail at once without:
// "needs sasl.username ..."), also after a restart; deleting the cluster forgets them.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREDENTIALS_FILE, openLocalCredentialVault } from "../../src/local/local-credentials.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";

const username = `user-${randomBytes(6).toString("hex")}`;
const password = `pw-${randomBytes(16).toString("hex")}`;

let work: string;
let dataDir: string;
let stack: LocalStack | undefined;
let brokerPort: number;

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, stack?.adminUrl), {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const start = async () => {
  stack = await startLocalStack({ dataDir, port: 0, log: () => {} });
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "local-stack-credentials-"));
  dataDir = join(work, "data");
  // A loopback port nothing listens on: the source keeps retrying the connection, and says why.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  brokerPort = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await start();
});

afterAll(async () => {
  await stack?.close();
  await rm(work, { recursive: true, force: true });
});

describe("local stack: credentials given through the API", () => {
  let subscription = "";

  it("keeps them in a private file, shows and stores none, and gives them to the source", async () => {
    const created = await api("POST", "/kafka-clusters", {
      name: "secured",
      properties: {
        "bootstrap.servers": `127.0.0.1:${brokerPort}`,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": username,
        "sasl.password": password,
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.properties).toEqual({
      "bootstrap.servers": `127.0.0.1:${brokerPort}`,
      "security.protocol": "SASL_PLAINTEXT",
      "sasl.mechanism": "PLAIN",
    });
    const file = join(dataDir, CREDENTIALS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      clusters: { secured: { username, password } },
    });

    expect(
      (
        await api("POST", "/services", {
          name: "S",
          type: "service",
          endpoint: "http://127.0.0.1:9",
          handlers: { h: {} },
        })
      ).status,
    ).toBe(201);
    const sub = await api("POST", "/subscriptions", {
      source: "kafka://secured/orders",
      sink: "service://S/h",
    });
    expect(sub.status).toBe(201);
    subscription = sub.json.id;
    const feed = await api("GET", `/subscriptions/${subscription}`);
    expect(feed.json.feedStatus.state).not.toBe("failed");
    for (const text of [
      created.text,
      sub.text,
      feed.text,
      (await api("GET", "/kafka-clusters")).text,
    ]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(username);
    }
  });

  it("has them again after a restart; the store's files never held them", async () => {
    await stack?.close();
    const files = await filesUnder(dataDir);
    expect(files.some((f) => f.includes("dynamodb"))).toBe(true);
    for (const file of files) {
      if (file.endsWith(CREDENTIALS_FILE)) continue;
      const bytes = await readFile(file);
      expect(bytes.includes(password), file).toBe(false);
      expect(bytes.includes(username), file).toBe(false);
    }
    await start();
    const feed = await api("GET", `/subscriptions/${subscription}`);
    expect(feed.json.feedStatus.state).not.toBe("failed");
  });

  it("forgets them when the cluster is deleted", async () => {
    expect((await api("DELETE", `/subscriptions/${subscription}`)).status).toBe(202);
    expect((await api("DELETE", "/kafka-clusters/secured")).status).toBe(202);
    const text = await readFile(join(dataDir, CREDENTIALS_FILE), "utf8");
    expect(JSON.parse(text)).toEqual({ clusters: {} });
  });
});

describe("openLocalCredentialVault", () => {
  const cluster = { name: "c", origin: "api" as const, properties: {} };

  it("keeps them in memory without a data dir", async () => {
    const vault = await openLocalCredentialVault(undefined);
    expect(await vault.put(cluster, { username: "u", password: "p" })).toEqual({});
    expect(vault.get("c")).toEqual({ "sasl.username": "u", "sasl.password": "p" });
    await vault.replace(cluster, { username: "u2", password: "p2" });
    expect(vault.get("c")).toEqual({ "sasl.username": "u2", "sasl.password": "p2" });
    await vault.remove(cluster);
    expect(vault.get("c")).toBeUndefined();
    expect(vault.owns("arn:aws:secretsmanager:us-east-1:123456789012:secret:x")).toBe(false);
  });

  it("refuses a file it cannot read without showing its content, and makes an open one private", async () => {
    const dir = await mkdtemp(join(work, "vault-"));
    await writeFile(
      join(dir, CREDENTIALS_FILE),
      `{"clusters": {"c": {"username": "${password}"}}}`,
    );
    const error = await openLocalCredentialVault(dir).catch((e: unknown) => e);
    expect(String(error)).toMatch(/is not a credentials file of the local stack/);
    expect(String(error)).not.toContain(password);

    await writeFile(
      join(dir, CREDENTIALS_FILE),
      JSON.stringify({ clusters: { c: { username, password } } }),
      { mode: 0o644 },
    );
    const vault = await openLocalCredentialVault(dir);
    expect(vault.get("c")).toEqual({ "sasl.username": username, "sasl.password": password });
    expect((await stat(join(dir, CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
  });
});
