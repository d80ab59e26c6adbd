// Environment read and validated once, at cold start.

import * as z from "zod/mini";
import { parseEndpointAllowList } from "./core/endpoint-policy.ts";
import { describeIssues } from "./core/zod-messages.ts";

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
  TABLE_NAME: z._default(z.string().check(z.minLength(1)), "kafka-ingress"),
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
  MAX_CONCURRENCY: positiveInt(128),
  /** How long a warm consumer trusts what it read about subscriptions and services. */
  CATALOG_CACHE_TTL_MS: wholeNumber(10_000, z.nonnegative()),
  /** Delivery attempts per record within one invocation (first try included). */
  MAX_ATTEMPTS: positiveInt(4),
  /** Time per sink request before it counts as a retryable timeout. */
  REQUEST_TIMEOUT_MS: positiveInt(10_000),
  /** Time kept free before the Lambda deadline: no delivery runs inside it (the commit's time). */
  DEADLINE_MARGIN_MS: positiveInt(3_000),
  /** Of that margin, what the commit (letters, progress) leaves free: store retries stop here. */
  COMMIT_MARGIN_MS: positiveInt(500),
  /** A long batch saves what it delivered so far this often, so a crash repeats little (0: off). */
  CHECKPOINT_INTERVAL_MS: wholeNumber(5_000, z.nonnegative()),
  /** Backoff before the first retry is uniform in [0, base]; it doubles per retry up to the cap. */
  RETRY_BASE_DELAY_MS: positiveInt(100),
  /** Cap of the backoff (full jitter: the wait is uniform in [0, cap]). */
  RETRY_MAX_DELAY_MS: positiveInt(2_000),
  /** Largest record value (request body) delivered; larger ones are terminal (dead-lettered). */
  MAX_REQUEST_BYTES: positiveInt(6 * 1024 * 1024),
  /**
   * Longest object key, in bytes once URL-encoded for the request path (2,048); records with a
   * longer key are terminal (dead-lettered) before anything is sent, instead of a 431 or 414 from
   * the sink. Raise it only for sinks that accept longer request heads (core/plan.ts).
   */
  MAX_KEY_URL_BYTES: positiveInt(2 * 1024),
  /** How long a warm consumer reuses a sink bearer token read from Secrets Manager. */
  SECRET_CACHE_TTL_MS: wholeNumber(300_000, z.nonnegative()),
});

const adminSchema = z.extend(commonSchema, {
  /** A DELETE waits this long after removing the mapping before it looks for dead letters. */
  DELETE_SETTLE_MS: wholeNumber(5_000, z.nonnegative()),
  /** Name or ARN of the consumer function that event source mappings invoke. */
  CONSUMER_FUNCTION_NAME: optional(z.string().check(z.minLength(1))),
  /** Largest request body the admin API accepts. */
  MAX_BODY_BYTES: positiveInt(64 * 1024),
  /** Time one delivery of a replayed dead letter may take (at most 60 s, what the consumer
   * accepts from a replay command). */
  REPLAY_REQUEST_TIMEOUT_MS: z._default(
    z.coerce.number().check(z.int(), z.positive(), z.lte(60_000)),
    10_000,
  ),
  /**
   * Time one replay or discard request may spend before answering with what remains; at most
   * 22 s, so that with a replay command's grace (5 s) it answers inside the admin function's 29 s.
   */
  REPLAY_BUDGET_MS: z._default(
    z.coerce.number().check(z.int(), z.positive(), z.lte(22_000)),
    20_000,
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
