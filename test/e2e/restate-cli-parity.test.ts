// Restate's own CLI (`restate` 1.7.12) driving Kafka clusters and subscriptions, step by step,
// against a real restate-server 1.7.12 and against our local stack as `npm start` runs it, in the
// same test: the exit codes and what each shows must agree, except where we differ on purpose
// (brokers shown without their protocol prefix, which goes onto `security.protocol`; a cluster in
// use refuses a change, where Restate's subscriptions would keep reading with the old settings).
// restate-server takes clusters and subscriptions without a reachable Kafka (its consumer retries
// in the background), so none is started.
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  type ManagedProcess,
  spawnLogged,
  tail,
  waitUntil,
} from "../../infra/local/processes.ts";
import {
  type RunningRestate,
  registerDeployment,
  startRestate,
} from "../../infra/local/restate.ts";
import { type ServedServices, serveTestServices } from "./restate-app/services.ts";

const require = createRequire(import.meta.url);
const cliBinary = join(
  dirname(require.resolve(`@restatedev/restate-${process.platform}-${process.arch}/package.json`)),
  "bin",
  "restate",
);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
interface Both {
  readonly restate: Run;
  readonly ours: Run;
}

let work = "";
let restate: RunningRestate | undefined;
let app: ServedServices | undefined;
/** Our local stack as `npm start` runs it (`node src/local/main.ts`), in a process of its own. */
let stack: { readonly adminUrl: string; readonly process: ManagedProcess } | undefined;

function run(adminUrl: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cliBinary,
      [...args],
      {
        env: {
          PATH: process.env.PATH,
          RESTATE_ADMIN_URL: adminUrl,
          RESTATE_CLI_CONFIG_HOME: join(work, "cli"),
          CI: "true",
          NO_COLOR: "1",
          // `kc edit` opens this "editor": it moves the brokers to 127.0.0.1:39.
          EDITOR: join(work, "editor.sh"),
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

/** `restate <args>` against restate-server and against our stack. */
async function both(...args: string[]): Promise<Both> {
  const [onRestate, onOurs] = await Promise.all([
    run((restate as RunningRestate).adminUrl, args),
    run(stack?.adminUrl ?? "", args),
  ]);
  return { restate: onRestate, ours: onOurs };
}

/** Both exited with `code` and both outputs match `pattern`. */
function agree(result: Both, code: number, pattern: RegExp, where: "stdout" | "stderr" = "stdout") {
  for (const [side, outcome] of Object.entries(result)) {
    expect(outcome.code, `${side}: ${outcome.stderr}`).toBe(code);
    expect(outcome[where], side).toMatch(pattern);
  }
}

const createdId = (result: Run): string =>
  /Subscription (sub_1[0-9A-Za-z]{22}) created/.exec(result.stdout)?.[1] ?? "(none)";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "restate-cli-parity-"));
  await writeFile(
    join(work, "editor.sh"),
    `#!/bin/sh\nsed -i 's/^bootstrap.servers=.*/bootstrap.servers=127.0.0.1:39/' "$1"\n`,
  );
  await chmod(join(work, "editor.sh"), 0o755);
  restate = await startRestate({});
  app = await serveTestServices();
  await registerDeployment(restate.adminUrl, app.url);
  const port = await freePort();
  const logFile = join(work, "stack.log");
  const proc = spawnLogged(
    process.execPath,
    ["src/local/main.ts", "--data-dir", join(work, "stack"), "--port", String(port), "--no-kafka"],
    { logFile, cwd: join(import.meta.dirname, "../..") },
  );
  stack = { adminUrl: `http://127.0.0.1:${port}`, process: proc };
  const adminUrl = stack.adminUrl;
  await waitUntil("npm start's admin API", async () => (await fetch(`${adminUrl}/health`)).ok, {
    timeoutMs: 60_000,
    exited: proc.exited,
    describe: () => `--- stack.log ---\n${tail(logFile)}`,
  });
  const service = await fetch(`${stack.adminUrl}/services`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "Audit",
      type: "service",
      endpoint: app.url,
      handlers: { note: {} },
    }),
  });
  expect(service.status).toBe(201);
});

afterAll(async () => {
  await stack?.process.stop(10_000);
  await app?.close();
  await restate?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the restate CLI on restate-server and on our stack", () => {
  it("creates, lists, describes, patches, edits and deletes clusters and subscriptions alike", async () => {
    // kc create: the reference doc's broker, with its protocol prefix.
    const created = await both(
      "kc",
      "create",
      "--yes",
      "my-cluster",
      "bootstrap.servers=PLAINTEXT://127.0.0.1:9",
    );
    agree(created, 0, /Kafka cluster my-cluster created/);

    // kc list / describe: Restate keeps the prefix; we move it onto security.protocol.
    const listed = await both("kc", "list");
    agree(listed, 0, /my-cluster\s+(PLAINTEXT:\/\/)?127\.0\.0\.1:9\s+\d\s+\w{3} \d\d \w{3} \d{4}/);
    expect(listed.restate.stdout).toMatch(/my-cluster\s+PLAINTEXT:\/\/127\.0\.0\.1:9\s+1\s/);
    expect(listed.ours.stdout).toMatch(/my-cluster\s+127\.0\.0\.1:9\s+2\s/);
    const described = await both("kc", "describe", "my-cluster");
    agree(described, 0, /Name:\s+my-cluster\s[\s\S]*Subscriptions:\s+0\s/);
    expect(described.ours.stdout).toMatch(/security\.protocol\s+PLAINTEXT/);

    // kc patch: the CLI reads the cluster, edits the map and sends all of it.
    const patched = await both(
      "kc",
      "patch",
      "--yes",
      "my-cluster",
      "--set",
      "bootstrap.servers=127.0.0.1:19",
    );
    agree(
      patched,
      0,
      /bootstrap\.servers\s+(PLAINTEXT:\/\/)?127\.0\.0\.1:9\s+127\.0\.0\.1:19[\s\S]*Kafka cluster my-cluster updated/,
    );
    // kc edit: the same PATCH, from an edited properties file.
    const edited = await both("kc", "edit", "--yes", "my-cluster");
    agree(
      edited,
      0,
      /bootstrap\.servers\s+127\.0\.0\.1:19\s+127\.0\.0\.1:39[\s\S]*Kafka cluster my-cluster updated/,
    );
    agree(await both("kc", "describe", "my-cluster"), 0, /Brokers:\s+127\.0\.0\.1:39\s/);

    // sub create with the reference doc's source and options (its sink is here Audit/note).
    const subscribed = await both(
      "sub",
      "create",
      "--yes",
      "kafka://my-cluster/my-topic",
      "service://Audit/note",
      "auto.offset.reset=earliest",
    );
    agree(subscribed, 0, /Subscription sub_1[0-9A-Za-z]{22} created/);
    const ids = { restate: createdId(subscribed.restate), ours: createdId(subscribed.ours) };

    const subs = await both("sub", "list");
    // Both show three options: auto.offset.reset and the group.id and client.id Restate fills in.
    agree(
      subs,
      0,
      /sub_1[0-9A-Za-z]{22}\s+kafka:\/\/my-cluster\/my-topic\s+service:\/\/Audit\/note\s+3\s/,
    );
    for (const side of ["restate", "ours"] as const) {
      const shown = await run(
        side === "restate" ? (restate as RunningRestate).adminUrl : (stack?.adminUrl ?? ""),
        ["sub", "describe", ids[side]],
      );
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/Source:\s+kafka:\/\/my-cluster\/my-topic/);
      expect(shown.stdout).toMatch(/Sink:\s+service:\/\/Audit\/note/);
      expect(shown.stdout).toMatch(/Kafka brokers:\s+127\.0\.0\.1:39/);
      expect(shown.stdout).toMatch(/auto\.offset\.reset\s+earliest/);
      expect(shown.stdout).toMatch(new RegExp(`group\\.id\\s+${ids[side]}`));
      expect(shown.stdout).toMatch(/client\.id\s+restate/);
    }
    agree(
      await both("kc", "describe", "my-cluster"),
      0,
      /Subscriptions:\s+1\s[\s\S]*sub_1[0-9A-Za-z]{22}\s+kafka:\/\/my-cluster\/my-topic/,
    );

    // Refusals both give: an unknown cluster, a sink without a handler (Restate's META0009).
    const unknown = await both("sub", "create", "--yes", "kafka://nope/t", "service://Audit/note");
    agree(
      unknown,
      1,
      /Kafka cluster 'nope' not found\. Available clusters: \["my-cluster"\]/,
      "stderr",
    );
    const noHandler = await both(
      "sub",
      "create",
      "--yes",
      "kafka://my-cluster/t",
      "service://Audit",
    );
    agree(noHandler, 1, /META0009 \[META0009\] .*sink/, "stderr");

    // A change to a cluster in use: Restate takes it (its subscriptions keep the old
    // settings); we refuse it, naming the subscription.
    const inUse = await both(
      "kc",
      "patch",
      "--yes",
      "my-cluster",
      "--set",
      "bootstrap.servers=127.0.0.1:49",
    );
    expect(inUse.restate.code).toBe(0);
    expect(inUse.ours.code).toBe(1);
    expect(inUse.ours.stderr).toContain(
      `Kafka cluster "my-cluster" is used by subscription ${ids.ours}`,
    );
    expect(inUse.ours.stderr).toMatch(/409 Conflict/);

    // kc delete is refused while a subscription uses the cluster, by the CLI itself.
    const refused = await both("kc", "delete", "--yes", "my-cluster");
    agree(
      refused,
      1,
      /Cluster my-cluster has 1 subscription\(s\) attached\. Re-run with --force/,
      "stderr",
    );

    // sub delete, then kc delete.
    for (const side of ["restate", "ours"] as const) {
      const url =
        side === "restate" ? (restate as RunningRestate).adminUrl : (stack?.adminUrl ?? "");
      const deleted = await run(url, ["sub", "delete", "--yes", ids[side]]);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.stdout).toContain(`Subscription ${ids[side]} deleted`);
    }
    agree(await both("sub", "list"), 0, /^(?![\s\S]*sub_1)/);
    const gone = await both("kc", "delete", "--yes", "my-cluster");
    agree(gone, 0, /Kafka cluster my-cluster deleted/);
    const missing = await both("kc", "describe", "my-cluster");
    agree(missing, 1, /404/, "stderr");
  });
});
