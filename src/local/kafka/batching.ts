// The event source mapping's bookkeeping, free of any Kafka client: per-partition buffers, batch
// assembly (size, window, payload limit, several partitions per batch, at most one batch in flight
// per partition), the ESM event shape, and what a response means for offsets and redelivery.
import { bytesToBase64 } from "../../core/encoding.ts";

/** A record as fetched from Kafka (offsets and timestamps as numbers, like the ESM event). */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly timestampType?: "CREATE_TIME" | "LOG_APPEND_TIME";
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<readonly [string, Uint8Array | null]>;
}

/** One record of the self-managed Kafka event, exactly as the ESM sends it. */
export interface EsmKafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: string;
  /** base64, null when the record has no key */
  readonly key: string | null;
  /** base64, null for a tombstone */
  readonly value: string | null;
  /** one single-entry object per header, value as raw (unsigned) bytes */
  readonly headers: Array<Record<string, number[]>>;
  /** With a schema registry: what the key / value were decoded with (schema-decoding.ts). */
  readonly keySchemaMetadata?: { readonly dataFormat: string; readonly schemaId: string };
  readonly valueSchemaMetadata?: { readonly dataFormat: string; readonly schemaId: string };
  /** Local only: why a part could not be decoded (see core/event.ts). */
  readonly schemaRegistryError?: string;
}

export interface EsmKafkaEvent {
  readonly eventSource: "SelfManagedKafka";
  readonly bootstrapServers: string;
  /** keyed `"<topic>-<partition>"` */
  readonly records: Record<string, EsmKafkaRecord[]>;
}

export interface BatchLimits {
  /** `lambda.batch.size`, default 100 */
  readonly batchSize: number;
  /** `lambda.batch.window.seconds` in ms, default 500 */
  readonly windowMs: number;
  /** invocation payload limit, default 6 MB */
  readonly maxPayloadBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  batchSize: 100,
  windowMs: 500,
  maxPayloadBytes: 6 * 1024 * 1024,
};

/** Room kept for the event envelope and JSON framing. */
const ENVELOPE_BYTES = 512;

export const partitionId = (topic: string, partition: number): string => `${topic}-${partition}`;

const base64 = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : bytesToBase64(bytes);

export function toEsmRecord(record: SourceRecord): EsmKafkaRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType ?? "CREATE_TIME",
    key: base64(record.key),
    value: base64(record.value),
    headers: record.headers.map(([name, value]) => ({ [name]: Array.from(value ?? []) })),
  };
}

/** Upper estimate of a record's size in the JSON event. */
export function estimateRecordBytes(record: SourceRecord): number {
  const b64 = (n: number) => Math.ceil(n / 3) * 4;
  let size = 200 + record.topic.length * 2; // field names, numbers, quotes
  if (record.key) size += b64(record.key.byteLength);
  if (record.value) size += b64(record.value.byteLength);
  for (const [name, value] of record.headers)
    size += name.length * 6 + 8 + (value?.byteLength ?? 0) * 4;
  return size;
}

export interface Batch {
  /** Monotonic number, for logs. */
  readonly seq: number;
  /** Records per partition id, each in offset order. */
  readonly partitions: ReadonlyMap<string, readonly SourceRecord[]>;
  readonly recordCount: number;
  readonly estimatedBytes: number;
  /** How many times this batch has been invoked so far (set by the caller). */
  attempts: number;
}

/** Records of the batch the consumer is done with (delivered or dead-lettered): all but those a
 * partial response asks for again. */
export function completedRecords(batch: Batch, outcome: BatchOutcome): number {
  if (outcome.kind === "error") return 0;
  if (outcome.kind === "success") return batch.recordCount;
  let count = 0;
  for (const [partition, records] of batch.partitions) {
    const from = outcome.failures.get(partition);
    count += from === undefined ? records.length : records.filter((r) => r.offset < from).length;
  }
  return count;
}

export function buildEvent(batch: Batch, bootstrapServers: string): EsmKafkaEvent {
  const records: Record<string, EsmKafkaRecord[]> = {};
  for (const [id, partitionRecords] of batch.partitions)
    records[id] = partitionRecords.map(toEsmRecord);
  return { eventSource: "SelfManagedKafka", bootstrapServers, records };
}

/** What an invocation's response means. */
export type BatchOutcome =
  | { readonly kind: "success" }
  /** partition id → first offset to redeliver */
  | { readonly kind: "partial"; readonly failures: ReadonlyMap<string, number> }
  /** the whole batch fails and is retried: thrown error, or a response the ESM rejects */
  | { readonly kind: "error"; readonly reason: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Interprets a consumer's response like the ESM does with `ReportBatchItemFailures`: null, empty
 * or without failures → success; each `{itemIdentifier: {partition, offset}}` must name a partition
 * and an offset of the batch, otherwise the whole batch fails. Several failures in one partition:
 * the lowest offset wins. With `reportBatchItemFailures` off, the response is ignored (success).
 */
export function interpretResponse(
  response: unknown,
  batch: Batch,
  reportBatchItemFailures: boolean,
): BatchOutcome {
  if (!reportBatchItemFailures || response === null || response === undefined) {
    return { kind: "success" };
  }
  if (!isRecord(response)) return { kind: "success" };
  const items = response.batchItemFailures;
  if (items === undefined || items === null) return { kind: "success" };
  if (!Array.isArray(items)) {
    return { kind: "error", reason: "batchItemFailures is not an array" };
  }
  const failures = new Map<string, number>();
  for (const [index, item] of items.entries()) {
    const identifier = isRecord(item) ? item.itemIdentifier : undefined;
    if (!isRecord(identifier)) {
      return { kind: "error", reason: `batchItemFailures[${index}] has no itemIdentifier object` };
    }
    const { partition, offset: rawOffset } = identifier;
    const offset =
      typeof rawOffset === "number"
        ? rawOffset
        : typeof rawOffset === "string" && /^\d+$/.test(rawOffset)
          ? Number(rawOffset)
          : Number.NaN;
    const records = typeof partition === "string" ? batch.partitions.get(partition) : undefined;
    if (!records || !Number.isSafeInteger(offset) || !records.some((r) => r.offset === offset)) {
      return {
        kind: "error",
        reason: `batchItemFailures[${index}] names ${JSON.stringify(identifier)}, which is not in the batch`,
      };
    }
    const previous = failures.get(partition as string);
    if (previous === undefined || offset < previous) failures.set(partition as string, offset);
  }
  return failures.size === 0 ? { kind: "success" } : { kind: "partial", failures };
}

export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to consume, as committed to the group (undefined: nothing committed yet). */
  readonly committedOffset: number | undefined;
  /** Log end offset, as last seen. */
  readonly highWatermark: number | undefined;
  /** highWatermark − committed, or − where the group starts while nothing is committed
   * (undefined while those are unknown). */
  readonly lag: number | undefined;
  readonly buffered: number;
  readonly inFlight: boolean;
}

interface PartitionState {
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  /** Fetched, not yet handed out, in offset order. */
  buffer: SourceRecord[];
  bufferedBytes: number;
  /** When the oldest buffered record arrived (ms), for the batching window. */
  oldestArrival: number | undefined;
  /** Highest offset ever accepted + 1: records below are duplicates of a refetch. */
  nextExpected: number | undefined;
  inFlight: boolean;
  /** Committed to the group (next offset to consume). */
  committed: number | undefined;
  /** To be committed (greater than `committed`). */
  commitTarget: number | undefined;
  highWatermark: number | undefined;
  /** Where the group starts while it has committed nothing. */
  startOffset: number | undefined;
}

const lagOf = (high: number | undefined, position: number | undefined) =>
  high !== undefined && position !== undefined ? Math.max(0, high - position) : undefined;

/**
 * Buffers fetched records and assembles batches. Not thread-safe by design: one event loop.
 * Time is passed in (`now`) so that the logic is testable without timers.
 */
export class BatchPlanner {
  readonly #limits: BatchLimits;
  readonly #partitions = new Map<string, PartitionState>();
  #seq = 0;

  constructor(limits: Partial<BatchLimits> = {}) {
    this.#limits = { ...DEFAULT_BATCH_LIMITS, ...limits };
    if (!(this.#limits.batchSize >= 1)) throw new Error("batchSize must be at least 1");
  }

  get limits(): BatchLimits {
    return this.#limits;
  }

  #state(topic: string, partition: number): PartitionState {
    const id = partitionId(topic, partition);
    let state = this.#partitions.get(id);
    if (!state) {
      state = {
        id,
        topic,
        partition,
        buffer: [],
        bufferedBytes: 0,
        oldestArrival: undefined,
        nextExpected: undefined,
        inFlight: false,
        committed: undefined,
        commitTarget: undefined,
        highWatermark: undefined,
        startOffset: undefined,
      };
      this.#partitions.set(id, state);
    }
    return state;
  }

  /**
   * Buffers a fetched record. Returns false (and drops it) when it is below what was already
   * accepted for its partition — a refetch after a reconnect or rebalance.
   */
  accept(record: SourceRecord, now: number): boolean {
    const state = this.#state(record.topic, record.partition);
    if (state.nextExpected !== undefined && record.offset < state.nextExpected) return false;
    if (state.committed !== undefined && record.offset < state.committed) return false;
    state.buffer.push(record);
    state.bufferedBytes += estimateRecordBytes(record);
    state.oldestArrival ??= now;
    state.nextExpected = record.offset + 1;
    return true;
  }

  /** Records the group's committed offset (from the broker, at start). */
  setCommitted(topic: string, partition: number, offset: number): void {
    const state = this.#state(topic, partition);
    if (state.committed === undefined || offset > state.committed) state.committed = offset;
  }

  /** Where consumption starts while the group has committed nothing (`auto.offset.reset`), as
   * resolved when the feed (re)opened: a reconnect with `latest` starts at the new log end. */
  setStartOffset(topic: string, partition: number, offset: number): void {
    this.#state(topic, partition).startOffset = offset;
  }

  setHighWatermark(topic: string, partition: number, offset: number): void {
    this.#state(topic, partition).highWatermark = offset;
  }

  /** Forgets buffered records of partitions this member no longer owns (after a rebalance). */
  retainPartitions(owned: ReadonlySet<string>): void {
    for (const state of this.#partitions.values()) {
      if (!owned.has(state.id) && !state.inFlight) {
        state.buffer = [];
        state.bufferedBytes = 0;
        state.oldestArrival = undefined;
        state.nextExpected = undefined;
      }
    }
  }

  get bufferedRecords(): number {
    let n = 0;
    for (const state of this.#partitions.values()) n += state.buffer.length;
    return n;
  }

  get bufferedBytes(): number {
    let n = 0;
    for (const state of this.#partitions.values()) n += state.bufferedBytes;
    return n;
  }

  #eligible(): PartitionState[] {
    return [...this.#partitions.values()]
      .filter((s) => !s.inFlight && s.buffer.length > 0)
      .sort((a, b) => (a.oldestArrival ?? 0) - (b.oldestArrival ?? 0));
  }

  /**
   * When the next batch is due: `0` now, a timestamp (ms) when the window of the oldest eligible
   * partition closes, `undefined` when nothing is waiting.
   */
  nextDue(now: number): number | undefined {
    const eligible = this.#eligible();
    const oldest = eligible[0];
    if (!oldest) return undefined;
    let records = 0;
    let bytes = ENVELOPE_BYTES;
    for (const s of eligible) {
      records += s.buffer.length;
      bytes += s.bufferedBytes;
    }
    if (records >= this.#limits.batchSize || bytes >= this.#limits.maxPayloadBytes) return 0;
    const due = (oldest.oldestArrival ?? now) + this.#limits.windowMs;
    return due <= now ? 0 : due;
  }

  /**
   * Takes the next batch if one is due (full, over the payload limit, or its window closed):
   * records of partitions without a batch in flight, oldest partitions first, up to the batch
   * size and the payload limit (a single oversized record still goes, alone). Marks the
   * partitions in flight.
   */
  takeBatch(now: number): Batch | undefined {
    if (this.nextDue(now) !== 0) return undefined;
    const partitions = new Map<string, SourceRecord[]>();
    let count = 0;
    let bytes = ENVELOPE_BYTES;
    for (const state of this.#eligible()) {
      if (count >= this.#limits.batchSize) break;
      let taken = 0;
      while (taken < state.buffer.length && count < this.#limits.batchSize) {
        const record = state.buffer[taken] as SourceRecord;
        const size = estimateRecordBytes(record);
        if (count > 0 && bytes + size > this.#limits.maxPayloadBytes) break;
        bytes += size;
        count++;
        taken++;
      }
      if (taken === 0) break; // payload full
      const records = state.buffer.splice(0, taken);
      state.bufferedBytes = state.buffer.reduce((n, r) => n + estimateRecordBytes(r), 0);
      // What stays buffered has waited its window already: due as soon as the partition is free.
      if (state.buffer.length === 0) state.oldestArrival = undefined;
      state.inFlight = true;
      partitions.set(state.id, records);
    }
    if (count === 0) return undefined;
    return { seq: ++this.#seq, partitions, recordCount: count, estimatedBytes: bytes, attempts: 0 };
  }

  /**
   * Applies an invocation outcome. `success`: every partition moves past its records. `partial`:
   * each reported partition commits up to the reported offset and its records from that offset on
   * go back to the front of its buffer (redelivered next); the others succeed. `error`: nothing
   * moves and the partitions stay in flight — the caller retries the same batch.
   */
  complete(batch: Batch, outcome: BatchOutcome, now: number): void {
    if (outcome.kind === "error") return;
    for (const [id, records] of batch.partitions) {
      const state = this.#partitions.get(id);
      if (!state) continue;
      state.inFlight = false;
      const last = records[records.length - 1];
      if (!last) continue;
      const failedAt = outcome.kind === "partial" ? outcome.failures.get(id) : undefined;
      if (failedAt === undefined) {
        this.#target(state, last.offset + 1);
        continue;
      }
      const redeliver = records.filter((r) => r.offset >= failedAt);
      this.#target(state, failedAt);
      state.buffer = [...redeliver, ...state.buffer];
      state.bufferedBytes = state.buffer.reduce((n, r) => n + estimateRecordBytes(r), 0);
      state.oldestArrival = now - this.#limits.windowMs; // due at once, like the ESM resuming
    }
  }

  #target(state: PartitionState, offset: number): void {
    if (state.commitTarget === undefined || offset > state.commitTarget)
      state.commitTarget = offset;
  }

  /** Offsets waiting to be committed (target above what the group has). */
  pendingCommits(): Array<{ topic: string; partition: number; offset: number }> {
    const out: Array<{ topic: string; partition: number; offset: number }> = [];
    for (const s of this.#partitions.values()) {
      if (
        s.commitTarget !== undefined &&
        (s.committed === undefined || s.commitTarget > s.committed)
      ) {
        out.push({ topic: s.topic, partition: s.partition, offset: s.commitTarget });
      }
    }
    return out;
  }

  /** Marks offsets as committed to the group. */
  committed(offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>): void {
    for (const { topic, partition, offset } of offsets) this.setCommitted(topic, partition, offset);
  }

  status(): PartitionStatus[] {
    return [...this.#partitions.values()]
      .sort((a, b) =>
        a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
      )
      .map((s) => ({
        topic: s.topic,
        partition: s.partition,
        committedOffset: s.committed,
        highWatermark: s.highWatermark,
        lag: lagOf(s.highWatermark, s.committed ?? s.startOffset),
        buffered: s.buffer.length,
        inFlight: s.inFlight,
      }));
  }
}
