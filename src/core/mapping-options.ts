// Subscription options for what the event source mapping itself can do beyond feeding batches:
// failure backstops behind our own dead letters (retries, record age, bisecting, an on-failure
// destination), shared provisioned pollers, the mapping's metrics and system logs, and queue mode
// (Kafka share groups). Each maps onto CreateEventSourceMapping fields; rules that would let the
// mapping drop records are refused.
import type { CreateEventSourceMappingCommandInput } from "@aws-sdk/client-lambda";
import { ValidationError } from "./errors.ts";
import { type FilterPattern, parseFilterPatterns } from "./event-filter.ts";
import { splitList } from "./text.ts";
import { quote } from "./uris.ts";

export const OPTION_CONSUMPTION_MODE = "lambda.consumption.mode";
export const OPTION_POLLER_GROUP = "lambda.poller.group";
export const OPTION_METRICS = "lambda.metrics";
export const OPTION_LOG_LEVEL = "lambda.log.level";
export const OPTION_MAX_RETRY_ATTEMPTS = "lambda.max.retry.attempts";
export const OPTION_MAX_RECORD_AGE_SECONDS = "lambda.max.record.age.seconds";
export const OPTION_BISECT_ON_ERROR = "lambda.bisect.batch.on.error";
export const OPTION_ON_FAILURE_DESTINATION = "lambda.on.failure.destination";
export const OPTION_FILTER_PATTERNS = "lambda.filter.patterns";

export const MAPPING_OPTIONS: readonly string[] = [
  OPTION_CONSUMPTION_MODE,
  OPTION_POLLER_GROUP,
  OPTION_METRICS,
  OPTION_LOG_LEVEL,
  OPTION_MAX_RETRY_ATTEMPTS,
  OPTION_MAX_RECORD_AGE_SECONDS,
  OPTION_BISECT_ON_ERROR,
  OPTION_ON_FAILURE_DESTINATION,
  OPTION_FILTER_PATTERNS,
];

/** Options that only a mapping in provisioned mode honours. */
export const PROVISIONED_MAPPING_OPTIONS: readonly string[] = [
  OPTION_POLLER_GROUP,
  OPTION_LOG_LEVEL,
  OPTION_MAX_RETRY_ATTEMPTS,
  OPTION_MAX_RECORD_AGE_SECONDS,
  OPTION_BISECT_ON_ERROR,
  OPTION_ON_FAILURE_DESTINATION,
];

const METRICS = {
  eventcount: "EventCount",
  errorcount: "ErrorCount",
  kafkametrics: "KafkaMetrics",
} as const;
type Metric = (typeof METRICS)[keyof typeof METRICS];
const ALL_METRICS: readonly Metric[] = ["EventCount", "ErrorCount", "KafkaMetrics"];

/** ESMs of one poller group share its pollers: 100 mappings at most, 2,000 pollers in all. */
export const POLLER_GROUP_MAX_POLLERS_DEFAULT = 20;
const POLLER_GROUP_NAME = /^[A-Za-z0-9_-]{1,128}$/;
/** A topic name as Kafka allows it. */
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const DESTINATION_ARN =
  /^arn:aws[a-z-]*:(sqs|sns|s3):[a-z0-9-]*:\d{0,12}:?[A-Za-z0-9._/:-]{1,1024}$/;

function bounded(key: string, value: string, min: number, max: number, infinite: boolean): string {
  const text = value.trim();
  const n = /^-?\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
  if ((infinite && n === -1) || (Number.isInteger(n) && n >= min && n <= max)) return String(n);
  throw new ValidationError(
    `option ${quote(key)} must be ${infinite ? "-1 (no limit) or " : ""}a whole number from ${min} to ${max}, got ${quote(value)}`,
  );
}

/** The normal form of a mapping option, or undefined when `key` is not one. */
export function normaliseMappingOption(key: string, value: string): string | undefined {
  const lowered = value.trim().toLowerCase();
  switch (key) {
    case OPTION_CONSUMPTION_MODE:
      if (lowered !== "stream" && lowered !== "queue") {
        throw new ValidationError(
          `option ${quote(key)} must be "stream" or "queue", got ${quote(value)}`,
        );
      }
      return lowered;
    case OPTION_POLLER_GROUP:
      if (lowered !== "none" && !POLLER_GROUP_NAME.test(value.trim())) {
        throw new ValidationError(
          `option ${quote(key)} must be "none" or 1 to 128 letters, digits, '_' or '-', got ${quote(value)}`,
        );
      }
      return lowered === "none" ? "none" : value.trim();
    case OPTION_METRICS: {
      if (lowered === "none") return "none";
      const names: Array<Metric | undefined> = splitList(lowered).map(
        (name) => METRICS[name as keyof typeof METRICS],
      );
      if (names.length === 0 || names.some((name) => name === undefined)) {
        throw new ValidationError(
          `option ${quote(key)} must be "none" or a comma-separated list of EventCount, ErrorCount, KafkaMetrics, got ${quote(value)}`,
        );
      }
      return ALL_METRICS.filter((metric) => names.includes(metric)).join(",");
    }
    case OPTION_LOG_LEVEL: {
      const upper = value.trim().toUpperCase();
      if (upper !== "DEBUG" && upper !== "INFO" && upper !== "WARN") {
        throw new ValidationError(
          `option ${quote(key)} must be DEBUG, INFO or WARN, got ${quote(value)}`,
        );
      }
      return upper;
    }
    case OPTION_MAX_RETRY_ATTEMPTS:
      return bounded(key, value, 0, 10_000, true);
    case OPTION_MAX_RECORD_AGE_SECONDS:
      return bounded(key, value, 60, 604_800, true);
    case OPTION_BISECT_ON_ERROR:
      if (lowered !== "true" && lowered !== "false") {
        throw new ValidationError(
          `option ${quote(key)} must be "true" or "false", got ${quote(value)}`,
        );
      }
      return lowered;
    case OPTION_ON_FAILURE_DESTINATION: {
      const text = value.trim();
      if (text.startsWith("kafka://")) {
        if (!KAFKA_TOPIC.test(text.slice("kafka://".length))) {
          throw new ValidationError(
            `option ${quote(key)}: "kafka://<topic>" needs a Kafka topic name (letters, digits, '.', '_', '-')`,
          );
        }
        return text;
      }
      if (!DESTINATION_ARN.test(text)) {
        throw new ValidationError(
          `option ${quote(key)} must be an SQS queue, SNS topic or S3 bucket ARN, or kafka://<topic> (a topic of the same cluster), got ${quote(value)}`,
        );
      }
      return text;
    }
    case OPTION_FILTER_PATTERNS:
      return JSON.stringify(parseFilterPatterns(value));
    default:
      return undefined;
  }
}

/** The filter patterns a subscription's records must match (none: every record goes). */
export function filterPatterns(options: Readonly<Record<string, string>>): FilterPattern[] {
  const text = options[OPTION_FILTER_PATTERNS];
  return text === undefined ? [] : parseFilterPatterns(text);
}

/** Whether the options ask for something only provisioned mode has. */
export const needsProvisionedMode = (options: Readonly<Record<string, string>>): boolean =>
  PROVISIONED_MAPPING_OPTIONS.some(
    (key) =>
      options[key] !== undefined && !(key === OPTION_POLLER_GROUP && options[key] === "none"),
  );

/**
 * Rules across the mapping options: a finite retry count or record age without an on-failure
 * destination would let the mapping drop records, so it is refused; queue mode excludes what
 * only a consumer group has (a starting position, a batching window).
 */
export function checkMappingOptions(options: Readonly<Record<string, string>>): void {
  const finite = [OPTION_MAX_RETRY_ATTEMPTS, OPTION_MAX_RECORD_AGE_SECONDS].filter(
    (key) => options[key] !== undefined && options[key] !== "-1",
  );
  if (finite.length > 0 && options[OPTION_ON_FAILURE_DESTINATION] === undefined) {
    throw new ValidationError(
      `${finite.map((k) => quote(k)).join(" and ")} would let the event source drop records: set "lambda.on.failure.destination" to keep them`,
    );
  }
  if (options[OPTION_CONSUMPTION_MODE] === "queue") {
    const excluded = [
      "auto.offset.reset",
      "lambda.starting.position.timestamp",
      "lambda.batch.window.seconds",
      "group.id",
    ].filter((key) => options[key] !== undefined);
    if (excluded.length > 0) {
      throw new ValidationError(
        `"lambda.consumption.mode" queue reads with a share group: ${excluded.map((k) => quote(k)).join(", ")} do not apply`,
      );
    }
  }
}

/**
 * Queue mode (share groups) gives up per-partition order, so it is for sinks where order does
 * not matter, and for self-managed clusters only (AWS offers it there, Kafka 4.2 or later).
 */
export function checkConsumptionMode(
  options: Readonly<Record<string, string>>,
  target: { readonly msk: boolean; readonly ordered: boolean; readonly sink: string },
): void {
  if (options[OPTION_CONSUMPTION_MODE] !== "queue") return;
  if (target.ordered) {
    throw new ValidationError(
      `"lambda.consumption.mode" queue does not keep order, and ${target.sink} is an exclusive handler of a keyed service, which needs records in order per key: use a shared handler or a service`,
    );
  }
  if (target.msk) {
    throw new ValidationError(
      `"lambda.consumption.mode" queue is for self-managed Kafka clusters (4.2 or later); Amazon MSK event sources read with consumer groups`,
    );
  }
}

/** The ARN of topic `topic` of the MSK cluster `clusterArn` (`:cluster/` becomes `:topic/`). */
export const mskTopicArn = (clusterArn: string, topic: string): string =>
  `${clusterArn.replace(":cluster/", ":topic/")}/${topic}`;

/**
 * An on-failure destination the deployment can send to: one of `arns` (those its consumer role may
 * send to), or `kafka://<topic>` in the subscription's own cluster — on MSK one whose topic ARN is
 * in `kafkaTopicArns` (those its role may write). Undefined lists allow any.
 */
export function checkOnFailureDestination(
  options: Readonly<Record<string, string>>,
  allowed: {
    readonly arns?: readonly string[] | undefined;
    readonly kafkaTopicArns?: readonly string[] | undefined;
    /** Set when the subscription's cluster is an MSK cluster. */
    readonly mskClusterArn?: string | undefined;
  },
): void {
  const destination = options[OPTION_ON_FAILURE_DESTINATION];
  if (destination === undefined) return;
  if (destination.startsWith("kafka://")) {
    const topic = destination.slice("kafka://".length);
    const { mskClusterArn, kafkaTopicArns } = allowed;
    if (mskClusterArn === undefined || kafkaTopicArns === undefined) return;
    const arn = mskTopicArn(mskClusterArn, topic);
    if (!kafkaTopicArns.includes(arn)) {
      throw new ValidationError(
        `option "lambda.on.failure.destination" ${quote(destination)}: this deployment may not write ${arn}: list it in the template parameter OnFailureKafkaTopicArns`,
      );
    }
    return;
  }
  if (allowed.arns !== undefined && !allowed.arns.includes(destination)) {
    throw new ValidationError(
      `option "lambda.on.failure.destination" ${quote(destination)} is not one this deployment may send to: list it in the template parameter OnFailureQueueArns, OnFailureTopicArns or OnFailureBucketArns`,
    );
  }
}

/** The mapping fields the options set (besides the pollers' own settings). */
export function mappingParams(
  options: Readonly<Record<string, string>>,
  provisioned: boolean,
): Pick<
  CreateEventSourceMappingCommandInput,
  | "MetricsConfig"
  | "LoggingConfig"
  | "MaximumRetryAttempts"
  | "MaximumRecordAgeInSeconds"
  | "BisectBatchOnFunctionError"
  | "DestinationConfig"
  | "FilterCriteria"
> {
  const params: ReturnType<typeof mappingParams> = {};
  const patterns = filterPatterns(options);
  if (patterns.length > 0) {
    params.FilterCriteria = {
      Filters: patterns.map((pattern) => ({ Pattern: JSON.stringify(pattern) })),
    };
  }
  const metrics = options[OPTION_METRICS];
  if (metrics !== "none") {
    // By default EventCount everywhere (AWS has it for every kind of mapping), and ErrorCount
    // and KafkaMetrics where the mapping is provisioned, which AWS documents with them.
    const defaults: readonly Metric[] = provisioned ? ALL_METRICS : ["EventCount"];
    params.MetricsConfig = {
      Metrics: metrics === undefined ? [...defaults] : (splitList(metrics) as Metric[]),
    };
  }
  // System logs exist in provisioned mode only: INFO there unless asked otherwise.
  if (provisioned) {
    params.LoggingConfig = {
      SystemLogLevel: (options[OPTION_LOG_LEVEL] ?? "INFO") as "DEBUG" | "INFO" | "WARN",
    };
  }
  const retries = options[OPTION_MAX_RETRY_ATTEMPTS];
  if (retries !== undefined) params.MaximumRetryAttempts = Number(retries);
  const age = options[OPTION_MAX_RECORD_AGE_SECONDS];
  if (age !== undefined) params.MaximumRecordAgeInSeconds = Number(age);
  const bisect = options[OPTION_BISECT_ON_ERROR];
  if (bisect !== undefined) params.BisectBatchOnFunctionError = bisect === "true";
  const destination = options[OPTION_ON_FAILURE_DESTINATION];
  if (destination !== undefined)
    params.DestinationConfig = { OnFailure: { Destination: destination } };
  return params;
}

/**
 * The poller group a provisioned mapping joins: the option, else one group per cluster (its
 * subscriptions' mappings share pollers, as they share brokers and network); "none": pollers of
 * its own.
 */
export function pollerGroupName(
  options: Readonly<Record<string, string>>,
  clusterName: string,
): string | undefined {
  const option = options[OPTION_POLLER_GROUP];
  if (option === "none") return undefined;
  return option ?? clusterName;
}

/** The consumption mode for SelfManagedKafkaEventSourceConfig, when queue mode is asked for. */
export const consumptionMode = (options: Readonly<Record<string, string>>): "Queue" | undefined =>
  options[OPTION_CONSUMPTION_MODE] === "queue" ? "Queue" : undefined;
