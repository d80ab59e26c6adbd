// API Gateway HTTP API (payload format 2.0) entry point of the admin API. Thin: it maps the event
// to an AdminRequest and the AdminResponse back, and logs who changed what (the IAM caller, or the
// JWT's subject and issuer, never a token); wiring/admin.ts builds the API behind it.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { AdminApi, AdminApiDeps, AdminLog, AdminRequest } from "../app/admin-api.ts";
import { type AdminConfig, adminConfig } from "../config.ts";
import { base64ToUtf8 } from "../core/encoding.ts";
import { adminApi, awsAdminApi } from "../wiring/admin.ts";

export type AdminHandler = (
  event: APIGatewayProxyEventV2,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** The request path without the stage prefix of a named (non-`$default`) stage. */
function pathOf(event: APIGatewayProxyEventV2): string {
  const path = event.rawPath || "/";
  const stage = event.requestContext?.stage;
  if (stage && stage !== "$default") {
    const prefix = `/${stage}`;
    if (path === prefix) return "/";
    if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length);
  }
  return path;
}

export function toAdminRequest(event: APIGatewayProxyEventV2): AdminRequest {
  const body =
    event.body === undefined || event.body === null
      ? undefined
      : event.isBase64Encoded
        ? base64ToUtf8(event.body)
        : event.body;
  return {
    method: event.requestContext?.http?.method ?? "GET",
    path: pathOf(event),
    query: { ...(event.queryStringParameters ?? {}) },
    headers: { ...(event.headers ?? {}) },
    body,
  };
}

/** Who API Gateway let through: an IAM principal (SigV4) or a JWT's claims (JWT authorizer). */
export type AdminCaller =
  | {
      readonly auth: "iam";
      readonly userArn: string | undefined;
      readonly accountId: string | undefined;
    }
  | {
      readonly auth: "jwt";
      readonly sub: string | undefined;
      readonly iss: string | undefined;
      readonly clientId: string | undefined;
      readonly scopes: readonly string[] | undefined;
    }
  | { readonly auth: "none" };

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * The caller from `requestContext.authorizer` as API Gateway passes it: `iam` (userArn,
 * accountId) on SigV4 routes, `jwt.claims` (all strings, arrays flattened to text) and
 * `jwt.scopes` (null without a scope claim) on JWT routes. Only the identifying claims are
 * taken: never the token, nor any other claim.
 */
export function callerOf(event: APIGatewayProxyEventV2): AdminCaller {
  const authorizer = record(record(event.requestContext)?.authorizer);
  const jwt = record(authorizer?.jwt);
  if (jwt) {
    const claims = record(jwt.claims) ?? {};
    const scopes = Array.isArray(jwt.scopes)
      ? jwt.scopes.filter((scope): scope is string => typeof scope === "string")
      : undefined;
    return {
      auth: "jwt",
      sub: text(claims.sub),
      iss: text(claims.iss),
      clientId: text(claims.client_id) ?? text(claims.azp),
      scopes,
    };
  }
  const iam = record(authorizer?.iam);
  if (iam) {
    return { auth: "iam", userArn: text(iam.userArn), accountId: text(iam.accountId) };
  }
  return { auth: "none" };
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);
const defaultLog: AdminLog = (entry) => console.info(JSON.stringify(entry));

/** The handler answering with `api`; requests that change something are logged with their caller. */
export function adminHandlerFor(api: AdminApi, log: AdminLog = defaultLog): AdminHandler {
  return async (event) => {
    const request = toAdminRequest(event);
    const response = await api.handle(request);
    if (!READS.has(request.method.toUpperCase())) {
      log({
        level: "info",
        msg: "admin: change requested",
        method: request.method,
        path: request.path,
        status: response.status,
        caller: callerOf(event),
        requestId: event.requestContext?.requestId,
      });
    }
    return {
      statusCode: response.status,
      headers: response.headers,
      body: response.body,
      isBase64Encoded: false,
    };
  };
}

/** Builds the handler from explicit dependencies (tests, or other wiring). */
export const createAdminHandler = (deps: AdminApiDeps): AdminHandler =>
  adminHandlerFor(adminApi(deps), deps.log);

/** The AWS deployment's handler: DynamoDB, Lambda and Secrets Manager, from the environment. */
export const adminHandlerFromConfig = (config: AdminConfig): AdminHandler =>
  adminHandlerFor(awsAdminApi(config));

let coldStart: AdminHandler | undefined;

/** Lambda entry point; wiring happens once, on the first invocation. */
export const handler: AdminHandler = async (event) => {
  if (!coldStart) {
    try {
      coldStart = adminHandlerFromConfig(adminConfig());
    } catch (error) {
      console.error(
        JSON.stringify({ level: "error", msg: "admin: cannot start", error: String(error) }),
      );
      return {
        statusCode: 500,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "internal error", restate_code: null }),
        isBase64Encoded: false,
      };
    }
  }
  return coldStart(event);
};
