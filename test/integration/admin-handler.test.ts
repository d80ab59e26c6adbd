import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import {
  adminHandlerFromConfig,
  createAdminHandler,
  handler,
  toAdminRequest,
} from "../../src/handlers/admin.ts";
import { FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

/** A realistic API Gateway HTTP API (payload 2.0) event, cloned per test. */
function httpApiEvent(over: {
  method: string;
  path: string;
  body?: string;
  base64?: boolean;
  query?: Record<string, string>;
  stage?: string;
  /** Default application/json; null: no content-type header. */
  contentType?: string | null;
}): APIGatewayProxyEventV2 {
  const stage = over.stage ?? "$default";
  const rawPath = stage === "$default" ? over.path : `/${stage}${over.path}`;
  const rawQueryString = new URLSearchParams(over.query ?? {}).toString();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers: {
      accept: "*/*",
      "content-length": String(over.body?.length ?? 0),
      ...(over.contentType === null
        ? {}
        : { "content-type": over.contentType ?? "application/json" }),
      host: "abc123.execute-api.eu-west-1.amazonaws.com",
      "user-agent": "curl/8.5.0",
      "x-amzn-trace-id": "Root=1-65f0c0de-0123456789abcdef01234567",
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
    },
    ...(over.query ? { queryStringParameters: over.query } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "abc123",
      http: {
        method: over.method,
        path: rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.7",
        userAgent: "curl/8.5.0",
      },
      requestId: "UvF9qjs5joEEMYw=",
      routeKey: "$default",
      stage,
      time: "12/Mar/2025:10:15:30 +0000",
      timeEpoch: 1741774530000,
    },
    ...(over.body !== undefined
      ? { body: over.base64 ? Buffer.from(over.body).toString("base64") : over.body }
      : {}),
    isBase64Encoded: over.base64 ?? false,
  };
}

let dynamo: TestDynamo;
let store: DynamoAdminStore;
let feeds: FakeFeedControl;

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  store = await dynamo.freshStore();
  feeds = new FakeFeedControl();
});

describe("admin handler", () => {
  it("serves the subscription flow from API Gateway events, base64 bodies included", async () => {
    const handle = createAdminHandler({
      store,
      feeds,
      maxBodyBytes: 4096,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    });
    const cluster = await handle(
      httpApiEvent({
        method: "POST",
        path: "/kafka-clusters",
        body: JSON.stringify({
          name: "my-cluster",
          properties: { "bootstrap.servers": "broker:9092" },
        }),
        base64: true,
      }),
    );
    expect(cluster).toMatchObject({ statusCode: 201, isBase64Encoded: false });
    expect(cluster.headers).toMatchObject({
      location: "kafka-clusters/my-cluster",
      "content-type": "application/json",
    });

    const service = await handle(
      httpApiEvent({
        method: "POST",
        path: "/services",
        body: JSON.stringify({
          name: "MyService",
          type: "service",
          endpoint: "https://svc.example",
          handlers: { handle: {} },
        }),
      }),
    );
    expect(service.statusCode).toBe(201);

    const created = await handle(
      httpApiEvent({
        method: "POST",
        path: "/subscriptions",
        body: '{"source":"kafka://my-cluster/my-topic","sink":"service://MyService/handle","options":{"auto.offset.reset":"earliest"}}',
        base64: true,
      }),
    );
    expect(created.statusCode).toBe(201);
    const id = JSON.parse(created.body ?? "{}").id as string;
    expect(created.headers?.location).toBe(`subscriptions/${id}`);

    const listed = await handle(
      httpApiEvent({
        method: "GET",
        path: "/subscriptions/",
        query: { sink: "service://MyService/handle" },
      }),
    );
    expect(listed.statusCode).toBe(200);
    expect(JSON.parse(listed.body ?? "{}").subscriptions.map((s: { id: string }) => s.id)).toEqual([
      id,
    ]);

    const staged = await handle(
      httpApiEvent({ method: "GET", path: `/subscriptions/${id}`, stage: "prod" }),
    );
    expect(staged.statusCode).toBe(200);

    const deleted = await handle(httpApiEvent({ method: "DELETE", path: `/subscriptions/${id}` }));
    expect(deleted.statusCode).toBe(202);
    expect(feeds.removed).toHaveLength(1);
  });

  it("maps events to requests", () => {
    const request = toAdminRequest(
      httpApiEvent({
        method: "POST",
        path: "/services",
        body: '{"a":"é"}',
        base64: true,
        query: { x: "1" },
        stage: "v1",
      }),
    );
    expect(request).toMatchObject({
      method: "POST",
      path: "/services",
      query: { x: "1" },
      body: '{"a":"é"}',
    });
    expect(request.headers["content-type"]).toBe("application/json");
    expect(toAdminRequest(httpApiEvent({ method: "GET", path: "/services" })).body).toBeUndefined();
  });

  it("answers bad requests with JSON errors", async () => {
    const handle = createAdminHandler({
      store,
      feeds,
      maxBodyBytes: 16,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    });
    const tooBig = await handle(
      httpApiEvent({
        method: "POST",
        path: "/services",
        body: JSON.stringify({ name: "x".repeat(40) }),
        base64: true,
      }),
    );
    expect(tooBig.statusCode).toBe(413);
    const notJson = await handle(httpApiEvent({ method: "POST", path: "/services", body: "nope" }));
    expect(notJson.statusCode).toBe(400);
    expect(JSON.parse(notJson.body ?? "{}")).toEqual({
      message: "request body is not valid JSON",
      restate_code: null,
    });
  });

  it("takes bodies only as JSON (415 otherwise), as on the local stack", async () => {
    const handle = createAdminHandler({
      store,
      feeds,
      maxBodyBytes: 4096,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    });
    const body = JSON.stringify({ name: "c", properties: { "bootstrap.servers": "b:9092" } });
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", null]) {
      const refused = await handle(
        httpApiEvent({ method: "POST", path: "/kafka-clusters", body, contentType }),
      );
      expect(refused.statusCode, String(contentType)).toBe(415);
      expect(JSON.parse(refused.body ?? "{}").message).toMatch(/content-type application\/json/);
    }
    expect(await store.listClusters()).toEqual([]);
    const taken = await handle(
      httpApiEvent({
        method: "POST",
        path: "/kafka-clusters",
        body,
        contentType: "application/json; charset=UTF-8",
      }),
    );
    expect(taken.statusCode).toBe(201);
  });

  it("requires CONSUMER_FUNCTION_NAME for the AWS wiring", () => {
    expect(() =>
      adminHandlerFromConfig({
        TABLE_NAME: "t",
        MAX_BODY_BYTES: 1024,
        REPLAY_REQUEST_TIMEOUT_MS: 1000,
        REPLAY_BUDGET_MS: 1000,
        DELETE_SETTLE_MS: 0,
        DYNAMODB_ENDPOINT: undefined,
        CONSUMER_FUNCTION_NAME: undefined,
      }),
    ).toThrow(/CONSUMER_FUNCTION_NAME is required/);
    expect(
      typeof adminHandlerFromConfig({
        TABLE_NAME: "t",
        MAX_BODY_BYTES: 1024,
        REPLAY_REQUEST_TIMEOUT_MS: 1000,
        REPLAY_BUDGET_MS: 1000,
        DELETE_SETTLE_MS: 0,
        DYNAMODB_ENDPOINT: undefined,
        CONSUMER_FUNCTION_NAME: "fn",
      }),
    ).toBe("function");
  });

  it("answers 500 from the entry point when the configuration is incomplete", async () => {
    const saved = process.env.CONSUMER_FUNCTION_NAME;
    delete process.env.CONSUMER_FUNCTION_NAME;
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const response = await handler(httpApiEvent({ method: "GET", path: "/services" }));
      expect(response).toMatchObject({
        statusCode: 500,
        body: '{"message":"internal error","restate_code":null}',
      });
      expect(errors.join("\n")).toMatch(/CONSUMER_FUNCTION_NAME is required/);
    } finally {
      console.error = original;
      if (saved !== undefined) process.env.CONSUMER_FUNCTION_NAME = saved;
    }
  });
});
