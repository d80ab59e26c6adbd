// What the admin API answers, as zod schemas: the views of clusters, services, subscriptions and
// dead letters, the result bodies of import, replay and discard, and Restate's error body. The
// OpenAPI document (`GET /openapi`) is generated from them, and the admin API tests check every
// response against it, so a view that changes without its schema here fails them.
// Options and properties maps stay open (any key, string values): Restate and its CLI show every
// key they are given.
import * as z from "zod/mini";

const text = (description: string) => z.string().check(z.describe(description));
const whole = (description: string) => z.number().check(z.int(), z.describe(description));
const epochMs = (description: string) => whole(`${description} (epoch milliseconds)`);
const stringMap = (description: string) =>
  z.record(z.string(), z.string()).check(z.describe(description));

/** Restate's error body. */
export const errorViewSchema = z
  .strictObject({
    message: text("What went wrong, written for the caller; never echoes secret values."),
    restate_code: z
      .nullable(z.string())
      .check(
        z.describe(
          "Restate's error code where Restate has one for the failure (e.g. META0009), else null.",
        ),
      ),
  })
  .check(z.describe("An error, as Restate's admin API writes them."));

export const versionViewSchema = z
  .strictObject({
    version: text("This product's version."),
    min_admin_api_version: whole("Lowest admin API version served (path prefix /v{N})."),
    max_admin_api_version: whole("Highest admin API version served (path prefix /v{N})."),
    features: z
      .record(z.string(), z.unknown())
      .check(z.describe("Restate's feature flags; none here (kept for Restate's CLI).")),
  })
  .check(z.describe("Which admin API versions this server speaks (`GET /version`)."));

// ---- Kafka clusters ----------------------------------------------------------------------------

const clusterShape = {
  name: text("The cluster's name, as used in sources `kafka://<name>/<topic>`."),
  properties: stringMap(
    "Kafka client properties (`bootstrap.servers`, `security.protocol`, ...); " +
      'secret-like values are shown as "***".',
  ),
  origin: z
    .enum(["api", "config"])
    .check(
      z.describe(
        "`api`: registered through this API; `config`: declared in the deployment's config file " +
          "(not deletable here).",
      ),
    ),
  created_at: text(
    "When it was registered (ISO 8601); 1970-01-01T00:00:00Z for config-file clusters.",
  ),
};

export const clusterViewSchema = z
  .strictObject(clusterShape)
  .check(z.describe("A Kafka cluster, credentials redacted."));

export const clusterListViewSchema = z.strictObject({
  clusters: z.array(clusterViewSchema),
});

// ---- services ----------------------------------------------------------------------------------

/** A service's `auth`, as shown and as taken (`core/admin-schemas.ts` checks it). */
export const serviceAuthViewSchema = z
  .strictObject({
    bearer_token_secret: text("ARN of the Secrets Manager secret holding the bearer token."),
  })
  .check(z.describe("How requests authenticate: by reference only, never the token."));

export const serviceViewSchema = z
  .strictObject({
    name: text("The service's name, as used in sinks `service://<name>/<handler>`."),
    type: z
      .enum(["service", "virtual_object", "workflow"])
      .check(z.describe("Restate's service type: objects and workflows are keyed.")),
    endpoint: text("Base URL requests go to (a Restate ingress or any HTTP service)."),
    invocation: z
      .enum(["call", "send"])
      .check(
        z.describe(
          "`call`: wait for the handler's answer; `send`: only for Restate to accept the invocation.",
        ),
      ),
    handlers: z
      .record(
        z.string(),
        z.strictObject({
          shared: z
            .boolean()
            .check(
              z.describe("Shared handlers of objects and workflows run concurrently per key."),
            ),
          input: z
            .enum(["json", "binary"])
            .check(
              z.describe("How record values are sent: JSON as is, or the raw bytes (binary)."),
            ),
        }),
      )
      .check(z.describe("The handlers subscriptions may name, by name.")),
    auth: z.optional(serviceAuthViewSchema),
  })
  .check(z.describe("A registered service."));

export const serviceListViewSchema = z.strictObject({ services: z.array(serviceViewSchema) });

export const importViewSchema = z
  .strictObject({
    imported: z.array(serviceViewSchema).check(z.describe("The services registered now.")),
    skipped: z
      .array(
        z.strictObject({
          name: text("A service the Restate admin API lists, or one asked for."),
          reason: text("Why it was not registered (already registered, not listed, ...)."),
        }),
      )
      .check(z.describe("Services left alone; names already registered are never overwritten.")),
  })
  .check(z.describe("What `POST /services/import` did."));

// ---- subscriptions -----------------------------------------------------------------------------

const feedSchema = z
  .union([
    z.strictObject({
      kind: z.literal("aws"),
      eventSourceMappingUuid: text("The Lambda event source mapping reading the topic."),
      functionAliasArn: text("The consumer function's alias the mapping invokes."),
    }),
    z.strictObject({ kind: z.literal("local") }),
  ])
  .check(z.describe("What feeds the subscription its records."));

const subscriptionShape = {
  id: text("Restate-style id: `sub_1` and 22 base62 digits."),
  source: text("`kafka://<cluster>/<topic>`"),
  sink: text("`service://<Service>/<handler>`"),
  options: stringMap(
    "The subscription's options as Restate shows them: with the `group.id` it reads with and " +
      'Restate\'s `client.id`; secret-like values as "***".',
  ),
  status: z
    .enum(["provisioning", "active", "paused", "deleting"])
    .check(z.describe("`paused`: the feed is disabled; `deleting`: a DELETE has not finished.")),
  createdAt: text("When it was created (ISO 8601)."),
  feed: z.optional(feedSchema),
};

export const subscriptionViewSchema = z
  .strictObject(subscriptionShape)
  .check(z.describe("A subscription: records of a Kafka topic delivered to a handler."));

export const subscriptionDetailViewSchema = z
  .strictObject({
    ...subscriptionShape,
    feedStatus: z.optional(
      z
        .record(z.string(), z.unknown())
        .check(z.describe("The feed's own state, where the deployment reports one.")),
    ),
  })
  .check(z.describe("A subscription, with its feed's state where known."));

export const subscriptionListViewSchema = z.strictObject({
  subscriptions: z.array(subscriptionViewSchema),
});

export const clusterDetailViewSchema = z
  .strictObject({
    ...clusterShape,
    subscriptions: z
      .array(subscriptionViewSchema)
      .check(z.describe("Its subscriptions, filled only with `?include_subscriptions=true`.")),
  })
  .check(z.describe("A Kafka cluster, credentials redacted, with its subscriptions on request."));

// ---- dead letters ------------------------------------------------------------------------------

export const deadLetterViewSchema = z
  .strictObject({
    partitionId: text("`<topic>-<partition>`"),
    topic: z.string(),
    partition: whole("Kafka partition."),
    offset: whole("The record's offset."),
    timestamp: epochMs("The record's timestamp"),
    timestampType: text("CREATE_TIME or LOG_APPEND_TIME."),
    key: z
      .nullable(z.string())
      .check(z.describe("Base64 of the key; null without one (or when too large: keyOmitted).")),
    keyOmitted: z.optional(z.literal(true)),
    value: z
      .nullable(z.string())
      .check(z.describe("Base64 of the value; null for a tombstone or a value not stored here.")),
    valuePointer: z.optional(
      z
        .strictObject({
          topic: z.string(),
          partition: z.number(),
          offset: z.number(),
          size: whole("Value size in bytes."),
        })
        .check(z.describe("Where a large value was left (letters of earlier versions).")),
    ),
    headers: z
      .array(z.strictObject({ name: z.string(), value: text("Base64 of the header value.") }))
      .check(z.describe("The record's headers in order; empty with headersOmitted.")),
    headersOmitted: z.optional(z.literal(true)),
    spilled: z.optional(
      z
        .strictObject({ bytes: z.number(), chunks: z.number(), id: z.string() })
        .check(z.describe("Set on a letter too large to list whole; replay reads it whole.")),
    ),
    fingerprint: z.optional(text("The record's fingerprint, 8 hex digits.")),
    variant: z.optional(
      text("Set on a second record parked at the same offset (offsets were reused)."),
    ),
    kind: z
      .enum(["terminal", "exhausted", "parked-behind"])
      .check(
        z.describe(
          "`terminal`: can never be delivered as it is; `exhausted`: retries ran out; " +
            "`parked-behind`: held back behind a parked key of its partition.",
        ),
      ),
    reason: text("Why it was dead-lettered."),
    httpStatus: z.optional(whole("The sink's last HTTP status.")),
    attempts: whole("Delivery attempts across invocations."),
    firstFailedAt: epochMs("The first failure"),
    parkedAt: epochMs("When it was dead-lettered"),
    parksKey: z.optional(text("The parked key id this letter keeps parked.")),
  })
  .check(z.describe("A record the consumer gave up on, as stored."));

const cursor = z.optional(text("Pass as `?cursor=` for the next page; absent on the last page."));

export const deadLetterPageViewSchema = z.strictObject({
  dead_letters: z.array(deadLetterViewSchema),
  cursor,
});

export const parkedKeyViewSchema = z
  .strictObject({
    id: text("`<topic>-<partition>#<base64 key | sha256:hex>`, the `key_id` to replay it by."),
    partitionId: z.string(),
    key: z.nullable(z.string()).check(z.describe("Base64 of the key (null for very long keys).")),
    parkedAt: epochMs("When it was parked"),
    letters: whole("Its dead letters."),
  })
  .check(z.describe("A (partition, key) whose later records are parked until replayed."));

export const parkedKeyPageViewSchema = z.strictObject({
  parked_keys: z.array(parkedKeyViewSchema),
  cursor,
});

const drainShape = {
  remaining: whole("Letters of the target left (counted up to 10,000)."),
  unparked_keys: z.array(z.string()).check(z.describe("Keys unparked: their records flow again.")),
  still_parked_keys: z.optional(z.array(z.string())),
  incomplete: z.optional(
    z.literal(true).check(z.describe("Stopped at the time budget of one request.")),
  ),
  cursor: z.optional(text('With `incomplete`: send `{"all": true, "cursor": ...}` to go on.')),
  message: z.optional(text("With `incomplete`: what to send next.")),
};

export const replayViewSchema = z
  .strictObject({
    replayed: whole("Letters delivered."),
    failed: whole("Letters that failed again (they stay)."),
    ...drainShape,
    failures: z.array(
      z.strictObject({
        key_id: z.optional(z.string()),
        partition: text("Partition id `<topic>-<partition>`."),
        offset: z.number(),
        reason: z.string(),
      }),
    ),
  })
  .check(z.describe("What a replay did."));

export const discardViewSchema = z
  .strictObject({ discarded: whole("Letters removed."), ...drainShape })
  .check(z.describe("What a discard did."));
