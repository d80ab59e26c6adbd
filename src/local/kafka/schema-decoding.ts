// The local event source's schema registry decoding, as the event source mapping does it with a
// `SchemaRegistryConfig`: each chosen part (key, value) of a record in the Confluent wire format
// (magic byte 0, 4-byte schema id, payload; Protobuf adds message indexes) is decoded with the
// writer schema from a Confluent-compatible registry — to JSON with `keySchemaMetadata` /
// `valueSchemaMetadata` {dataFormat, schemaId}, or (SOURCE) to the payload without the wire
// header. A record the registry has no schema for, or whose bytes do not decode, carries
// `schemaRegistryError` ("SCHEMA_NOT_FOUND: ...", "DESERIALIZATION_ERROR: ...") and is
// dead-lettered by the consumer; on AWS the mapping sends such records to its on-failure
// destination instead. A registry that cannot be reached fails the whole batch, which the local
// event source retries, as a mapping retries a failed invocation.
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { base64ToBytes, bytesToBase64 } from "../../core/encoding.ts";
import {
  errorMessage,
  SchemaDecodeError,
  SchemaRegistryUnavailableError,
} from "../../core/errors.ts";
import { truncateText } from "../../core/progress.ts";
import type { RecordPart, RegistryDecoding } from "../../core/schema-registry.ts";
import type { EsmKafkaEvent, EsmKafkaRecord } from "./batching.ts";

const MAGIC_BYTE = 0;
const WIRE_HEADER_BYTES = 5;
const MAX_REASON_CHARS = 300;

type DataFormat = "AVRO" | "PROTOBUF" | "JSON";

interface DecodedPart {
  /** base64 of what the handler gets: JSON text, or the source payload */
  readonly bytes: string;
  readonly metadata?: { readonly dataFormat: DataFormat; readonly schemaId: string };
}

export interface EventDecoder {
  decodeEvent(event: EsmKafkaEvent): Promise<EsmKafkaEvent>;
}

/** Avro `bytes` / `fixed` come back as Buffers, 64-bit integers as bigint: both made JSON. */
function toJsonText(value: unknown): string {
  return JSON.stringify(value, function replace(this: Record<string, unknown>, key, current) {
    const original = this[key];
    if (Buffer.isBuffer(original)) return original.toString("base64");
    if (typeof current === "bigint") return current.toString();
    return current;
  });
}

/** Bytes past a Protobuf payload's message indexes (a zig-zag varint count, then the indexes). */
function skipMessageIndexes(bytes: Uint8Array, from: number): number {
  let at = from;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      if (byte === undefined)
        throw new SchemaDecodeError("DESERIALIZATION_ERROR", "truncated message indexes");
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 28) throw new SchemaDecodeError("DESERIALIZATION_ERROR", "bad message indexes");
    }
  };
  const zigzag = varint();
  const count = (zigzag >>> 1) ^ -(zigzag & 1);
  for (let i = 0; i < count; i++) varint();
  return at;
}

function isNotFound(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return status === 404;
}

export function createEventDecoder(decoding: RegistryDecoding): EventDecoder {
  const registry = new SchemaRegistry({ host: decoding.url, retry: { retries: 2 } });

  async function schemaType(id: number): Promise<DataFormat> {
    try {
      await registry.getSchema(id);
    } catch (error) {
      if (isNotFound(error)) {
        throw new SchemaDecodeError("SCHEMA_NOT_FOUND", `schema ${id} is not in the registry`);
      }
      throw new SchemaRegistryUnavailableError(
        `schema registry ${decoding.url} did not give schema ${id}: ${errorMessage(error)}`,
      );
    }
    const type = registry.cache.getSchema(id)?.type;
    return type === "PROTOBUF" ? "PROTOBUF" : type === "JSON" ? "JSON" : "AVRO";
  }

  async function decodePart(part: RecordPart, base64: string): Promise<DecodedPart> {
    const bytes = base64ToBytes(base64);
    if (bytes.byteLength < WIRE_HEADER_BYTES || bytes[0] !== MAGIC_BYTE) {
      throw new SchemaDecodeError(
        "DESERIALIZATION_ERROR",
        `${part} is not in the Confluent wire format (magic byte 0, then a 4-byte schema id)`,
      );
    }
    const id = bytes.readUInt32BE(1);
    const dataFormat = await schemaType(id);
    if (decoding.format === "SOURCE") {
      const start =
        dataFormat === "PROTOBUF"
          ? skipMessageIndexes(bytes, WIRE_HEADER_BYTES)
          : WIRE_HEADER_BYTES;
      return { bytes: bytesToBase64(bytes.subarray(start)) };
    }
    let decoded: unknown;
    try {
      decoded = await registry.decode(bytes);
    } catch (error) {
      throw new SchemaDecodeError(
        "DESERIALIZATION_ERROR",
        `${part} does not decode with ${dataFormat} schema ${id}: ${errorMessage(error)}`,
      );
    }
    return {
      bytes: Buffer.from(toJsonText(decoded), "utf8").toString("base64"),
      metadata: { dataFormat, schemaId: String(id) },
    };
  }

  async function decodeRecord(record: EsmKafkaRecord): Promise<EsmKafkaRecord> {
    let result: EsmKafkaRecord = record;
    try {
      for (const part of decoding.parts) {
        const raw = record[part];
        if (raw === null) continue; // no key, or a tombstone: nothing to decode
        const decoded = await decodePart(part, raw);
        result = {
          ...result,
          [part]: decoded.bytes,
          ...(decoded.metadata ? { [`${part}SchemaMetadata`]: decoded.metadata } : {}),
        };
      }
      return result;
    } catch (error) {
      if (!(error instanceof SchemaDecodeError)) throw error;
      return {
        ...record,
        schemaRegistryError: truncateText(`${error.code}: ${error.message}`, MAX_REASON_CHARS),
      };
    }
  }

  return {
    async decodeEvent(event) {
      const records: Record<string, EsmKafkaRecord[]> = {};
      for (const [id, partitionRecords] of Object.entries(event.records)) {
        const decoded: EsmKafkaRecord[] = [];
        for (const record of partitionRecords) decoded.push(await decodeRecord(record));
        records[id] = decoded;
      }
      return { ...event, records };
    },
  };
}
