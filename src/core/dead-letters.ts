// Dead letters: records the consumer gave up on, parked with everything needed to inspect, replay
// or discard them, so that the partition moves on. Pure: types, builders, key parking identities
// and the subscription options of the feature.
//
// - terminal: the record can never be delivered as it is (no usable key, bad JSON, 4xx, ...).
// - exhausted: retryable failures went beyond the subscription's budget (attempts across
//   invocations, or time since the first failure).
// - parked-behind: an ordered lane's record held back because an earlier record of its
//   (partition, key) is parked; delivering it first would break per-key order.
//
// Key parking (ordered lanes, policy `park`, the default): an exhausted record parks its
// (partition, key); while parked, every later record of that key is dead-lettered as parked-behind
// instead of being delivered. Replaying the key's letters in offset order and then unparking it
// lets the key flow normally again. Policy `skip` parks nothing: the key's later records go on.
// Terminal records never park their key: they cannot succeed on replay either, and the lane
// already goes on past them in the invocation that found them.
import { createHash } from "node:crypto";
import { base64ToBytes, bytesToBase64 } from "./encoding.ts";
import { ValidationError } from "./errors.ts";
import type { DecodedRecord, SchemaMetadata } from "./event.ts";
import { truncateText } from "./progress.ts";
import { fingerprintHex, recordFingerprint } from "./record-identity.ts";
import { laneKeyBytes } from "./routing.ts";

export type DeadLetterKind = "terminal" | "exhausted" | "parked-behind";

/** Letters stored by earlier versions kept only this for values over 256 KiB. */
export interface ValuePointer {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Value size in bytes. */
  readonly size: number;
}

export interface DeadLetter {
  readonly subscriptionId: string;
  /** The records-map key, `<topic>-<partition>`. */
  readonly partitionId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Epoch ms (the record's). */
  readonly timestamp: number;
  readonly timestampType: string;
  /** Base64 of the key; null when the record has none (or when it was too large: `keyOmitted`). */
  readonly key: string | null;
  readonly keyOmitted?: true;
  /** Base64 of the value; null for a tombstone or when stored as `valuePointer`. */
  readonly value: string | null;
  readonly valuePointer?: ValuePointer;
  /** `[name, base64 value]` in record order; empty with `headersOmitted` when too large. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly headersOmitted?: true;
  /** Set when the key / value was decoded with a schema registry (kept for replays). */
  readonly keySchema?: SchemaMetadata;
  readonly valueSchema?: SchemaMetadata;
  /**
   * Set on a letter too large for one item, as listed: its value (and, if need be, key and
   * headers) are left out here and the whole letter is stored in `chunks` pieces of `bytes` in
   * all; the store reads it whole for replay (`spillLetter` / `unspillLetter`).
   */
  readonly spilled?: {
    readonly bytes: number;
    readonly chunks: number;
    /** Names this content's chunks (a hash of it), so that chunks of another write never mix in. */
    readonly id: string;
  };
  /** recordFingerprint of the record, 8 hex digits (absent in letters of earlier versions). */
  readonly fingerprint?: string;
  /**
   * Set (to the fingerprint) on a letter stored beside another record's letter at the same
   * offset: offsets were reused (topic recreated, consumer group reset) and both are kept.
   */
  readonly variant?: string;
  readonly kind: DeadLetterKind;
  readonly reason: string;
  readonly httpStatus?: number;
  /** Delivery attempts across invocations. */
  readonly attempts: number;
  /** Epoch ms of the first failure (the parking time for parked-behind letters). */
  readonly firstFailedAt: number;
  /** Epoch ms. */
  readonly parkedAt: number;
  /**
   * `parkedKeyId(partitionId, key)` when this letter parks its key (or keeps it parked): later
   * records of the key are parked behind it until the key is unparked.
   */
  readonly parksKey?: string;
}

/** A dead letter's coordinates. */
export interface DeadLetterRef {
  readonly partitionId: string;
  readonly offset: number;
  /** The letter's `variant`, when it has one. */
  readonly variant?: string | undefined;
}

/** The coordinates that address this letter in the store. */
export const letterRef = (letter: DeadLetter): DeadLetterRef => ({
  partitionId: letter.partitionId,
  offset: letter.offset,
  variant: letter.variant,
});

/** A (partition, key) whose later records are parked until it is replayed or discarded. */
export interface ParkedKey {
  readonly subscriptionId: string;
  /** `parkedKeyId(partitionId, key)` */
  readonly id: string;
  readonly partitionId: string;
  /** Base64 of the key (null when only its hash is known, for very long keys). */
  readonly key: string | null;
  /** Bumped each time a letter is parked behind it: unparking is conditional on it. */
  readonly version: number;
  readonly parkedAt: number;
}

// Item limits: DynamoDB items are at most 400 KB. A letter whose JSON is larger than
// MAX_INLINE_LETTER_BYTES is stored in chunks of at most SPILL_CHUNK_BYTES (see spillLetter).
export const MAX_INLINE_LETTER_BYTES = 300 * 1024;
export const SPILL_CHUNK_BYTES = 300 * 1024;
/** A spilled letter's key and headers are still listed when they fit in these. */
const MAX_LISTED_HEADERS = 64 * 1024;
export const MAX_REASON_LENGTH = 2_000;
/** Keys longer than this (base64) are not copied into parked-key items (which must stay small). */
export const MAX_LISTED_KEY_B64 = 16 * 1024;
/** Longest key token kept verbatim in a parked-key id (DynamoDB sort keys are ≤ 1,024 bytes). */
const MAX_KEY_TOKEN = 512;

/** The key part of a parked-key id: the base64 key, or its SHA-256 when very long. */
export function keyToken(key: Uint8Array): string {
  const b64 = bytesToBase64(key);
  if (b64.length <= MAX_KEY_TOKEN) return b64;
  return `sha256:${createHash("sha256").update(key).digest("hex")}`;
}

/** Identity of a (partition, key): `<topic>-<partition>#<base64 key | sha256:hex>`. Kafka topic
 * names cannot contain `#`, so ids of different partitions never collide. */
export function parkedKeyId(partitionId: string, key: Uint8Array): string {
  return `${partitionId}#${keyToken(key)}`;
}

/** The partition id of a parked-key id. */
export function partitionOfParkedKey(id: string): string {
  const hash = id.indexOf("#");
  return hash < 0 ? id : id.slice(0, hash);
}

/**
 * The key that addresses a record's ordered lane and parks behind its dead letter: the object key
 * routed from the value when the subscription routes from the payload, else the Kafka key;
 * undefined when there is none (validity is plan's business).
 */
export function laneKey(record: DecodedRecord): Uint8Array | undefined {
  const key = laneKeyBytes(record);
  return key !== null && key.length > 0 ? key : undefined;
}

export interface LetterFacts {
  readonly subscriptionId: string;
  readonly partitionId: string;
  readonly record: DecodedRecord;
  readonly kind: DeadLetterKind;
  readonly reason: string;
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly parkedAt: number;
  readonly httpStatus?: number | undefined;
  /** Set when this letter parks its key. */
  readonly parksKey?: string | undefined;
}

/** A dead letter for a decoded record: the whole record, whatever its size (see spillLetter). */
export function buildDeadLetter(facts: LetterFacts): DeadLetter {
  const { record } = facts;
  return {
    subscriptionId: facts.subscriptionId,
    partitionId: facts.partitionId,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    key: record.key === null ? null : bytesToBase64(record.key),
    value: record.value === null ? null : bytesToBase64(record.value),
    headers: record.headers.map(([name, bytes]) => [name, bytesToBase64(bytes)] as const),
    ...(record.keySchema ? { keySchema: record.keySchema } : {}),
    ...(record.valueSchema ? { valueSchema: record.valueSchema } : {}),
    fingerprint: fingerprintHex(recordFingerprint(record)),
    kind: facts.kind,
    reason: truncateText(facts.reason, MAX_REASON_LENGTH),
    ...(facts.httpStatus === undefined ? {} : { httpStatus: facts.httpStatus }),
    attempts: facts.attempts,
    firstFailedAt: facts.firstFailedAt,
    parkedAt: facts.parkedAt,
    ...(facts.parksKey === undefined ? {} : { parksKey: facts.parksKey }),
  };
}

/**
 * How a letter is stored: small ones as they are (`chunks` empty); one whose JSON exceeds
 * MAX_INLINE_LETTER_BYTES as a listing stub (value left out, key and headers too when large) plus
 * its whole JSON, UTF-8, cut into chunks.
 */
export function spillLetter(letter: DeadLetter): { stub: DeadLetter; chunks: Uint8Array[] } {
  const { spilled: _ignored, ...whole } = letter;
  const bytes = Buffer.from(JSON.stringify(whole), "utf8");
  if (bytes.byteLength <= MAX_INLINE_LETTER_BYTES) return { stub: whole, chunks: [] };
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += SPILL_CHUNK_BYTES) {
    chunks.push(bytes.subarray(at, Math.min(at + SPILL_CHUNK_BYTES, bytes.byteLength)));
  }
  const headerSize = whole.headers.reduce((n, [name, v]) => n + name.length + v.length + 8, 0);
  const keyListed = whole.key === null || whole.key.length <= MAX_LISTED_KEY_B64;
  const headersListed = headerSize <= MAX_LISTED_HEADERS;
  return {
    stub: {
      ...whole,
      key: keyListed ? whole.key : null,
      value: null,
      headers: headersListed ? whole.headers : [],
      spilled: {
        bytes: bytes.byteLength,
        chunks: chunks.length,
        id: createHash("sha256").update(bytes).digest("hex").slice(0, 16),
      },
    },
    chunks,
  };
}

/** The whole letter back from a stub and its chunks, in order. Throws when they do not match. */
export function unspillLetter(stub: DeadLetter, chunks: readonly Uint8Array[]): DeadLetter {
  const spilled = stub.spilled;
  if (spilled === undefined) return stub;
  const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
  const broken = (why: string) =>
    new Error(
      `dead letter ${stub.partitionId}@${stub.offset} of ${stub.subscriptionId} cannot be read whole: ${why}`,
    );
  if (chunks.length !== spilled.chunks || bytes.byteLength !== spilled.bytes) {
    throw broken(
      `${chunks.length} of ${spilled.chunks} chunks, ${bytes.byteLength} of ${spilled.bytes} bytes`,
    );
  }
  const whole = JSON.parse(bytes.toString("utf8")) as DeadLetter;
  if (
    whole.subscriptionId !== stub.subscriptionId ||
    whole.partitionId !== stub.partitionId ||
    whole.offset !== stub.offset
  ) {
    throw broken("its chunks belong to another letter");
  }
  return whole;
}

/**
 * The record a letter was made from, for replay; undefined when the letter does not hold it all:
 * a spilled stub (read it whole from the store first) or a letter stored by an earlier version
 * with its value behind a pointer or its key or headers omitted.
 */
export function letterToRecord(letter: DeadLetter): DecodedRecord | undefined {
  if (
    letter.spilled !== undefined ||
    letter.valuePointer !== undefined ||
    letter.keyOmitted ||
    letter.headersOmitted
  ) {
    return undefined;
  }
  return {
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    timestamp: letter.timestamp,
    timestampType: letter.timestampType,
    key: letter.key === null ? null : base64ToBytes(letter.key),
    value: letter.value === null ? null : base64ToBytes(letter.value),
    headers: letter.headers.map(([name, v]) => [name, base64ToBytes(v)] as const),
    ...(letter.keySchema ? { keySchema: letter.keySchema } : {}),
    ...(letter.valueSchema ? { valueSchema: letter.valueSchema } : {}),
  };
}

// ---- subscription options ----------------------------------------------------------------------

export const OPTION_DEAD_LETTER_MAX_ATTEMPTS = "dead.letter.max.attempts";
export const OPTION_DEAD_LETTER_MAX_AGE_SECONDS = "dead.letter.max.age.seconds";
export const OPTION_DEAD_LETTER_KEY_POLICY = "dead.letter.key.policy";

export const DEAD_LETTER_OPTIONS: readonly string[] = [
  OPTION_DEAD_LETTER_MAX_ATTEMPTS,
  OPTION_DEAD_LETTER_MAX_AGE_SECONDS,
  OPTION_DEAD_LETTER_KEY_POLICY,
];

export type KeyPolicy = "park" | "skip";

export interface DeadLetterSettings {
  /** Delivery attempts across invocations before a retryable failure is dead-lettered. */
  readonly maxAttempts: number;
  /** Time since the first failure before a retryable failure is dead-lettered. */
  readonly maxAgeMs: number;
  readonly keyPolicy: KeyPolicy;
}

export const DEAD_LETTER_LIMITS = {
  maxAttempts: { min: 1, max: 1_000, default: 10 },
  /** Up to 7 days (Kafka's default retention). */
  maxAgeSeconds: { min: 1, max: 604_800, default: 3_600 },
} as const;

export const DEFAULT_DEAD_LETTER_SETTINGS: DeadLetterSettings = {
  maxAttempts: DEAD_LETTER_LIMITS.maxAttempts.default,
  maxAgeMs: DEAD_LETTER_LIMITS.maxAgeSeconds.default * 1000,
  keyPolicy: "park",
};

function wholeNumber(key: string, value: string, min: number, max: number): number {
  const trimmed = value.trim();
  const n = /^\d{1,7}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(
      `option "${key}" must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * The normal form of one dead-letter option's value, or undefined when `key` is not one of them
 * (so subscription-options.ts can try it before its "unsupported" default). Throws
 * ValidationError naming the key.
 */
export function normaliseDeadLetterOption(key: string, value: string): string | undefined {
  switch (key) {
    case OPTION_DEAD_LETTER_MAX_ATTEMPTS: {
      const { min, max } = DEAD_LETTER_LIMITS.maxAttempts;
      return String(wholeNumber(key, value, min, max));
    }
    case OPTION_DEAD_LETTER_MAX_AGE_SECONDS: {
      const { min, max } = DEAD_LETTER_LIMITS.maxAgeSeconds;
      return String(wholeNumber(key, value, min, max));
    }
    case OPTION_DEAD_LETTER_KEY_POLICY: {
      const lowered = value.trim().toLowerCase();
      if (lowered !== "park" && lowered !== "skip") {
        throw new ValidationError(
          `option "${key}" must be "park" or "skip", got ${JSON.stringify(value)}`,
        );
      }
      return lowered;
    }
    default:
      return undefined;
  }
}

/** What the options mean, defaults applied. Throws ValidationError on a bad value. */
export function deadLetterSettings(options: Readonly<Record<string, string>>): DeadLetterSettings {
  const read = (key: string): string | undefined => {
    const raw = options[key];
    return raw === undefined ? undefined : normaliseDeadLetterOption(key, raw);
  };
  const attempts = read(OPTION_DEAD_LETTER_MAX_ATTEMPTS);
  const ageSeconds = read(OPTION_DEAD_LETTER_MAX_AGE_SECONDS);
  const policy = read(OPTION_DEAD_LETTER_KEY_POLICY);
  return {
    maxAttempts:
      attempts === undefined ? DEFAULT_DEAD_LETTER_SETTINGS.maxAttempts : Number(attempts),
    maxAgeMs:
      ageSeconds === undefined ? DEFAULT_DEAD_LETTER_SETTINGS.maxAgeMs : Number(ageSeconds) * 1000,
    keyPolicy: (policy as KeyPolicy | undefined) ?? DEFAULT_DEAD_LETTER_SETTINGS.keyPolicy,
  };
}

/** Letters grouped for replay: each parked key's letters in offset order, then the free ones. */
export function replayGroups(letters: readonly DeadLetter[]): {
  readonly byKey: ReadonlyMap<string, readonly DeadLetter[]>;
  readonly free: readonly DeadLetter[];
} {
  const byKey = new Map<string, DeadLetter[]>();
  const free: DeadLetter[] = [];
  for (const letter of letters) {
    if (letter.parksKey === undefined) {
      free.push(letter);
      continue;
    }
    const group = byKey.get(letter.parksKey);
    if (group === undefined) byKey.set(letter.parksKey, [letter]);
    else group.push(letter);
  }
  for (const group of byKey.values()) group.sort((a, b) => a.offset - b.offset);
  return { byKey, free };
}
