// API Gateway HTTP API (payload format 2.0) entry point of the admin API. Thin: it maps the event
// to an AdminRequest and the AdminResponse back; everything else lives in app/admin-api.ts.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { DynamoAdminStore } from "../adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../adapters/dynamo/progress-store.ts";
import { LambdaFeedControl } from "../adapters/lambda-feeds.ts";
import { ConsumerFunctionReplay } from "../adapters/lambda-replay.ts";
import { consumerFunctionTokenCheck } from "../adapters/lambda-token-check.ts";
import { secretsManagerKafkaBindings } from "../adapters/secrets-manager.ts";
import { type AdminApiDeps, type AdminRequest, createAdminApi } from "../app/admin-api.ts";
import { type AdminConfig, adminConfig } from "../config.ts";

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
        ? Buffer.from(event.body, "base64").toString("utf8")
        : event.body;
  return {
    method: event.requestContext?.http?.method ?? "GET",
    path: pathOf(event),
    query: { ...(event.queryStringParameters ?? {}) },
    headers: { ...(event.headers ?? {}) },
    body,
  };
}

/** Builds the handler from explicit dependencies (tests, or other wiring). */
export function createAdminHandler(deps: AdminApiDeps): AdminHandler {
  const api = createAdminApi(deps);
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

/** The production wiring: DynamoDB store and Lambda event source mappings, from the environment. */
export function adminHandlerFromConfig(config: AdminConfig): AdminHandler {
  if (!config.CONSUMER_FUNCTION_NAME) {
    throw new Error(
      "Invalid admin configuration: CONSUMER_FUNCTION_NAME is required (name or ARN of the consumer function that event source mappings invoke)",
    );
  }
  const dynamodb = new DynamoDBClient(
    config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {},
  );
  const lambda = new LambdaClient({});
  const store = new DynamoAdminStore(dynamodb, config.TABLE_NAME);
  // Replays run in the consumer function, which may read the sink tokens this role is denied.
  // An attempt takes at most half the budget, so each request's first letter gets a whole one.
  const replay = new ConsumerFunctionReplay(
    lambda,
    config.CONSUMER_FUNCTION_NAME,
    Math.min(config.REPLAY_REQUEST_TIMEOUT_MS, Math.floor(config.REPLAY_BUDGET_MS / 2)),
  );
  return createAdminHandler({
    store,
    feeds: new LambdaFeedControl(lambda, config.CONSUMER_FUNCTION_NAME),
    maxBodyBytes: config.MAX_BODY_BYTES,
    deadLetters: new DynamoDeadLetterStore(dynamodb, config.TABLE_NAME),
    progress: new DynamoProgressStore(dynamodb, config.TABLE_NAME),
    replayDelivery: (subscription) => replay.forSubscription(subscription),
    replayBudgetMs: config.REPLAY_BUDGET_MS,
    deleteSettleMs: config.DELETE_SETTLE_MS,
    ...(config.SERVICE_ENDPOINT_ALLOW ? { endpointAllow: config.SERVICE_ENDPOINT_ALLOW } : {}),
    // Where a sink token may go is in its secret, which only the consumer may read; a Kafka
    // secret's brokers are in its tags, which this role may describe (never its value).
    sinkTokenCheck: consumerFunctionTokenCheck(lambda, config.CONSUMER_FUNCTION_NAME),
    kafkaSecretBindings: secretsManagerKafkaBindings(),
  });
}

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
        body: JSON.stringify({ message: "internal error" }),
        isBase64Encoded: false,
      };
    }
  }
  return coldStart(event);
};
