// Importing services from a Restate admin API (`GET /services`) so that users need not re-type
// them: pure mapping from Restate's service listing to our ServiceDefinition, plus the body of
// `POST /services/import`. What cannot be invoked through an ingress (private services and
// handlers) or does not fit our model is skipped with a reason, never guessed.
import * as z from "zod/mini";
import { endpointSchema, parseBody, serviceBodySchema, serviceFromBody } from "./admin-schemas.ts";
import { ValidationError } from "./errors.ts";
import type { InvocationMode, PayloadFormat, ServiceDefinition, ServiceType } from "./model.ts";
import { quote, SERVICE_NAME_PATTERN } from "./uris.ts";
import "./zod-messages.ts";

/** `POST /services/import` body. */
export const importBodySchema = z.strictObject({
  /** Restate's admin API, e.g. `http://127.0.0.1:9070` (http/https only). */
  admin_url: endpointSchema,
  /** The ingress our consumer calls; default: the `ingress_endpoint` Restate's `/version` reports. */
  ingress_url: z.optional(endpointSchema),
  invocation: z.optional(z.enum(["call", "send"], { error: 'must be "call" or "send"' })),
  /** Only these services (default: every service Restate lists). */
  services: z.optional(
    z
      .array(
        z
          .string({ error: "must be a string" })
          .check(z.regex(SERVICE_NAME_PATTERN, { error: "must be a service name" })),
        { error: "must be an array of service names" },
      )
      .check(
        z.minLength(1, { error: "must name at least one service" }),
        z.maxLength(500, { error: "must name at most 500 services" }),
      ),
  ),
});
export type ImportBody = z.infer<typeof importBodySchema>;

export interface SkippedService {
  readonly name: string;
  readonly reason: string;
}

export interface ImportPlan {
  readonly services: ServiceDefinition[];
  readonly skipped: SkippedService[];
}

export interface ImportOptions {
  /** Endpoint of every imported service (a Restate ingress URL). */
  readonly ingressUrl: string;
  readonly invocation?: InvocationMode | undefined;
  /** Only these names; names Restate does not list are reported as skipped. */
  readonly only?: readonly string[] | undefined;
}

/** Reads a Restate admin API; implemented by src/adapters/restate-admin.ts. */
export interface RestateAdminReader {
  /** The parsed JSON of `GET {adminUrl}/services`. */
  listServices(adminUrl: string): Promise<unknown>;
  /** The `ingress_endpoint` of `GET {adminUrl}/version`, when Restate reports one. */
  ingressEndpoint(adminUrl: string): Promise<string | undefined>;
}

// Only the fields we read; Restate adds more over versions (retention, retry policy, ...).
const restateHandlerSchema = z.looseObject({
  name: z.string(),
  /** Exclusive | Shared | Workflow; absent for handlers of plain services. */
  ty: z.nullish(z.string()),
  public: z.nullish(z.boolean()),
  input_description: z.nullish(z.string()),
});
const restateServiceSchema = z.looseObject({
  name: z.string(),
  ty: z.string(),
  public: z.nullish(z.boolean()),
  handlers: z.array(restateHandlerSchema),
});
const restateListingSchema = z.looseObject({ services: z.array(z.unknown()) });

const SERVICE_TYPES: Readonly<Record<string, ServiceType>> = {
  Service: "service",
  VirtualObject: "virtual_object",
  Workflow: "workflow",
};

/**
 * The payload format of a handler from Restate's `input_description`: JSON (also no input, or
 * `one of ["none", "application/json"]`) stays JSON; any other content type (such as
 * `application/octet-stream` of `restate.serde.binary`) takes the record's raw bytes.
 */
export function inputFormat(description: string | null | undefined): PayloadFormat {
  const text = (description ?? "").trim().toLowerCase();
  if (text === "" || text === "none" || text.includes("json")) return "json";
  return "binary";
}

type RestateService = z.infer<typeof restateServiceSchema>;

/** One Restate service as a definition, or the reason it cannot be imported. */
function mapService(service: RestateService, options: ImportOptions): ServiceDefinition | string {
  const type = SERVICE_TYPES[service.ty];
  if (!type) return `unsupported service type ${quote(service.ty)}`;
  if (service.public === false) {
    return "private in Restate (ingressPrivate): it cannot be invoked through the ingress";
  }
  const handlers: Record<string, { shared?: boolean; input?: PayloadFormat }> = {};
  for (const handler of service.handlers) {
    if (handler.public === false) continue; // ingress-private: only other services call it
    const input = inputFormat(handler.input_description);
    handlers[handler.name] = {
      ...(handler.ty === "Shared" ? { shared: true } : {}),
      ...(input === "binary" ? { input } : {}),
    };
  }
  if (Object.keys(handlers).length === 0) {
    return "no handler of it can be invoked through the ingress (all are private)";
  }
  try {
    const body = parseBody(
      serviceBodySchema,
      {
        name: service.name,
        type,
        endpoint: options.ingressUrl,
        invocation: options.invocation ?? "call",
        handlers,
      },
      "service",
    );
    return serviceFromBody(body);
  } catch (error) {
    if (error instanceof ValidationError) return error.message;
    throw error;
  }
}

function nameOf(raw: unknown, index: number): string {
  const name =
    typeof raw === "object" && raw !== null ? (raw as { name?: unknown }).name : undefined;
  return typeof name === "string" ? name : `services[${index}]`;
}

/** Maps Restate's `GET /services` answer to service definitions (validated like `POST /services`). */
export function servicesFromRestate(listing: unknown, options: ImportOptions): ImportPlan {
  const parsedListing = restateListingSchema.safeParse(listing);
  if (!parsedListing.success) {
    throw new ValidationError(
      `the Restate admin API answered GET /services with something other than {"services": [...]}`,
    );
  }
  const wanted = options.only ? new Set(options.only) : undefined;
  const services: ServiceDefinition[] = [];
  const skipped: SkippedService[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of parsedListing.data.services.entries()) {
    const name = nameOf(raw, index);
    if (wanted && !wanted.has(name)) continue;
    seen.add(name);
    const parsed = restateServiceSchema.safeParse(raw);
    const mapped = parsed.success
      ? mapService(parsed.data, options)
      : "Restate listed it in a form we do not understand";
    if (typeof mapped === "string") skipped.push({ name, reason: mapped });
    else services.push(mapped);
  }
  for (const name of options.only ?? []) {
    if (!seen.has(name)) {
      skipped.push({ name, reason: "Restate does not list a service of that name" });
    }
  }
  services.sort((a, b) => a.name.localeCompare(b.name));
  return { services, skipped };
}
