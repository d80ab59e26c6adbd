// Request bodies of the admin API: zod schemas (strict: unknown keys are refused) and one readable
// message per invalid body. Messages name fields, never echo values.
import * as z from "zod/mini";
import { ValidationError } from "./errors.ts";
import type { HandlerSpec, ServiceDefinition } from "./model.ts";
import { SECRET_ARN_PATTERN } from "./secrets.ts";
import { CLUSTER_NAME_PATTERN, HANDLER_NAME_PATTERN, SERVICE_NAME_PATTERN } from "./uris.ts";
import { issuePath } from "./zod-messages.ts";

const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: "must be a string, a number or a boolean",
});

export const subscriptionBodySchema = z.strictObject({
  source: z.string({ error: "is required and must be a string like kafka://<cluster>/<topic>" }),
  sink: z.string({ error: "is required and must be a string like service://<Service>/<handler>" }),
  // Restate's CLI sends `"options": null` for a subscription without options.
  options: z.optional(z.nullable(z.record(z.string(), scalar, { error: "must be an object" }))),
});
export type SubscriptionBody = z.infer<typeof subscriptionBodySchema>;

export const clusterBodySchema = z.strictObject({
  name: z
    .string({ error: "is required and must be a string" })
    .check(z.regex(CLUSTER_NAME_PATTERN, { error: "must be 1 to 64 letters, digits, '_' or '-'" })),
  properties: z.record(z.string(), scalar, { error: "is required and must be an object" }),
});
export type ClusterBody = z.infer<typeof clusterBodySchema>;

/** `PATCH /kafka-clusters/{name}`: the whole new properties map, as Restate's CLI sends it. */
export const clusterPatchSchema = z.strictObject({
  properties: z.record(z.string(), scalar, { error: "is required and must be an object" }),
});
export type ClusterPatch = z.infer<typeof clusterPatchSchema>;

/** An http(s) URL without credentials, query or fragment. */
export const endpointSchema = z.string({ error: "is required and must be a string" }).check(
  z.superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an absolute http:// or https:// URL" });
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
    } else if (url.username || url.password) {
      ctx.addIssue({ code: "custom", message: "must not contain credentials" });
    } else if (url.search || url.hash) {
      ctx.addIssue({ code: "custom", message: "must not contain a query or a fragment" });
    }
  }),
);

const handlerSchema = z.strictObject(
  {
    shared: z.optional(z.boolean({ error: "must be a boolean" })),
    input: z.optional(z.enum(["json", "binary"], { error: 'must be "json" or "binary"' })),
  },
  { error: "must be an object" },
);

const SECRET_REFERENCE_HINT =
  "store the token in AWS Secrets Manager and give the secret's ARN as " +
  'auth.bearer_token_secret ("arn:aws:secretsmanager:<region>:<account>:secret:<name>")';

/**
 * `{"bearer_token_secret": "<Secrets Manager ARN>"}`. Any other field (a clear `token`,
 * `bearer_token`, `password`...) is refused with a message asking for a secret reference; no
 * message ever echoes a value.
 */
const authSchema = z.pipe(
  z
    .record(z.string(), z.unknown(), {
      error: `must be an object like {"bearer_token_secret": "arn:aws:secretsmanager:..."}: ${SECRET_REFERENCE_HINT}`,
    })
    .check(z.superRefine(checkAuth)),
  z.transform((auth: Record<string, unknown>) => ({
    bearer_token_secret: auth.bearer_token_secret as string,
  })),
);

function checkAuth(auth: Record<string, unknown>, ctx: z.core.$RefinementCtx): void {
  for (const key of Object.keys(auth)) {
    if (key === "bearer_token_secret") continue;
    ctx.addIssue({
      code: "custom",
      path: [key],
      message: `is not accepted: credentials are never sent in clear; ${SECRET_REFERENCE_HINT}`,
    });
  }
  const ref = auth.bearer_token_secret;
  if (ref === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["bearer_token_secret"],
      message: `is required: ${SECRET_REFERENCE_HINT}`,
    });
  } else if (typeof ref !== "string" || !SECRET_ARN_PATTERN.test(ref)) {
    ctx.addIssue({
      code: "custom",
      path: ["bearer_token_secret"],
      message:
        "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), " +
        "not a token: store the token in AWS Secrets Manager and give the secret's ARN",
    });
  }
}

export const serviceBodySchema = z
  .strictObject({
    name: z.string({ error: "is required and must be a string" }).check(
      z.regex(SERVICE_NAME_PATTERN, {
        error:
          "must start with a letter or '_', then letters, digits, '_', '.' or '-' (at most 128)",
      }),
    ),
    type: z.enum(["service", "virtual_object", "workflow"], {
      error: 'must be "service", "virtual_object" or "workflow"',
    }),
    endpoint: endpointSchema,
    invocation: z.optional(z.enum(["call", "send"], { error: 'must be "call" or "send"' })),
    handlers: z.record(z.string(), handlerSchema, { error: "is required and must be an object" }),
    auth: z.optional(authSchema),
  })
  .check(
    z.superRefine((body, ctx) => {
      const names = Object.keys(body.handlers);
      if (names.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["handlers"],
          message: "must declare at least one handler",
        });
      }
      for (const name of names) {
        if (!HANDLER_NAME_PATTERN.test(name)) {
          ctx.addIssue({
            code: "custom",
            path: ["handlers", name],
            message:
              "is not a valid handler name: start with a letter or '_', then letters, digits or '_'",
          });
        }
        if (body.handlers[name]?.shared === true && body.type === "service") {
          ctx.addIssue({
            code: "custom",
            path: ["handlers", name, "shared"],
            message: "is only allowed for virtual_object and workflow services",
          });
        }
      }
    }),
  );
export type ServiceBody = z.infer<typeof serviceBodySchema>;

/**
 * `PATCH /services/{name}`: what can change while subscriptions use the service — where it is,
 * how it is called and how it authenticates (`auth: null` removes it). Type and handlers decide
 * the paths and ordering of existing subscriptions: register a new service for those.
 */
export const servicePatchSchema = z
  .strictObject({
    endpoint: z.optional(endpointSchema),
    invocation: z.optional(z.enum(["call", "send"], { error: 'must be "call" or "send"' })),
    auth: z.optional(z.nullable(authSchema)),
  })
  .check(
    z.refine((body) => Object.keys(body).length > 0, {
      error: 'give at least one of "endpoint", "invocation" or "auth"',
    }),
  );

export type ServicePatch = z.infer<typeof servicePatchSchema>;

// ---- dead letters ----------------------------------------------------------------------------

/** A Kafka partition number, or a partition id `<topic>-<partition>`. */
const partitionSchema = z.union(
  [
    z.number().check(z.int(), z.gte(0), z.lte(2_147_483_647)),
    z.string().check(z.regex(/^[A-Za-z0-9._-]{1,249}-\d{1,10}$/)),
  ],
  { error: "must be a partition number or a partition id like <topic>-<partition>" },
);
const offsetSchema = z.union(
  [
    z.number().check(z.int(), z.gte(0), z.lte(Number.MAX_SAFE_INTEGER)),
    z.string().check(z.regex(/^\d{1,16}$/)),
  ],
  { error: "must be a whole number (the record's offset)" },
);
/** `<topic>-<partition>#<base64 key | sha256:hex>`, as `parkedKeyId` makes them. */
const keyIdSchema = z
  .string({ error: "must be a string (a parked key id from GET .../parked-keys)" })
  .check(
    z.maxLength(1024, { error: "must be at most 1024 characters" }),
    z.regex(/^[A-Za-z0-9._-]{1,249}-\d{1,10}#(?:[A-Za-z0-9+/]+={0,2}|sha256:[0-9a-f]{64})$/, {
      error: "must be a parked key id like <topic>-<partition>#<base64 key> (GET .../parked-keys)",
    }),
  );

function exactlyOneTarget(
  body: {
    key_id?: unknown;
    all?: unknown;
    cursor?: unknown;
    partition?: unknown;
    offset?: unknown;
    variant?: unknown;
  },
  ctx: z.core.$RefinementCtx,
) {
  const forms = [
    body.key_id !== undefined,
    body.all !== undefined,
    body.partition !== undefined || body.offset !== undefined,
  ].filter(Boolean).length;
  if (forms !== 1) {
    ctx.addIssue({
      code: "custom",
      message: 'give exactly one of "key_id", "all": true, or "partition" with "offset"',
    });
  } else if (body.cursor !== undefined && body.all === undefined) {
    ctx.addIssue({ code: "custom", message: '"cursor" goes with "all": true' });
  } else if ((body.partition === undefined) !== (body.offset === undefined)) {
    ctx.addIssue({ code: "custom", message: '"partition" and "offset" go together' });
  } else if (body.variant !== undefined && body.offset === undefined) {
    ctx.addIssue({ code: "custom", message: '"variant" goes with "partition" and "offset"' });
  }
}

const targetShape = {
  key_id: z.optional(keyIdSchema),
  all: z.optional(z.literal(true, { error: "must be true" })),
  /** With `all`: where an earlier incomplete call stopped (its answer's `cursor`). */
  cursor: z.optional(
    z
      .string({ error: "must be the cursor of an earlier answer" })
      .check(
        z.regex(/^[A-Za-z0-9_-]{1,2048}$/, { error: "must be the cursor of an earlier answer" }),
      ),
  ),
  partition: z.optional(partitionSchema),
  offset: z.optional(offsetSchema),
  /** A letter's `variant` (another record parked at a reused offset). */
  variant: z.optional(
    z
      .string({ error: "must be a letter's variant (8 hex digits)" })
      .check(z.regex(/^[0-9a-f]{8}$/, { error: "must be a letter's variant (8 hex digits)" })),
  ),
};

/** `POST /subscriptions/{id}/dead-letters/replay`. */
export const replayBodySchema = z.strictObject(targetShape).check(z.superRefine(exactlyOneTarget));
/** `POST /subscriptions/{id}/dead-letters/discard`. */
export const discardBodySchema = z.strictObject(targetShape).check(z.superRefine(exactlyOneTarget));
export type DeadLetterTargetBody = z.infer<typeof replayBodySchema>;

const CREDENTIAL_LIKE =
  /token|secret|passw|authori[sz]ation|credential|api[_-]?key|bearer|headers/i;

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issuePath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(", ");
    const noun = issue.keys.length > 1 ? "unknown fields" : "unknown field";
    const text = where ? `${where}: ${noun} ${keys}` : `${noun} ${keys}`;
    // A clear credential put where a service body has none: say what to do instead.
    return issue.keys.some((key) => CREDENTIAL_LIKE.test(key))
      ? `${text} (credentials are never accepted in clear: ${SECRET_REFERENCE_HINT})`
      : text;
  }
  if (issue.path.length === 0 && issue.code === "invalid_type") return "body must be a JSON object";
  return where ? `${where} ${issue.message}` : issue.message;
}

/** Parses `value` with `schema`, or throws one ValidationError listing every problem. */
export function parseBody<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map(describeIssue);
  throw new ValidationError(`invalid ${what}: ${problems.join("; ")}`);
}

/** The stored form of a service body, defaults applied and the endpoint without trailing '/'. */
export function serviceFromBody(body: ServiceBody): ServiceDefinition {
  const handlers: Record<string, HandlerSpec> = {};
  for (const [name, spec] of Object.entries(body.handlers)) {
    handlers[name] = { shared: spec.shared ?? false, input: spec.input ?? "json" };
  }
  return {
    name: body.name,
    type: body.type,
    endpoint: body.endpoint.replace(/\/+$/, ""),
    invocation: body.invocation ?? "call",
    handlers,
    ...(body.auth ? { auth: { bearer_token_secret: body.auth.bearer_token_secret } } : {}),
  };
}
