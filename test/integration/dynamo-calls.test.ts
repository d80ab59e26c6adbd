// The calls the DynamoDB stores share: error mapping, batch rounds with backoff, conditional
// writes that return the item they found (on dynalite, too), and the stores using that item
// instead of reading it again.
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { batchWrite, conditionally, storeError, toItem } from "../../src/adapters/dynamo/calls.ts";
import {
  ConflictError,
  DependencyError,
  NotFoundError,
  ValidationError,
} from "../../src/core/errors.ts";
import type { Subscription } from "../../src/core/model.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

const subscription = (status: Subscription["status"]): Subscription => ({
  id: "sub_1",
  source: "kafka://c/t",
  sink: "service://S/add",
  options: {},
  cluster: "c",
  topic: "t",
  service: "S",
  handler: "add",
  status,
  createdAt: "2025-01-01T00:00:00.000Z",
});

const subscriptionItem = (status: Subscription["status"]) =>
  toItem({ pk: "subscription", sk: "sub_1", doc: JSON.stringify(subscription(status)) });

const conditionFailed = (item?: ReturnType<typeof toItem>) =>
  new ConditionalCheckFailedException({
    message: "The conditional request failed",
    $metadata: {},
    ...(item ? { Item: item } : {}),
  });

/** A client of the test dynalite that records the operation of every call it sends. */
function recordingClient(): { client: DynamoDBClient; operations: string[] } {
  const operations: string[] = [];
  const client = dynamo.faultyClient(() => undefined);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      operations.push(String(context.commandName).replace(/Command$/, ""));
      return next(args);
    },
    { step: "initialize", name: "recordOperation" },
  );
  return { client, operations };
}

describe("storeError", () => {
  it("maps throttling to a retryable DependencyError that says so", () => {
    const error = storeError(
      "PutItem progress",
      new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }),
    );
    expect(error).toBeInstanceOf(DependencyError);
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      "DynamoDB PutItem progress failed (throttled): ProvisionedThroughputExceededException: slow down",
    );
  });

  it("maps a failed condition to ConflictError, anything else to DependencyError", () => {
    expect(storeError("PutItem cluster", conditionFailed())).toBeInstanceOf(ConflictError);
    const missing = storeError(
      "GetItem cluster",
      new ResourceNotFoundException({ message: "no table", $metadata: {} }),
    );
    expect(missing).toBeInstanceOf(DependencyError);
    expect(missing.message).toBe(
      "DynamoDB GetItem cluster failed: ResourceNotFoundException: no table",
    );
    expect(storeError("Query", new Error("socket hang up"))).toBeInstanceOf(DependencyError);
  });

  it("passes the product's own errors through", () => {
    const own = new ValidationError("invalid cursor");
    expect(storeError("Query", own)).toBe(own);
  });
});

describe("batch rounds", () => {
  const client = new DynamoDBClient({ region: "local" });
  const mock = mockClient(client);
  const request = { DeleteRequest: { Key: toItem({ pk: "p", sk: "s" }) } };

  it("backs off 25 ms doubling up to 1 s, then gives up after maxRounds retries", async () => {
    mock.reset();
    mock.on(BatchWriteItemCommand).resolves({ UnprocessedItems: { t: [request] } });
    const waits: number[] = [];
    const failure = await batchWrite(client, "t", [request], {
      sleep: async (ms) => {
        waits.push(ms);
      },
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DependencyError);
    expect(String((failure as Error).message)).toBe(
      "DynamoDB BatchWriteItem left items unprocessed after 8 retries (throttled)",
    );
    expect(waits).toEqual([25, 50, 100, 200, 400, 800, 1000, 1000]);
    expect(mock.commandCalls(BatchWriteItemCommand)).toHaveLength(9);
  });

  it("sends only what is left over, and stops at a failed call", async () => {
    mock.reset();
    const other = { DeleteRequest: { Key: toItem({ pk: "p", sk: "t" }) } };
    mock
      .on(BatchWriteItemCommand)
      .resolvesOnce({ UnprocessedItems: { t: [other] } })
      .resolvesOnce({});
    await batchWrite(client, "t", [request, other], { sleep: async () => {} });
    expect(
      mock.commandCalls(BatchWriteItemCommand).map((call) => call.args[0].input.RequestItems?.t),
    ).toEqual([[request, other], [other]]);

    mock.reset();
    mock
      .on(BatchWriteItemCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: "slow", $metadata: {} }));
    await expect(batchWrite(client, "t", [request], { sleep: async () => {} })).rejects.toThrow(
      /BatchWriteItem failed \(throttled\)/,
    );
    expect(mock.commandCalls(BatchWriteItemCommand)).toHaveLength(1);
  });
});

describe("conditional writes", () => {
  it("return the item they found on the embedded DynamoDB", async () => {
    const table = await dynamo.freshTable();
    const item = toItem({ pk: "cluster", sk: "c", doc: "{}", refs: 2, data: utf8("x") });
    const put = (returnItem: boolean) =>
      conditionally("PutItem cluster", () =>
        dynamo.client.send(
          new PutItemCommand({
            TableName: table,
            Item: item,
            ConditionExpression: "attribute_not_exists(pk)",
            ...(returnItem ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const } : {}),
          }),
        ),
      );
    expect((await put(true)).written).toBe(true);
    expect(await put(true)).toEqual({ written: false, current: item });
    expect(await put(false)).toEqual({ written: false, current: undefined });
    const absent = await conditionally("UpdateItem cluster", () =>
      dynamo.client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: toItem({ pk: "cluster", sk: "missing" }),
          UpdateExpression: "SET doc = :doc",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: toItem({ ":doc": "{}" }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
    expect(absent).toEqual({ written: false, current: undefined });
  });

  it("spare the admin store a second read", async () => {
    const table = await dynamo.freshTable();
    const { client, operations } = recordingClient();
    try {
      const store = new DynamoAdminStore(client, table);
      const cluster = { name: "c", properties: {}, origin: "api" as const };
      const service = {
        name: "S",
        type: "service" as const,
        endpoint: "http://localhost:8080",
        invocation: "call" as const,
        handlers: { add: { shared: false, input: "json" as const } },
      };
      await store.createCluster(cluster);
      await store.createService(service);
      await store.createSubscription(subscription("provisioning"));

      operations.length = 0;
      await expect(store.deleteCluster("c")).rejects.toThrow(ConflictError);
      await expect(store.deleteCluster("nope")).rejects.toThrow(NotFoundError);
      await expect(store.replaceService({ ...service, endpoint: "x" }, service)).rejects.toThrow(
        ConflictError,
      );
      expect(operations).toEqual(["DeleteItem", "DeleteItem", "UpdateItem"]);

      operations.length = 0;
      await store.deleteSubscription("sub_1");
      expect(operations[0]).toBe("DeleteItem");
      expect(operations).not.toContain("GetItem");
      await expect(store.deleteSubscription("sub_1")).rejects.toThrow(NotFoundError);
    } finally {
      client.destroy();
    }
  });

  it("let a status change retry on the state its lost race found, without reading again", async () => {
    const client = new DynamoDBClient({ region: "local" });
    const mock = mockClient(client);
    mock.on(GetItemCommand).resolves({ Item: subscriptionItem("provisioning") });
    mock
      .on(UpdateItemCommand)
      .rejectsOnce(conditionFailed(subscriptionItem("paused")))
      .resolves({});
    const store = new DynamoAdminStore(client, "t");
    const updated = await store.setSubscriptionStatus("sub_1", "active", [
      "provisioning",
      "paused",
    ]);
    expect(updated).toEqual(subscription("active"));
    expect(mock.commandCalls(GetItemCommand)).toHaveLength(1);
    const previous = mock
      .commandCalls(UpdateItemCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues?.[":previous"]?.S);
    expect(previous).toEqual([
      JSON.stringify(subscription("provisioning")),
      JSON.stringify(subscription("paused")),
    ]);

    // Removed meanwhile: the failed write found no item.
    mock.reset();
    mock.on(GetItemCommand).resolves({ Item: subscriptionItem("provisioning") });
    mock.on(UpdateItemCommand).rejects(conditionFailed());
    await expect(store.setSubscriptionStatus("sub_1", "active", ["provisioning"])).rejects.toThrow(
      NotFoundError,
    );

    // Always overtaken: gives up after five attempts.
    mock.reset();
    mock.on(GetItemCommand).resolves({ Item: subscriptionItem("provisioning") });
    mock.on(UpdateItemCommand).rejects(conditionFailed(subscriptionItem("provisioning")));
    await expect(store.setSubscriptionStatus("sub_1", "active", ["provisioning"])).rejects.toThrow(
      /keeps changing/,
    );
    expect(mock.commandCalls(UpdateItemCommand)).toHaveLength(5);
    mock.restore();
  });
});

function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "utf8"));
}
