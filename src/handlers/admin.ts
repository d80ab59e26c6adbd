// API Gateway HTTP API (payload format 2.0) entry point of the admin API. Thin: it maps the event
// to an AdminRequest and the AdminResponse back; wiring/admin.ts builds the API behind it.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { AdminApi, AdminApiDeps, AdminRequest } from "../app/admin-api.ts";
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

/** The handler answering with `api`. */
export function adminHandlerFor(api: AdminApi): AdminHandler {
  return async (event) => {
    const response = await api.handle(toAdminRequest(event));
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
  adminHandlerFor(adminApi(deps));

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
