// CloudWatch embedded metric format (EMF): one JSON log line per batch that CloudWatch Logs turns
// into metrics, with no API call on the hot path. Namespace and dimensions are fixed so that the
// template's alarms and dashboard can name them. The line must reach the log as the top-level
// object: under the JSON log format the runtime wraps console output into `message`, so in the
// Lambda it is written to stdout directly (writeEmfToStdout), as AWS's EMF specification says.
import type { RecordOutcome } from "./outcome.ts";

export const METRICS_NAMESPACE = "KafkaLambdaIngress";

/** Receives one EMF line (a JSON object with a top-level `_aws`). */
export type MetricsWriter = (line: string) => void;

/** Past the runtime's console wrapping: each line stays one CloudWatch Logs event, as written. */
export const writeEmfToStdout: MetricsWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/** EMF accepts at most 100 values per metric in one line. */
const MAX_VALUES = 100;

export interface BatchFigures {
  readonly subscriptionId: string;
  /**
   * The consumer function's name: each metric is then also published per function (all its
   * subscriptions together), which the template's alarms and dashboard read for their stack.
   */
  readonly functionName?: string | undefined;
  readonly outcomes: readonly RecordOutcome[];
  /** Records skipped because an earlier invocation settled them, and records dead-lettered. */
  readonly skipped: number;
  readonly deadLettered: number;
  readonly durationMs: number;
  readonly timestampMs: number;
  /** Nothing sent got through and every failure said the sink is unavailable (see postDispatch):
   * 1 for an alarm. */
  readonly sinkDown?: boolean;
}

/** Evenly spaced samples, so that a large batch still shows its latency distribution. */
function sample(values: readonly number[]): number[] {
  if (values.length <= MAX_VALUES) return [...values];
  const step = values.length / MAX_VALUES;
  return Array.from({ length: MAX_VALUES }, (_, i) => values[Math.floor(i * step)] as number);
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` → `name`. */
export function functionNameFromArn(arn: string): string | undefined {
  const parts = arn.split(":");
  return parts[0] === "arn" && parts[5] === "function" && parts[6] ? parts[6] : undefined;
}

export function batchMetrics(figures: BatchFigures): Record<string, unknown> {
  let delivered = 0;
  let retried = 0;
  let failed = 0;
  let terminal = 0;
  const latencies: number[] = [];
  for (const outcome of figures.outcomes) {
    if (outcome.attempts > 1) retried += outcome.attempts - 1;
    if (outcome.status === "delivered") {
      delivered++;
      if (outcome.latencyMs !== undefined) latencies.push(outcome.latencyMs);
    } else if (outcome.status === "terminal") terminal++;
    else failed++;
  }
  const count = (name: string) => ({ Name: name, Unit: "Count" });
  const millis = (name: string) => ({ Name: name, Unit: "Milliseconds" });
  return {
    _aws: {
      Timestamp: figures.timestampMs,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions:
            figures.functionName === undefined
              ? [["Subscription"]]
              : [["FunctionName", "Subscription"], ["FunctionName"]],
          Metrics: [
            count("Delivered"),
            count("Retried"),
            count("Failed"),
            count("Terminal"),
            count("DeadLettered"),
            count("Skipped"),
            count("SinkUnavailable"),
            millis("DeliveryLatency"),
            millis("BatchDuration"),
          ],
        },
      ],
    },
    ...(figures.functionName === undefined ? {} : { FunctionName: figures.functionName }),
    Subscription: figures.subscriptionId,
    Delivered: delivered,
    Retried: retried,
    Failed: failed,
    Terminal: terminal,
    DeadLettered: figures.deadLettered,
    Skipped: figures.skipped,
    SinkUnavailable: figures.sinkDown ? 1 : 0,
    DeliveryLatency: sample(latencies),
    BatchDuration: figures.durationMs,
  };
}
