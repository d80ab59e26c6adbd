// Turns per-record outcomes into what the event source mapping understands: a partial batch
// response (lowest undelivered offset per partition) or a thrown error (retry the whole batch).
import { BatchRetryError, type OutcomeCounts } from "./errors.ts";
import type { DecodedRecord } from "./event.ts";

/**
 * - delivered: the sink accepted it (2xx).
 * - terminal: it can never be delivered (undeliverable record, or a terminal HTTP answer); logged
 *   and skipped, never retried.
 * - failed: still failing with a retryable error when its attempts or the time ran out.
 * - not_attempted: not tried, because an earlier record of its lane failed or time ran out.
 */
export type OutcomeStatus = "delivered" | "terminal" | "failed" | "not_attempted";

export interface RecordOutcome {
  /** The records-map key, `<topic>-<partition>`. */
  readonly partitionId: string;
  readonly record: DecodedRecord;
  readonly status: OutcomeStatus;
  readonly reason?: string | undefined;
  readonly attempts: number;
  readonly httpStatus?: number | undefined;
  /** Of a delivered record: how long its successful attempt took, in ms. */
  readonly latencyMs?: number | undefined;
}

export interface BatchItemFailure {
  readonly itemIdentifier: { readonly partition: string; readonly offset: number };
}

export interface BatchResponse {
  readonly batchItemFailures: BatchItemFailure[];
}

export function countOutcomes(outcomes: Iterable<RecordOutcome>): OutcomeCounts {
  let total = 0;
  let delivered = 0;
  let terminal = 0;
  let failed = 0;
  let notAttempted = 0;
  for (const o of outcomes) {
    total++;
    if (o.status === "delivered") delivered++;
    else if (o.status === "terminal") terminal++;
    else if (o.status === "failed") failed++;
    else notAttempted++;
  }
  return { total, delivered, terminal, failed, notAttempted };
}

/**
 * For each partition holding a failed or not-attempted record, its lowest such offset: the ESM
 * resumes the partition there. Records after it that were delivered are redelivered later, which
 * the idempotency key makes harmless. Partitions are listed in the order given by `partitionOrder`
 * (then first appearance).
 */
export function lowestUndelivered(
  outcomes: Iterable<RecordOutcome>,
  partitionOrder: readonly string[] = [],
): BatchItemFailure[] {
  const lowest = new Map<string, number>();
  for (const id of partitionOrder) lowest.set(id, Number.POSITIVE_INFINITY);
  for (const o of outcomes) {
    if (o.status !== "failed" && o.status !== "not_attempted") continue;
    const current = lowest.get(o.partitionId);
    if (current === undefined || o.record.offset < current)
      lowest.set(o.partitionId, o.record.offset);
  }
  const failures: BatchItemFailure[] = [];
  for (const [partition, offset] of lowest) {
    if (offset !== Number.POSITIVE_INFINITY)
      failures.push({ itemIdentifier: { partition, offset } });
  }
  return failures;
}

export interface ResponseOptions {
  /** The subscription's `lambda.report.batch.item.failures` option is "true". */
  readonly partialBatchResponse: boolean;
  readonly partitionOrder?: readonly string[];
  readonly subscriptionId?: string;
}

/**
 * Partial mode: `{batchItemFailures}` (empty when everything was delivered or terminal).
 * Otherwise: undefined when nothing is left to retry, else throws BatchRetryError.
 */
export function buildBatchResponse(
  outcomes: readonly RecordOutcome[],
  options: ResponseOptions,
): BatchResponse | undefined {
  if (options.partialBatchResponse) {
    return { batchItemFailures: lowestUndelivered(outcomes, options.partitionOrder) };
  }
  const counts = countOutcomes(outcomes);
  if (counts.failed === 0 && counts.notAttempted === 0) return undefined;
  const firstFailure = outcomes.find((o) => o.status === "failed");
  const sub = options.subscriptionId ? ` for subscription ${options.subscriptionId}` : "";
  throw new BatchRetryError(
    `Batch not fully delivered${sub}: ${counts.failed} failed, ${counts.notAttempted} not attempted, ` +
      `${counts.delivered} delivered, ${counts.terminal} terminal of ${counts.total} records; ` +
      `the batch will be retried${firstFailure?.reason ? ` (first failure: ${firstFailure.reason})` : ""}`,
    counts,
  );
}

export type LogEntry = Record<string, unknown> & { level: string; msg: string };
/**
 * Receives one complete log line (a JSON object) and the entry's level; the project's loggers are
 * line sinks.
 */
export type Logger = (line: string, level?: string) => void;

/**
 * The console method for a level. Under the JSON log format the Lambda runtime takes a line's
 * level (and whether ApplicationLogLevel keeps it) from the method, not from the line.
 */
export function consoleAt(level: string | undefined): (line: string) => void {
  switch (level) {
    case "error":
    case "fatal":
      return console.error;
    case "warn":
      return console.warn;
    case "debug":
      return console.debug;
    default:
      return console.info;
  }
}

export const consoleLogger: Logger = (line, level) => consoleAt(level)(line);

/** Writes a structured entry as one JSON line (CloudWatch keeps each line as one event). */
export function logJson(log: Logger, entry: LogEntry): void {
  log(JSON.stringify(entry), entry.level);
}

/** One structured line per terminal record: it is skipped, and this is its only trace. */
export function logTerminalOutcomes(
  outcomes: Iterable<RecordOutcome>,
  subscription: string,
  log: Logger,
): void {
  for (const o of outcomes) {
    if (o.status !== "terminal") continue;
    logJson(log, {
      level: "error",
      msg: "record not delivered (terminal)",
      subscription,
      topic: o.record.topic,
      partition: o.record.partition,
      offset: o.record.offset,
      reason: o.reason ?? "unknown",
      ...(o.httpStatus === undefined ? {} : { httpStatus: o.httpStatus }),
      attempts: o.attempts,
    });
  }
}
