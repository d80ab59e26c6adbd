import { describe, expect, it } from "vitest";
import { adminConfig, consumerConfig } from "../../src/config.ts";

describe("configuration from the environment", () => {
  it("applies defaults", () => {
    const config = consumerConfig({});
    expect(config.TABLE_NAME).toBe("kafka-ingress");
    expect(config.MAX_CONCURRENCY).toBe(128);
    expect(config.DYNAMODB_ENDPOINT).toBeUndefined();
    expect(config.MAX_KEY_URL_BYTES).toBe(2_048);
    expect(config.SERVICE_ENDPOINT_ALLOW).toBeUndefined();
  });

  it("gives the consumer SERVICE_ENDPOINT_ALLOW too: it checks hosts when it connects", () => {
    expect(
      consumerConfig({ SERVICE_ENDPOINT_ALLOW: "restate:8080" }).SERVICE_ENDPOINT_ALLOW,
    ).toEqual([{ host: "restate", wildcard: false, port: 8080 }]);
    expect(() => consumerConfig({ SERVICE_ENDPOINT_ALLOW: "http://x/y" })).toThrow(
      /SERVICE_ENDPOINT_ALLOW: bad host pattern/,
    );
  });

  it("treats empty variables as unset, as sam local passes them", () => {
    expect(consumerConfig({ DYNAMODB_ENDPOINT: "" }).DYNAMODB_ENDPOINT).toBeUndefined();
    expect(adminConfig({ CONSUMER_FUNCTION_NAME: "" }).CONSUMER_FUNCTION_NAME).toBeUndefined();
  });

  it("reads numbers and URLs", () => {
    const config = consumerConfig({
      MAX_CONCURRENCY: "16",
      DYNAMODB_ENDPOINT: "http://127.0.0.1:8000",
    });
    expect(config.MAX_CONCURRENCY).toBe(16);
    expect(consumerConfig({ MAX_KEY_URL_BYTES: "4096" }).MAX_KEY_URL_BYTES).toBe(4_096);
    expect(config.DYNAMODB_ENDPOINT).toBe("http://127.0.0.1:8000");
  });

  it("names what is wrong", () => {
    expect(() => consumerConfig({ MAX_CONCURRENCY: "zero" })).toThrow(/MAX_CONCURRENCY/);
    expect(() => adminConfig({ DYNAMODB_ENDPOINT: "not a url" })).toThrow(/DYNAMODB_ENDPOINT/);
  });

  it("parses the service endpoint allow-list and the replay settings", () => {
    const config = adminConfig({ SERVICE_ENDPOINT_ALLOW: "*.example.com, restate:8080" });
    expect(config.SERVICE_ENDPOINT_ALLOW).toEqual([
      { host: "example.com", wildcard: true },
      { host: "restate", wildcard: false, port: 8080 },
    ]);
    expect(adminConfig({ SERVICE_ENDPOINT_ALLOW: "" }).SERVICE_ENDPOINT_ALLOW).toBeUndefined();
    expect(adminConfig({}).REPLAY_BUDGET_MS).toBe(20_000);
    expect(adminConfig({}).REPLAY_REQUEST_TIMEOUT_MS).toBe(10_000);
    // The consumer accepts at most 60 s in a replay command: refused here, not at every replay.
    expect(adminConfig({ REPLAY_REQUEST_TIMEOUT_MS: "60000" }).REPLAY_REQUEST_TIMEOUT_MS).toBe(
      60_000,
    );
    expect(() => adminConfig({ REPLAY_REQUEST_TIMEOUT_MS: "60001" })).toThrow(
      /REPLAY_REQUEST_TIMEOUT_MS/,
    );
    // A replay answers within the admin function's 29 s: its budget plus an Invoke's grace.
    expect(adminConfig({ REPLAY_BUDGET_MS: "22000" }).REPLAY_BUDGET_MS).toBe(22_000);
    expect(() => adminConfig({ REPLAY_BUDGET_MS: "22001" })).toThrow(/REPLAY_BUDGET_MS/);
    expect(() => adminConfig({ SERVICE_ENDPOINT_ALLOW: "http://x/y" })).toThrow(
      /SERVICE_ENDPOINT_ALLOW: bad host pattern/,
    );
  });
});

describe("ON_FAILURE_DESTINATIONS", () => {
  it("is the list of ARNs the template joined, empty entries dropped; unset allows any", () => {
    const queue = "arn:aws:sqs:eu-west-1:123456789012:failed";
    expect(adminConfig({ ON_FAILURE_DESTINATIONS: `${queue},,` }).ON_FAILURE_DESTINATIONS).toEqual([
      queue,
    ]);
    expect(adminConfig({ ON_FAILURE_DESTINATIONS: ",," }).ON_FAILURE_DESTINATIONS).toEqual([]);
    expect(adminConfig({}).ON_FAILURE_DESTINATIONS).toBeUndefined();
  });
});
