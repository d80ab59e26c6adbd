// What tells two records at the same offset apart: a 32-bit fingerprint of the record's timestamp,
// key and value. Offsets alone are not identities — a topic deleted and recreated, an unclean
// leader election or a consumer-group reset hands out the same offsets again for other records —
// so wherever "already delivered / parked / settled" is decided (progress, dead letters, the
// idempotency key) the offset is paired with this fingerprint: a redelivered record matches, a new
// record at a reused offset does not (a false match needs a CRC-32 collision: about 1 in 4 billion
// per reused offset).
import { crc32 } from "node:zlib";
import type { DecodedRecord } from "./event.ts";

type FingerprintInput = Pick<DecodedRecord, "timestamp" | "key" | "value">;

const cache = new WeakMap<FingerprintInput, number>();

/** CRC-32 over `<timestamp>:<key length|-1>:<value length|-1>:` then the key and value bytes. */
export function recordFingerprint(record: FingerprintInput): number {
  const known = cache.get(record);
  if (known !== undefined) return known;
  const { key, value } = record;
  const head = `${record.timestamp}:${key === null ? -1 : key.length}:${value === null ? -1 : value.length}:`;
  let crc = crc32(head);
  if (key !== null && key.length > 0) crc = crc32(key, crc);
  if (value !== null && value.length > 0) crc = crc32(value, crc);
  cache.set(record, crc);
  return crc;
}

/** Eight lower-case hex digits. */
export const fingerprintHex = (fingerprint: number): string =>
  (fingerprint >>> 0).toString(16).padStart(8, "0");
