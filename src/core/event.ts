// Decodes the Kafka event the Lambda event source mapping (ESM) sends: MSK (`aws:kafka`) or
// self-managed (`SelfManagedKafka`). The shape is validated (a malformed event names the offending
// path); the content of a single record (its base64) is not allowed to sink the batch: a record
// that cannot be decoded carries `decodeError` and becomes a terminal outcome for itself only.
import * as z from "zod/mini";
import { decodeBase64Strict } from "./encoding.ts";
import { MalformedEventError } from "./errors.ts";
import { splitList } from "./text.ts";
import { issuePath } from "./zod-messages.ts";

export type EventSourceKind = "msk" | "self-managed";

export interface EventSourceInfo {
  readonly kind: EventSourceKind;
  /** MSK only: the cluster ARN (`eventSourceArn`). */
  readonly clusterArn?: string;
  /** `host:port` entries of `bootstrapServers`, in event order. */
  readonly bootstrapServers: readonly string[];
}

export interface DecodedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  /** `CREATE_TIME` | `LOG_APPEND_TIME` (`NO_TIMESTAMP_TYPE` when the event has none). */
  readonly timestampType: string;
  /** `null` when the record has no key (absent or null in the event). */
  readonly key: Uint8Array | null;
  /** `null` for a tombstone (absent or null in the event). */
  readonly value: Uint8Array | null;
  /** The record's own Kafka headers, in record order (names may repeat). */
  readonly headers: ReadonlyArray<readonly [string, Uint8Array]>;
  /**
   * Set when the event source decoded the key with a schema registry (`keySchemaMetadata`): the
   * key bytes are then the JSON text of the decoded key.
   */
  readonly keySchema?: SchemaMetadata;
  /** Likewise for the value (`valueSchemaMetadata`). */
  readonly valueSchema?: SchemaMetadata;
  /**
   * Set when the record's key or value is not valid base64, or the event source could not decode
   * it with the schema registry: the record is undeliverable.
   */
  readonly decodeError?: string;
  /** Keys taken from the value by the subscription's JSON pointers (core/routing.ts). */
  readonly routed?: RoutedKeys;
}

/** What routing from the payload found for one record. */
export interface RoutedKeys {
  readonly objectKey?: string;
  readonly idempotencyKey?: string;
  /** Set when a pointer found nothing usable: the record is undeliverable. */
  readonly failure?: string;
}

/** What the event source mapping says of a part it decoded with a schema registry. */
export interface SchemaMetadata {
  /** `AVRO`, `PROTOBUF` or `JSON`. */
  readonly dataFormat?: string;
  /** The registry's id of the writer schema (a number for Confluent, a UUID for Glue). */
  readonly schemaId?: string;
}

export interface DecodedPartition {
  /** The records-map key, `<topic>-<partition>`: what a partial batch response names. */
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  /** Sorted by offset. */
  readonly records: readonly DecodedRecord[];
}

export interface DecodedEvent {
  readonly source: EventSourceInfo;
  readonly partitions: readonly DecodedPartition[];
}

const headerByte = z.int().check(z.gte(-128), z.lte(255));

const schemaMetadataSchema = z.object({
  dataFormat: z.optional(z.string()),
  schemaId: z.optional(z.string()),
});

function schemaMetadata(
  raw: z.infer<typeof schemaMetadataSchema> | null | undefined,
): SchemaMetadata | undefined {
  if (raw == null) return undefined;
  return {
    ...(raw.dataFormat !== undefined ? { dataFormat: raw.dataFormat } : {}),
    ...(raw.schemaId !== undefined ? { schemaId: raw.schemaId } : {}),
  };
}

const recordSchema = z.object({
  topic: z.string().check(z.minLength(1)),
  partition: z.int().check(z.nonnegative()),
  offset: z.int().check(z.nonnegative()),
  timestamp: z.number(),
  timestampType: z.optional(z.string()),
  key: z.nullish(z.string()),
  value: z.nullish(z.string()),
  headers: z.nullish(z.array(z.record(z.string(), z.array(headerByte)))),
  keySchemaMetadata: z.nullish(schemaMetadataSchema),
  valueSchemaMetadata: z.nullish(schemaMetadataSchema),
  /**
   * Not in AWS events (there, a record the mapping cannot decode goes to its on-failure
   * destination): the local event source sets it so that such a record is dead-lettered with the
   * reason instead (`SCHEMA_NOT_FOUND: ...`, `DESERIALIZATION_ERROR: ...`).
   */
  schemaRegistryError: z.optional(z.string()),
});

const recordsSchema = z.record(z.string(), z.array(recordSchema));

const eventSchema = z.discriminatedUnion("eventSource", [
  z.object({
    eventSource: z.literal("aws:kafka"),
    eventSourceArn: z.string().check(z.minLength(1)),
    bootstrapServers: z.string(),
    records: recordsSchema,
  }),
  z.object({
    eventSource: z.literal("SelfManagedKafka"),
    bootstrapServers: z.string(),
    records: recordsSchema,
  }),
]);

type RawRecord = z.infer<typeof recordSchema>;

function decodeRecord(raw: RawRecord): DecodedRecord {
  const problems: string[] = [];
  let key: Uint8Array | null = null;
  if (raw.key != null) {
    const bytes = decodeBase64Strict(raw.key);
    if (bytes === undefined) problems.push("key is not valid base64");
    else key = bytes;
  }
  let value: Uint8Array | null = null;
  if (raw.value != null) {
    const bytes = decodeBase64Strict(raw.value);
    if (bytes === undefined) problems.push("value is not valid base64");
    else value = bytes;
  }
  const headers: Array<readonly [string, Uint8Array]> = [];
  for (const header of raw.headers ?? []) {
    for (const [name, bytes] of Object.entries(header)) {
      headers.push([name, Uint8Array.from(bytes, (b) => b & 0xff)]);
    }
  }
  if (raw.schemaRegistryError !== undefined) problems.push(raw.schemaRegistryError);
  const keySchema = schemaMetadata(raw.keySchemaMetadata);
  const valueSchema = schemaMetadata(raw.valueSchemaMetadata);
  const decoded: DecodedRecord = {
    topic: raw.topic,
    partition: raw.partition,
    offset: raw.offset,
    timestamp: raw.timestamp,
    timestampType: raw.timestampType ?? "NO_TIMESTAMP_TYPE",
    key,
    value,
    headers,
    ...(keySchema ? { keySchema } : {}),
    ...(valueSchema ? { valueSchema } : {}),
  };
  return problems.length > 0 ? { ...decoded, decodeError: problems.join("; ") } : decoded;
}

/** Validates and decodes an ESM Kafka event. Throws MalformedEventError naming the bad path. */
export function decodeKafkaEvent(event: unknown): DecodedEvent {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${issuePath(i.path, "event")}: ${i.message}`);
    const more = parsed.error.issues.length > 5 ? ` (+${parsed.error.issues.length - 5} more)` : "";
    throw new MalformedEventError(`Malformed Kafka event: ${issues.join("; ")}${more}`);
  }
  const data = parsed.data;
  const source: EventSourceInfo =
    data.eventSource === "aws:kafka"
      ? {
          kind: "msk",
          clusterArn: data.eventSourceArn,
          bootstrapServers: splitList(data.bootstrapServers),
        }
      : { kind: "self-managed", bootstrapServers: splitList(data.bootstrapServers) };

  const partitions: DecodedPartition[] = [];
  for (const [id, rawRecords] of Object.entries(data.records)) {
    const records = rawRecords.map(decodeRecord);
    const first = records[0];
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as DecodedRecord;
      if (`${r.topic}-${r.partition}` !== id) {
        throw new MalformedEventError(
          `Malformed Kafka event: ${issuePath(["records", id, i], "event")} is ${r.topic}-${r.partition}, not in partition "${id}"`,
        );
      }
    }
    // The ESM sends each partition in offset order; sort anyway, cheaply when already sorted.
    let sorted = true;
    for (let i = 1; i < records.length && sorted; i++) {
      sorted = (records[i - 1] as DecodedRecord).offset <= (records[i] as DecodedRecord).offset;
    }
    if (!sorted) records.sort((a, b) => a.offset - b.offset);
    const { topic, partition } = first ?? parsePartitionId(id);
    partitions.push({ id, topic, partition, records });
  }
  return { source, partitions };
}

/** `orders-eu-3` → `{topic: "orders-eu", partition: 3}` (topics may contain dashes). */
export function parsePartitionId(id: string): { topic: string; partition: number } {
  const dash = id.lastIndexOf("-");
  const partition = Number(id.slice(dash + 1));
  if (dash <= 0 || !Number.isInteger(partition) || partition < 0) {
    throw new MalformedEventError(
      `Malformed Kafka event: records key "${id}" is not <topic>-<partition>`,
    );
  }
  return { topic: id.slice(0, dash), partition };
}
