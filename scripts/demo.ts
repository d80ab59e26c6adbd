// `npm run demo [-- --rate 5 --keys 5 --port 9070]`: from nothing to records flowing in one
// command. Starts on loopback a Kafka broker (jars from Maven Central, cached), restate-server (npm
// binary), the demo's Restate TS SDK endpoint (src/local/demo/services.ts) and the local stack;
// registers the endpoint with Restate, imports its services into the stack, subscribes `Tally` and
// `Audit` to the topic with the reference doc's bodies, and produces records at a steady rate,
// one of them a poison record that lands in dead letters. Shows a live view per subscription (in
// place on a terminal, plain lines otherwise) and the commands to try next. SIGINT / SIGTERM stop
// everything it started.
import { execFile } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Admin, Producer } from "@platformatic/kafka";
import {
  DEFAULT_KAFKA_VERSION,
  defaultKafkaCacheDir,
  type RunningKafka,
  startKafka,
} from "../infra/local/kafka.ts";
import { type RunningRestate, registerDeployment, startRestate } from "../infra/local/restate.ts";
import { type DemoEndpoint, serveDemoServices } from "../src/local/demo/services.ts";
import {
  type DemoUrls,
  nextCommands,
  plainLine,
  type SubscriptionSnapshot,
  statusBlock,
} from "../src/local/demo/view.ts";
import { type LocalStack, startLocalStack } from "../src/local/stack.ts";

const execFileAsync = promisify(execFile);

const usage = `Usage: npm run demo -- [--rate N] [--keys K] [--port 9070] [--interval S]

Starts Kafka, restate-server, a Restate SDK endpoint and the local stack on 127.0.0.1, subscribes
the endpoint's Tally (virtual object) and Audit (service) to the topic "demo-in", and produces
JSON records {"seq", "key"} at N per second (default 5) over K keys (default 5), with one poison
record that lands in dead letters. --port moves the admin API (0: any free port); --interval sets
how often (seconds, default 5) a status line is printed when stdout is not a terminal.
Ctrl-C stops everything.`;

const TOPIC = "demo-in";
const PARTITIONS = 4;
const CLUSTER = "my-cluster";
/** The poison record is the 10th produced: its body has no integer `seq`. */
const POISON_AT = 9;
const SINKS = ["service://Tally/record", "service://Audit/note"] as const;

const startedAt = Date.now();
const elapsed = () => (Date.now() - startedAt) / 1000;

function options() {
  const { values } = parseArgs({
    options: {
      rate: { type: "string", default: "5" },
      keys: { type: "string", default: "5" },
      port: { type: "string", default: "9070" },
      interval: { type: "string", default: "5" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const number = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${name} must be a number from ${min} to ${max}, got ${text}\n${usage}`);
    }
    return n;
  };
  return {
    help: values.help,
    rate: number("rate", values.rate, 0.1, 10_000),
    keys: Math.trunc(number("keys", values.keys, 1, 10_000)),
    port: Math.trunc(number("port", values.port, 0, 65_535)),
    intervalMs: number("interval", values.interval, 0.5, 3_600) * 1000,
  };
}

/** Fails with one sentence saying what to install when Java (or, before the first download, Maven) is missing. */
async function checkPrerequisites(): Promise<void> {
  const java =
    process.env.JAVA ??
    (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java");
  try {
    await execFileAsync(java, ["-version"], { timeout: 30_000 });
  } catch {
    throw new Error(
      "The Kafka broker needs Java 17 or later on PATH (e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME).",
    );
  }
  const version = process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
  if (existsSync(join(defaultKafkaCacheDir(version), "libs", ".complete"))) return;
  try {
    await execFileAsync(process.env.MVN ?? "mvn", ["-v"], { timeout: 60_000 });
  } catch {
    throw new Error(
      "The first run downloads the Kafka jars from Maven Central with Maven: install it (e.g. `apt-get install maven`) and make sure `mvn` is on PATH.",
    );
  }
}

interface Counters {
  delivered: number;
  retries: number;
}

/** Counts the consumer's `batch processed` lines per subscription; keeps every line in the log file. */
function stackLog(
  write: (line: string) => void,
  counters: Map<string, Counters>,
): (line: string) => void {
  return (line) => {
    write(line);
    if (!line.includes('"batch processed"')) return;
    try {
      const entry = JSON.parse(line) as {
        subscription?: string;
        delivered?: number;
        failed?: number;
        notAttempted?: number;
      };
      const counter = entry.subscription ? counters.get(entry.subscription) : undefined;
      if (!counter) return;
      counter.delivered += entry.delivered ?? 0;
      counter.retries += (entry.failed ?? 0) + (entry.notAttempted ?? 0);
    } catch {
      // not JSON: kept in the file only
    }
  };
}

async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

async function expectOk(
  what: string,
  call: Promise<{ status: number; json: unknown }>,
): Promise<Record<string, unknown>> {
  const { status, json } = await call;
  if (status < 200 || status > 299) {
    throw new Error(`${what}: HTTP ${status} ${JSON.stringify(json)}`);
  }
  return json as Record<string, unknown>;
}

/** Produces `{seq, key}` records at `rate` per second; the POISON_AT-th has no integer seq. */
function startProducer(bootstrap: string, rate: number, keys: number) {
  const producer = new Producer({
    clientId: "demo-producer",
    bootstrapBrokers: [bootstrap],
    idempotent: true,
  });
  let produced = 0;
  let sending = false;
  let stopped = false;
  let lastError: string | undefined;
  const began = Date.now();
  const tick = async () => {
    if (sending || stopped) return;
    const due = Math.min(Math.floor(((Date.now() - began) / 1000) * rate) + 1 - produced, 5_000);
    if (due <= 0) return;
    sending = true;
    try {
      const messages = Array.from({ length: due }, (_, i) => {
        const seq = produced + i;
        const key = seq === POISON_AT ? "poison" : `k-${seq % keys}`;
        const value = seq === POISON_AT ? { seq: "poison", key } : { seq, key };
        return { topic: TOPIC, key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)) };
      });
      await producer.send({ messages });
      produced += due;
      lastError = undefined;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      sending = false;
    }
  };
  const timer = setInterval(() => void tick(), Math.max(20, Math.min(200, 1000 / rate)));
  void tick();
  return {
    produced: () => produced,
    lastError: () => lastError,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await producer.close().catch(() => {});
    },
  };
}

async function createTopic(bootstrap: string): Promise<void> {
  const admin = new Admin({ clientId: "demo-admin", bootstrapBrokers: [bootstrap] });
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(TOPIC)) {
      await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 });
    }
  } finally {
    await admin.close().catch(() => {});
  }
}

interface FeedStatusView {
  state?: string;
  lastError?: { message?: string };
  partitions?: Array<{ partition: number; lag?: number }>;
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.help) {
    console.log(usage);
    return;
  }
  const progress = (line: string) => console.error(`[${elapsed().toFixed(1)}s] ${line}`);
  await checkPrerequisites();
  const work = mkdtempSync(join(tmpdir(), "kafka-lambda-ingress-demo-"));
  const logTo = (name: string) => {
    const stream = createWriteStream(join(work, name), { flags: "a" });
    return (line: string) => void stream.write(`${line}\n`);
  };
  const log = logTo("endpoint.log");

  // Whatever is started is stopped, in reverse order, on a signal or a failed start.
  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  let stopping: Promise<void> | undefined;
  let timers: NodeJS.Timeout[] = [];
  /** `keepLogs`: after a failed start, the logs stay for the reader of the error. */
  const stopAll = (keepLogs = false) => {
    stopping ??= (async () => {
      for (const t of timers) clearInterval(t);
      timers = [];
      const stopOne = async ({ name, stop }: (typeof stops)[number]) => {
        try {
          await stop();
        } catch (error) {
          console.error(`stopping ${name}: ${error instanceof Error ? error.message : error}`);
        }
      };
      // The producer and the stack first (their Kafka clients leave cleanly), then the rest at once.
      const first = new Set(["producer", "local stack"]);
      for (const entry of stops.filter((s) => first.has(s.name)).reverse()) await stopOne(entry);
      await Promise.all(stops.filter((s) => !first.has(s.name)).map(stopOne));
      if (keepLogs) console.error(`logs kept in ${work}`);
      else rmSync(work, { recursive: true, force: true });
    })();
    return stopping;
  };
  const onSignal = (signal: string) => {
    if (stopping) {
      console.error("stopping anyway");
      process.exit(130); // the exit hook of infra/local/processes.ts kills what is left
    }
    console.error(`\n${signal}: stopping everything the demo started ...`);
    void stopAll().then(() => {
      console.error("stopped");
      process.exit(0);
    });
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  const track = <T extends { stop?: () => Promise<void>; close?: () => Promise<void> }>(
    name: string,
    value: T,
  ): T => {
    const stop = value.stop ?? value.close;
    if (stop) stops.push({ name, stop: () => stop.call(value) });
    if (stopping) void stopAll();
    return value;
  };

  try {
    progress("starting Kafka, restate-server, the SDK endpoint and the local stack ...");
    const counters = new Map<string, Counters>();
    const kafkaStarted = startKafka({ numPartitions: PARTITIONS, log: progress }).then((k) =>
      track("Kafka", k),
    );
    const restateStarted = startRestate({ log: progress }).then((r) => track("restate-server", r));
    const endpointStarted = serveDemoServices(0, log).then((e) => track("SDK endpoint", e));
    const stackStarted = startLocalStack({
      port: opts.port,
      log: stackLog(logTo("stack.log"), counters),
    }).then((s) => track("local stack", s));
    // Let every start settle, so that a failure leaves nothing running.
    const settled = await Promise.allSettled([
      kafkaStarted,
      restateStarted,
      endpointStarted,
      stackStarted,
    ]);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    const kafka = (settled[0] as PromiseFulfilledResult<RunningKafka>).value;
    const restate = (settled[1] as PromiseFulfilledResult<RunningRestate>).value;
    const endpoint = (settled[2] as PromiseFulfilledResult<DemoEndpoint>).value;
    const stack = (settled[3] as PromiseFulfilledResult<LocalStack>).value;
    if (stopping) return;

    await Promise.all([
      createTopic(kafka.bootstrapServers),
      registerDeployment(restate.adminUrl, endpoint.url),
    ]);
    const admin = stack.adminUrl;
    await expectOk(
      "POST /kafka-clusters",
      api(admin, "POST", "/kafka-clusters", {
        name: CLUSTER,
        properties: { "bootstrap.servers": kafka.bootstrapServers },
      }),
    );
    await expectOk(
      "POST /services/import",
      api(admin, "POST", "/services/import", {
        admin_url: restate.adminUrl,
        ingress_url: restate.ingressUrl,
      }),
    );
    const subscriptions: Array<{ id: string; sink: string }> = [];
    for (const sink of SINKS) {
      // The reference doc's body.
      const created = await expectOk(
        `POST /subscriptions (${sink})`,
        api(admin, "POST", "/subscriptions", {
          source: `kafka://${CLUSTER}/${TOPIC}`,
          sink,
          options: { "auto.offset.reset": "earliest" },
        }),
      );
      const id = String(created.id);
      subscriptions.push({ id, sink });
      counters.set(id, { delivered: 0, retries: 0 });
    }
    if (stopping) return;
    const producer = track("producer", startProducer(kafka.bootstrapServers, opts.rate, opts.keys));
    progress(`producing ${opts.rate} records/s to ${TOPIC}; logs in ${work}`);
    let firstRecord: string | undefined;
    void endpoint.firstRecord.then((at) => {
      firstRecord = `first record reached a handler ${((at - startedAt) / 1000).toFixed(1)} s after start`;
      // On a terminal the line is part of the block redrawn in place.
      if (!stopping && !process.stdout.isTTY) console.log(firstRecord);
    });

    const urls: DemoUrls = {
      adminUrl: admin,
      restateAdminUrl: restate.adminUrl,
      restateIngressUrl: restate.ingressUrl,
      endpointUrl: endpoint.url,
      bootstrapServers: kafka.bootstrapServers,
      topic: TOPIC,
    };
    console.log(nextCommands(urls, subscriptions).join("\n"));
    console.log(`Logs: ${work} (stack.log, endpoint.log), ${restate.logFile}, ${kafka.logFile}\n`);

    // Delivered counts over the last few seconds, for the rate.
    const history: Array<{ at: number; delivered: Map<string, number> }> = [];
    const snapshot = async (): Promise<SubscriptionSnapshot[]> => {
      const now = Date.now();
      const delivered = new Map([...counters].map(([id, c]) => [id, c.delivered]));
      history.push({ at: now, delivered });
      while (history.length > 1 && (history[0]?.at ?? now) < now - 5_000) history.shift();
      const oldest = history[0];
      return Promise.all(
        subscriptions.map(async ({ id, sink }) => {
          const [detail, letters] = await Promise.all([
            api(admin, "GET", `/subscriptions/${id}`).catch(() => undefined),
            api(admin, "GET", `/subscriptions/${id}/dead-letters?limit=1000`).catch(
              () => undefined,
            ),
          ]);
          const body = (detail?.json ?? {}) as { status?: string; feedStatus?: FeedStatusView };
          const feed = body.feedStatus;
          const list = (letters?.json ?? {}) as { dead_letters?: unknown[]; cursor?: string };
          const count = counters.get(id) ?? { delivered: 0, retries: 0 };
          const seconds = oldest && now > oldest.at ? (now - oldest.at) / 1000 : 0;
          const before = oldest?.delivered.get(id) ?? 0;
          return {
            id,
            sink,
            state: feed?.state ?? body.status ?? "unknown",
            lastError: feed?.state === "running" ? undefined : feed?.lastError?.message,
            lag: (feed?.partitions ?? []).map((p) => ({ partition: p.partition, lag: p.lag })),
            delivered: count.delivered,
            perSecond: seconds > 0 ? (count.delivered - before) / seconds : 0,
            retries: count.retries,
            deadLetters: list.dead_letters?.length ?? 0,
            deadLettersMore: list.cursor !== undefined,
          };
        }),
      );
    };

    if (process.stdout.isTTY) {
      let drawn = 0;
      let busy = false;
      const redraw = async () => {
        if (busy || stopping) return;
        busy = true;
        try {
          const lines = statusBlock(await snapshot(), elapsed(), producer.produced());
          const error = producer.lastError();
          if (error) lines.push(`  producer: ${error}`);
          if (firstRecord) lines.push("", firstRecord);
          if (stopping) return;
          // Up to the start of the previous block, clear to the end, draw the new one.
          process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[J` : ""}${lines.join("\n")}\n`);
          drawn = lines.length;
        } finally {
          busy = false;
        }
      };
      timers.push(setInterval(() => void redraw(), 1_000));
      void redraw();
    } else {
      const sample = setInterval(() => void snapshot(), 1_000);
      const print = setInterval(async () => {
        const snapshots = await snapshot();
        if (stopping) return;
        console.log(`[${elapsed().toFixed(0)}s] produced=${producer.produced()}`);
        for (const s of snapshots) console.log(plainLine(s, elapsed()));
      }, opts.intervalMs);
      timers.push(sample, print);
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stopAll(true);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
