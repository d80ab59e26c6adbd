// Workload 1, the Parallel Consumer README's shape: 10,000 records on one partition, 0–5 ms sink
// latency, with 1, 10 and 10,000 keys (exclusive handler) and unordered (service).
import { type Contender, contenders, type Rig, SERVICE, VIRTUAL_OBJECT } from "../contenders.ts";
import { buildEvent, type MskEvent, progress, RECORDS, sliceEvent, UNIFORM_0_5 } from "../lib.ts";
import type { ContenderName, ContenderResult, RowResult } from "../results.ts";
import { runRow } from "../rows.ts";

/** The Parallel Consumer README's figures, ms, per key count. */
const PARALLEL_CONSUMER_MS: Record<number, number> = { 1: 22_200, 10: 3_300, 10000: 2_130 };
const PARALLEL_CONSUMER_UNORDERED_MS = 2_830;

/** `quick`: only the 10,000-key and unordered rows. */
export async function parallelConsumerShape(
  rig: Rig,
  runs: number,
  quick: boolean,
): Promise<RowResult[]> {
  progress("workload 1: Parallel Consumer shape (10,000 records, 1 partition, 0–5 ms)");
  const { sink } = rig;
  const rows: RowResult[] = [];
  const event = (keys: number) =>
    buildEvent({ count: RECORDS, partitions: 1, keyOf: (i) => `key-${i % keys}` });
  const warmOf = (e: MskEvent) => sliceEvent(e, 1000);
  // One partition: partition-serial is the sequential loop; with one key the reference (one
  // lane) is the sequential loop too. It is measured once, on the keys=1 event, and shared by
  // the W1 rows (a serial loop's time does not depend on the keys).
  const sharedRows: Partial<Record<ContenderName, ContenderResult>> = {};
  if (!quick) {
    const e1 = event(1);
    const [seq] = contenders(rig, VIRTUAL_OBJECT, e1, warmOf(e1), ["sequential"]);
    const [ours1] = contenders(rig, VIRTUAL_OBJECT, e1, warmOf(e1), ["ours"]);
    const w1k1 = await runRow(
      sink,
      {
        id: "w1-k1",
        title: "W1 exclusive, 1 key",
        records: RECORDS,
        latency: "uniform 0–5 ms",
        ordered: true,
        parallelConsumerMs: PARALLEL_CONSUMER_MS[1] as number,
      },
      UNIFORM_0_5,
      [ours1 as Contender, seq as Contender],
      runs,
    );
    const shared = w1k1.contenders.sequential;
    if (shared === undefined) throw new Error("unreachable");
    const sameNote = "same program as the sequential loop here (one partition, one lane)";
    rows.push({
      ...w1k1,
      contenders: {
        ...w1k1.contenders,
        reference: { ...shared, name: "reference", note: sameNote },
        "partition-serial": { ...shared, name: "partition-serial", note: sameNote },
      },
    });
    const sharedNote = "shared W1 measurement (sequential loop, same 10,000 records, 1 partition)";
    sharedRows.sequential = { ...shared, note: sharedNote };
    sharedRows["partition-serial"] = { ...shared, name: "partition-serial", note: sharedNote };
  }
  for (const keys of quick ? [10_000] : [10, 10_000]) {
    const e = event(keys);
    const row = await runRow(
      sink,
      {
        id: `w1-k${keys}`,
        title: `W1 exclusive, ${keys.toLocaleString("en-US")} keys`,
        records: RECORDS,
        latency: "uniform 0–5 ms",
        ordered: true,
        parallelConsumerMs: PARALLEL_CONSUMER_MS[keys] as number,
      },
      UNIFORM_0_5,
      contenders(rig, VIRTUAL_OBJECT, e, keys > 1000 ? e : warmOf(e), ["ours", "reference"]),
      keys > 1000 ? runs + 2 : runs,
    );
    rows.push({ ...row, contenders: { ...row.contenders, ...sharedRows } });
  }
  const eu = event(10_000);
  const unordered = await runRow(
    sink,
    {
      id: "w1-unordered",
      title: "W1 unordered (service)",
      records: RECORDS,
      latency: "uniform 0–5 ms",
      ordered: false,
      parallelConsumerMs: PARALLEL_CONSUMER_UNORDERED_MS,
    },
    UNIFORM_0_5,
    contenders(rig, SERVICE, eu, eu, ["ours", "reference"]),
    runs + 2,
  );
  rows.push({ ...unordered, contenders: { ...unordered.contenders, ...sharedRows } });
  return rows;
}
