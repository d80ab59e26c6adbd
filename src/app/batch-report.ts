// What one batch leaves behind for operators: a line per terminal record, the EMF metrics line and
// the "batch processed" summary; and the line for a batch that failed the invocation.
import type { OutcomeCounts } from "../core/errors.ts";
import type { DecodedEvent } from "../core/event.ts";
import { batchMetrics, functionNameFromArn, type MetricsWriter } from "../core/metrics.ts";
import {
  countOutcomes,
  type Logger,
  logJson,
  logTerminalOutcomes,
  type RecordOutcome,
} from "../core/outcome.ts";
import type { ReliabilityCounts } from "../core/reliability.ts";

export interface BatchReport {
  readonly subscriptionId: string;
  readonly invokedFunctionArn: string;
  readonly event: DecodedEvent;
  readonly lanes: number;
  /** What dispatch left (the plan's rejected records first): terminal lines and metrics. */
  readonly dispatched: readonly RecordOutcome[];
  /** The settled outcomes the response is built from: the summary's counts. */
  readonly outcomes: readonly RecordOutcome[];
  /** Undefined without stores (nothing skipped or dead-lettered). */
  readonly reliability: ReliabilityCounts | undefined;
  readonly startedAt: number;
  readonly durationMs: number;
}

export interface ReportSinks {
  readonly log: Logger;
  /** Where the EMF line goes (see core/metrics.ts). */
  readonly metrics: MetricsWriter;
}

export function reportBatch(report: BatchReport, sinks: ReportSinks): void {
  const { subscriptionId, reliability } = report;
  logTerminalOutcomes(report.dispatched, subscriptionId, sinks.log);
  logJson(sinks.metrics, {
    level: "info",
    msg: "batch metrics",
    ...batchMetrics({
      subscriptionId,
      functionName: functionNameFromArn(report.invokedFunctionArn),
      outcomes: report.dispatched,
      skipped: reliability?.skipped ?? 0,
      deadLettered: reliability?.deadLettered ?? 0,
      sinkDown: reliability?.sinkDown === true,
      durationMs: report.durationMs,
      timestampMs: report.startedAt,
    }),
  });
  const counts: OutcomeCounts = countOutcomes(report.outcomes);
  const firstFailure = report.outcomes.find((o) => o.status === "failed");
  logJson(sinks.log, {
    level: counts.failed + counts.notAttempted > 0 ? "warn" : "info",
    msg: "batch processed",
    subscription: subscriptionId,
    partitions: report.event.partitions.map((p) => p.id),
    lanes: report.lanes,
    ...counts,
    // With stores, `terminal` counts the records dead-lettered as terminal.
    ...reliability,
    ...(firstFailure === undefined
      ? {}
      : { firstFailure: { offset: firstFailure.record.offset, reason: firstFailure.reason } }),
    durationMs: report.durationMs,
  });
}

/** The one line of a batch that failed its invocation (the event source retries it). */
export function logBatchFailure(log: Logger, invokedFunctionArn: string, error: Error): void {
  logJson(log, {
    level: "error",
    msg: "batch failed; the event source mapping will retry it",
    function: invokedFunctionArn,
    error: error.name,
    reason: error.message,
  });
}
