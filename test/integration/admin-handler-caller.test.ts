// Who called the admin API, as the handler logs it: behind the JWT authorizer (AdminJwtIssuer) the
// token's subject, issuer, client and scopes; behind SigV4 the IAM principal. Requests that change
// something are logged, reads are not, and no line holds the bearer token.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { callerOf, createAdminHandler } from "../../src/handlers/admin.ts";
import {
  apiEvent,
  JWT_EVENT_TOKEN,
  jwtApiEvent,
  recordedApiEvent,
  recordedJwtEvent,
} from "../deploy/api-events.ts";
import { FakeFeedControl } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

const ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123";

let dynamo: TestDynamo;
let logs: Record<string, unknown>[];
let handle: ReturnType<typeof createAdminHandler>;

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  logs = [];
  handle = createAdminHandler({
    store: await dynamo.freshStore(),
    feeds: new FakeFeedControl(),
    maxBodyBytes: 4096,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    log: (entry) => logs.push(entry),
  });
});

describe("the admin handler behind a JWT authorizer", () => {
  it("reads the caller from requestContext.authorizer.jwt as API Gateway passes it", () => {
    expect(callerOf(recordedJwtEvent)).toEqual({
      auth: "jwt",
      sub: "4example0client1id2",
      iss: ISSUER,
      clientId: "4example0client1id2",
      scopes: ["kafka-ingress/admin"],
    });
    expect(callerOf(recordedApiEvent)).toEqual({
      auth: "iam",
      userArn: "arn:aws:sts::123456789012:assumed-role/operator/operator",
      accountId: "123456789012",
    });
    const bare = structuredClone(recordedApiEvent);
    delete (bare.requestContext as { authorizer?: unknown }).authorizer;
    expect(callerOf(bare)).toEqual({ auth: "none" });
  });

  it("answers Restate's CLI (GET /version, then /v4 paths) and logs reads not at all", async () => {
    const version = await handle(structuredClone(recordedJwtEvent));
    expect(version.statusCode).toBe(200);
    expect(JSON.parse(version.body ?? "")).toMatchObject({ max_admin_api_version: 4 });
    const clusters = await handle(jwtApiEvent("GET", "/v4/kafka-clusters"));
    expect(clusters.statusCode).toBe(200);
    expect(JSON.parse(clusters.body ?? "")).toEqual({ clusters: [] });
    expect(logs).toEqual([]);
  });

  it("logs a change with the token's subject and issuer, never the token", async () => {
    const created = await handle(
      jwtApiEvent("POST", "/v4/kafka-clusters", {
        name: "orders",
        properties: { "bootstrap.servers": "b-1.kafka.internal:9092" },
      }),
    );
    expect(created.statusCode).toBe(201);
    const removed = await handle(jwtApiEvent("DELETE", "/kafka-clusters/orders"));
    expect(removed.statusCode).toBe(202);
    expect(logs).toEqual([
      expect.objectContaining({
        level: "info",
        msg: "admin: change requested",
        method: "POST",
        path: "/v4/kafka-clusters",
        status: 201,
        caller: expect.objectContaining({ auth: "jwt", sub: "4example0client1id2", iss: ISSUER }),
        requestId: recordedJwtEvent.requestContext.requestId,
      }),
      expect.objectContaining({ method: "DELETE", status: 202 }),
    ]);
    expect(JWT_EVENT_TOKEN.length).toBeGreaterThan(20);
    expect(JSON.stringify(logs)).not.toContain(JWT_EVENT_TOKEN);
  });

  it("logs SigV4 callers by their IAM principal", async () => {
    const refused = await handle(apiEvent("POST", "/services", { name: "x" }));
    expect(refused.statusCode).toBe(400);
    expect(logs).toEqual([
      expect.objectContaining({
        status: 400,
        caller: {
          auth: "iam",
          userArn: "arn:aws:sts::123456789012:assumed-role/operator/operator",
          accountId: "123456789012",
        },
      }),
    ]);
  });
});
