// Small process helpers shared by the local Kafka, Restate and schema registry launchers: free
// loopback ports, readiness polling, log tails, a child process that is stopped reliably (also on
// exit), a cache directory filled once, and Maven runs.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const LOOPBACK = "127.0.0.1";

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, LOOPBACK);
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) throw new Error("could not obtain a free port on 127.0.0.1");
  return port;
}

/** Distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** True when something accepts TCP connections on host:port. */
export function portAccepts(port: number, host = LOOPBACK, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** The last `lines` lines of a text file ("" when it cannot be read). */
export function tail(file: string, lines = 40): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: never leave a broker or server behind when the Node process goes away.
  process.on("exit", () => {
    for (const child of running) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** Spawns `command` with stdout and stderr appended to `logFile`. */
export function spawnLogged(
  command: string,
  args: readonly string[],
  options: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): ManagedProcess {
  installExitHook();
  const fd = openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  running.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
    child.once("error", (error) => {
      running.delete(child);
      resolve(`spawn error: ${error.message}`);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 20_000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || !running.has(child)) return;
      child.kill("SIGTERM");
      const outcome = await Promise.race([exited, sleep(graceMs, "timeout" as const)]);
      if (outcome === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
    })();
    return stopping;
  };
  return { child, logFile: options.logFile, exited, stop };
}

/**
 * Polls `probe` until it returns true. Fails early when `exited` settles first (the process died)
 * and after `timeoutMs`, with `describe()` appended to the error.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: {
    timeoutMs: number;
    intervalMs?: number;
    exited?: Promise<number | string>;
    describe?: () => string;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exitedWith: number | string | undefined;
  void options.exited?.then((code) => {
    exitedWith = code;
  });
  const details = () => (options.describe ? `\n${options.describe()}` : "");
  for (;;) {
    if (exitedWith !== undefined) {
      throw new Error(
        `${what}: the process exited (${exitedWith}) before it was ready${details()}`,
      );
    }
    let ok = false;
    try {
      ok = await probe();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready after ${options.timeoutMs} ms${details()}`);
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** For a launcher run as a command: stop what it started on SIGINT / SIGTERM, then exit. */
export function stopOnSignals(stop: () => Promise<void>, announce?: () => void): void {
  const shutdown = () => {
    announce?.();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

/** Runs `main` when the module at `moduleUrl` is the script node was started with. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(resolve(process.argv[1])).href) return;
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}

/**
 * Makes sure `<cacheDir>/<name>` holds what `fill(work)` builds: on first use `fill` gets a fresh
 * temp dir beside it and returns the directory to keep, which is marked complete and renamed into
 * place. Safe against concurrent callers: each fills its own temp dir and the first rename wins.
 */
export async function ensureCachedDir(
  cacheDir: string,
  name: string,
  fill: (work: string) => Promise<string>,
): Promise<string> {
  const target = join(cacheDir, name);
  const marker = join(target, ".complete");
  if (existsSync(marker)) return target;
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, "download-"));
  try {
    const filled = await fill(work);
    writeFileSync(join(filled, ".complete"), `${new Date().toISOString()}\n`);
    try {
      renameSync(filled, target);
    } catch (error) {
      if (!existsSync(marker)) throw error; // another process won the race: fine
    }
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs Maven (`$MVN`, else `mvn`) quietly; a failure names `what` and how to get it. */
export async function runMaven(what: string, args: readonly string[], cwd?: string): Promise<void> {
  const mvn = process.env.MVN ?? "mvn";
  try {
    await execFileAsync(mvn, ["-B", "-q", ...args], {
      ...(cwd ? { cwd } : {}),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `Maven could not fetch ${what} (is "mvn" on PATH and Maven Central reachable?): ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`.trim(),
    );
  }
}
