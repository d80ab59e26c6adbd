// Workload 3: a zero-latency sink, so the records/s of the full consumer path against the
// reference on the same lanes (keyed on 4 partitions, and unordered).
import { contenders, type Rig, SERVICE, VIRTUAL_OBJECT } from "../contenders.ts";
import { buildEvent, progress, RECORDS, ZERO } from "../lib.ts";
import type { RowResult } from "../results.ts";
import { runRow } from "../rows.ts";

export async function zeroLatency(rig: Rig, runs: number): Promise<RowResult[]> {
  progress("workload 3: zero-latency sink, throughput of the full consumer path");
  const rows: RowResult[] = [];
  const keyed = buildEvent({ count: RECORDS, partitions: 4, keyOf: (i) => `key-${i}` });
  for (const [id, title, mode] of [
    ["w3-keyed", "W3 zero latency, exclusive, 10,000 keys, 4 partitions", VIRTUAL_OBJECT],
    ["w3-unordered", "W3 zero latency, unordered (service)", SERVICE],
  ] as const) {
    const list = contenders(rig, mode, keyed, keyed, ["ours", "reference"]);
    rows.push(
      await runRow(
        rig.sink,
        { id, title, records: RECORDS, latency: "zero", ordered: mode.ordered },
        ZERO,
        // Zero latency: the JIT matters more than the pool; warm up on two full batches.
        list.map((c) => ({
          ...c,
          warmUp: async () => {
            await c.run();
            await c.run();
          },
        })),
        Math.max(runs, 11),
      ),
    );
  }
  return rows;
}
