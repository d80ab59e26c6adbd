// Workload 3 (zero-latency sink) through the full consumer path (or, with --reference, the
// bare-undici reference on the same lanes), for profiling:
//
//   node --cpu-prof --cpu-prof-dir=bench/results/profiles bench/profile.ts [--batches 20] [--unordered] [--reference]
//   node bench/profile-summary.ts bench/results/profiles/<file>.cpuprofile
import { parseArgs } from "node:util";
import { benchConsumer, invocationContext, sinkTarget } from "./consumer.ts";
import { bareAgent, buildEvent, median, prepare, referenceLanes, SinkProcess } from "./lib.ts";

const { values } = parseArgs({
  options: {
    batches: { type: "string", default: "20" },
    unordered: { type: "boolean", default: false },
    reference: { type: "boolean", default: false },
    compare: { type: "boolean", default: false },
  },
});
const sink = await SinkProcess.start();
await sink.configure({ kind: "zero" }, 1);
const handler = benchConsumer({ sinkUrl: sink.url, keyed: !values.unordered });
const event = buildEvent({ count: 10_000, partitions: 4, keyOf: (i) => `key-${i}` });
const mode = values.unordered
  ? { keyed: false, ordered: false, input: "json" as const }
  : { keyed: true, ordered: true, input: "json" as const };
const agent = bareAgent(128);
const lanes = prepare(event, mode, sinkTarget(sink.url)).lanes;
const run = values.reference
  ? () => referenceLanes(agent, lanes, 128).then(() => undefined)
  : () => handler(event, invocationContext);
// --compare: ours and the reference alternate, batch by batch (a noisy machine drifts).
const contenders = values.compare
  ? [
      { name: "ours", run: () => handler(event, invocationContext) },
      { name: "reference", run: () => referenceLanes(agent, lanes, 128).then(() => undefined) },
    ]
  : [{ name: values.reference ? "reference" : "ours", run }];
const spans = new Map(contenders.map((c) => [c.name, [] as number[]]));
for (let i = 0; i < Number(values.batches); i++) {
  for (const c of i % 2 === 0 ? contenders : [...contenders].reverse()) {
    const started = performance.now();
    const response = await c.run();
    spans.get(c.name)?.push(performance.now() - started);
    if (response !== undefined) throw new Error("batch not fully delivered");
    await sink.collect();
    await sink.configure({ kind: "zero" }, 1);
  }
}
for (const [name, list] of spans) {
  console.log(
    `${name}: median ${median(list.slice(2)).toFixed(1)} ms over ${list.length - 2} batches (2 warm-up)`,
  );
}
if (values.compare) {
  const ours = median(spans.get("ours")?.slice(2) ?? []);
  const ref = median(spans.get("reference")?.slice(2) ?? []);
  console.log(`reference/ours ${(ref / ours).toFixed(3)}`);
}
sink.stop();
process.exit(0);
