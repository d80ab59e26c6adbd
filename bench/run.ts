// `npm run bench`: per-key parallelism and overhead of the consumer, against baselines measured in
// the same run. See bench/README.md for what each workload and each column means. This file reads
// the options, starts the shared processes and runs the workloads chosen; bench/workloads/ holds
// the workloads, bench/report.ts the output.
//
//   node bench/run.ts [--runs 5] [--only w1,w2,w3,w4,w5,w6] [--seq-w2 subset|full] [--quick]
//                     [--skip-e2e] [--e2e-records 20000] [--e2e-runs 4]
//                     [--out bench/results] [--update] [--from results.json]
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createHttpSink } from "../src/adapters/http-sink.ts";
import { CONSUMER_CONFIG } from "./consumer.ts";
import { benchStore, CONCURRENCY, type Rig } from "./contenders.ts";
import { bareAgent, progress, SinkProcess, StoreProcess } from "./lib.ts";
import {
  type Machine,
  mergeMeasured,
  readMeasured,
  thisMachine,
  updatedMachine,
  writeReport,
} from "./report.ts";
import type { BundleResult, E2eResult, Measured, MemoryResult, RowResult } from "./results.ts";
import { parallelConsumerShape } from "./workloads/w1-parallel-consumer.ts";
import { skewedKeys } from "./workloads/w2-skewed-keys.ts";
import { zeroLatency } from "./workloads/w3-zero-latency.ts";
import { memoryWorkload } from "./workloads/w4-memory.ts";
import { coldStart } from "./workloads/w5-cold-start.ts";
import { endToEnd } from "./workloads/w6-end-to-end.ts";

const USAGE = `usage: node bench/run.ts [options]

  --runs N           runs per contender after a warm-up (default 5; more for the short rows)
  --only w1,...,w6   the workloads to run (default all: w1,w2,w3,w4,w5,w6)
  --seq-w2 MODE      workload 2's sequential loop: subset (2,000 records, extrapolated; default)
                     or full
  --quick            skip the long rows (W1 with 1 and 10 keys, W2)
  --skip-e2e         skip workload 6 (real Kafka, restate-server and our stack; ~3–5 min)
  --e2e-records N    workload 6's records per contender and run (default 20000)
  --e2e-options JSON more options for our stack's subscriptions in workload 6, e.g.
                     '{"lambda.batch.size": "500"}' (a tuning experiment)
  --e2e-runs N       workload 6's repetitions (default 4: each contender in each place of the order once)
  --e2e-profile DIR  write a V8 CPU profile of our stack in workload 6 to DIR (read it with
                     node bench/profile-summary.ts)
  --out DIR          where results.md, results.json and chart.svg go (default bench/results)
  --update           keep what --out's results.json holds for the workloads not run this time
                     (e.g. --only w6 --update refreshes workload 6 alone; with --from, merges
                     that file's results into --out's)
  --from FILE        re-render results.md and chart.svg from a results.json, measuring nothing
  --help             this text
`;

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string", default: "w1,w2,w3,w4,w5,w6" },
    "seq-w2": { type: "string", default: "subset" },
    out: { type: "string", default: join(root, "bench/results") },
    /** Skip the long rows (W1 with 1 and 10 keys, W2): for quick before/after comparisons. */
    quick: { type: "boolean", default: false },
    /** Skip workload 6 (end to end through real Kafka and Restate: the slowest). */
    "skip-e2e": { type: "boolean", default: false },
    "e2e-records": { type: "string", default: "20000" },
    "e2e-runs": { type: "string", default: "4" },
    /** JSON object of more options for our stack's subscriptions in workload 6. */
    "e2e-options": { type: "string" },
    /** Where workload 6 writes a CPU profile of our stack (`--cpu-prof-dir`). */
    "e2e-profile": { type: "string" },
    /** Merge what this run measured into the results.json already in --out. */
    update: { type: "boolean", default: false },
    /** Re-render results.md and chart.svg from a results.json, measuring nothing. */
    from: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const RUNS = Number(values.runs);
const ONLY = new Set((values.only ?? "").split(","));
const QUICK = values.quick === true;
const OUT = values.out ?? join(root, "bench/results");

const machine = thisMachine();
const notes: string[] = [];

/** Runs the workloads chosen, sharing one sink, one store and one set of clients. */
async function measureAll(): Promise<Measured> {
  const startedAt = Date.now();
  const rows: RowResult[] = [];
  let memory: MemoryResult | undefined;
  let bundles: BundleResult[] | undefined;
  let e2e: E2eResult | undefined;
  const sink = await SinkProcess.start();
  const storeProcess = await StoreProcess.start();
  const agent = bareAgent(CONCURRENCY);
  const store = benchStore(storeProcess.endpoint);
  const httpSink = createHttpSink({
    connections: CONSUMER_CONFIG.MAX_CONCURRENCY,
    requestTimeoutMs: CONSUMER_CONFIG.REQUEST_TIMEOUT_MS,
  });
  const rig: Rig = {
    sink,
    sinkUrl: sink.url,
    storeEndpoint: storeProcess.endpoint,
    agent,
    store,
    deliver: httpSink.deliver,
  };
  try {
    if (ONLY.has("w1")) rows.push(...(await parallelConsumerShape(rig, RUNS, QUICK)));
    if (ONLY.has("w2") && !QUICK) {
      rows.push(...(await skewedKeys(rig, RUNS, values["seq-w2"] === "full")));
    }
    if (ONLY.has("w3")) rows.push(...(await zeroLatency(rig, RUNS)));
    if (ONLY.has("w4")) memory = await memoryWorkload(rig, RUNS);
    if (ONLY.has("w5")) {
      const cold = await coldStart(Math.max(RUNS, 9));
      bundles = cold.bundles;
      notes.push(...cold.notes);
    }
    if (ONLY.has("w6") && !values["skip-e2e"]) {
      try {
        e2e = await endToEnd({
          records: Number(values["e2e-records"]),
          runs: Number(values["e2e-runs"]),
          ...(values["e2e-options"]
            ? { ourOptions: JSON.parse(values["e2e-options"]) as Record<string, string> }
            : {}),
          ...(values["e2e-profile"] ? { profileDir: values["e2e-profile"] } : {}),
        });
      } catch (error) {
        // Java, Maven or the restate-server package missing: the other workloads still count.
        const message = error instanceof Error ? error.message : String(error);
        notes.push(`w6: not measured (${message.split("\n")[0]})`);
        progress(`workload 6 failed: ${message}`);
      }
    }
  } finally {
    await agent.close();
    await httpSink.close();
    store.client.destroy();
    storeProcess.stop();
    sink.stop();
  }
  return {
    rows,
    ...(memory === undefined ? {} : { memory }),
    ...(bundles === undefined ? {} : { bundles }),
    ...(e2e === undefined ? {} : { endToEnd: e2e }),
    elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
}

/** The measurements to report, and the machine that made them (an earlier run's, when re-used). */
async function measurements(): Promise<{ measured: Measured; machine: Machine }> {
  let fresh: Measured;
  let freshMachine = machine;
  if (values.from !== undefined) {
    const saved = readMeasured(values.from);
    fresh = saved.measured;
    freshMachine = saved.machine ?? machine;
  } else {
    fresh = await measureAll();
  }
  const previous = join(OUT, "results.json");
  if (!values.update || !existsSync(previous)) return { measured: fresh, machine: freshMachine };
  const saved = readMeasured(previous);
  return {
    measured: mergeMeasured(saved.measured, fresh),
    machine: updatedMachine(saved.machine, fresh, machine),
  };
}

const { measured, machine: measuredOn } = await measurements();
const markdown = writeReport(OUT, {
  ...measured,
  machine: measuredOn,
  concurrency: CONCURRENCY,
  runs: RUNS,
  notes,
});
process.stdout.write(markdown);
