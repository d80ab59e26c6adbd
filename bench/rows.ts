// How a row is measured: a warm-up per contender, then rounds in which every contender runs once
// (the order rotating), each run checked against the sink's request count; medians per contender.
import { CONCURRENCY, type Contender } from "./contenders.ts";
import { type Bound, type Latency, lowerBound, median, progress, type SinkProcess } from "./lib.ts";
import { fmtMs } from "./report.ts";
import type { ContenderName, ContenderResult, RowResult } from "./results.ts";

interface Sample extends Bound {
  readonly spanMs: number;
  readonly peakRss: number;
  readonly maxInFlight: number;
}

function rssSampler(): () => number {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  }, 20);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage.rss());
  };
}

async function measure(
  sink: SinkProcess,
  latency: Latency,
  seed: number,
  ordered: boolean,
  contender: Contender,
): Promise<Sample> {
  await sink.configure(latency, seed);
  await contender.reset?.();
  const stopRss = rssSampler();
  const started = performance.now();
  await contender.run();
  const spanMs = performance.now() - started;
  const peakRss = stopRss();
  const collected = await sink.collect();
  if (collected.latencies.length !== contender.records) {
    throw new Error(
      `${contender.name}: sink saw ${collected.latencies.length} requests, expected ${contender.records}`,
    );
  }
  return {
    spanMs,
    peakRss,
    maxInFlight: collected.maxInFlight,
    ...lowerBound(collected, ordered, CONCURRENCY),
  };
}

/** Warm-up, then `runs` rounds; each round runs every contender once, rotating who goes first. */
export async function runRow(
  sink: SinkProcess,
  row: Omit<RowResult, "contenders">,
  latency: Latency,
  contenders: readonly Contender[],
  runs: number,
): Promise<RowResult> {
  for (const c of contenders) {
    await sink.configure(latency, 999);
    await c.reset?.();
    await c.warmUp();
  }
  const samples = new Map<ContenderName, Sample[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length] as Contender;
      const s = await measure(sink, latency, round + 1, row.ordered, c);
      samples.get(c.name)?.push(s);
      progress(
        `  ${row.id} ${c.name.padEnd(16)} run ${round + 1}/${runs}: ${fmtMs(s.spanMs * c.scale)}` +
          ` (bound ${fmtMs(s.boundMs)}, mean latency ${s.meanMs.toFixed(2)} ms)`,
      );
    }
  }
  const results: Partial<Record<ContenderName, ContenderResult>> = {};
  for (const c of contenders) {
    const list = samples.get(c.name) ?? [];
    results[c.name] = {
      name: c.name,
      runs: list.length,
      records: c.records,
      scale: c.scale,
      ...(c.note ? { note: c.note } : {}),
      spansMs: list.map((s) => s.spanMs * c.scale),
      medianSpanMs: median(list.map((s) => s.spanMs * c.scale)),
      medianBoundMs: median(list.map((s) => s.boundMs * c.scale)),
      medianEfficiency: median(list.map((s) => s.boundMs / s.spanMs)),
      medianMeanLatencyMs: median(list.map((s) => s.meanMs)),
      peakRss: Math.max(...list.map((s) => s.peakRss)),
      maxInFlight: Math.max(...list.map((s) => s.maxInFlight)),
    };
  }
  return { ...row, contenders: results };
}
