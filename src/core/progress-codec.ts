// Compact text encoding of PartitionProgress for storage (a DynamoDB item is at most 400 KB).
//
// settled:  ranges as base-36 tokens separated by ",": the first is `<from>[.<to-from>]`, each next
//           one `<from - previous to>[.<to-from>]` (the length part is left out for single
//           offsets). Worst case — every other offset of a 10,000-record batch settled — is 5,000
//           tokens of 1–3 characters: about 15 KB.
// fingerprints: base64 of one big-endian uint32 per settled offset, in offset order (4 bytes an
//           offset: about 53 KB for 10,000 settled offsets). A state written without them (by an
//           earlier version) has its settled offsets dropped: they cannot be told from reused ones.
// failures: JSON `{"e": [error texts], "b": <base epoch ms>, "f": "<entries>"}`, entries in offset
//           order as `<offset delta>.<attempts>.<firstFailedAt - b>.<error index>[.<fingerprint>]`
//           in base 36.
//           Error texts are de-duplicated and capped (MAX_ERROR_TEXTS texts of ≤ 300 chars), so
//           10,000 failures with distinct attempt counts and times stay near 150 KB.
// If an encoded state still exceeds the byte budget, error texts are dropped, then the failure
// history (attempt budgets restart; settled offsets, which prevent duplicates, are always kept).

import { base64ToBytes, bytesToBase64 } from "./encoding.ts";
import { ProgressDecodeError } from "./errors.ts";
import {
  type FailureRecord,
  MAX_ERROR_LENGTH,
  normaliseRanges,
  type OffsetRange,
  type PartitionProgress,
  truncateText,
} from "./progress.ts";

export const MAX_ERROR_TEXTS = 32;
const OVERFLOW_ERROR = "(error text not kept: too many distinct errors)";
const DROPPED_ERROR = "(error text not kept: state too large)";

const b36 = (n: number): string => n.toString(36);

function parseB36(token: string, what: string): number {
  if (!/^[0-9a-z]+$/.test(token)) throw new ProgressDecodeError(`bad ${what}: "${token}"`);
  const n = Number.parseInt(token, 36);
  if (!Number.isSafeInteger(n)) throw new ProgressDecodeError(`bad ${what}: "${token}"`);
  return n;
}

export function encodeRanges(ranges: readonly OffsetRange[]): string {
  const parts: string[] = [];
  let previousTo = 0;
  for (let i = 0; i < ranges.length; i++) {
    const [from, to] = ranges[i] as OffsetRange;
    const head = i === 0 ? b36(from) : b36(from - previousTo);
    parts.push(to === from ? head : `${head}.${b36(to - from)}`);
    previousTo = to;
  }
  return parts.join(",");
}

export function decodeRanges(text: string): OffsetRange[] {
  if (text === "") return [];
  const out: OffsetRange[] = [];
  let previousTo = 0;
  for (const [i, token] of text.split(",").entries()) {
    const [head, length, extra] = token.split(".");
    if (head === undefined || extra !== undefined) {
      throw new ProgressDecodeError(`bad range "${token}"`);
    }
    const from = i === 0 ? parseB36(head, "offset") : previousTo + parseB36(head, "gap");
    const to = from + (length === undefined ? 0 : parseB36(length, "range length"));
    out.push([from, to]);
    previousTo = to;
  }
  return normaliseRanges(out);
}

export function encodeFailures(
  failures: Readonly<Record<string, FailureRecord>>,
  keepErrors = true,
): string | undefined {
  const entries = Object.entries(failures)
    .map(([offset, f]) => [Number(offset), f] as const)
    .sort((a, b) => a[0] - b[0]);
  if (entries.length === 0) return undefined;
  const base = Math.min(...entries.map(([, f]) => f.firstFailedAt));
  const errors: string[] = [];
  const errorIndex = new Map<string, number>();
  const indexOf = (text: string): number => {
    const known = errorIndex.get(text);
    if (known !== undefined) return known;
    const capped = errors.length >= MAX_ERROR_TEXTS - 1 ? OVERFLOW_ERROR : text;
    const existing = errorIndex.get(capped);
    if (existing !== undefined) {
      errorIndex.set(text, existing);
      return existing;
    }
    errors.push(capped);
    errorIndex.set(capped, errors.length - 1);
    errorIndex.set(text, errors.length - 1);
    return errors.length - 1;
  };
  const parts: string[] = [];
  let previous = 0;
  for (const [i, [offset, f]] of entries.entries()) {
    const delta = i === 0 ? offset : offset - previous;
    previous = offset;
    const error = keepErrors ? truncateText(f.lastError, MAX_ERROR_LENGTH) : DROPPED_ERROR;
    const fingerprint = f.fingerprint === undefined ? "" : `.${b36(f.fingerprint >>> 0)}`;
    parts.push(
      `${b36(delta)}.${b36(f.attempts)}.${b36(f.firstFailedAt - base)}.${b36(indexOf(error))}${fingerprint}`,
    );
  }
  return JSON.stringify({ e: errors, b: base, f: parts.join(",") });
}

export function decodeFailures(text: string | undefined): Record<string, FailureRecord> {
  const out: Record<string, FailureRecord> = {};
  if (text === undefined || text === "") return out;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProgressDecodeError("failures are not JSON");
  }
  const { e, b, f } = (doc ?? {}) as { e?: unknown; b?: unknown; f?: unknown };
  if (!Array.isArray(e) || typeof b !== "number" || typeof f !== "string") {
    throw new ProgressDecodeError("failures have the wrong shape");
  }
  if (f === "") return out;
  let previous = 0;
  for (const [i, token] of f.split(",").entries()) {
    const fields = token.split(".");
    if (fields.length !== 4 && fields.length !== 5) {
      throw new ProgressDecodeError(`bad failure "${token}"`);
    }
    const [delta, attempts, age, index, fingerprint] = fields.map((x) =>
      parseB36(x, "failure field"),
    ) as [number, number, number, number, number | undefined];
    if (fingerprint !== undefined && fingerprint > 0xffffffff) {
      throw new ProgressDecodeError(`bad failure "${token}"`);
    }
    const offset = i === 0 ? delta : previous + delta;
    previous = offset;
    const lastError = e[index];
    out[String(offset)] = {
      ...(fingerprint === undefined ? {} : { fingerprint }),
      attempts,
      firstFailedAt: b + age,
      lastError: typeof lastError === "string" ? lastError : "unknown error",
    };
  }
  return out;
}

export function encodeFingerprints(progress: PartitionProgress): string {
  const bytes = Buffer.alloc(progress.fingerprints.size * 4);
  let at = 0;
  for (const [from, to] of progress.settled) {
    for (let offset = from; offset <= to; offset++, at += 4) {
      const fingerprint = progress.fingerprints.get(offset);
      if (fingerprint === undefined) {
        throw new ProgressDecodeError(`settled offset ${offset} has no fingerprint`);
      }
      bytes.writeUInt32BE(fingerprint >>> 0, at);
    }
  }
  return bytesToBase64(bytes);
}

export function decodeFingerprints(
  ranges: readonly OffsetRange[],
  text: string,
): Map<number, number> {
  const bytes = base64ToBytes(text);
  const out = new Map<number, number>();
  let at = 0;
  for (const [from, to] of ranges) {
    for (let offset = from; offset <= to; offset++, at += 4) {
      if (at + 4 > bytes.length) throw new ProgressDecodeError("too few fingerprints");
      out.set(offset, bytes.readUInt32BE(at));
    }
  }
  if (at !== bytes.length) throw new ProgressDecodeError("too many fingerprints");
  return out;
}

export interface EncodedProgress {
  readonly settled: string;
  /** Fingerprints of the settled offsets (empty string when none are settled). */
  readonly fingerprints: string;
  /** Absent when there are no failures (or they had to be dropped). */
  readonly failures?: string;
  /** What had to be given up to fit the budget, if anything. */
  readonly degraded?: "error-texts" | "failures";
  /** UTF-8 bytes of the encoded strings. */
  readonly bytes: number;
}

const utf8Length = (s: string | undefined): number =>
  s === undefined ? 0 : Buffer.byteLength(s, "utf8");

/** Encodes within `maxBytes` (the budget for the two strings), degrading as described above. */
export function encodeProgress(progress: PartitionProgress, maxBytes: number): EncodedProgress {
  const settled = encodeRanges(progress.settled);
  const fingerprints = encodeFingerprints(progress);
  const base = utf8Length(settled) + fingerprints.length;
  const full = encodeFailures(progress.failures, true);
  if (base + utf8Length(full) <= maxBytes) {
    return {
      settled,
      fingerprints,
      ...(full === undefined ? {} : { failures: full }),
      bytes: base + utf8Length(full),
    };
  }
  const bare = encodeFailures(progress.failures, false);
  if (base + utf8Length(bare) <= maxBytes) {
    return {
      settled,
      fingerprints,
      ...(bare === undefined ? {} : { failures: bare }),
      degraded: "error-texts",
      bytes: base + utf8Length(bare),
    };
  }
  return { settled, fingerprints, degraded: "failures", bytes: base };
}

export function decodeProgress(
  partitionId: string,
  version: number,
  settled: string | undefined,
  fingerprints: string | undefined,
  failures: string | undefined,
): PartitionProgress {
  const ranges = fingerprints === undefined ? [] : decodeRanges(settled ?? "");
  return {
    partitionId,
    settled: ranges,
    fingerprints: decodeFingerprints(ranges, fingerprints ?? ""),
    failures: decodeFailures(failures),
    version,
  };
}
