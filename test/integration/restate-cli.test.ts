// Restate's own CLI (`restate` 1.7.12, the npm package's binary) against the local stack's admin
// API: it negotiates the admin API version, then lists, describes, creates, patches, edits and
// deletes what we store. The same commands against restate-server itself: test/e2e.
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";

const require = createRequire(import.meta.url);
/** The binary the platform package of `@restatedev/restate` brings. */
const cliBinary = join(
  dirname(require.resolve(`@restatedev/restate-${process.platform}-${process.arch}/package.json`)),
  "bin",
  "restate",
);

let dataDir: string;
let cliHome: string;
let stack: LocalStack;
let subscriptionId: string;

async function api(method: string, path: string, body: unknown): Promise<Record<string, string>> {
  const response = await fetch(`${stack.adminUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Record<string, string>;
}

/** Runs `restate <args>` against the stack; no prompts (CI), no colours, no user config. */
function restate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cliBinary,
      args,
      {
        env: {
          PATH: process.env.PATH,
          RESTATE_ADMIN_URL: stack.adminUrl,
          RESTATE_CLI_CONFIG_HOME: cliHome,
          CI: "true",
          NO_COLOR: "1",
          // `kc edit` opens this "editor": it moves the brokers to 127.0.0.1:19095.
          EDITOR: join(dataDir, "editor.sh"),
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "restate-cli-"));
  cliHome = join(dataDir, "cli");
  await writeFile(
    join(dataDir, "editor.sh"),
    `#!/bin/sh\nsed -i 's/^bootstrap.servers=.*/bootstrap.servers=127.0.0.1:19095/' "$1"\n`,
  );
  await chmod(join(dataDir, "editor.sh"), 0o755);
  // The reference doc's config-file cluster with credentials beside its brokers.
  await writeFile(
    join(dataDir, "restate.toml"),
    `[[ingress.kafka-clusters]]\nname = "with-credentials"\nbrokers = ["PLAINTEXT://127.0.0.1:19094"]\n"sasl.username" = "me"\n"sasl.password" = "pass"\n`,
  );
  stack = await startLocalStack({
    configFile: join(dataDir, "restate.toml"),
    dataDir: join(dataDir, "stack"),
    port: 0,
    consumeKafka: false,
    log: () => {},
  });
  await api("POST", "/kafka-clusters", {
    name: "my-cluster",
    properties: { "bootstrap.servers": "127.0.0.1:19092", "security.protocol": "PLAINTEXT" },
  });
  await api("POST", "/services", {
    name: "MyService",
    type: "service",
    endpoint: "http://127.0.0.1:9080",
    handlers: { handle: {} },
  });
  const subscription = await api("POST", "/subscriptions", {
    source: "kafka://my-cluster/my-topic",
    sink: "service://MyService/handle",
    options: { "auto.offset.reset": "earliest" },
  });
  subscriptionId = subscription.id ?? "";
});

afterAll(async () => {
  await stack?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("the restate CLI against the local stack", () => {
  it("lists Kafka clusters", async () => {
    const { code, stdout, stderr } = await restate("kc", "list");
    expect(stderr).not.toMatch(/Error|Could not verify/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/my-cluster\s+127\.0\.0\.1:19092\s+2\s/);
    expect(stdout).toMatch(/with-credentials\s+127\.0\.0\.1:19094\s+2\s/);
  });

  it("lists subscriptions", async () => {
    const { code, stdout } = await restate("sub", "list");
    expect(code).toBe(0);
    expect(stdout).toContain(subscriptionId);
    expect(stdout).toMatch(/kafka:\/\/my-cluster\/my-topic\s+service:\/\/MyService\/handle/);
  });

  it("describes a Kafka cluster with its subscriptions", async () => {
    const { code, stdout } = await restate("kc", "describe", "my-cluster");
    expect(code).toBe(0);
    expect(stdout).toMatch(/Brokers:\s+127\.0\.0\.1:19092/);
    expect(stdout).toMatch(/Subscriptions:\s+1\s/);
    expect(stdout).toMatch(/security\.protocol\s+PLAINTEXT/);
    expect(stdout).toContain(subscriptionId);
  });

  it("describes a subscription with its cluster's brokers and its options", async () => {
    const { code, stdout } = await restate("sub", "describe", subscriptionId);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Source:\s+kafka:\/\/my-cluster\/my-topic/);
    expect(stdout).toMatch(/Kafka brokers:\s+127\.0\.0\.1:19092/);
    expect(stdout).toMatch(/auto\.offset\.reset\s+earliest/);
    expect(stdout).toMatch(new RegExp(`group\\.id\\s+${subscriptionId}`));
    expect(stdout).toMatch(/client\.id\s+restate/);
  });

  it("creates a Kafka cluster and a subscription on it, then deletes both", async () => {
    const created = await restate(
      "kc",
      "create",
      "--yes",
      "other",
      "bootstrap.servers=127.0.0.1:19093",
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("Kafka cluster other created");
    const createdSub = await restate(
      "sub",
      "create",
      "--yes",
      "kafka://other/orders",
      "service://MyService/handle",
    );
    expect(createdSub.code).toBe(0);
    const listed = (await (await fetch(`${stack.adminUrl}/subscriptions`)).json()) as {
      subscriptions: { id: string; source: string }[];
    };
    const subscription = listed.subscriptions.find((s) => s.source === "kafka://other/orders");
    const id = subscription?.id ?? "(no subscription)";
    expect(id).toMatch(/^sub_1[0-9A-Za-z]{22}$/);
    expect(createdSub.stdout).toContain(id);
    const deleted = await restate("sub", "delete", "--yes", id);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`Subscription ${id} deleted`);
    const gone = await restate("kc", "delete", "--yes", "other");
    expect(gone.code).toBe(0);
    expect(gone.stdout).toContain("Kafka cluster other deleted");
    expect((await fetch(`${stack.adminUrl}/kafka-clusters/other`)).status).toBe(404);
  });

  it("patches and edits a cluster nothing uses, and shows our refusal for one in use", async () => {
    const created = await restate(
      "kc",
      "create",
      "--yes",
      "spare",
      "bootstrap.servers=127.0.0.1:19093",
    );
    expect(created.code).toBe(0);
    const patched = await restate(
      "kc",
      "patch",
      "--yes",
      "spare",
      "--set",
      "bootstrap.servers=SSL://127.0.0.1:19094",
    );
    expect(patched.code, patched.stderr).toBe(0);
    expect(patched.stdout).toContain("Kafka cluster spare updated");
    const shown = (await (await fetch(`${stack.adminUrl}/kafka-clusters/spare`)).json()) as {
      properties: Record<string, string>;
    };
    expect(shown.properties).toEqual({
      "bootstrap.servers": "127.0.0.1:19094",
      "security.protocol": "SSL",
    });
    const unset = await restate("kc", "patch", "--yes", "spare", "--unset", "security.protocol");
    expect(unset.code, unset.stderr).toBe(0);
    const edited = await restate("kc", "edit", "--yes", "spare");
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stdout).toMatch(/bootstrap\.servers\s+127\.0\.0\.1:19094\s+127\.0\.0\.1:19095/);
    const after = (await (await fetch(`${stack.adminUrl}/kafka-clusters/spare`)).json()) as {
      properties: Record<string, string>;
    };
    expect(after.properties).toEqual({ "bootstrap.servers": "127.0.0.1:19095" });
    expect((await restate("kc", "delete", "--yes", "spare")).code).toBe(0);

    const inUse = await restate(
      "kc",
      "patch",
      "--yes",
      "my-cluster",
      "--set",
      "bootstrap.servers=127.0.0.1:1",
    );
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toContain(
      `Kafka cluster "my-cluster" is used by subscription ${subscriptionId}`,
    );
    const refused = await restate("kc", "delete", "--yes", "my-cluster");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Cluster my-cluster has 1 subscription\(s\) attached/);
  });

  it("kc delete --force deletes the cluster's subscriptions first", async () => {
    expect(
      (await restate("kc", "create", "--yes", "doomed", "bootstrap.servers=127.0.0.1:19096")).code,
    ).toBe(0);
    const sub = await restate(
      "sub",
      "create",
      "--yes",
      "kafka://doomed/t",
      "service://MyService/handle",
    );
    expect(sub.code, sub.stderr).toBe(0);
    const id = /Subscription (sub_1[0-9A-Za-z]{22}) created/.exec(sub.stdout)?.[1] ?? "(none)";
    const forced = await restate("kc", "delete", "--yes", "--force", "doomed");
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain("Kafka cluster doomed deleted");
    expect((await fetch(`${stack.adminUrl}/subscriptions/${id}`)).status).toBe(404);
    expect((await fetch(`${stack.adminUrl}/kafka-clusters/doomed`)).status).toBe(404);
    expect((await fetch(`${stack.adminUrl}/subscriptions/${subscriptionId}`)).status).toBe(200);
  });

  it("never shows config-file credentials (kept out of the store), and refuses to change that cluster", async () => {
    const described = await restate("kc", "describe", "with-credentials");
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/Brokers:\s+127\.0\.0\.1:19094/);
    expect(described.stdout).not.toMatch(/sasl|\bpass\b|\bme\b/);
    const patch = await restate(
      "kc",
      "patch",
      "--yes",
      "with-credentials",
      "--set",
      "bootstrap.servers=127.0.0.1:1",
    );
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toContain(
      `Kafka cluster "with-credentials" is declared in the config file; change it there`,
    );
    expect(patch.stderr).toMatch(/409 Conflict/);
    const edit = await restate("kc", "edit", "--yes", "with-credentials");
    expect(edit.code).not.toBe(0);
    expect(edit.stderr).toContain("is declared in the config file");
  });

  it("shows Restate's code for an invalid sink", async () => {
    const { code, stderr } = await restate(
      "sub",
      "create",
      "--yes",
      "kafka://my-cluster/t",
      "service://MyService",
    );
    expect(code).not.toBe(0);
    expect(stderr).toMatch(
      /META0009 \[META0009\] sink must look like service:\/\/<Service>\/<handler>/,
    );
  });

  it("shows our error messages for what does not exist", async () => {
    const { code, stderr } = await restate("kc", "describe", "nope");
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/Kafka cluster "nope" not found/);
    expect(stderr).toMatch(/404/);
  });
});
