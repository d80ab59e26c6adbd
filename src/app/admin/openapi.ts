// `GET /openapi`: an OpenAPI 3.1 description of the admin API, as Restate's admin API serves one.
// Request bodies are generated from the zod schemas that validate them (core/admin-schemas.ts,
// core/restate-import.ts), responses from the views' schemas (core/admin-views.ts); only the
// operations (paths, parameters, statuses) are written here. What JSON Schema cannot say (URL
// checks, rules across fields, transforms) is left open in the schemas and said in descriptions.
// The document is built on first request and kept.
import * as z from "zod/mini";
import {
  clusterBodySchema,
  clusterPatchSchema,
  discardBodySchema,
  replayBodySchema,
  serviceBodySchema,
  servicePatchSchema,
  subscriptionBodySchema,
} from "../../core/admin-schemas.ts";
import {
  clusterDetailViewSchema,
  clusterListViewSchema,
  clusterViewSchema,
  deadLetterPageViewSchema,
  discardViewSchema,
  errorViewSchema,
  importViewSchema,
  parkedKeyPageViewSchema,
  replayViewSchema,
  serviceAuthViewSchema,
  serviceListViewSchema,
  serviceViewSchema,
  subscriptionDetailViewSchema,
  subscriptionListViewSchema,
  subscriptionViewSchema,
  versionViewSchema,
} from "../../core/admin-views.ts";
import {
  PROP_BOOTSTRAP_SERVERS,
  PROP_MSK_CLUSTER_ARN,
  PROP_SASL_MECHANISM,
  PROP_SASL_PASSWORD,
  PROP_SASL_USERNAME,
  PROP_SECRET_ARN,
  PROP_SECURITY_PROTOCOL,
} from "../../core/cluster-properties.ts";
import { importBodySchema } from "../../core/restate-import.ts";
import { SUPPORTED_SUBSCRIPTION_OPTIONS } from "../../core/subscription-options.ts";
import { PRODUCT_VERSION } from "./meta.ts";
import { MAX_ADMIN_API_VERSION, MIN_ADMIN_API_VERSION, type Routes } from "./router.ts";

/** Every schema the document names, generated into `components.schemas`. */
const SCHEMAS = {
  Error: errorViewSchema,
  Version: versionViewSchema,
  KafkaCluster: clusterViewSchema,
  KafkaClusterDetail: clusterDetailViewSchema,
  KafkaClusterList: clusterListViewSchema,
  KafkaClusterBody: clusterBodySchema,
  KafkaClusterPatch: clusterPatchSchema,
  Service: serviceViewSchema,
  ServiceList: serviceListViewSchema,
  ServiceBody: serviceBodySchema,
  ServicePatch: servicePatchSchema,
  ServiceImportBody: importBodySchema,
  ServiceImport: importViewSchema,
  Subscription: subscriptionViewSchema,
  SubscriptionDetail: subscriptionDetailViewSchema,
  SubscriptionList: subscriptionListViewSchema,
  SubscriptionBody: subscriptionBodySchema,
  DeadLetterPage: deadLetterPageViewSchema,
  ParkedKeyPage: parkedKeyPageViewSchema,
  ReplayBody: replayBodySchema,
  Replay: replayViewSchema,
  DiscardBody: discardBodySchema,
  Discard: discardViewSchema,
} satisfies Record<string, z.core.$ZodType>;
type SchemaName = keyof typeof SCHEMAS;

const SECRET_ARN = "arn:aws:secretsmanager:<region>:<account>:secret:<name>";
const ENDPOINT_RULE = "An absolute http:// or https:// URL without credentials, query or fragment.";
const TARGET_RULE =
  'Give exactly one of "key_id" (a parked key and its letters), "all": true (every letter, ' +
  'optionally from "cursor"), or "partition" with "offset" (one letter, with "variant" if it has one).';
const TARGET_FIELDS = {
  key_id: "A parked key's id, from GET .../parked-keys.",
  cursor: "With `all`: the `cursor` of an incomplete earlier answer.",
  partition: "A partition number, or a partition id `<topic>-<partition>`.",
  offset: "The letter's offset.",
  variant: "The letter's `variant`, when it has one.",
};

interface Described {
  readonly description: string;
  /** By property name: each must be one of the schema's properties. */
  readonly properties?: Readonly<Record<string, string>>;
  /**
   * Properties whose schema checks them in a refinement, which JSON Schema cannot see through:
   * the form they take, by property name.
   */
  readonly forms?: Readonly<Record<string, z.core.$ZodType>>;
}

/** Descriptions of the request schemas, whose modules carry the error messages instead. */
const REQUEST_DESCRIPTIONS: Partial<Record<SchemaName, Described>> = {
  SubscriptionBody: {
    description: "A new subscription: records of a Kafka topic delivered to a handler.",
    properties: {
      source: "`kafka://<cluster>/<topic>`; the cluster must be registered.",
      sink: "`service://<Service>/<handler>`; the service and its handler must be registered.",
      options:
        "Options (values as strings, numbers or booleans); supported: " +
        `${SUPPORTED_SUBSCRIPTION_OPTIONS.join(", ")}. Any other key is refused.`,
    },
  },
  KafkaClusterBody: {
    description: "A Kafka cluster to register.",
    properties: {
      name: "1 to 64 letters, digits, '_' or '-'.",
      properties:
        `Kafka client properties: \`${PROP_BOOTSTRAP_SERVERS}\` or \`${PROP_MSK_CLUSTER_ARN}\`, ` +
        `\`${PROP_SECURITY_PROTOCOL}\`, \`${PROP_SASL_MECHANISM}\`, ... Credentials by reference ` +
        `(\`${PROP_SECRET_ARN}\`, a Secrets Manager secret bound to these brokers) or in clear ` +
        `(\`${PROP_SASL_USERNAME}\` / \`${PROP_SASL_PASSWORD}\`, with a PLAIN or SCRAM mechanism; not ` +
        "for MSK), which the deployment keeps in a secret of its own (locally a private file) and never shows.",
    },
  },
  KafkaClusterPatch: {
    description: "The whole new properties map of a Kafka cluster, checked as on registration.",
    properties: {
      properties:
        'Replaces the old properties; a secret-like property sent as "***" (as shown) keeps its stored value. ' +
        `\`${PROP_SASL_USERNAME}\` / \`${PROP_SASL_PASSWORD}\` cannot be changed: register the cluster again.`,
    },
  },
  ServiceBody: {
    description:
      "A service to register. At least one handler; handler names start with a letter or '_', " +
      "then letters, digits or '_'; `shared` handlers only for virtual_object and workflow.",
    properties: {
      endpoint: ENDPOINT_RULE,
      invocation: "`call` (default) or `send`.",
      handlers:
        'By handler name: `{"shared": boolean, "input": "json" | "binary"}`, both optional.',
      auth:
        `Only \`{"bearer_token_secret": "${SECRET_ARN}"}\`: tokens are never accepted in clear, ` +
        "and the secret must name this endpoint.",
    },
    forms: { auth: serviceAuthViewSchema },
  },
  ServicePatch: {
    description: "What can change while subscriptions use the service; at least one field.",
    properties: {
      endpoint: ENDPOINT_RULE,
      auth: `\`{"bearer_token_secret": "${SECRET_ARN}"}\`, or null to remove it.`,
    },
    forms: { auth: z.nullable(serviceAuthViewSchema) },
  },
  ServiceImportBody: {
    description: "Where to read services from: a Restate admin API.",
    properties: {
      admin_url: `Restate's admin API, e.g. http://restate:9070. ${ENDPOINT_RULE}`,
      ingress_url: `The ingress requests will go to; default: the one Restate's /version reports. ${ENDPOINT_RULE}`,
      invocation: "`call` (default) or `send`, for every imported service.",
      services: "Only these services (default: every one Restate lists).",
    },
  },
  ReplayBody: { description: `What to replay. ${TARGET_RULE}`, properties: TARGET_FIELDS },
  DiscardBody: { description: `What to discard. ${TARGET_RULE}`, properties: TARGET_FIELDS },
};

/** Adds the descriptions of `described` to a generated schema; a property it lacks throws. */
function describe(name: SchemaName, generated: JsonObject, described: Described): void {
  generated.description = described.description;
  const properties = (generated.properties ?? {}) as Record<string, JsonObject>;
  for (const [key, form] of Object.entries(described.forms ?? {})) {
    if (properties[key] === undefined) throw new Error(`${name} has no property ${key}`);
    properties[key] = plainSchema(form);
  }
  for (const [key, description] of Object.entries(described.properties ?? {})) {
    const property = properties[key];
    if (property === undefined) throw new Error(`${name} has no property ${key}`);
    property.description = description;
  }
}

type JsonObject = Record<string, unknown>;

/**
 * `components.schemas`: every schema of SCHEMAS under its name, the ones inside others as `$ref`s
 * (a subscription in a list, a service in an import). Request bodies are described as sent
 * (`io: "input"`); transforms and refinements cannot be, and are left open rather than refused.
 */
function generateSchemas(): Record<SchemaName, JsonObject> {
  const named = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(SCHEMAS)) named.add(schema, { id });
  const { schemas } = z.toJSONSchema(named, {
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  const out: Partial<Record<SchemaName, JsonObject>> = {};
  for (const name of Object.keys(SCHEMAS) as SchemaName[]) {
    const { $schema: _dialect, $id: _id, ...generated } = (schemas[name] ?? {}) as JsonObject;
    const described = REQUEST_DESCRIPTIONS[name];
    if (described !== undefined) describe(name, generated, described);
    out[name] = generated;
  }
  return out as Record<SchemaName, JsonObject>;
}

// ---- operations --------------------------------------------------------------------------------

interface Parameter {
  readonly name: string;
  readonly in: "path" | "query";
  readonly description: string;
  readonly schema: z.core.$ZodType;
}

interface Operation {
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly parameters?: readonly Parameter[];
  readonly body?: SchemaName;
  /** Status → response schema (null: no body; "object": a JSON object, this document). */
  readonly ok: Readonly<Record<number, SchemaName | "object" | null>>;
  /** The 201 answer has a Location header. */
  readonly location?: boolean;
  /** Error statuses the operation answers for its own reasons (besides the router's). */
  readonly errors: readonly number[];
}

const pathParam = (name: string, description: string): Parameter => ({
  name,
  in: "path",
  description,
  schema: z.string(),
});
const queryParam = (name: string, description: string, schema: z.core.$ZodType): Parameter => ({
  name,
  in: "query",
  description,
  schema,
});

const BOOL = z.enum(["true", "false"]);
const NAME = pathParam("name", "The cluster's name.");
const SERVICE = pathParam("name", "The service's name.");
const ID = pathParam("id", "The subscription's id.");
const PAGE = [
  queryParam("limit", "Page size, 1 to 1000.", z.string().check(z.regex(/^\d{1,4}$/))),
  queryParam("cursor", "The `cursor` of the previous page.", z.string()),
];

/** Every operation, by path (as the router sees it, after the version prefix). */
const OPERATIONS: Readonly<Record<string, Readonly<Record<string, Operation>>>> = {
  "/version": {
    get: {
      operationId: "version",
      tag: "meta",
      summary: "Admin API versions served",
      description: "Restate's tools read it to pick the /v{N} path prefix they put before paths.",
      ok: { 200: "Version" },
      errors: [],
    },
  },
  "/health": {
    get: {
      operationId: "health",
      tag: "meta",
      summary: "Health check",
      ok: { 200: null },
      errors: [],
    },
  },
  "/openapi": {
    get: {
      operationId: "openapi_spec",
      tag: "meta",
      summary: "This OpenAPI document",
      ok: { 200: "object" },
      errors: [],
    },
  },
  "/kafka-clusters": {
    get: {
      operationId: "list_kafka_clusters",
      tag: "kafka_cluster",
      summary: "List Kafka clusters",
      ok: { 200: "KafkaClusterList" },
      errors: [],
    },
    post: {
      operationId: "create_kafka_cluster",
      tag: "kafka_cluster",
      summary: "Register a Kafka cluster",
      body: "KafkaClusterBody",
      ok: { 201: "KafkaCluster" },
      location: true,
      errors: [400, 409],
    },
  },
  "/kafka-clusters/{name}": {
    get: {
      operationId: "get_kafka_cluster",
      tag: "kafka_cluster",
      summary: "Show a Kafka cluster",
      parameters: [NAME, queryParam("include_subscriptions", "List its subscriptions too.", BOOL)],
      ok: { 200: "KafkaClusterDetail" },
      errors: [400, 404],
    },
    patch: {
      operationId: "update_kafka_cluster",
      tag: "kafka_cluster",
      summary: "Change a Kafka cluster's properties",
      description:
        "Refused (409) while subscriptions use it (their event source mappings would not follow " +
        "the change) and for clusters of the config file; sending the properties it has is a no-op.",
      parameters: [NAME],
      body: "KafkaClusterPatch",
      ok: { 200: "KafkaCluster" },
      errors: [400, 404, 409],
    },
    delete: {
      operationId: "delete_kafka_cluster",
      tag: "kafka_cluster",
      summary: "Delete a Kafka cluster",
      description:
        "Refused (409) while subscriptions use it, unless `force=true`, and for clusters of the " +
        "config file. Force deletes its subscriptions first, and is refused while any of them " +
        "holds dead letters.",
      parameters: [NAME, queryParam("force", "Delete its subscriptions too.", BOOL)],
      ok: { 202: null },
      errors: [400, 404, 409],
    },
  },
  "/services": {
    get: {
      operationId: "list_services",
      tag: "service",
      summary: "List services",
      ok: { 200: "ServiceList" },
      errors: [],
    },
    post: {
      operationId: "create_service",
      tag: "service",
      summary: "Register a service",
      body: "ServiceBody",
      ok: { 201: "Service" },
      location: true,
      errors: [400, 409],
    },
  },
  "/services/import": {
    post: {
      operationId: "import_services",
      tag: "service",
      summary: "Register the services a Restate admin API lists",
      description:
        "201 when it registered any, 200 when none; names already registered are skipped, never overwritten. 502 when the Restate admin API cannot be read.",
      body: "ServiceImportBody",
      ok: { 200: "ServiceImport", 201: "ServiceImport" },
      errors: [400, 501, 502],
    },
  },
  "/services/{name}": {
    get: {
      operationId: "get_service",
      tag: "service",
      summary: "Show a service",
      parameters: [SERVICE],
      ok: { 200: "Service" },
      errors: [404],
    },
    patch: {
      operationId: "update_service",
      tag: "service",
      summary: "Change a service's endpoint, invocation or auth",
      description:
        "Subscriptions keep going and pick the change up within the consumer's catalog cache time.",
      parameters: [SERVICE],
      body: "ServicePatch",
      ok: { 200: "Service" },
      errors: [400, 404, 409],
    },
    delete: {
      operationId: "delete_service",
      tag: "service",
      summary: "Delete a service",
      description: "Refused (409) while subscriptions use it.",
      parameters: [SERVICE],
      ok: { 202: null },
      errors: [404, 409],
    },
  },
  "/subscriptions": {
    get: {
      operationId: "list_subscriptions",
      tag: "subscription",
      summary: "List subscriptions",
      parameters: [
        queryParam("source", "Only those with exactly this source.", z.string()),
        queryParam("sink", "Only those with exactly this sink.", z.string()),
      ],
      ok: { 200: "SubscriptionList" },
      errors: [],
    },
    post: {
      operationId: "create_subscription",
      tag: "subscription",
      summary: "Create a subscription",
      description: "Creates its feed (an event source mapping on AWS); nothing is left on failure.",
      body: "SubscriptionBody",
      ok: { 201: "Subscription" },
      location: true,
      errors: [400, 409, 502],
    },
  },
  "/subscriptions/{id}": {
    get: {
      operationId: "get_subscription",
      tag: "subscription",
      summary: "Show a subscription",
      parameters: [ID],
      ok: { 200: "SubscriptionDetail" },
      errors: [404],
    },
    delete: {
      operationId: "delete_subscription",
      tag: "subscription",
      summary: "Delete a subscription",
      description:
        "Removes its feed, then its progress and dead letters; refused (409) while it has dead letters, unless `force=true`.",
      parameters: [ID, queryParam("force", "Drop its dead letters too.", BOOL)],
      ok: { 202: null },
      errors: [400, 404, 409, 502],
    },
  },
  "/subscriptions/{id}/pause": {
    post: {
      operationId: "pause_subscription",
      tag: "subscription",
      summary: "Pause a subscription (disable its feed)",
      parameters: [ID],
      ok: { 200: "Subscription" },
      errors: [404, 409],
    },
  },
  "/subscriptions/{id}/resume": {
    post: {
      operationId: "resume_subscription",
      tag: "subscription",
      summary: "Resume a paused subscription",
      parameters: [ID],
      ok: { 200: "Subscription" },
      errors: [404, 409],
    },
  },
  "/subscriptions/{id}/dead-letters": {
    get: {
      operationId: "list_dead_letters",
      tag: "dead_letter",
      summary: "List a subscription's dead letters",
      parameters: [
        ID,
        ...PAGE,
        queryParam(
          "partition",
          "Only this partition (a number, or `<topic>-<partition>`).",
          z.string(),
        ),
      ],
      ok: { 200: "DeadLetterPage" },
      errors: [400, 404, 501],
    },
  },
  "/subscriptions/{id}/dead-letters/replay": {
    post: {
      operationId: "replay_dead_letters",
      tag: "dead_letter",
      summary: "Deliver dead letters again",
      description:
        "Within one request's time budget; an incomplete answer says how to go on. Replaying a parked key's letters unparks it.",
      parameters: [ID],
      body: "ReplayBody",
      ok: { 200: "Replay" },
      errors: [400, 404, 409, 501],
    },
  },
  "/subscriptions/{id}/dead-letters/discard": {
    post: {
      operationId: "discard_dead_letters",
      tag: "dead_letter",
      summary: "Drop dead letters without delivering them",
      parameters: [ID],
      body: "DiscardBody",
      ok: { 200: "Discard" },
      errors: [400, 404, 501],
    },
  },
  "/subscriptions/{id}/parked-keys": {
    get: {
      operationId: "list_parked_keys",
      tag: "dead_letter",
      summary: "List a subscription's parked keys",
      parameters: [ID, ...PAGE],
      ok: { 200: "ParkedKeyPage" },
      errors: [400, 404, 501],
    },
  },
};

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  400: "Invalid request (the message names the field and the rule)",
  404: "Not found",
  409: "Conflict with the current state",
  501: "Not available in this deployment",
  502: "A dependency failed",
};

const ref = (name: SchemaName) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: unknown) => ({ "application/json": { schema } });

function plainSchema(schema: z.core.$ZodType): JsonObject {
  const { $schema: _dialect, ...generated } = z.toJSONSchema(schema) as JsonObject;
  return generated;
}

function operationObject(operation: Operation): JsonObject {
  const responses: JsonObject = {};
  for (const [status, schema] of Object.entries(operation.ok)) {
    responses[status] = {
      description: STATUS_TEXT[Number(status)] ?? "OK",
      ...(operation.location && status === "201"
        ? {
            headers: {
              Location: { description: "Where it can be read", schema: { type: "string" } },
            },
          }
        : {}),
      ...(schema === null
        ? {}
        : { content: jsonContent(schema === "object" ? { type: "object" } : ref(schema)) }),
    };
  }
  for (const status of operation.errors) {
    responses[String(status)] = {
      description: STATUS_TEXT[status] ?? "Error",
      content: jsonContent(ref("Error")),
    };
  }
  responses.default = {
    description:
      "Any other error (405 wrong method, 413 body too large, 415 not JSON, 500, 502), as Restate writes errors",
    content: jsonContent(ref("Error")),
  };
  return {
    operationId: operation.operationId,
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.description === undefined ? {} : { description: operation.description }),
    ...(operation.parameters === undefined
      ? {}
      : {
          parameters: operation.parameters.map((p) => ({
            name: p.name,
            in: p.in,
            required: p.in === "path",
            description: p.description,
            schema: plainSchema(p.schema),
          })),
        }),
    ...(operation.body === undefined
      ? {}
      : { requestBody: { required: true, content: jsonContent(ref(operation.body)) } }),
    responses,
  };
}

/** The OpenAPI 3.1 document of the admin API. */
function buildOpenApiDocument(): JsonObject {
  const paths: JsonObject = {};
  for (const [path, methods] of Object.entries(OPERATIONS)) {
    const item: JsonObject = {};
    for (const [method, operation] of Object.entries(methods)) {
      item[method] = operationObject(operation);
    }
    paths[path] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Admin API",
      version: PRODUCT_VERSION,
      description:
        "Kafka clusters, services and subscriptions, as Restate's admin API has them, delivered by " +
        `AWS Lambda. Every path is also served under the version prefixes /v${MIN_ADMIN_API_VERSION} ` +
        `to /v${MAX_ADMIN_API_VERSION}. Request bodies are JSON (content-type application/json); ` +
        "unknown fields are refused. On AWS, requests are signed (SigV4, IAM), or carry a JWT of " +
        "the issuer the stack was deployed with (Authorization: Bearer).",
    },
    tags: [
      { name: "meta", description: "Version, health and this document" },
      { name: "kafka_cluster", description: "Kafka clusters subscriptions read from" },
      { name: "service", description: "Services and their handlers, which subscriptions call" },
      { name: "subscription", description: "Subscriptions: a topic delivered to a handler" },
      { name: "dead_letter", description: "Records the consumer gave up on, and parked keys" },
    ],
    paths,
    components: { schemas: generateSchemas() },
  };
}

let documentText: string | undefined;

/** The document as served: built on first use, then kept. */
export function openApiDocumentText(): string {
  documentText ??= JSON.stringify(buildOpenApiDocument());
  return documentText;
}

export function openApiRoutes(): Routes {
  return {
    openapi: {
      GET: async () => ({
        status: 200,
        headers: { "content-type": "application/json" },
        body: openApiDocumentText(),
      }),
    },
  };
}

/** For tests and tools: the document as an object (a fresh copy). */
export const openApiDocument = (): JsonObject => JSON.parse(openApiDocumentText()) as JsonObject;
