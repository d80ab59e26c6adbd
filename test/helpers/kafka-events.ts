// Fixture events (cloned per call, so a test may mutate its copy) and a builder for synthetic ones.
import { readFileSync } from "node:fs";

export const FIXTURES = [
  "msk-basic",
  "self-managed-basic",
  "tombstones-and-null-keys",
  "binary-values",
  "record-headers",
  "malformed",
] as const;
export type FixtureName = (typeof FIXTURES)[number];

export const CLUSTER_ARN =
  "arn:aws:kafka:us-east-1:123456789012:cluster/demo/abcd1234-5678-90ab-cdef-1234567890ab-1";
export const MSK_BOOTSTRAP =
  "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098,b-2.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098";

// biome-ignore lint/suspicious/noExplicitAny: fixture events are mutated freely by tests
export type RawEvent = any;

export function loadEvent(name: FixtureName): RawEvent {
  const url = new URL(`../fixtures/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8"));
}

/** One record of a synthetic event: key and value as UTF-8 text (null: absent). */
export interface RecordSpec {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  /** Record headers, UTF-8 text values. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Epoch ms; defaults to 1,700,000,000,000 + offset. */
  readonly timestamp?: number;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** The `records` map of an ESM event (`<topic>-<partition>` → records), in the given order. */
export function recordsMap(records: readonly RecordSpec[]): Record<string, unknown[]> {
  const byPartition: Record<string, unknown[]> = {};
  for (const r of records) {
    const id = `${r.topic}-${r.partition}`;
    byPartition[id] ??= [];
    byPartition[id].push({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp ?? 1_700_000_000_000 + r.offset,
      timestampType: "CREATE_TIME",
      key: r.key === null ? null : b64(r.key),
      value: r.value === null ? null : b64(r.value),
      headers: Object.entries(r.headers ?? {}).map(([name, value]) => ({
        [name]: [...Buffer.from(value, "utf8")],
      })),
    });
  }
  return byPartition;
}

/** A self-managed Kafka event (`eventSource: "SelfManagedKafka"`). */
export function selfManagedEvent(
  bootstrapServers: string,
  records: readonly RecordSpec[],
): RawEvent {
  return { eventSource: "SelfManagedKafka", bootstrapServers, records: recordsMap(records) };
}

/** A record on topic `orders` whose value is serialised as JSON (null: tombstone). */
export interface SyntheticRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: unknown;
}

/** An MSK event (cluster CLUSTER_ARN) holding JSON values. */
export function mskEvent(records: readonly SyntheticRecord[], topic = "orders"): RawEvent {
  const specs = records.map((r) => ({
    topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    value: r.value === null ? null : JSON.stringify(r.value),
  }));
  return {
    eventSource: "aws:kafka",
    eventSourceArn: CLUSTER_ARN,
    bootstrapServers: MSK_BOOTSTRAP,
    records: recordsMap(specs),
  };
}

/** `count` records over `partitions` partitions and `keys` keys, offsets ascending per partition. */
export function manyRecords(count: number, partitions: number, keys: number): SyntheticRecord[] {
  const out: SyntheticRecord[] = [];
  const next = new Array<number>(partitions).fill(0);
  for (let i = 0; i < count; i++) {
    const keyIndex = i % keys;
    const partition = keyIndex % partitions; // a key lives in one partition, as with Kafka
    const offset = next[partition] ?? 0;
    next[partition] = offset + 1;
    out.push({ partition, offset, key: `key-${keyIndex}`, value: { i, key: `key-${keyIndex}` } });
  }
  return out;
}
