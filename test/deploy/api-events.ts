// API Gateway HTTP API (payload format 2.0) events for the admin function: the recorded
// GET /subscriptions event, turned into any other request of the same API.
import { readFileSync } from "node:fs";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

export const recordedApiEvent = JSON.parse(
  readFileSync(new URL("./events/api-get-subscriptions.json", import.meta.url), "utf8"),
) as APIGatewayProxyEventV2;

/** The event API Gateway sends for `method path` (with a JSON body), as the template routes it. */
export function apiEvent(method: string, path: string, body?: unknown): APIGatewayProxyEventV2 {
  const event = structuredClone(recordedApiEvent);
  const route = path.replace(/^\/(subscriptions|kafka-clusters|services)\/[^/]+$/, (_m, c) =>
    c === "subscriptions" ? "/subscriptions/{id}" : `/${c}/{name}`,
  );
  event.rawPath = path;
  event.routeKey = `ANY ${route}`;
  event.requestContext.routeKey = event.routeKey;
  event.requestContext.http.method = method;
  event.requestContext.http.path = path;
  if (body !== undefined) {
    event.body = JSON.stringify(body);
    event.headers["content-type"] = "application/json";
    event.headers["content-length"] = String(Buffer.byteLength(event.body));
  }
  return event;
}

/** GET /version as API Gateway passes it behind the JWT authorizer (AdminJwtIssuer): the bearer
 * token in `authorization`, its claims (strings) and scopes under `requestContext.authorizer.jwt`. */
export const recordedJwtEvent = JSON.parse(
  readFileSync(new URL("./events/api-jwt-get-version.json", import.meta.url), "utf8"),
) as APIGatewayProxyEventV2;

/** The token the JWT event carries (what must never reach a log line). */
export const JWT_EVENT_TOKEN = String(recordedJwtEvent.headers.authorization).replace(
  /^Bearer /,
  "",
);

/** `apiEvent`, authorized by the JWT authorizer as in the recorded JWT event. */
export function jwtApiEvent(method: string, path: string, body?: unknown): APIGatewayProxyEventV2 {
  const event = apiEvent(method, path, body);
  const jwt = structuredClone(recordedJwtEvent);
  for (const name of ["x-amz-date", "x-amz-security-token"]) delete event.headers[name];
  event.headers.authorization = jwt.headers.authorization;
  event.headers["user-agent"] = jwt.headers["user-agent"];
  (event.requestContext as unknown as { authorizer: unknown }).authorizer = (
    jwt.requestContext as unknown as { authorizer: unknown }
  ).authorizer;
  return event;
}
