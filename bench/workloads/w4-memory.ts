// Workload 4: one ~6 MB batch (10,000 records, 4 partitions, 1,000 keys) through the full
// consumer path, its memory measured in a fresh process per run (bench/memory-probe.ts).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Rig } from "../contenders.ts";
import { buildEvent, median, progress, RECORDS, ZERO } from "../lib.ts";
import type { MemoryResult } from "../results.ts";

export async function memoryWorkload(rig: Rig, runs: number): Promise<MemoryResult> {
  progress("workload 4: a ~6 MB batch, memory in a fresh process per run");
  const { sink } = rig;
  // 10,000 records (the largest batch), 4 partitions, 1,000 keys, values padded to ~6 MB.
  const shape = { count: RECORDS, partitions: 4, keyOf: (i: number) => `key-${i % 1000}` };
  let padding = 0;
  let text = JSON.stringify(buildEvent(shape));
  const perRecord = (6_000_000 - text.length) / RECORDS;
  padding = Math.max(0, Math.floor((perRecord * 3) / 4) - 10);
  text = JSON.stringify(buildEvent({ ...shape, padding }));
  const file = join(tmpdir(), "kafka-ingress-bench-6mb-event.json");
  writeFileSync(file, text);
  const probe = fileURLToPath(new URL("../memory-probe.ts", import.meta.url));
  const samples: Array<Record<string, number>> = [];
  await sink.configure(ZERO, 1);
  for (let i = 0; i < runs + 1; i++) {
    const child = spawnSync(
      process.execPath,
      ["--expose-gc", probe, sink.url, file, rig.storeEndpoint],
      {
        encoding: "utf8",
      },
    );
    if (child.status !== 0) throw new Error(`memory probe failed: ${child.stderr}`);
    const line = child.stdout.trim().split("\n").at(-1) ?? "{}";
    if (i > 0) samples.push(JSON.parse(line)); // the first is a warm-up (disk cache, sink pool)
    progress(`  w4 run ${i}/${runs}: ${line}`);
  }
  await sink.collect();
  const m = (key: string) => median(samples.map((s) => s[key] ?? Number.NaN));
  return {
    eventBytes: Buffer.byteLength(text),
    records: RECORDS,
    runs: samples.length,
    medianSpanMs: m("spanMs"),
    medianRssBefore: m("rssBefore"),
    medianPeakRss: m("peakRss"),
    medianPeakHeapUsed: m("peakHeapUsed"),
    medianHeapUsedBefore: m("heapUsedBefore"),
    medianPeakExternal: m("peakExternal"),
  };
}
