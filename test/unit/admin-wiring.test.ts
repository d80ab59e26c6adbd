// The admin wiring: the AWS deployment gets every port, and the config it cannot run without.
import { describe, expect, it } from "vitest";
import { adminConfig } from "../../src/config.ts";
import { awsAdminDeps } from "../../src/wiring/admin.ts";

describe("awsAdminDeps", () => {
  it("wires every port the admin API can use on AWS", () => {
    const deps = awsAdminDeps(
      adminConfig({
        TABLE_NAME: "t",
        CONSUMER_FUNCTION_NAME: "consumer",
        REPLAY_BUDGET_MS: "20000",
        SERVICE_ENDPOINT_ALLOW: "*.example.com",
      }),
    );
    for (const port of [
      "store",
      "feeds",
      "deadLetters",
      "progress",
      "replayDelivery",
      "sinkTokenCheck",
      "kafkaSecretBindings",
      "restateAdmin",
      "endpointAllow",
    ] as const) {
      expect(deps[port], port).toBeDefined();
    }
    expect(deps.replayBudgetMs).toBe(20_000);
    expect(deps.deleteSettleMs).toBe(5_000);
  });

  it("requires the consumer function", () => {
    expect(() => awsAdminDeps(adminConfig({ TABLE_NAME: "t" }))).toThrow(
      /CONSUMER_FUNCTION_NAME is required/,
    );
  });
});
