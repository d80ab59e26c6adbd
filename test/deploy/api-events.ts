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
