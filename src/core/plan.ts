// Plans a decoded batch into lanes (SPEC §3). A lane is delivered one record after another:
// exclusive handlers of virtual objects / workflows get one lane per (partition, key) in offset
// order; services and shared handlers get one lane per record (no order). Records that can never
// be delivered (no usable key, a key too long for the request path, invalid JSON, bad base64, a
// value over MAX_REQUEST_BYTES) are terminal up front: they enter no lane and so never hold back
// other records.
import type { DecodedEvent, DecodedRecord } from "./event.ts";
import { objectKeyPathBytes } from "./invocation.ts";
import type { HandlerSpec, PayloadFormat, ServiceType } from "./model.ts";
import type { RecordOutcome } from "./outcome.ts";

export interface DeliveryMode {
  /** The record key addresses the object / workflow (path segment). */
  readonly keyed: boolean;
  /** Records of one (partition, key) are delivered in offset order, one at a time. */
  readonly ordered: boolean;
  readonly input: PayloadFormat;
}

export function deliveryMode(type: ServiceType, handler: HandlerSpec): DeliveryMode {
  const keyed = type !== "service";
  return { keyed, ordered: keyed && !handler.shared, input: handler.input };
}

export interface PlannedRecord {
  readonly partitionId: string;
  readonly record: DecodedRecord;
  /** The object / workflow key (UTF-8 of the record key); set for keyed sinks only. */
  readonly objectKey?: string;
}

export type Lane = readonly PlannedRecord[];

export interface Plan {
  /** Longest lane first, so that the lane bounding the batch time starts first. */
  readonly lanes: readonly Lane[];
  /** Undeliverable records, as terminal outcomes. */
  readonly rejected: readonly RecordOutcome[];
  readonly recordCount: number;
}

// ignoreBOM: a BOM is kept, so that a JSON value starting with one is rejected (JSON.parse fails)
// rather than delivered with bytes a JSON handler would choke on.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Default largest record value (request body) sent to a sink: 6 MiB. A Lambda event holds at most
 * 6 MB, so on AWS no value reaches it; it bounds what the local stack (and replays) send.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/**
 * Default most bytes the URL-encoded object key may take in the request path: 2 KiB. The key is
 * sent twice, in the path and base64 in `kafka.key` (4/3 of its bytes, which are at most its
 * encoded length): with the forwarded Kafka headers' 8 KiB (MAX_FORWARDED_HEADER_BYTES) and our
 * own headers, the request head stays under the 16 KiB that Node's HTTP server and many proxies
 * accept (431 beyond), and the request line well under the 8 KiB of typical servers.
 */
export const DEFAULT_MAX_KEY_URL_BYTES = 2 * 1024;

/** Limits every record is checked against before it is sent (the consumer's and replays'). */
export interface RecordLimits {
  /** Largest record value delivered (MAX_REQUEST_BYTES); larger ones are terminal up front. */
  readonly maxRequestBytes?: number;
  /** Largest URL-encoded object key (MAX_KEY_URL_BYTES); longer ones are terminal up front. */
  readonly maxKeyUrlBytes?: number;
}

export type PlanOptions = RecordLimits;

const count = (n: number): string => n.toLocaleString("en-US");

/** The terminal reason for a value larger than `maxRequestBytes`, else undefined. */
function oversizedValue(
  record: Pick<DecodedRecord, "value">,
  maxRequestBytes: number,
): string | undefined {
  const size = record.value?.byteLength ?? 0;
  return size > maxRequestBytes
    ? `value of ${size} bytes exceeds MAX_REQUEST_BYTES (${maxRequestBytes})`
    : undefined;
}

/** Why the record can never be delivered to this sink, or undefined if it can. */
function undeliverable(
  record: DecodedRecord,
  mode: DeliveryMode,
  maxRequestBytes: number,
): string | undefined {
  if (record.decodeError !== undefined) return record.decodeError;
  const oversized = oversizedValue(record, maxRequestBytes);
  if (oversized !== undefined) return oversized;
  if (mode.input === "json" && record.value !== null) {
    const text = decodeUtf8(record.value);
    if (text === undefined) return "value is not valid UTF-8 (handler expects JSON)";
    try {
      JSON.parse(text);
    } catch {
      return "value is not valid JSON (handler expects JSON)";
    }
  }
  return undefined;
}

function objectKeyOf(
  record: DecodedRecord,
  maxKeyUrlBytes: number,
): { key: string } | { reason: string } {
  if (record.key === null) return { reason: "record has no key (keyed handler needs one)" };
  if (record.key.length === 0) return { reason: "record key is empty (keyed handler needs one)" };
  const text = decodeUtf8(record.key);
  if (text === undefined) return { reason: "record key is not valid UTF-8" };
  const key = record.keySchema ? decodedKeyText(text) : text;
  if (key.length === 0) return { reason: "record key is empty (keyed handler needs one)" };
  const pathBytes = objectKeyPathBytes(key);
  if (pathBytes > maxKeyUrlBytes) return { reason: keyTooLong(pathBytes, maxKeyUrlBytes) };
  return { key };
}

/**
 * The object key of a key the event source decoded with a schema registry, which arrives as JSON
 * text: a string is the key as written (an Avro `string` key `"customer-1"` is the object
 * `customer-1`), anything else its compact JSON text.
 */
function decodedKeyText(json: string): string {
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === "string" ? parsed : JSON.stringify(parsed);
  } catch {
    return json;
  }
}

function keyTooLong(bytes: number, limit: number): string {
  return `object key is ${count(bytes)} bytes URL-encoded; the limit is ${count(limit)} (MAX_KEY_URL_BYTES)`;
}

/**
 * Whether one record can be delivered to this sink, and under which object key (keyed sinks):
 * the consumer's check, shared by replays so that both refuse the same records for the same
 * reasons.
 */
export function checkRecord(
  record: DecodedRecord,
  mode: DeliveryMode,
  limits: RecordLimits = {},
): { readonly objectKey?: string } | { readonly reason: string } {
  const problem = undeliverable(record, mode, limits.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES);
  if (problem !== undefined) return { reason: problem };
  if (record.routed?.failure !== undefined) return { reason: record.routed.failure };
  if (!mode.keyed) return {};
  const routed = record.routed?.objectKey;
  if (routed !== undefined) {
    const pathBytes = objectKeyPathBytes(routed);
    const maxBytes = limits.maxKeyUrlBytes ?? DEFAULT_MAX_KEY_URL_BYTES;
    return pathBytes > maxBytes
      ? { reason: keyTooLong(pathBytes, maxBytes) }
      : { objectKey: routed };
  }
  const key = objectKeyOf(record, limits.maxKeyUrlBytes ?? DEFAULT_MAX_KEY_URL_BYTES);
  return "reason" in key ? key : { objectKey: key.key };
}

function reject(partitionId: string, record: DecodedRecord, reason: string): RecordOutcome {
  return { partitionId, record, status: "terminal", reason, attempts: 0 };
}

export function planBatch(
  event: DecodedEvent,
  mode: DeliveryMode,
  options: PlanOptions = {},
): Plan {
  const rejected: RecordOutcome[] = [];
  const single: PlannedRecord[][] = [];
  const byKey = new Map<string, PlannedRecord[]>();
  let recordCount = 0;

  for (const partition of event.partitions) {
    for (const record of partition.records) {
      recordCount++;
      const checked = checkRecord(record, mode, options);
      if ("reason" in checked) {
        rejected.push(reject(partition.id, record, checked.reason));
        continue;
      }
      const { objectKey } = checked;
      if (objectKey === undefined) {
        single.push([{ partitionId: partition.id, record }]);
        continue;
      }
      const planned: PlannedRecord = { partitionId: partition.id, record, objectKey };
      if (!mode.ordered) {
        single.push([planned]);
        continue;
      }
      // NUL cannot occur in a partition id, so (partition, key) pairs cannot collide.
      const laneId = `${partition.id}\u0000${objectKey}`;
      const lane = byKey.get(laneId);
      if (lane === undefined) byKey.set(laneId, [planned]);
      else lane.push(planned);
    }
  }

  if (!mode.ordered) return { lanes: single, rejected, recordCount };
  // Stable sort: equal-length lanes keep first-appearance order.
  const lanes = [...byKey.values()].sort((a, b) => b.length - a.length);
  return { lanes, rejected, recordCount };
}
