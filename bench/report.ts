// The benchmark's output: the machine it ran on, results.md (the tables and their notes),
// results.json (everything measured) and chart.svg, written to the output directory, the
// markdown also to stdout.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { renderChart } from "./chart.ts";
import { median } from "./lib.ts";
import type { ContenderResult, E2eResult, Measured, RowResult } from "./results.ts";

/** The machine the benchmark runs on, as the report names it. */
export interface Machine {
  readonly description: string;
  readonly nproc: number;
  readonly cpuModel: string;
  /** Node version and date of the run that measured, when re-rendering an earlier results.json. */
  readonly node?: string;
  readonly date?: string;
}

export function thisMachine(): Machine {
  const cpuModel =
    readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"))
      ?.split(":")[1]
      ?.trim() ??
    (cpus()[0]?.model || "unknown");
  const nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  return {
    description: `${nproc} × ${cpuModel}, Node ${process.version}, ${process.platform}/${process.arch}`,
    nproc,
    cpuModel,
  };
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}
const fmtX = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x >= 10 ? 1 : 2)}×` : "–");
const fmtMB = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
const fmtRate = (perS: number) => `${Math.round(perS).toLocaleString("en-US")}/s`;

/**
 * The most any order-keeping scheduler could gain over a baseline: its span over our lower bound,
 * the bound rescaled to the latency the sink applied to the baseline's runs (its draws are the
 * same, but the applied latency is measured per run and can differ slightly).
 */
function ceiling(baseline: ContenderResult, ours: ContenderResult): number {
  const rescale = baseline.medianMeanLatencyMs / ours.medianMeanLatencyMs;
  return baseline.medianSpanMs / (ours.medianBoundMs * rescale);
}

function rowsTable(rows: readonly RowResult[]): string {
  const head =
    "| workload | ours (median span) | lower bound | efficiency (bound/span) | bare-undici reference | reference/ours | vs partition-serial | vs sequential loop | records/s | peak RSS | Parallel Consumer |";
  const sep = `|${" --- |".repeat(11)}`;
  const lines = [head, sep];
  for (const row of rows) {
    const ours = row.contenders.ours;
    if (ours === undefined) continue;
    const ref = row.contenders.reference;
    const ps = row.contenders["partition-serial"];
    const seq = row.contenders.sequential;
    const zero = row.latency === "zero";
    const speedup = (c: ContenderResult | undefined) =>
      c === undefined
        ? "–"
        : `${fmtX(c.medianSpanMs / ours.medianSpanMs)} (${zero ? "" : `max ${fmtX(ceiling(c, ours))}; `}${fmtMs(c.medianSpanMs)}${c.scale !== 1 ? ", extrapolated" : ""}${c.note?.includes("same") ? "†" : ""})`;
    lines.push(
      [
        "",
        ` ${row.title} `,
        ` ${fmtMs(ours.medianSpanMs)} `,
        ` ${zero ? "– (zero latency)" : fmtMs(ours.medianBoundMs)} `,
        ` ${zero ? "–" : `${(ours.medianEfficiency * 100).toFixed(0)}%`} `,
        ` ${ref ? fmtMs(ref.medianSpanMs) : "–"}${ref?.note?.includes("same") ? "†" : ""} `,
        ` ${ref ? fmtX(ref.medianSpanMs / ours.medianSpanMs) : "–"} `,
        ` ${speedup(ps)} `,
        ` ${speedup(seq)} `,
        ` ${fmtRate(row.records / (ours.medianSpanMs / 1000))} `,
        ` ${fmtMB(ours.peakRss)} `,
        ` ${row.parallelConsumerMs === undefined ? "–" : `${fmtMs(row.parallelConsumerMs)} (ours ${fmtX(row.parallelConsumerMs / ours.medianSpanMs)})`} `,
        "",
      ].join("|"),
    );
  }
  return lines.join("\n");
}

const E2E_TITLES = {
  "restate-ingress": "Restate's own Kafka ingress",
  "ours-call": "our local stack → Restate ingress, `call`",
  "ours-send": "our local stack → Restate ingress, `send`",
  "http-send":
    "floor of any HTTP feed: our requests, built ahead, every key at once, bare undici → Restate ingress, `send`",
} as const;

/** The bare HTTP feed's own CPU (the bench process), when workload 6 ran it. */
function feederNote(e2e: E2eResult): string {
  const feed = e2e.contenders.find((c) => c.name === "http-send");
  const perRun = feed?.runs.map((r) => r.feederCpuMsPerRecord ?? Number.NaN) ?? [];
  if (perRun.length === 0 || perRun.some((x) => !Number.isFinite(x))) return "";
  return ` (the feed itself, the bench process: ${median(perRun).toFixed(3)} ms CPU per record)`;
}

/** Workload 6's table and its notes. */
export function endToEndTable(e2e: E2eResult): string {
  const restate = e2e.contenders.find((c) => c.name === "restate-ingress");
  const cpu = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)} ms` : "–");
  const lines = [
    `| workload 6: end to end, ${e2e.records.toLocaleString("en-US")} records, ${e2e.partitions} partitions, ${e2e.keys} keys (${e2e.runs} runs) | records/s | vs Restate's ingress | time to first record | CPU per record: restate-server | SDK endpoint | our stack | Kafka broker | our batches: records / lanes / p50 span | correct (every run) |`,
    `|${" --- |".repeat(10)}`,
  ];
  for (const c of e2e.contenders) {
    const m = c.medianCpuMsPerRecord;
    const ratio =
      restate === undefined ? "–" : fmtX(c.medianRecordsPerSecond / restate.medianRecordsPerSecond);
    const bad = c.runs.map((r) => r.missing + r.duplicates + r.orderViolations);
    lines.push(
      `| ${E2E_TITLES[c.name]} | ${fmtRate(c.medianRecordsPerSecond)} | ${ratio} | ${fmtMs(c.medianFirstRecordMs)} | ${cpu(m["restate-server"])} | ${cpu(m["sdk-endpoint"])} | ${cpu(m["our-stack"])} | ${cpu(m["kafka-broker"])} | ${c.batches === undefined ? "–" : `${c.batches.meanRecords.toFixed(0)} / ${c.batches.meanLanes.toFixed(0)} / ${fmtMs(c.batches.p50SpanMs)}`} | ${c.correct ? "yes" : `NO (${bad.join(", ")} bad entries)`} |`,
    );
  }
  const spread = e2e.contenders
    .map(
      (c) =>
        `${c.name} ${c.runs.map((r) => Math.round(r.recordsPerSecond).toLocaleString("en-US")).join(" / ")}`,
    )
    .join("; ");
  const perRunRatio = e2e.contenders
    .filter((c) => c.name !== "restate-ingress" && restate !== undefined)
    .map(
      (c) =>
        `${c.name} ${c.runs.map((r, i) => fmtX(r.recordsPerSecond / (restate?.runs[i]?.recordsPerSecond ?? Number.NaN))).join(" / ")}`,
    )
    .join("; ");
  const other = e2e.contenders
    .map(
      (c) => `${c.name} ${c.runs.map((r) => (r.otherCores ?? Number.NaN).toFixed(2)).join(" / ")}`,
    )
    .join("; ");
  lines.push("");
  lines.push(
    "From subscription creation until Restate's state holds every record (the records are produced beforehand, each contender on its own fresh topic; the same records for all). " +
      "The floor of any HTTP feed reads no Kafka: the bench process sends our consumer's requests for the same records (same headers, idempotency keys and per-key lanes, built ahead) with every key's lane in flight at once (one request per key: the most an order-keeping feed can have in flight), so its Restate CPU per record is the least Restate's HTTP ingress costs whatever feeds it" +
      feederNote(e2e) +
      ". " +
      "One Kafka broker, one restate-server, one SDK endpoint (a virtual object's exclusive handler appending {seq, kafka.offset} to the key's state) and our stack, each in its own process; " +
      "CPU per record = the process's utime + stime over the span / records (our stack idles while Restate's ingress runs). Batches: mean records and lanes per batch, median of the batches' spans (the stack's `batch processed` lines). " +
      "Correct = no record missing, none twice, offsets increasing per key, checked in Restate's state after each run and again at the end. " +
      `Machine busy during the runs (all processes, median): ${(e2e.medianMachineBusy * 100).toFixed(0)}% of its cores. Records/s per run: ${spread}; vs Restate's ingress in the same repetition: ${perRunRatio}. CPU taken by other work on the machine meanwhile, cores per run: ${other}.` +
      (e2e.measuredAt === undefined
        ? ""
        : ` Measured ${e2e.measuredAt.slice(0, 16).replace("T", " ")} UTC${(e2e.node as string | undefined) === undefined ? "" : `, Node ${e2e.node}`}.`),
  );
  return lines.join("\n");
}

export interface ReportInput extends Measured {
  readonly machine: Machine;
  readonly concurrency: number;
  readonly runs: number;
  /** Notes the workloads left (e.g. what could not be measured), before the rows' own. */
  readonly notes: readonly string[];
}

/** results.md. */
export function renderMarkdown(input: ReportInput): string {
  const { rows, memory, bundles, endToEnd } = input;
  const notes = [...input.notes];
  const out: string[] = [];
  out.push("# Consumer benchmark");
  out.push("");
  out.push(
    `Machine: ${input.machine.description}. Concurrency (MAX_CONCURRENCY) ${input.concurrency} for us and the reference.`,
  );
  out.push(
    `Runs: ${input.runs} per contender after a warm-up (more for the short rows); medians. Total bench time ${input.elapsedSeconds} s.`,
  );
  out.push("");
  if (rows.length > 0) {
    out.push(rowsTable(rows));
    out.push("");
    out.push(
      "Lower bound = max(longest lane's summed latency, total latency / concurrency), from the latencies the sink recorded (SPEC §7). " +
        "reference/ours = reference span / our span (≥ 1: we are as fast as bare undici on the same lanes). " +
        "vs X = X's span / our span. † = identical program to the sequential loop in this shape. " +
        "Peak RSS: bench process (consumer, sink client, events) during our runs; the sink runs in its own process.",
    );
    const latencyLine = rows
      .map((r) => {
        if (r.latency === "zero") return undefined;
        const each = Object.values(r.contenders)
          .filter((c) => c !== undefined && !c.note?.includes("same"))
          .map((c) => `${c?.name} ${c?.medianMeanLatencyMs.toFixed(2)}`);
        return each.length === 0 ? undefined : `${r.id}: ${each.join(", ")}`;
      })
      .filter((x) => x !== undefined);
    if (latencyLine.length > 0) {
      out.push("");
      out.push(
        "Mean latency the sink applied per request, ms (nominal 2.5; its timers fire early when its event loop is busy, so the busiest runs get a little less): " +
          `${latencyLine.join("; ")}.`,
      );
    }
    const notesOf = rows.flatMap((r) =>
      Object.values(r.contenders)
        .filter((c) => c?.note !== undefined && c.name !== "partition-serial")
        .map((c) => `${r.id} ${c?.name}: ${c?.note}`),
    );
    for (const n of new Set(notesOf)) notes.push(n);
  }
  if (memory !== undefined) {
    out.push("");
    out.push(
      "| workload 4: one batch in a fresh process | event size | records | span | RSS before | peak RSS | peak RSS − before | heap used before → peak | peak external+arrayBuffers |",
    );
    out.push(`|${" --- |".repeat(9)}`);
    out.push(
      `| ~6 MB batch, 4 partitions, 1,000 keys, zero-latency sink (${memory.runs} runs) | ${(memory.eventBytes / 1e6).toFixed(2)} MB | ${memory.records.toLocaleString("en-US")} | ${fmtMs(memory.medianSpanMs)} | ${fmtMB(memory.medianRssBefore)} | ${fmtMB(memory.medianPeakRss)} | ${fmtMB(memory.medianPeakRss - memory.medianRssBefore)} | ${fmtMB(memory.medianHeapUsedBefore)} → ${fmtMB(memory.medianPeakHeapUsed)} | ${fmtMB(memory.medianPeakExternal)} |`,
    );
  }
  if (bundles !== undefined) {
    out.push("");
    out.push(
      "| workload 5: cold start | bundle bytes | import (median) | fresh `node` process wall (median) | Lambda runtime emulator: init (median) | first invocation (median) |",
    );
    out.push(`|${" --- |".repeat(6)}`);
    for (const b of bundles) {
      out.push(
        `| ${b.entry} (${b.runs} runs) | ${b.bytes.toLocaleString("en-US")} (${fmtMB(b.bytes)}) | ${fmtMs(b.medianImportMs)} | ${fmtMs(b.medianProcessMs)} | ${b.emulator ? fmtMs(b.emulator.medianInitMs) : "–"} | ${b.emulator ? fmtMs(b.emulator.medianFirstInvokeMs) : "–"} |`,
      );
    }
    out.push("");
    out.push(
      "Init: the emulator's init phase (Node start, the runtime interface client, the bundle's import; what Lambda reports as Init Duration). " +
        "First invocation: the handler's time for the admin's first request (POST /kafka-clusters) and the consumer's first batch (9 records to the loopback sink), SDK clients and connections included; each run is a fresh emulator (infra/cold-start.ts).",
    );
  }
  if (endToEnd !== undefined) {
    out.push("");
    out.push(endToEndTable(endToEnd));
  }
  if (notes.length > 0) {
    out.push("");
    for (const n of notes) out.push(`- ${n}`);
  }
  return `${out.join("\n")}\n`;
}

/** What a results.json holds that the report is made from, and the machine that measured it. */
export function readMeasured(file: string): { measured: Measured; machine?: Machine } {
  const saved = JSON.parse(readFileSync(file, "utf8"));
  const measured: Measured = {
    rows: saved.rows ?? [],
    memory: saved.memory,
    bundles: saved.bundles,
    endToEnd: saved.endToEnd,
    elapsedSeconds: saved.elapsedSeconds,
  };
  return typeof saved.machine === "string"
    ? {
        measured,
        machine: {
          description: saved.machine,
          nproc: saved.nproc,
          cpuModel: saved.cpuModel,
          ...(typeof saved.node === "string" ? { node: saved.node } : {}),
          ...(typeof saved.date === "string" ? { date: saved.date } : {}),
        },
      }
    : { measured };
}

/**
 * `--update`: what this run measured replaces its part of an earlier results.json (rows by id,
 * the memory, bundle and end-to-end results when measured); the rest stays as it was.
 */
export function mergeMeasured(saved: Measured, fresh: Measured): Measured {
  const freshIds = new Set(fresh.rows.map((r) => r.id));
  const rows = [...saved.rows.filter((r) => !freshIds.has(r.id)), ...fresh.rows];
  const memory = fresh.memory ?? saved.memory;
  const bundles = fresh.bundles ?? saved.bundles;
  const endToEnd = fresh.endToEnd ?? saved.endToEnd;
  return {
    rows,
    ...(memory === undefined ? {} : { memory }),
    ...(bundles === undefined ? {} : { bundles }),
    ...(endToEnd === undefined ? {} : { endToEnd }),
    elapsedSeconds: fresh.rows.length > 0 ? fresh.elapsedSeconds : saved.elapsedSeconds,
  };
}

/**
 * `--update`: the machine line the report heads its tables with. It describes the rows, so a run
 * that measured rows names this machine and Node; one that measured none (e.g. `--only w6`, which
 * dates its own table) keeps the line of the run that measured them.
 */
export function updatedMachine(
  saved: Machine | undefined,
  fresh: Measured,
  current: Machine,
): Machine {
  return fresh.rows.length > 0 || saved === undefined ? current : saved;
}

/** Writes results.md, results.json and (with rows) chart.svg into `dir`; returns the markdown. */
export function writeReport(dir: string, input: ReportInput): string {
  const markdown = renderMarkdown(input);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "results.md"), markdown);
  writeFileSync(
    join(dir, "results.json"),
    `${JSON.stringify(
      {
        machine: input.machine.description,
        nproc: input.machine.nproc,
        cpuModel: input.machine.cpuModel,
        node: input.machine.node ?? process.version,
        concurrency: input.concurrency,
        runs: input.runs,
        elapsedSeconds: input.elapsedSeconds,
        date: input.machine.date ?? new Date().toISOString(),
        rows: input.rows,
        memory: input.memory,
        bundles: input.bundles,
        endToEnd: input.endToEnd,
      },
      null,
      2,
    )}\n`,
  );
  if (input.rows.length > 0) {
    writeFileSync(join(dir, "chart.svg"), renderChart(input.rows, input.machine.description));
  }
  return markdown;
}
