// Subscription options: which ones we honour, how they are normalised, and what they mean for the
// event source mapping. Restate accepts any librdkafka key and fails later; we reject what we
// cannot honour, naming the key and the supported ones.
import { DEAD_LETTER_OPTIONS, normaliseDeadLetterOption } from "./dead-letters.ts";
import { ValidationError } from "./errors.ts";
import {
  checkMappingOptions,
  MAPPING_OPTIONS,
  needsProvisionedMode,
  normaliseMappingOption,
  OPTION_POLLER_GROUP,
  POLLER_GROUP_MAX_POLLERS_DEFAULT,
} from "./mapping-options.ts";
import { normaliseRoutingOption, ROUTING_OPTIONS } from "./routing.ts";
import {
  normaliseRegistryOption,
  OPTION_SCHEMA_DECODE,
  SCHEMA_REGISTRY_OPTIONS,
} from "./schema-registry.ts";
import { scalarText } from "./text.ts";
import { quote } from "./uris.ts";

export type RawOptionValue = string | number | boolean;

export const OPTION_AUTO_OFFSET_RESET = "auto.offset.reset";
export const OPTION_GROUP_ID = "group.id";
export const OPTION_BATCH_SIZE = "lambda.batch.size";
export const OPTION_BATCH_WINDOW_SECONDS = "lambda.batch.window.seconds";
export const OPTION_MIN_POLLERS = "lambda.min.pollers";
export const OPTION_MAX_POLLERS = "lambda.max.pollers";
export const OPTION_REPORT_BATCH_ITEM_FAILURES = "lambda.report.batch.item.failures";
export const OPTION_STARTING_POSITION_TIMESTAMP = "lambda.starting.position.timestamp";

export const SUPPORTED_SUBSCRIPTION_OPTIONS: readonly string[] = [
  OPTION_AUTO_OFFSET_RESET,
  OPTION_GROUP_ID,
  OPTION_BATCH_SIZE,
  OPTION_BATCH_WINDOW_SECONDS,
  OPTION_MIN_POLLERS,
  OPTION_MAX_POLLERS,
  OPTION_REPORT_BATCH_ITEM_FAILURES,
  OPTION_STARTING_POSITION_TIMESTAMP,
  ...DEAD_LETTER_OPTIONS,
  ...SCHEMA_REGISTRY_OPTIONS,
  ...MAPPING_OPTIONS,
  ...ROUTING_OPTIONS,
];

/**
 * Provisioned-mode defaults for Kafka event source mappings (AWS API reference,
 * ProvisionedPollerConfig): MinimumPollers 1..200 (default 1), MaximumPollers 1..2000 (default 200).
 */
export const POLLER_LIMITS = {
  minimum: { min: 1, max: 200, default: 1 },
  maximum: { min: 1, max: 2000, default: 200 },
} as const;

/** ConsumerGroupId: 1..200 characters of `[a-zA-Z0-9-\/*:_+=.@-]` (AWS API reference). */
const GROUP_ID_PATTERN = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;

const OFFSET_RESET_ALIASES: Readonly<Record<string, "earliest" | "latest">> = {
  earliest: "earliest",
  smallest: "earliest",
  beginning: "earliest",
  latest: "latest",
  largest: "latest",
  end: "latest",
};

function integerIn(key: string, value: string, min: number, max: number): string {
  const trimmed = value.trim();
  const n = /^\d{1,6}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(
      `option ${quote(key)} must be a whole number from ${min} to ${max}, got ${quote(value)}`,
    );
  }
  return String(n);
}

/** RFC 3339 with an offset, or epoch milliseconds. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** A starting timestamp in its normal form: RFC 3339 in UTC with milliseconds. */
function startingTimestamp(value: string): string {
  const text = value.trim();
  const ms = /^\d{1,16}$/.test(text) ? Number(text) : RFC3339.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 8_640_000_000_000_000) {
    throw new ValidationError(
      `option "lambda.starting.position.timestamp" must be an RFC 3339 time such as 2026-11-30T08:00:00Z, or epoch milliseconds, got ${quote(value)}`,
    );
  }
  return new Date(ms).toISOString();
}

function normaliseValue(key: string, value: string): string {
  switch (key) {
    case OPTION_AUTO_OFFSET_RESET: {
      const mapped = OFFSET_RESET_ALIASES[value.trim().toLowerCase()];
      if (!mapped) {
        throw new ValidationError(
          `option "auto.offset.reset" must be "earliest" or "latest", got ${quote(value)}`,
        );
      }
      return mapped;
    }
    case OPTION_GROUP_ID:
      if (!GROUP_ID_PATTERN.test(value)) {
        throw new ValidationError(
          `option "group.id" must be 1 to 200 characters of letters, digits and - / * : _ + = . @, got ${quote(value)}`,
        );
      }
      return value;
    case OPTION_BATCH_SIZE:
      return integerIn(key, value, 1, 10_000);
    case OPTION_BATCH_WINDOW_SECONDS:
      return integerIn(key, value, 0, 300);
    case OPTION_MIN_POLLERS:
      return integerIn(key, value, POLLER_LIMITS.minimum.min, POLLER_LIMITS.minimum.max);
    case OPTION_MAX_POLLERS:
      return integerIn(key, value, POLLER_LIMITS.maximum.min, POLLER_LIMITS.maximum.max);
    case OPTION_STARTING_POSITION_TIMESTAMP:
      return startingTimestamp(value);
    case OPTION_REPORT_BATCH_ITEM_FAILURES: {
      const lowered = value.trim().toLowerCase();
      if (lowered !== "true" && lowered !== "false") {
        throw new ValidationError(
          `option ${quote(key)} must be "true" or "false", got ${quote(value)}`,
        );
      }
      return lowered;
    }
    default: {
      const deadLetterValue = normaliseDeadLetterOption(key, value);
      if (deadLetterValue !== undefined) return deadLetterValue;
      const registryValue = normaliseRegistryOption(key, value);
      if (registryValue !== undefined) return registryValue;
      const mappingValue = normaliseMappingOption(key, value);
      if (mappingValue !== undefined) return mappingValue;
      const routingValue = normaliseRoutingOption(key, value);
      if (routingValue !== undefined) return routingValue;
      throw new ValidationError(`unsupported subscription option ${quote(key)}`);
    }
  }
}

/**
 * Validates subscription options and returns them as strings in their normal form
 * (`auto.offset.reset` aliases resolved, numbers and booleans in canonical text). Throws
 * ValidationError naming the offending key.
 */
export function normaliseSubscriptionOptions(
  raw: Readonly<Record<string, unknown>> | undefined,
): Record<string, string> {
  const entries = Object.entries(raw ?? {});
  const unknown = entries
    .map(([key]) => key)
    .filter((key) => !SUPPORTED_SUBSCRIPTION_OPTIONS.includes(key));
  if (unknown.length > 0) {
    throw new ValidationError(
      `unsupported subscription option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => quote(k)).join(", ")}; supported options: ${SUPPORTED_SUBSCRIPTION_OPTIONS.join(", ")}`,
    );
  }
  const result: Record<string, string> = {};
  for (const [key, value] of entries)
    result[key] = normaliseValue(key, scalarText(value, `option ${quote(key)}`));
  feedSettings("validation", result); // cross-option rules (pollers, starting position)
  checkMappingOptions(result);
  return result;
}

/** What the options mean for the event source mapping, defaults applied. */
export interface FeedSettings {
  readonly startingPosition: "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP";
  /** With AT_TIMESTAMP: where a consumer group without commits starts (epoch ms). */
  readonly startingPositionTimestamp?: number | undefined;
  readonly consumerGroupId: string;
  readonly batchSize?: number | undefined;
  readonly batchingWindowSeconds?: number | undefined;
  /** Set when any poller option is given or partial batch responses are on (provisioned mode). */
  readonly pollers?: { readonly minimum: number; readonly maximum: number } | undefined;
  readonly reportBatchItemFailures: boolean;
}

/** True when the event source mapping honours `batchItemFailures` for this subscription. */
export const reportsBatchItemFailures = (options: Readonly<Record<string, string>>): boolean =>
  options[OPTION_REPORT_BATCH_ITEM_FAILURES] === "true";

/** The Kafka consumer group a subscription reads with: `group.id`, else the subscription id. */
export const consumerGroupId = (
  subscriptionId: string,
  options: Readonly<Record<string, string>>,
): string => options[OPTION_GROUP_ID] ?? subscriptionId;

/** The `client.id` Restate fills in for a subscription when neither it nor its cluster sets one. */
export const DEFAULT_CLIENT_ID = "restate";
export const OPTION_CLIENT_ID = "client.id";

/**
 * The options as Restate shows a subscription's: with the `group.id` it reads with and, where
 * nothing sets one, Restate's `client.id`. Display only: an event source mapping takes no client
 * id, and neither key is accepted beyond `group.id`.
 */
export function displayedOptions(
  subscriptionId: string,
  options: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    ...options,
    [OPTION_GROUP_ID]: consumerGroupId(subscriptionId, options),
    [OPTION_CLIENT_ID]: options[OPTION_CLIENT_ID] ?? DEFAULT_CLIENT_ID,
  };
}

function startingPosition(
  options: Readonly<Record<string, string>>,
): Pick<FeedSettings, "startingPosition" | "startingPositionTimestamp"> {
  const timestamp = options[OPTION_STARTING_POSITION_TIMESTAMP];
  if (timestamp !== undefined) {
    if (options[OPTION_AUTO_OFFSET_RESET] !== undefined) {
      throw new ValidationError(
        `options "auto.offset.reset" and "lambda.starting.position.timestamp" do not go together: a consumer group without commits starts at one place`,
      );
    }
    return { startingPosition: "AT_TIMESTAMP", startingPositionTimestamp: Date.parse(timestamp) };
  }
  return {
    startingPosition: options[OPTION_AUTO_OFFSET_RESET] === "earliest" ? "TRIM_HORIZON" : "LATEST",
  };
}

/**
 * Interprets normalised options. Defaults: `auto.offset.reset` latest (→ LATEST, as Kafka's
 * default), `group.id` the subscription id, batch size and window left to AWS (100 records,
 * 500 ms), partial batch responses off. Partial batch responses and schema registry decoding
 * need provisioned mode, as do the mapping's own backstops and logs (mapping-options.ts); any of
 * them without poller options provisions MinimumPollers 1 and MaximumPollers 20 in the cluster's
 * poller group (200, AWS's default, with `lambda.poller.group` none).
 */
export function feedSettings(
  subscriptionId: string,
  options: Readonly<Record<string, string>>,
): FeedSettings {
  const number = (key: string): number | undefined => {
    const value = options[key];
    return value === undefined ? undefined : Number(value);
  };
  const minPollers = number(OPTION_MIN_POLLERS);
  const maxPollers = number(OPTION_MAX_POLLERS);
  const reportBatchItemFailures = reportsBatchItemFailures(options);
  const minimum = minPollers ?? POLLER_LIMITS.minimum.default;
  // A mapping in a poller group (the default) shares the group's 2,000 pollers with up to 99
  // others: a twentieth of that each unless said otherwise.
  const grouped = options[OPTION_POLLER_GROUP] !== "none";
  const maximum =
    maxPollers ??
    (grouped ? Math.max(minimum, POLLER_GROUP_MAX_POLLERS_DEFAULT) : POLLER_LIMITS.maximum.default);
  if (minimum > maximum) {
    throw new ValidationError(
      `option "lambda.min.pollers" (${minimum}) must not exceed "lambda.max.pollers" (${maximum})`,
    );
  }
  // Partial batch responses and schema registries work in provisioned mode only.
  const provisioned =
    minPollers !== undefined ||
    maxPollers !== undefined ||
    reportBatchItemFailures ||
    options[OPTION_SCHEMA_DECODE] !== undefined ||
    needsProvisionedMode(options);
  const batchSize = number(OPTION_BATCH_SIZE);
  const batchingWindowSeconds = number(OPTION_BATCH_WINDOW_SECONDS);
  return {
    ...startingPosition(options),
    consumerGroupId: consumerGroupId(subscriptionId, options),
    batchSize,
    batchingWindowSeconds,
    pollers: provisioned ? { minimum, maximum } : undefined,
    reportBatchItemFailures,
  };
}
