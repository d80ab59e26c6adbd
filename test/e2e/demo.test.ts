// `npm run demo` as a user runs it: started as a child process (stdout a pipe, so it prints plain
// status lines), it must bring up Kafka, restate-server, its SDK endpoint and the local stack,
// get records into the handlers (in per-key order for the virtual object) and the poison record
// into dead letters; SIGINT must then stop everything it started: no process it spawned and no
// port it listened on may be left, nor its temporary directories.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { portAccepts, waitUntil } from "../../infra/local/processes.ts";

const REPO = resolve(import.meta.dirname, "../..");

let demo: ChildProcess | undefined;
let stdout = "";
let stderr = "";

/** Every process below `root`, from /proc (parent links). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const match = (pattern: RegExp): string | undefined => pattern.exec(stdout)?.[1];

/** The latest plain status line of the subscription with this sink, as key=value pairs. */
function latestStatus(sink: string): Record<string, string> | undefined {
  const lines = stdout.split("\n").filter((l) => l.includes(` ${sink} id=`));
  const last = lines.at(-1);
  if (!last) return undefined;
  return Object.fromEntries(
    [...last.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1] as string, m[2] as string]),
  );
}

afterAll(() => {
  // A failed run: the demo's exit hook kills its children when it dies.
  if (demo && demo.exitCode === null && demo.signalCode === null) demo.kill("SIGKILL");
});

/**
 * Runs the demo until records flow, checks them, then stops it: `group` sends the signal to its
 * whole process group, as Ctrl-C in a terminal does (the broker and restate-server get it too);
 * otherwise only the demo process gets it, as from `kill` or a supervisor.
 */
async function runAndStop(signal: NodeJS.Signals, group: boolean): Promise<void> {
  stdout = "";
  stderr = "";
  const started = Date.now();
  demo = spawn(
    process.execPath,
    ["scripts/demo.ts", "--port", "0", "--interval", "1", "--rate", "20"],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], detached: group },
  );
  demo.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  demo.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | string>((done) =>
    demo?.once("exit", (code, signal) => done(code ?? signal ?? "unknown")),
  );
  const describeOutput = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  // Records reach both handlers and the poison record is a dead letter of both subscriptions.
  const ready = () => {
    const tally = latestStatus("service://Tally/record");
    const audit = latestStatus("service://Audit/note");
    return [tally, audit].every(
      (s) => s !== undefined && Number(s.delivered) >= 20 && s.dead_letters === "1",
    );
  };
  await waitUntil("deliveries and a dead letter in the demo's status lines", async () => ready(), {
    timeoutMs: 150_000,
    intervalMs: 250,
    exited,
    describe: describeOutput,
  });
  expect(stdout).toMatch(/first record reached a handler \d+\.\d s after start/);
  console.log(
    `demo: records in both handlers ${((Date.now() - started) / 1000).toFixed(1)} s after spawn`,
  );

  const adminUrl = match(/^Admin API (http:\/\/127\.0\.0\.1:\d+),/m);
  const restateAdmin = match(/Restate admin (http:\/\/127\.0\.0\.1:\d+),/);
  const ingress = match(/ingress (http:\/\/127\.0\.0\.1:\d+),/);
  const endpoint = match(/SDK endpoint (http:\/\/127\.0\.0\.1:\d+),/);
  const kafka = match(/Kafka (127\.0\.0\.1:\d+) \(topic/);
  const logs = match(/^Logs: (\S+) \(/m);
  const dataDirs = [...stdout.matchAll(/(\/\S+)\/(?:restate|broker)\.log/g)].map(
    (m) => m[1] as string,
  );
  for (const value of [adminUrl, restateAdmin, ingress, endpoint, kafka, logs]) {
    expect(value, describeOutput()).toBeDefined();
  }
  expect(dataDirs).toHaveLength(2);

  // What the status lines say, the admin API and Restate confirm.
  const tallyId = latestStatus("service://Tally/record")?.id as string;
  const detail = (await (await fetch(`${adminUrl}/subscriptions/${tallyId}`)).json()) as {
    feedStatus: { state: string; recordsCompleted: number };
  };
  expect(detail.feedStatus.state).toBe("running");
  expect(detail.feedStatus.recordsCompleted).toBeGreaterThanOrEqual(20);
  const letters = (await (
    await fetch(`${adminUrl}/subscriptions/${tallyId}/dead-letters`)
  ).json()) as { dead_letters: Array<{ kind: string; value: string; httpStatus?: number }> };
  expect(letters.dead_letters).toHaveLength(1);
  expect(letters.dead_letters[0]?.kind).toBe("terminal");
  expect(letters.dead_letters[0]?.httpStatus).toBe(400);
  expect(
    JSON.parse(Buffer.from(letters.dead_letters[0]?.value ?? "", "base64").toString()),
  ).toEqual({ seq: "poison", key: "poison" });
  const entries = (await (
    await fetch(`${ingress}/Tally/k-0/get`, { method: "POST" })
  ).json()) as Array<{ seq: number; offset: number }>;
  expect(entries.length).toBeGreaterThan(0);
  // One key, one partition: offsets and seqs rise together (the object saw them in order).
  for (let i = 1; i < entries.length; i++) {
    expect(entries[i]?.offset).toBeGreaterThan(entries[i - 1]?.offset ?? Infinity);
    expect(entries[i]?.seq).toBeGreaterThan(entries[i - 1]?.seq ?? Infinity);
  }
  expect(entries.every((e) => e.seq % 5 === 0)).toBe(true);

  // What it started: the broker and restate-server among its child processes.
  const pid = demo.pid as number;
  const children = descendants(pid);
  const commands = children.map(commandLine);
  expect(
    commands.some((c) => c.includes("kafka.Kafka")),
    commands.join("\n"),
  ).toBe(true);
  expect(
    commands.some((c) => c.includes("restate-server")),
    commands.join("\n"),
  ).toBe(true);
  const ports = [adminUrl, restateAdmin, ingress, endpoint, `http://${kafka}`].map((u) =>
    Number(new URL(u as string).port),
  );
  for (const port of ports) expect(await portAccepts(port), `port ${port}`).toBe(true);

  const stopAt = Date.now();
  if (group) process.kill(-pid, signal);
  else demo.kill(signal);
  const outcome = await Promise.race([
    exited,
    new Promise((done) => setTimeout(() => done("still running after 60 s"), 60_000)),
  ]);
  expect(outcome, describeOutput()).toBe(0);
  console.log(`demo: stopped ${((Date.now() - stopAt) / 1000).toFixed(1)} s after ${signal}`);
  expect(children.filter(alive).map((p) => `${p} ${commandLine(p)}`)).toEqual([]);
  for (const port of ports) expect(await portAccepts(port), `port ${port}`).toBe(false);
  for (const dir of [logs as string, ...dataDirs]) expect(existsSync(dir), dir).toBe(false);
}

describe("npm run demo", () => {
  it("gets records flowing and the poison record dead-lettered; Ctrl-C (SIGINT to its process group) leaves nothing behind", async () => {
    await runAndStop("SIGINT", true);
  });

  it("also stops everything on a SIGTERM to the demo process alone", async () => {
    await runAndStop("SIGTERM", false);
  });
});
