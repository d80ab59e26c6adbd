// The admin API's HTTP plumbing, independent of any transport: the admin API version prefix
// (`/v2`…`/v4`, as Restate serves them), routing by path and method (404, 405), the body size
// limit (413), JSON bodies in (415 for any other type) and out, and the one place where the error
// vocabulary maps to status codes and Restate's error body `{message, restate_code}`
// (`toResponse`); 5xx bodies carry no details beyond the messages written for the caller, the
// rest goes to the log.
import { isJsonContentType } from "../../core/admin-request-policy.ts";
import {
  AlreadyExistsError,
  BodyTooLargeError,
  ConflictError,
  DependencyError,
  DependencyFailedError,
  errorMessage,
  MethodNotAllowedError,
  NotFoundError,
  NotSupportedError,
  restateCodeOf,
  UnsupportedContentTypeError,
  ValidationError,
} from "../../core/errors.ts";
import { quote } from "../../core/uris.ts";
import type { AdminContext } from "./context.ts";
import type { AdminRequest, AdminResponse } from "./types.ts";

/** The admin API versions served, as Restate 1.7 numbers them (every version has the same routes). */
export const MIN_ADMIN_API_VERSION = 2;
export const MAX_ADMIN_API_VERSION = 4;

const JSON_HEADERS = { "content-type": "application/json" };

export const json = (
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): AdminResponse => ({
  status,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(value),
});

export const accepted = (): AdminResponse => ({ status: 202, headers: {}, body: "" });

export function errorDetail(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { error: error.name, detail: error.message, stack: error.stack };
  }
  return { error: String(error) };
}

/** Long request paths are cut in messages. */
const shorten = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

export type Handler = (request: AdminRequest, params: readonly string[]) => Promise<AdminResponse>;
export type Routes = Record<string, Partial<Record<string, Handler>>>;

/** A request header by name, whatever the case of the name the transport gave it. */
function header(request: AdminRequest, name: string): string | undefined {
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

export function readJson(request: AdminRequest): unknown {
  const body = request.body;
  if (body === undefined || body.trim() === "") {
    throw new ValidationError("request body is required (a JSON object)");
  }
  let pollution = false;
  let parsed: unknown;
  try {
    // A "__proto__" member would be dropped silently by the schemas (or worse, by code that
    // copies objects): refuse it outright.
    parsed = JSON.parse(body, (key, value: unknown) => {
      if (key === "__proto__") pollution = true;
      return value;
    });
  } catch {
    throw new ValidationError("request body is not valid JSON");
  }
  if (pollution) {
    throw new ValidationError('request body must not contain a field named "__proto__"');
  }
  return parsed;
}

/**
 * The path without its admin API version prefix: Restate's tools put `/v{N}` before every path
 * once `GET /version` told them the versions served, and every version has the same routes.
 */
export function withoutVersionPrefix(path: string): string {
  const match = /^\/v(\d+)(?=\/|\?|$)/.exec(path);
  if (!match) return path;
  const version = Number(match[1]);
  if (version >= MIN_ADMIN_API_VERSION && version <= MAX_ADMIN_API_VERSION) {
    return path.slice(match[0].length) || "/";
  }
  if (version < MIN_ADMIN_API_VERSION) {
    throw new ValidationError(
      `Unsupported Admin API version V${version}. This server supports versions between V${MIN_ADMIN_API_VERSION} and V${MAX_ADMIN_API_VERSION}.`,
    );
  }
  return path;
}

/** Answers requests from the route table: one handler per path pattern and method. */
export function createRouter(
  routes: Routes,
  ctx: AdminContext,
): (request: AdminRequest) => Promise<AdminResponse> {
  const { deps, log } = ctx;

  function route(path: string): { pattern: string; params: string[] } {
    const raw = path.split("?")[0] ?? "";
    const segments = raw.split("/").filter((segment, index, all) => {
      // drop the leading empty segment and one trailing slash
      if (index === 0 && segment === "") return false;
      return !(index === all.length - 1 && segment === "");
    });
    let decoded: string[];
    try {
      decoded = segments.map((segment) => decodeURIComponent(segment));
    } catch {
      throw new ValidationError("request path is not valid URL encoding");
    }
    const [collection, item, ...extra] = decoded;
    if (
      collection === undefined ||
      item === "" ||
      !Object.hasOwn(routes, collection) ||
      extra.some((segment) => segment === "" || segment.includes("/"))
    ) {
      throw new NotFoundError(`no route for ${quote(shorten(raw))}`);
    }
    if (item === undefined) return { pattern: collection, params: [] };
    // Segments become DynamoDB keys: lone surrogates cannot be encoded, and no name or id is
    // longer than a sort key may be (1,024 bytes), so neither can name anything that exists.
    if (/\p{Surrogate}/u.test(item)) {
      throw new ValidationError("request path is not valid URL encoding");
    }
    if (Buffer.byteLength(item, "utf8") > 1024) {
      throw new NotFoundError(`${quote(shorten(item))} not found`);
    }
    const base = `${collection}/:${collection === "subscriptions" ? "id" : "name"}`;
    const pattern = extra.length === 0 ? base : `${base}/${extra.join("/")}`;
    if (!Object.hasOwn(routes, pattern))
      throw new NotFoundError(`no route for ${quote(shorten(raw))}`);
    return { pattern, params: [item] };
  }

  function toResponse(error: unknown, request: AdminRequest): AdminResponse {
    // Restate's error body: the CLI prints `restate_code` before the message. Where Restate has a
    // code for the failure, the message starts with it in brackets, as Restate's does.
    const code = restateCodeOf(error);
    const message = {
      message: code === undefined ? errorMessage(error) : `[${code}] ${errorMessage(error)}`,
      restate_code: code ?? null,
    };
    if (error instanceof MethodNotAllowedError) {
      return json(405, message, { allow: error.allowed.join(", ") });
    }
    if (error instanceof BodyTooLargeError) return json(413, message);
    if (error instanceof UnsupportedContentTypeError) return json(415, message);
    if (error instanceof ValidationError) return json(400, message);
    if (error instanceof NotFoundError) return json(404, message);
    if (error instanceof AlreadyExistsError || error instanceof ConflictError) {
      return json(409, message);
    }
    if (error instanceof NotSupportedError) return json(501, message);
    if (error instanceof DependencyFailedError) return json(502, message);
    const where = { method: request.method, path: request.path };
    if (error instanceof DependencyError) {
      log({ level: "error", msg: "admin: dependency failed", ...where, ...errorDetail(error) });
      return json(502, { message: "a dependency failed; try again later", restate_code: null });
    }
    log({ level: "error", msg: "admin: internal error", ...where, ...errorDetail(error) });
    return json(500, { message: "internal error", restate_code: null });
  }

  async function handle(request: AdminRequest): Promise<AdminResponse> {
    try {
      const { pattern, params } = route(withoutVersionPrefix(request.path));
      const methods = routes[pattern] ?? {};
      const method = request.method.toUpperCase();
      const handler = methods[method];
      if (!handler) {
        throw new MethodNotAllowedError(method, Object.keys(methods));
      }
      if (
        request.body !== undefined &&
        Buffer.byteLength(request.body, "utf8") > deps.maxBodyBytes
      ) {
        throw new BodyTooLargeError(`request body is larger than ${deps.maxBodyBytes} bytes`);
      }
      // Browsers send text/plain, form and multipart bodies to any site without asking it first.
      const type = header(request, "content-type");
      if (request.body !== undefined && request.body !== "" && !isJsonContentType(type)) {
        throw new UnsupportedContentTypeError(
          `request bodies must be JSON with content-type application/json, got ${type === undefined ? "none" : quote(type)}`,
        );
      }
      return await handler(request, params);
    } catch (error) {
      return toResponse(error, request);
    }
  }

  return handle;
}
