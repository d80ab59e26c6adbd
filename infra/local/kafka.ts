// Runs a real Apache Kafka 4.x broker (KRaft, single node acting as broker and controller) on
// 127.0.0.1 without Docker: the `org.apache.kafka:kafka_2.13` jars and their runtime dependencies
// come from Maven Central (cached), and `kafka.Kafka` runs on the machine's Java 17+.
//
//   node infra/local/kafka.ts [--version 4.1.1] [--cache-dir DIR]   # prints bootstrap servers
//
// Programmatic: `const kafka = await startKafka(); ...; await kafka.stop();`
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Admin } from "@platformatic/kafka";
import {
  ensureCachedDir,
  freePorts,
  LOOPBACK,
  portAccepts,
  runIfMain,
  runMaven,
  spawnLogged,
  stopOnSignals,
  tail,
  waitUntil,
} from "./processes.ts";

const execFileAsync = promisify(execFile);

/** Tested here with 4.1.0 and 4.4.0; any 4.x on Maven Central should do. */
export const DEFAULT_KAFKA_VERSION = "4.1.1";
/** kafka_2.13 4.x resolves slf4j-api 1.7.36; without a binding the broker would log nothing. */
const SLF4J_SIMPLE_VERSION = "1.7.36";

export interface StartKafkaOptions {
  /** Kafka version on Maven Central (`org.apache.kafka:kafka_2.13`), default DEFAULT_KAFKA_VERSION. */
  readonly version?: string;
  /** Where jars are cached; default `~/.cache/kafka-lambda-ingress/kafka-<version>`. */
  readonly cacheDir?: string;
  /** JVM max heap in MB (default 512). */
  readonly heapMb?: number;
  /** How long to wait for the broker to answer a metadata request (default 120 s). */
  readonly startupTimeoutMs?: number;
  /** Default partitions for auto-created topics (default 1). */
  readonly numPartitions?: number;
  /** Keep the temporary data dir (logs, segments) after stop (default: env KEEP_KAFKA_DATA=1). */
  readonly keepData?: boolean;
  /** Progress lines (default: nothing). */
  readonly log?: (line: string) => void;
  /**
   * Require SASL/PLAIN on the client listener (SASL_PLAINTEXT) with these users (name → password).
   * The broker talks to itself on that listener as an extra, randomly generated user; the
   * controller listener stays PLAINTEXT. Default: a PLAINTEXT client listener.
   */
  readonly sasl?: KafkaSaslOptions;
}

export interface KafkaSaslOptions {
  readonly mechanism: "PLAIN";
  readonly users: Readonly<Record<string, string>>;
}

/** What a client needs to authenticate against a SASL broker (see StartKafkaOptions.sasl). */
interface ClientSasl {
  readonly mechanism: "PLAIN";
  readonly username: string;
  readonly password: string;
}

export interface RunningKafka {
  /** `127.0.0.1:<port>` (comma-separated form, one broker). */
  readonly bootstrapServers: string;
  readonly version: string;
  /** Broker stdout/stderr. */
  readonly logFile: string;
  readonly dataDir: string;
  /** `SASL_PLAINTEXT` when started with `sasl`, else `PLAINTEXT`. */
  readonly securityProtocol: "PLAINTEXT" | "SASL_PLAINTEXT";
  /** Graceful shutdown (SIGTERM, SIGKILL after 20 s), then removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

export function defaultKafkaCacheDir(version: string): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(base, "kafka-lambda-ingress", `kafka-${version}`);
}

function pom(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kafka-lambda-ingress</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>${SLF4J_SIMPLE_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/**
 * Makes sure `<cacheDir>/libs` holds the broker's runtime classpath; downloads with Maven
 * (`dependency:copy-dependencies`) on first use. Safe against concurrent callers: each downloads
 * into its own temp dir and the first rename wins.
 */
export async function ensureKafkaJars(
  version: string = DEFAULT_KAFKA_VERSION,
  cacheDir: string = defaultKafkaCacheDir(version),
  log: (line: string) => void = () => {},
): Promise<string> {
  return ensureCachedDir(cacheDir, "libs", async (work) => {
    writeFileSync(join(work, "pom.xml"), pom(version));
    log(
      `downloading Apache Kafka ${version} jars from Maven Central into ${join(cacheDir, "libs")}`,
    );
    await runMaven(`org.apache.kafka:kafka_2.13:${version}`, [
      "-f",
      join(work, "pom.xml"),
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${join(work, "libs")}`,
    ]);
    const jars = readdirSync(join(work, "libs"));
    if (!jars.some((j) => j.startsWith(`kafka_2.13-${version}`))) {
      throw new Error(`Maven finished but kafka_2.13-${version}.jar is missing in ${work}/libs`);
    }
    return join(work, "libs");
  });
}

/** Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding, not starting "-". */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** A JAAS option value in double quotes (backslash and quote escaped). */
function jaasQuoted(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

const JAAS_USER_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * The SASL/PLAIN settings of the client listener: `users` may log in, `broker` is the identity the
 * broker uses for inter-broker traffic on that listener.
 */
export function saslPlainProperties(
  listener: string,
  users: Readonly<Record<string, string>>,
  broker: { username: string; password: string },
): string[] {
  const all: Record<string, string> = { ...users, [broker.username]: broker.password };
  const entries = Object.entries(all);
  if (Object.keys(users).length === 0) throw new Error("sasl.users must name at least one user");
  for (const [name, password] of entries) {
    if (!JAAS_USER_NAME.test(name)) {
      throw new Error(`SASL user name ${JSON.stringify(name)} must match ${JAAS_USER_NAME}`);
    }
    // A line break would end the properties entry (the message never shows the password).
    if (password.length === 0 || [...password].some((c) => c.charCodeAt(0) < 0x20)) {
      throw new Error(`SASL password of ${name} must be non-empty without control characters`);
    }
  }
  const jaas = [
    "org.apache.kafka.common.security.plain.PlainLoginModule required",
    `username=${jaasQuoted(broker.username)}`,
    `password=${jaasQuoted(broker.password)}`,
    ...entries.map(([name, password]) => `user_${name}=${jaasQuoted(password)}`),
  ].join(" ");
  const prefix = `listener.name.${listener.toLowerCase()}.plain`;
  // Properties files treat backslashes as escapes: double them.
  return [
    "sasl.enabled.mechanisms=PLAIN",
    "sasl.mechanism.inter.broker.protocol=PLAIN",
    `${prefix}.sasl.jaas.config=${jaas.replace(/\\/g, "\\\\")};`,
  ];
}

export function serverProperties(options: {
  brokerPort: number;
  controllerPort: number;
  logDir: string;
  numPartitions: number;
  sasl?:
    | {
        users: Readonly<Record<string, string>>;
        broker: { username: string; password: string };
      }
    | undefined;
}): string {
  const { brokerPort, controllerPort, logDir, numPartitions, sasl } = options;
  const listener = sasl ? "SASL_PLAINTEXT" : "PLAINTEXT";
  return [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${LOOPBACK}:${controllerPort}`,
    `listeners=${listener}://${LOOPBACK}:${brokerPort},CONTROLLER://${LOOPBACK}:${controllerPort}`,
    `advertised.listeners=${listener}://${LOOPBACK}:${brokerPort}`,
    "controller.listener.names=CONTROLLER",
    `inter.broker.listener.name=${listener}`,
    `listener.security.protocol.map=${listener}:${listener},CONTROLLER:PLAINTEXT`,
    ...(sasl ? saslPlainProperties(listener, sasl.users, sasl.broker) : []),
    `log.dirs=${logDir}`,
    `num.partitions=${numPartitions}`,
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=4",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=4",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "auto.create.topics.enable=true",
    "num.network.threads=2",
    "num.io.threads=2",
    "num.recovery.threads.per.data.dir=1",
    "log.retention.hours=24",
    "",
  ].join("\n");
}

function javaBinary(): string {
  if (process.env.JAVA) return process.env.JAVA;
  if (process.env.JAVA_HOME) return join(process.env.JAVA_HOME, "bin", "java");
  return "java";
}

/** One metadata round trip through a real client. */
async function metadataWorks(bootstrapServers: string, sasl?: ClientSasl): Promise<boolean> {
  const admin = new Admin({
    clientId: "kafka-readiness",
    bootstrapBrokers: [bootstrapServers],
    retries: 0,
    connectTimeout: 2_000,
    requestTimeout: 5_000,
    ...(sasl ? { sasl: { ...sasl } } : {}),
  });
  try {
    const metadata = await admin.metadata({ topics: [] });
    return metadata.brokers.size > 0;
  } finally {
    await admin.close().catch(() => {});
  }
}

async function attemptStart(
  libs: string,
  version: string,
  options: StartKafkaOptions,
): Promise<RunningKafka> {
  const log = options.log ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), "kafka-local-"));
  const logDir = join(dataDir, "kraft-logs");
  const logFile = join(dataDir, "broker.log");
  const keep = options.keepData ?? process.env.KEEP_KAFKA_DATA === "1";
  const removeData = () => {
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  };
  const [brokerPort, controllerPort] = (await freePorts(2)) as [number, number];
  const propertiesFile = join(dataDir, "server.properties");
  const broker = options.sasl
    ? {
        username: `kafka-broker-${randomBytes(4).toString("hex")}`,
        password: randomBytes(18).toString("base64url"),
      }
    : undefined;
  // The readiness check authenticates as the broker's own identity.
  const readinessSasl: ClientSasl | undefined = broker
    ? { mechanism: "PLAIN", ...broker }
    : undefined;
  writeFileSync(
    propertiesFile,
    serverProperties({
      brokerPort,
      controllerPort,
      logDir,
      numPartitions: options.numPartitions ?? 1,
      sasl: options.sasl && broker ? { users: options.sasl.users, broker } : undefined,
    }),
    { mode: 0o600 },
  );
  const java = javaBinary();
  const classpath = `${libs}/*`;
  const jvm = [
    `-Xmx${options.heapMb ?? 512}m`,
    "-Xms64m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dlog4j2.level=warn",
  ];

  // 1. Format the storage (KRaft needs a cluster id and a formatted metadata dir).
  try {
    await execFileAsync(
      java,
      [
        ...jvm.filter((a) => !a.startsWith("-Xmx")),
        "-Xmx256m",
        "-cp",
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        randomClusterId(),
        "-c",
        propertiesFile,
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 180_000 },
    );
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    removeData();
    throw new Error(
      `kafka-storage format failed (java: ${java}): ${e.message}\n${(e.stderr ?? "").slice(-4000)}`,
    );
  }

  // 2. Start the broker.
  const bootstrapServers = `${LOOPBACK}:${brokerPort}`;
  log(`starting Kafka ${version} on ${bootstrapServers} (log: ${logFile})`);
  const proc = spawnLogged(java, [...jvm, "-cp", classpath, "kafka.Kafka", propertiesFile], {
    logFile,
    cwd: dataDir,
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= proc.stop(20_000).then(removeData);
    return stopped;
  };
  try {
    await waitUntil(`Kafka broker on ${bootstrapServers}`, () => portAccepts(brokerPort), {
      timeoutMs: options.startupTimeoutMs ?? 120_000,
      intervalMs: 250,
      exited: proc.exited,
      describe: () => `--- ${logFile} (tail) ---\n${tail(logFile)}`,
    });
    await waitUntil(
      `Kafka metadata on ${bootstrapServers}`,
      () => metadataWorks(bootstrapServers, readinessSasl),
      {
        timeoutMs: options.startupTimeoutMs ?? 120_000,
        intervalMs: 500,
        exited: proc.exited,
        describe: () => `--- ${logFile} (tail) ---\n${tail(logFile)}`,
      },
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await proc.stop(5_000);
    // Keep the log around for the error message's reader when the broker did not come up.
    throw Object.assign(new Error(message), {
      logFile,
      dataDir,
      portClash: /Address already in use/i.test(message),
    });
  }
  const securityProtocol = options.sasl ? "SASL_PLAINTEXT" : "PLAINTEXT";
  return { bootstrapServers, version, logFile, dataDir, securityProtocol, stop };
}

/** Downloads (first time), formats and starts a single-node KRaft broker on 127.0.0.1. */
export async function startKafka(options: StartKafkaOptions = {}): Promise<RunningKafka> {
  const version = options.version ?? process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
  const cacheDir = options.cacheDir ?? defaultKafkaCacheDir(version);
  if (options.sasl) {
    // Fail before downloading or creating anything.
    if (options.sasl.mechanism !== "PLAIN") {
      throw new Error(`unsupported SASL mechanism ${String(options.sasl.mechanism)}; only PLAIN`);
    }
    saslPlainProperties("SASL_PLAINTEXT", options.sasl.users, { username: "check", password: "x" });
  }
  const libs = await ensureKafkaJars(version, cacheDir, options.log);
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptStart(libs, version, options);
    } catch (error) {
      // The free ports we picked may have been taken meanwhile: try again with new ones.
      const clash = (error as { portClash?: boolean }).portClash === true;
      if (!clash || attempt >= 3) throw error;
      options.log?.(`port clash, retrying Kafka start (attempt ${attempt + 1})`);
    }
  }
}

function parseCliArgs(argv: readonly string[]): StartKafkaOptions {
  const options: { version?: string; cacheDir?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === "--version" && value) {
      options.version = value;
      i++;
    } else if (arg === "--cache-dir" && value) {
      options.cacheDir = resolve(value);
      i++;
    } else {
      throw new Error(
        `unknown argument ${arg}; usage: node infra/local/kafka.ts [--version V] [--cache-dir DIR]`,
      );
    }
  }
  return options;
}

async function main(): Promise<void> {
  const started = Date.now();
  const kafka = await startKafka({
    ...parseCliArgs(process.argv.slice(2)),
    log: (line) => console.error(line),
  });
  console.error(
    `Kafka ${kafka.version} ready in ${Date.now() - started} ms; log: ${kafka.logFile}`,
  );
  console.log(kafka.bootstrapServers);
  stopOnSignals(
    () => kafka.stop(),
    () => console.error("stopping Kafka..."),
  );
}

runIfMain(import.meta.url, main);
