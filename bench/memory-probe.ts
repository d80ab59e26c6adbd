// Workload 4, run in a fresh process per sample so the number is clean: one ~6 MB batch through
// the full consumer path (the consumer handler of bench/consumer.ts, real HTTP sink, DynamoDB
// progress and dead-letter stores in a new table) against the sink at `sinkUrl` and the store at
// `storeEndpoint`.
//
//   node --expose-gc bench/memory-probe.ts <sinkUrl> <eventFile> <storeEndpoint>
//
// Prints one JSON line: the event's size, RSS and heap before the batch (modules loaded, event
// text read, as the Lambda runtime holds it), and the peaks while it is processed: RSS from the
// kernel (getrusage maxRSS: the true peak) and heap/external sampled every millisecond.
import { readFileSync } from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ensureTable } from "../src/adapters/dynamo/ensure-table.ts";
import { benchConsumer, invocationContext } from "./consumer.ts";

const [sinkUrl, eventFile, storeEndpoint] = process.argv.slice(2);
if (sinkUrl === undefined || eventFile === undefined || storeEndpoint === undefined) {
  console.error("usage: memory-probe.ts <sinkUrl> <eventFile> <storeEndpoint>");
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const client = new DynamoDBClient({
  endpoint: storeEndpoint,
  region: "local",
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
});
const table = `memory-probe-${process.pid}`;
await ensureTable(client, table, { pollMs: 5 });
const handler = benchConsumer({ sinkUrl, store: { client, table } });

let text: string | undefined = readFileSync(eventFile, "utf8");
const eventBytes = Buffer.byteLength(text);
gc();
gc();
const before = process.memoryUsage();

let peakHeapUsed = before.heapUsed;
let peakExternal = before.external + before.arrayBuffers;
let peakRssSampled = before.rss;
const sample = () => {
  const m = process.memoryUsage();
  if (m.heapUsed > peakHeapUsed) peakHeapUsed = m.heapUsed;
  if (m.external + m.arrayBuffers > peakExternal) peakExternal = m.external + m.arrayBuffers;
  if (m.rss > peakRssSampled) peakRssSampled = m.rss;
};
const timer = setInterval(sample, 1);

const started = performance.now();
// The Lambda runtime parses the invocation payload before calling the handler.
const event: unknown = JSON.parse(text);
text = undefined;
const response = await handler(event, invocationContext);
const spanMs = performance.now() - started;
sample();
clearInterval(timer);
if (response !== undefined)
  throw new Error(`batch not fully delivered: ${JSON.stringify(response)}`);

console.log(
  JSON.stringify({
    eventBytes,
    spanMs,
    rssBefore: before.rss,
    heapUsedBefore: before.heapUsed,
    peakRss: process.resourceUsage().maxRSS * 1024,
    peakRssSampled,
    peakHeapUsed,
    peakExternal,
  }),
);
process.exit(0);
