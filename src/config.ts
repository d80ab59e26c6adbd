// Environment read and validated once, at cold start; every setting's default is written here once.

import * as z from "zod/mini";
import { parseEndpointAllowList } from "./core/endpoint-policy.ts";
import { DEFAULT_MAX_KEY_URL_BYTES, DEFAULT_MAX_REQUEST_BYTES } from "./core/plan.ts";
import { MAX_REPLAY_REQUEST_TIMEOUT_MS } from "./core/replay-command.ts";
import { DEFAULT_BACKOFF } from "./core/retry.ts";
import { describeIssues } from "./core/zod-messages.ts";

/** Defaults of the settings both functions read. */
export const COMMON_DEFAULTS = Object.freeze({
  TABLE_NAME: "kafka-ingress",
});

/**
 * What an unset consumer variable means; the local stack, the benchmark and tests start from it.
 * The backoff and record limits are the core's (replays use them too, without settings).
 */
export const CONSUMER_DEFAULTS = Object.freeze({
  MAX_CONCURRENCY: 128,
  CATALOG_CACHE_TTL_MS: 10_000,
  MAX_ATTEMPTS: 4,
  REQUEST_TIMEOUT_MS: 10_000,
  DEADLINE_MARGIN_MS: 3_000,
  COMMIT_MARGIN_MS: 500,
  CHECKPOINT_INTERVAL_MS: 5_000,
  RETRY_BASE_DELAY_MS: DEFAULT_BACKOFF.baseDelayMs,
  RETRY_MAX_DELAY_MS: DEFAULT_BACKOFF.maxDelayMs,
  MAX_REQUEST_BYTES: DEFAULT_MAX_REQUEST_BYTES,
  MAX_KEY_URL_BYTES: DEFAULT_MAX_KEY_URL_BYTES,
  SECRET_CACHE_TTL_MS: 300_000,
});

/** What an unset admin variable means; the local stack and tests start from it. */
export const ADMIN_DEFAULTS = Object.freeze({
  DELETE_SETTLE_MS: 5_000,
  MAX_BODY_BYTES: 64 * 1024,
  REPLAY_REQUEST_TIMEOUT_MS: 10_000,
  REPLAY_BUDGET_MS: 20_000,
});

/** With a replay command's grace (5 s), a replay request answers inside the admin's 29 s. */
const MAX_REPLAY_BUDGET_MS = 22_000;

/** `sam local` and some shells pass unset variables as empty strings: treat those as unset. */
const optional = <T extends z.ZodMiniType>(schema: T) =>
  z.pipe(
    z.transform((value: unknown) => (value === "" ? undefined : value)),
    z.optional(schema),
  );

const wholeNumber = (fallback: number, check: z.core.$ZodCheck<number>) =>
  z._default(z.coerce.number().check(z.int(), check), fallback);
const positiveInt = (fallback: number) => wholeNumber(fallback, z.positive());

const commonSchema = z.object({
  /** DynamoDB table holding clusters, services and subscriptions. */
  TABLE_NAME: z._default(z.string().check(z.minLength(1)), COMMON_DEFAULTS.TABLE_NAME),
  /** Overrides the DynamoDB endpoint (the local stack's embedded store). */
  DYNAMODB_ENDPOINT: optional(z.url()),
  /**
   * Hosts that service endpoints (and Restate admin URLs of `POST /services/import`) may name:
   * comma-separated patterns `host`, `host:port`, `*.domain[:port]`, `[ipv6][:port]` or `*`.
   * Unset: any host. Link-local (169.254.0.0/16, fe80::/10, where cloud metadata services live),
   * unspecified (0.0.0.0, ::) and fd00:ec2::/32 addresses and metadata names are refused either
   * way. The admin checks endpoints as written when they are registered; the consumer (and
   * replays) check the host against this list again when connecting, and every address the name
   * resolves to against the refused ranges (core/endpoint-policy.ts).
   */
  SERVICE_ENDPOINT_ALLOW: optional(
    z.pipe(
      z.string(),
      z.transform((text: string, ctx) => {
        try {
          return parseEndpointAllowList(text);
        } catch (error) {
          ctx.issues.push({ code: "custom", message: (error as Error).message, input: text });
          return z.NEVER;
        }
      }),
    ),
  ),
});

const consumerSchema = z.extend(commonSchema, {
  /** Lanes in flight at once per invocation. */
  MAX_CONCURRENCY: positiveInt(CONSUMER_DEFAULTS.MAX_CONCURRENCY),
  /** How long a warm consumer trusts what it read about subscriptions and services. */
  CATALOG_CACHE_TTL_MS: wholeNumber(CONSUMER_DEFAULTS.CATALOG_CACHE_TTL_MS, z.nonnegative()),
  /** Delivery attempts per record within one invocation (first try included). */
  MAX_ATTEMPTS: positiveInt(CONSUMER_DEFAULTS.MAX_ATTEMPTS),
  /** Time per sink request before it counts as a retryable timeout. */
  REQUEST_TIMEOUT_MS: positiveInt(CONSUMER_DEFAULTS.REQUEST_TIMEOUT_MS),
  /** Time kept free before the Lambda deadline: no delivery runs inside it (the commit's time). */
  DEADLINE_MARGIN_MS: positiveInt(CONSUMER_DEFAULTS.DEADLINE_MARGIN_MS),
  /** Of that margin, what the commit (letters, progress) leaves free: store retries stop here. */
  COMMIT_MARGIN_MS: positiveInt(CONSUMER_DEFAULTS.COMMIT_MARGIN_MS),
  /** A long batch saves what it delivered so far this often, so a crash repeats little (0: off). */
  CHECKPOINT_INTERVAL_MS: wholeNumber(CONSUMER_DEFAULTS.CHECKPOINT_INTERVAL_MS, z.nonnegative()),
  /** Backoff before the first retry is uniform in [0, base]; it doubles per retry up to the cap. */
  RETRY_BASE_DELAY_MS: positiveInt(CONSUMER_DEFAULTS.RETRY_BASE_DELAY_MS),
  /** Cap of the backoff (full jitter: the wait is uniform in [0, cap]). */
  RETRY_MAX_DELAY_MS: positiveInt(CONSUMER_DEFAULTS.RETRY_MAX_DELAY_MS),
  /** Largest record value (request body) delivered; larger ones are terminal (dead-lettered). */
  MAX_REQUEST_BYTES: positiveInt(CONSUMER_DEFAULTS.MAX_REQUEST_BYTES),
  /**
   * Longest object key, in bytes once URL-encoded for the request path (2,048); records with a
   * longer key are terminal (dead-lettered) before anything is sent, instead of a 431 or 414 from
   * the sink. Raise it only for sinks that accept longer request heads (core/plan.ts).
   */
  MAX_KEY_URL_BYTES: positiveInt(CONSUMER_DEFAULTS.MAX_KEY_URL_BYTES),
  /** How long a warm consumer reuses a sink bearer token read from Secrets Manager. */
  SECRET_CACHE_TTL_MS: wholeNumber(CONSUMER_DEFAULTS.SECRET_CACHE_TTL_MS, z.nonnegative()),
});

const adminSchema = z.extend(commonSchema, {
  /** A DELETE waits this long after removing the mapping before it looks for dead letters. */
  DELETE_SETTLE_MS: wholeNumber(ADMIN_DEFAULTS.DELETE_SETTLE_MS, z.nonnegative()),
  /** Name or ARN of the consumer function that event source mappings invoke. */
  CONSUMER_FUNCTION_NAME: optional(z.string().check(z.minLength(1))),
  /** Largest request body the admin API accepts. */
  MAX_BODY_BYTES: positiveInt(ADMIN_DEFAULTS.MAX_BODY_BYTES),
  /**
   * Name prefix of the secrets holding clear SASL credentials given through the API
   * (`kafka-lambda-ingress/<stack>/kafka-clusters/`). Unset: such clusters are refused.
   */
  KAFKA_CREDENTIALS_SECRET_PREFIX: optional(
    z.string().check(z.regex(/^[A-Za-z0-9/_+=.@-]{1,400}\/$/, "a secret name prefix ending in /")),
  ),
  /**
   * The ARNs subscriptions may name as `lambda.on.failure.destination` (comma-separated; the
   * template's OnFailure*Arns, which its consumer role may send to). Unset: any (the local stack,
   * whose event source has no on-failure destination). `kafka://<topic>` is always allowed.
   */
  ON_FAILURE_DESTINATIONS: optional(
    z.pipe(
      z.string(),
      z.transform((text: string) =>
        text
          .split(",")
          .map((arn) => arn.trim())
          .filter(Boolean),
      ),
    ),
  ),
  /**
   * MSK topic ARNs whose topics an MSK subscription may name as `lambda.on.failure.destination`
   * `kafka://<topic>` (the template's OnFailureKafkaTopicArns, which its consumer role may write).
   * Unset: any.
   */
  ON_FAILURE_KAFKA_TOPIC_ARNS: optional(
    z.pipe(
      z.string(),
      z.transform((text: string) =>
        text
          .split(",")
          .map((topic) => topic.trim())
          .filter(Boolean),
      ),
    ),
  ),
  /** Time one delivery of a replayed dead letter may take (at most 60 s, what the consumer
   * accepts from a replay command). */
  REPLAY_REQUEST_TIMEOUT_MS: z._default(
    z.coerce.number().check(z.int(), z.positive(), z.lte(MAX_REPLAY_REQUEST_TIMEOUT_MS)),
    ADMIN_DEFAULTS.REPLAY_REQUEST_TIMEOUT_MS,
  ),
  /**
   * Time one replay or discard request may spend before answering with what remains; at most
   * 22 s, so that with a replay command's grace (5 s) it answers inside the admin function's 29 s.
   */
  REPLAY_BUDGET_MS: z._default(
    z.coerce.number().check(z.int(), z.positive(), z.lte(MAX_REPLAY_BUDGET_MS)),
    ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
  ),
});

export type ConsumerConfig = z.infer<typeof consumerSchema>;
export type AdminConfig = z.infer<typeof adminSchema>;

function parse<T>(schema: z.ZodMiniType<T>, env: NodeJS.ProcessEnv, what: string): T {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new Error(`Invalid ${what} configuration: ${describeIssues(result.error, "")}`);
  }
  return result.data;
}

export const consumerConfig = (env: NodeJS.ProcessEnv = process.env): ConsumerConfig =>
  parse(consumerSchema, env, "consumer");

export const adminConfig = (env: NodeJS.ProcessEnv = process.env): AdminConfig =>
  parse(adminSchema, env, "admin");
