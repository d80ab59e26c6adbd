// Checks admin API calls against the OpenAPI document the API serves: which operation a request
// is, whether its body, query and response match that operation's schemas (ajv, JSON Schema
// 2020-12, the dialect of OpenAPI 3.1), and which operations a test exercised.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { withoutVersionPrefix } from "../../src/app/admin/router.ts";
import type { AdminApi } from "../../src/app/admin-api.ts";
import { type Call, call } from "./admin.ts";

interface MediaType {
  readonly schema: unknown;
}
interface ResponseSpec {
  readonly content?: Record<string, MediaType>;
  readonly headers?: Record<string, unknown>;
}
interface ParameterSpec {
  readonly name: string;
  readonly in: string;
  readonly required?: boolean;
  readonly schema: unknown;
}
export interface OperationSpec {
  readonly operationId: string;
  readonly parameters?: readonly ParameterSpec[];
  readonly requestBody?: { readonly content: Record<string, MediaType> };
  readonly responses: Record<string, ResponseSpec>;
}
export interface OpenApiDocument {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, OperationSpec>>;
  readonly components: { readonly schemas: Record<string, unknown> };
}

const SCHEMA_REF = "#/components/schemas/";
const urn = (name: string) => `urn:admin-openapi:${name}`;

/** The document's `$ref`s to components, as ids ajv knows the components by. */
function withUrnRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withUrnRefs);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] =
      key === "$ref" && typeof inner === "string" && inner.startsWith(SCHEMA_REF)
        ? urn(inner.slice(SCHEMA_REF.length))
        : withUrnRefs(inner);
  }
  return out;
}

export const operationKey = (method: string, template: string) =>
  `${method.toUpperCase()} ${template}`;

export class OpenApiChecker {
  readonly #ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  readonly #compiled = new Map<unknown, ValidateFunction>();
  /** `METHOD /template` → statuses seen. */
  readonly exercised = new Map<string, Set<number>>();

  readonly document: OpenApiDocument;

  constructor(document: OpenApiDocument) {
    this.document = document;
    for (const [name, schema] of Object.entries(document.components.schemas)) {
      this.#ajv.addSchema(withUrnRefs(schema) as object, urn(name));
    }
  }

  /** Problems of `value` against `schema` (a schema of the document), none when it matches. */
  problems(schema: unknown, value: unknown, what: string): string[] {
    let validate = this.#compiled.get(schema);
    if (validate === undefined) {
      validate = this.#ajv.compile(withUrnRefs(schema) as object);
      this.#compiled.set(schema, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) => `${what}: ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }

  /** The operation a request is, matching exact paths before templates (`/services/import`). */
  find(method: string, path: string): { template: string; operation: OperationSpec } | undefined {
    const clean = withoutVersionPrefix(path.split("?")[0] ?? "");
    const segments = clean.split("/").map((s) => decodeURIComponent(s));
    const candidates = Object.keys(this.document.paths).sort(
      (a, b) => (a.includes("{") ? 1 : 0) - (b.includes("{") ? 1 : 0),
    );
    for (const template of candidates) {
      const parts = template.split("/");
      if (parts.length !== segments.length) continue;
      if (!parts.every((part, i) => part.startsWith("{") || part === segments[i])) continue;
      const operation = this.document.paths[template]?.[method.toLowerCase()];
      if (operation) return { template, operation };
    }
    return undefined;
  }

  /** Everything in a call that the document does not say: request body, query, response. */
  callProblems(
    method: string,
    path: string,
    body: unknown,
    query: Record<string, string>,
    response: Pick<Call, "status" | "headers" | "body">,
  ): string[] {
    const found = this.find(method, path);
    if (!found) return [`${method} ${path} is not in the document`];
    const { template, operation } = found;
    const key = operationKey(method, template);
    const statuses = this.exercised.get(key) ?? new Set<number>();
    statuses.add(response.status);
    this.exercised.set(key, statuses);
    const problems: string[] = [];
    const accepted = response.status < 400;

    for (const [name, value] of Object.entries(query)) {
      const parameter = operation.parameters?.find((p) => p.in === "query" && p.name === name);
      if (!parameter) problems.push(`${key}: query parameter ${name} is not in the document`);
      else if (accepted) problems.push(...this.problems(parameter.schema, value, `query ${name}`));
    }
    const bodySchema = operation.requestBody?.content["application/json"]?.schema;
    if (body !== undefined && bodySchema === undefined && accepted) {
      problems.push(`${key}: takes no request body in the document`);
    }
    // A body the API accepted must be one the document allows.
    if (body !== undefined && bodySchema !== undefined && accepted) {
      const value = typeof body === "string" ? JSON.parse(body) : body;
      problems.push(...this.problems(bodySchema, value, `${key} request body`));
    }

    const spec = operation.responses[String(response.status)] ?? operation.responses.default;
    if (!spec) return [...problems, `${key}: status ${response.status} is not in the document`];
    if (operation.responses[String(response.status)] === undefined && accepted) {
      problems.push(`${key}: success status ${response.status} is not in the document`);
    }
    const media = spec.content?.["application/json"];
    if (media === undefined) {
      if (response.body !== "")
        problems.push(`${key} ${response.status}: body where none is documented`);
    } else {
      if (response.headers["content-type"] !== "application/json") {
        problems.push(
          `${key} ${response.status}: content-type ${response.headers["content-type"]}`,
        );
      }
      problems.push(
        ...this.problems(media.schema, JSON.parse(response.body), `${key} ${response.status}`),
      );
    }
    for (const header of Object.keys(spec.headers ?? {})) {
      if (response.headers[header.toLowerCase()] === undefined) {
        problems.push(`${key} ${response.status}: no ${header} header`);
      }
    }
    return problems;
  }
}

/** `call`, with every request and response checked against the document (throws on a mismatch). */
export function checkedCaller(api: AdminApi, checker: OpenApiChecker) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    query: Record<string, string> = {},
  ): Promise<Call> => {
    const response = await call(api, method, path, body, query);
    const problems = checker.callProblems(method, path, body, query, response);
    if (problems.length > 0) {
      throw new Error(
        `${method} ${path} → ${response.status} ${response.body}\n${problems.join("\n")}`,
      );
    }
    return response;
  };
}
