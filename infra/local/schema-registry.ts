// Runs a real schema registry on 127.0.0.1 without Docker: Apicurio Registry, whose packaged
// application (`io.apicurio:apicurio-registry-app:<version>:zip:all`) comes from Maven Central
// (cached) and runs on the machine's Java 17+, with its in-memory storage. Its Confluent-compatible
// API (`/apis/ccompat/v7`) is what Confluent serializers and our local event source talk to.
//
//   node infra/local/schema-registry.ts [--version 3.0.9]   # prints the Confluent-compatible URL
//
// Programmatic: `const registry = await startSchemaRegistry(); ...; await registry.stop();`
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ensureCachedDir,
  freePort,
  LOOPBACK,
  runIfMain,
  runMaven,
  spawnLogged,
  stopOnSignals,
  tail,
  waitUntil,
} from "./processes.ts";

const execFileAsync = promisify(execFile);

/** The newest release whose packaged application Maven Central serves (3.1+ publish none). */
export const DEFAULT_APICURIO_VERSION = "3.0.9";

export interface RunningSchemaRegistry {
  /** The Confluent-compatible API, e.g. `http://127.0.0.1:41234/apis/ccompat/v7`. */
  readonly url: string;
  readonly version: string;
  readonly logFile: string;
  /** SIGTERM (SIGKILL after 15 s). Idempotent. */
  stop(): Promise<void>;
}

export interface StartSchemaRegistryOptions {
  readonly version?: string;
  readonly cacheDir?: string;
  /** Default 90 s. */
  readonly startupTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export function defaultApicurioCacheDir(version: string): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(base, "kafka-lambda-ingress", `apicurio-registry-${version}`);
}

const runnerJar = (version: string) => `apicurio-registry-app-${version}-runner.jar`;

/**
 * Makes sure `<cacheDir>/app` holds the unpacked application; downloads with Maven
 * (`dependency:copy`) and unpacks it on first use. Safe against concurrent
 * callers: each unpacks into its own temp dir and the first rename wins.
 */
export async function ensureApicurio(
  version: string = DEFAULT_APICURIO_VERSION,
  cacheDir: string = defaultApicurioCacheDir(version),
  log: (line: string) => void = () => {},
): Promise<string> {
  return ensureCachedDir(cacheDir, "app", async (work) => {
    log(
      `downloading Apicurio Registry ${version} from Maven Central into ${join(cacheDir, "app")}`,
    );
    const artifact = `io.apicurio:apicurio-registry-app:${version}:zip:all`;
    await runMaven(
      artifact,
      ["dependency:copy", `-Dartifact=${artifact}`, `-DoutputDirectory=${work}`],
      work,
    );
    const zip = readdirSync(work).find((name) => name.endsWith(".zip"));
    if (!zip) throw new Error(`Maven finished but no zip is in ${work}`);
    const unpacked = join(work, "app");
    mkdirSync(unpacked);
    await unzip(join(work, zip), unpacked);
    if (!existsSync(join(unpacked, runnerJar(version)))) {
      throw new Error(`${zip} holds no ${runnerJar(version)}`);
    }
    return unpacked;
  });
}

/** Unpacks with the JDK's `jar`, or Python's zipfile where only a JRE is installed. */
async function unzip(zip: string, into: string): Promise<void> {
  try {
    await execFileAsync("jar", ["xf", zip], { cwd: into, timeout: 5 * 60_000 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") throw error;
    await execFileAsync("python3", ["-m", "zipfile", "-e", zip, into], { timeout: 5 * 60_000 });
  }
}

/** Downloads (first time) and starts Apicurio Registry on a free loopback port. */
export async function startSchemaRegistry(
  options: StartSchemaRegistryOptions = {},
): Promise<RunningSchemaRegistry> {
  const version = options.version ?? process.env.APICURIO_VERSION ?? DEFAULT_APICURIO_VERSION;
  const app = await ensureApicurio(
    version,
    options.cacheDir ?? defaultApicurioCacheDir(version),
    options.log,
  );
  const port = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), "apicurio-"));
  const logFile = join(logDir, "registry.log");
  const java = process.env.JAVA ?? "java";
  const proc = spawnLogged(
    java,
    [
      "-Xmx512m",
      `-Dquarkus.http.host=${LOOPBACK}`,
      `-Dquarkus.http.port=${port}`,
      // No telemetry, no update checks, nothing but the API.
      "-Dquarkus.analytics.disabled=true",
      "-jar",
      join(app, runnerJar(version)),
    ],
    { logFile, cwd: app },
  );
  const url = `http://${LOOPBACK}:${port}/apis/ccompat/v7`;
  const stop = async () => {
    await proc.stop(15_000);
    rmSync(logDir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      "Apicurio Registry",
      async () => (await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2_000) })).ok,
      {
        timeoutMs: options.startupTimeoutMs ?? 90_000,
        exited: proc.exited,
        describe: () => `--- ${logFile} ---\n${tail(logFile)}`,
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, version, logFile, stop };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--version");
  const version = at >= 0 ? args[at + 1] : undefined;
  const started = Date.now();
  const registry = await startSchemaRegistry({
    ...(version ? { version } : {}),
    log: (line) => console.error(line),
  });
  console.error(
    `Apicurio Registry ${registry.version} ready in ${Date.now() - started} ms; log: ${registry.logFile}`,
  );
  console.log(registry.url);
  stopOnSignals(
    () => registry.stop(),
    () => console.error("stopping the schema registry..."),
  );
}

runIfMain(import.meta.url, main);
