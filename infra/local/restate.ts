// Runs a real Restate server (the binary inside the `@restatedev/restate-server` npm package) on
// free 127.0.0.1 ports with a throw-away data dir, optionally with `[[ingress.kafka-clusters]]`.
//
//   node infra/local/restate.ts [--kafka name=host:port ...]   # prints ingress and admin URLs
//
// Registering a Restate TS SDK endpoint (a `restate.serve({services, port})` process) with it:
//   await registerDeployment(restate.adminUrl, "http://127.0.0.1:9080");
// which is `POST {adminUrl}/deployments {"uri": "..."}`; then invoke through
// `${restate.ingressUrl}/<Service>/<handler>` (or `/<Object>/<key>/<handler>`).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  freePorts,
  LOOPBACK,
  runIfMain,
  spawnLogged,
  stopOnSignals,
  tail,
  waitUntil,
} from "./processes.ts";

export interface RestateKafkaCluster {
  readonly name: string;
  /** `host:port` entries; written as `PLAINTEXT://host:port`. */
  readonly brokers: readonly string[];
  /** Extra librdkafka properties for the cluster. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface StartRestateOptions {
  readonly kafkaClusters?: readonly RestateKafkaCluster[];
  /** Path of the restate-server binary; default from the npm package (or env RESTATE_SERVER_BIN). */
  readonly binary?: string;
  /** Default 60 s. */
  readonly startupTimeoutMs?: number;
  /** Keep the data dir after stop (default: env KEEP_RESTATE_DATA=1). */
  readonly keepData?: boolean;
  readonly log?: (line: string) => void;
}

export interface RunningRestate {
  /** e.g. `http://127.0.0.1:41234` */
  readonly ingressUrl: string;
  /** e.g. `http://127.0.0.1:41235` */
  readonly adminUrl: string;
  readonly logFile: string;
  readonly dataDir: string;
  /** SIGTERM (SIGKILL after 15 s), then removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

/** The restate-server binary shipped in `@restatedev/restate-server-<platform>-<arch>`. */
export function restateServerBinary(): string {
  if (process.env.RESTATE_SERVER_BIN) return process.env.RESTATE_SERVER_BIN;
  const require = createRequire(import.meta.url);
  const pkg = `@restatedev/restate-server-${process.platform}-${process.arch}`;
  try {
    return join(dirname(require.resolve(`${pkg}/package.json`)), "bin", "restate-server");
  } catch {
    throw new Error(
      `${pkg} is not installed: run "npm install --save-dev @restatedev/restate-server" (or set RESTATE_SERVER_BIN)`,
    );
  }
}

const tomlString = (value: string): string => JSON.stringify(value);

export function restateConfig(options: {
  nodePort: number;
  adminPort: number;
  ingressPort: number;
  kafkaClusters?: readonly RestateKafkaCluster[];
}): string {
  const lines = [
    `node-name = "local"`,
    "disable-telemetry = true",
    "default-num-partitions = 4",
    `rocksdb-total-memory-size = "256 MiB"`,
    `bind-address = "${LOOPBACK}:${options.nodePort}"`,
    `advertised-address = "http://${LOOPBACK}:${options.nodePort}/"`,
    "",
    "[admin]",
    `bind-address = "${LOOPBACK}:${options.adminPort}"`,
    "",
    "[admin.query-engine]",
    `memory-size = "64 MiB"`,
    "",
    "[ingress]",
    `bind-address = "${LOOPBACK}:${options.ingressPort}"`,
  ];
  for (const cluster of options.kafkaClusters ?? []) {
    lines.push("", "[[ingress.kafka-clusters]]", `name = ${tomlString(cluster.name)}`);
    const brokers = cluster.brokers.map((b) =>
      tomlString(b.includes("://") ? b : `PLAINTEXT://${b}`),
    );
    lines.push(`brokers = [${brokers.join(", ")}]`);
    for (const [key, value] of Object.entries(cluster.properties ?? {})) {
      lines.push(`${tomlString(key)} = ${tomlString(value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

async function healthy(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.ok;
}

async function attemptStart(options: StartRestateOptions): Promise<RunningRestate> {
  const log = options.log ?? (() => {});
  const binary = options.binary ?? restateServerBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "restate-local-"));
  const logFile = join(dataDir, "restate.log");
  const keep = options.keepData ?? process.env.KEEP_RESTATE_DATA === "1";
  const removeData = () => {
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  };
  const [nodePort, adminPort, ingressPort] = (await freePorts(3)) as [number, number, number];
  const configFile = join(dataDir, "restate.toml");
  writeFileSync(
    configFile,
    restateConfig({ nodePort, adminPort, ingressPort, kafkaClusters: options.kafkaClusters ?? [] }),
  );
  const adminUrl = `http://${LOOPBACK}:${adminPort}`;
  const ingressUrl = `http://${LOOPBACK}:${ingressPort}`;
  log(`starting restate-server (admin ${adminUrl}, ingress ${ingressUrl}, log: ${logFile})`);
  const proc = spawnLogged(
    binary,
    [
      "--config-file",
      configFile,
      "--base-dir",
      join(dataDir, "data"),
      "--listen-mode",
      "tcp",
      "--no-logo",
    ],
    {
      logFile,
      cwd: dataDir,
      env: { ...process.env, RESTATE_LOG_DISABLE_ANSI_CODES: "true", NO_COLOR: "1" },
    },
  );
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= proc.stop(15_000).then(removeData);
    return stopped;
  };
  const describe = () => `--- ${logFile} (tail) ---\n${tail(logFile)}`;
  try {
    const timeoutMs = options.startupTimeoutMs ?? 60_000;
    await waitUntil(`restate admin ${adminUrl}/health`, () => healthy(`${adminUrl}/health`), {
      timeoutMs,
      exited: proc.exited,
      describe,
    });
    await waitUntil(
      `restate ingress ${ingressUrl}/restate/health`,
      () => healthy(`${ingressUrl}/restate/health`),
      { timeoutMs, exited: proc.exited, describe },
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await proc.stop(5_000);
    throw Object.assign(new Error(message), {
      logFile,
      dataDir,
      portClash: /address already in use|AddrInUse/i.test(message),
    });
  }
  return { ingressUrl, adminUrl, logFile, dataDir, stop };
}

/** Starts restate-server on free loopback ports and waits until admin and ingress are healthy. */
export async function startRestate(options: StartRestateOptions = {}): Promise<RunningRestate> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptStart(options);
    } catch (error) {
      const clash = (error as { portClash?: boolean }).portClash === true;
      if (!clash || attempt >= 3) throw error;
      options.log?.(`port clash, retrying restate-server start (attempt ${attempt + 1})`);
    }
  }
}

/**
 * Registers (or re-registers, `force`) a Restate SDK endpoint: `POST /deployments {uri}`.
 * Returns the admin API's answer (deployment id and discovered services).
 */
export async function registerDeployment(
  adminUrl: string,
  uri: string,
  options: { force?: boolean } = {},
): Promise<{ id: string; services: Array<{ name: string }> }> {
  const response = await fetch(`${adminUrl}/deployments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ uri, force: options.force ?? true }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`POST ${adminUrl}/deployments {uri: ${uri}} → ${response.status}: ${text}`);
  }
  return JSON.parse(text) as { id: string; services: Array<{ name: string }> };
}

function parseCliArgs(argv: readonly string[]): StartRestateOptions {
  const kafkaClusters: RestateKafkaCluster[] = [];
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--kafka" && value && value.includes("=")) {
      const [name, brokers] = value.split("=", 2) as [string, string];
      kafkaClusters.push({ name, brokers: brokers.split(",") });
      i++;
    } else {
      throw new Error(
        `unknown argument ${argv[i]}; usage: node infra/local/restate.ts [--kafka name=host:port[,host:port]]`,
      );
    }
  }
  return { kafkaClusters };
}

async function main(): Promise<void> {
  const started = Date.now();
  const restate = await startRestate({
    ...parseCliArgs(process.argv.slice(2)),
    log: (line) => console.error(line),
  });
  console.error(`restate-server ready in ${Date.now() - started} ms; log: ${restate.logFile}`);
  console.log(JSON.stringify({ ingressUrl: restate.ingressUrl, adminUrl: restate.adminUrl }));
  stopOnSignals(() => restate.stop());
}

runIfMain(import.meta.url, main);
