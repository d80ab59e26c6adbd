// The admin API over the DynamoDB store with the real LambdaFeedControl, the Lambda control plane
// and Secrets Manager (the Kafka secret's binding tags) mocked: the exact requests sent to AWS,
// and what happens when they fail.
import {
  CreateAliasCommand,
  CreateEventSourceMappingCommand,
  DeleteAliasCommand,
  DeleteEventSourceMappingCommand,
  InvalidParameterValueException,
  LambdaClient,
  ResourceConflictException,
  ResourceInUseException,
  ResourceNotFoundException,
  ServiceException,
  UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import { DescribeSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DynamoAdminStore } from "../../src/adapters/dynamo/admin-store.ts";
import { LambdaFeedControl } from "../../src/adapters/lambda-feeds.ts";
import { secretsManagerKafkaBindings } from "../../src/adapters/secrets-manager.ts";
import { type AdminApi, createAdminApi } from "../../src/app/admin-api.ts";
import { ADMIN_DEFAULTS } from "../../src/config.ts";
import { DependencyError } from "../../src/core/errors.ts";
import type { AdminStore } from "../../src/core/ports.ts";
import { call, storeWith } from "../helpers/admin.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

const FUNCTION = "kafka-ingress-consumer";
const FUNCTION_ARN = `arn:aws:lambda:eu-west-1:123456789012:function:${FUNCTION}`;
const MSK_ARN =
  "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-AbCdEf";
const ESM_UUID = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE";
const meta = { $metadata: {} };

const lambdaMock = mockClient(LambdaClient);
const smMock = mockClient(SecretsManagerClient);
let dynamo: TestDynamo;
let store: DynamoAdminStore;
let logs: Array<Record<string, unknown>>;

function apiOver(target: AdminStore, retryDelaysMs: number[] = [0, 0, 0]): AdminApi {
  const feeds = new LambdaFeedControl(new LambdaClient({ region: "eu-west-1" }), FUNCTION, {
    retryDelaysMs,
    toggleRetryDelaysMs: [0, 0],
    log: (e) => logs.push(e),
  });
  return createAdminApi({
    store: target,
    feeds,
    maxBodyBytes: 64 * 1024,
    replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
    log: (e) => logs.push(e),
    kafkaSecretBindings: secretsManagerKafkaBindings(),
    onFailureDestinations: [FAILED_QUEUE],
  });
}

/** The one on-failure destination this deployment's consumer role may send to. */
const FAILED_QUEUE = "arn:aws:sqs:eu-west-1:123456789012:payments-failed";

beforeAll(async () => {
  dynamo = await startTestDynamo();
});
afterAll(async () => {
  lambdaMock.restore();
  smMock.restore();
  await dynamo.close();
});
beforeEach(async () => {
  lambdaMock.reset();
  smMock.reset();
  // The secret's owner bound it to the MSK cluster.
  smMock
    .on(DescribeSecretCommand, { SecretId: SECRET_ARN })
    .resolves({ ARN: SECRET_ARN, Tags: [{ Key: "kafka-lambda-ingress:brokers", Value: MSK_ARN }] });
  logs = [];
  store = await dynamo.freshStore();
  lambdaMock.on(CreateAliasCommand).callsFake((input: { Name: string }) => ({
    AliasArn: `${FUNCTION_ARN}:${input.Name}`,
    Name: input.Name,
    FunctionVersion: "$LATEST",
  }));
  lambdaMock.on(CreateEventSourceMappingCommand).resolves({ UUID: ESM_UUID, State: "Creating" });
  lambdaMock.on(DeleteEventSourceMappingCommand).resolves({ UUID: ESM_UUID, State: "Deleting" });
  lambdaMock.on(DeleteAliasCommand).resolves({});
  const api = apiOver(store);
  expect(
    (
      await call(api, "POST", "/kafka-clusters", {
        name: "msk",
        properties: {
          "aws.msk.cluster.arn": MSK_ARN,
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "SCRAM-SHA-512",
          "aws.secrets.manager.arn": SECRET_ARN,
        },
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await call(api, "POST", "/kafka-clusters", {
        name: "onprem",
        properties: {
          "bootstrap.servers": "k1.internal:9092,k2.internal:9092",
          "aws.vpc.subnets": "subnet-0a1,subnet-0b2",
          "aws.vpc.security.groups": "sg-0c3",
        },
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await call(api, "POST", "/services", {
        name: "Orders",
        type: "virtual_object",
        endpoint: "http://restate:8080",
        handlers: { process: {} },
      })
    ).status,
  ).toBe(201);
});

describe("create", () => {
  it("creates an alias on $LATEST, then an MSK mapping invoking it", async () => {
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
      options: { "auto.offset.reset": "earliest", "lambda.batch.size": 500 },
    });
    expect(response.status).toBe(201);
    const id: string = response.json.id;
    const aliasArn = `${FUNCTION_ARN}:${id}`;

    const aliases = lambdaMock.commandCalls(CreateAliasCommand);
    expect(aliases).toHaveLength(1);
    expect(aliases[0]?.args[0].input).toEqual({
      FunctionName: FUNCTION,
      Name: id,
      FunctionVersion: "$LATEST",
      Description: "Kafka subscription kafka://msk/orders -> service://Orders/process",
    });
    const mappings = lambdaMock.commandCalls(CreateEventSourceMappingCommand);
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.args[0].input).toEqual({
      FunctionName: aliasArn,
      Topics: ["orders"],
      StartingPosition: "TRIM_HORIZON",
      EventSourceArn: MSK_ARN,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: id },
      SourceAccessConfigurations: [{ Type: "SASL_SCRAM_512_AUTH", URI: SECRET_ARN }],
      BatchSize: 500,
      MetricsConfig: { Metrics: ["EventCount"] },
    });
    // The binding was read when the cluster was registered and again for this mapping.
    expect(smMock.commandCalls(DescribeSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: SECRET_ARN },
      { SecretId: SECRET_ARN },
    ]);
    expect(response.json.feed).toEqual({
      kind: "aws",
      eventSourceMappingUuid: ESM_UUID,
      functionAliasArn: aliasArn,
    });
    expect(await store.getSubscription(id)).toMatchObject({
      status: "active",
      feed: { kind: "aws", eventSourceMappingUuid: ESM_UUID, functionAliasArn: aliasArn },
    });
  });

  it("creates a self-managed mapping in a VPC with partial batch responses", async () => {
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://onprem/payments",
      sink: "service://Orders/process",
      options: { "group.id": "payments-ingress", "lambda.report.batch.item.failures": "true" },
    });
    expect(response.status).toBe(201);
    expect(lambdaMock.commandCalls(CreateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      FunctionName: `${FUNCTION_ARN}:${response.json.id}`,
      Topics: ["payments"],
      StartingPosition: "LATEST",
      SelfManagedEventSource: {
        Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ["k1.internal:9092", "k2.internal:9092"] },
      },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: "payments-ingress" },
      SourceAccessConfigurations: [
        { Type: "VPC_SUBNET", URI: "subnet:subnet-0a1" },
        { Type: "VPC_SUBNET", URI: "subnet:subnet-0b2" },
        { Type: "VPC_SECURITY_GROUP", URI: "security_group:sg-0c3" },
      ],
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 20, PollerGroupName: "onprem" },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      LoggingConfig: { SystemLogLevel: "INFO" },
      MetricsConfig: { Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
    });
  });

  it("a failure backstop with a listed destination: the exact mapping request; another destination is refused", async () => {
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://onprem/payments",
      sink: "service://Orders/process",
      options: {
        "lambda.max.retry.attempts": 5,
        "lambda.on.failure.destination": FAILED_QUEUE,
        "lambda.filter.patterns": '{"value": {"amount": [{"numeric": [">", 0]}]}}',
      },
    });
    expect(response.status, response.body).toBe(201);
    expect(lambdaMock.commandCalls(CreateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      FunctionName: `${FUNCTION_ARN}:${response.json.id}`,
      Topics: ["payments"],
      StartingPosition: "LATEST",
      SelfManagedEventSource: {
        Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ["k1.internal:9092", "k2.internal:9092"] },
      },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: response.json.id },
      SourceAccessConfigurations: [
        { Type: "VPC_SUBNET", URI: "subnet:subnet-0a1" },
        { Type: "VPC_SUBNET", URI: "subnet:subnet-0b2" },
        { Type: "VPC_SECURITY_GROUP", URI: "security_group:sg-0c3" },
      ],
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 20, PollerGroupName: "onprem" },
      FilterCriteria: { Filters: [{ Pattern: '{"value":{"amount":[{"numeric":[">",0]}]}}' }] },
      MaximumRetryAttempts: 5,
      DestinationConfig: { OnFailure: { Destination: FAILED_QUEUE } },
      LoggingConfig: { SystemLogLevel: "INFO" },
      MetricsConfig: { Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
    });

    const refused = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://onprem/refunds",
      sink: "service://Orders/process",
      options: { "lambda.on.failure.destination": "arn:aws:sqs:eu-west-1:123456789012:other" },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain("OnFailureQueueArns");
    expect(lambdaMock.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(1);
  });

  it("deletes the alias and stores nothing when the mapping cannot be created", async () => {
    lambdaMock
      .on(CreateEventSourceMappingCommand)
      .rejects(new ServiceException({ message: "internal failure 7f3a", ...meta }));
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(502);
    expect(response.body).not.toContain("7f3a");
    const alias = lambdaMock.commandCalls(CreateAliasCommand)[0]?.args[0].input;
    const deleted = lambdaMock.commandCalls(DeleteAliasCommand);
    expect(deleted.map((c) => c.args[0].input)).toEqual([
      { FunctionName: FUNCTION, Name: alias?.Name },
    ]);
    expect(await store.listSubscriptions()).toEqual([]);
    expect(JSON.stringify(logs)).toContain("internal failure 7f3a");
  });

  it("returns AWS's own validation message as 400", async () => {
    lambdaMock.on(CreateEventSourceMappingCommand).rejects(
      new InvalidParameterValueException({
        message: "Topic name is invalid for this cluster.",
        ...meta,
      }),
    );
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toBe(
      "AWS Lambda rejected CreateEventSourceMapping: Topic name is invalid for this cluster.",
    );
    expect(lambdaMock.commandCalls(DeleteAliasCommand)).toHaveLength(1);
    expect(await store.listSubscriptions()).toEqual([]);
  });

  it("stores nothing and creates no mapping when the alias cannot be created", async () => {
    lambdaMock
      .on(CreateAliasCommand)
      .rejects(new ResourceConflictException({ message: "exists", ...meta }));
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(502);
    expect(lambdaMock.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(0);
    expect(await store.listSubscriptions()).toEqual([]);
  });

  it("calls nothing on AWS for a cluster whose credentials are only in clear", async () => {
    await store.upsertConfigCluster({
      name: "local",
      origin: "config",
      properties: {
        "bootstrap.servers": "b:9092",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "pw-in-clear",
      },
    });
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://local/t",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/set "aws.secrets.manager.arn"/);
    expect(response.body).not.toContain("pw-in-clear");
    expect(lambdaMock.calls()).toHaveLength(0);
    expect(await store.listSubscriptions()).toEqual([]);
  });

  it("removes mapping and alias when storing the feed fails", async () => {
    const failing = storeWith(store, {
      updateSubscription: async () => {
        throw new DependencyError(
          "DynamoDB UpdateItem subscription failed: ProvisionedThroughputExceeded",
        );
      },
    });
    const response = await call(apiOver(failing), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(502);
    const alias = lambdaMock.commandCalls(CreateAliasCommand)[0]?.args[0].input;
    expect(
      lambdaMock.commandCalls(DeleteEventSourceMappingCommand).map((c) => c.args[0].input),
    ).toEqual([{ UUID: ESM_UUID }]);
    expect(lambdaMock.commandCalls(DeleteAliasCommand).map((c) => c.args[0].input)).toEqual([
      { FunctionName: FUNCTION, Name: alias?.Name },
    ]);
    expect(await store.listSubscriptions()).toEqual([]);
  });
});

describe("delete", () => {
  async function created(): Promise<string> {
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(201);
    return response.json.id;
  }

  it("deletes the mapping, then the alias, then the subscription", async () => {
    const id = await created();
    const response = await call(apiOver(store), "DELETE", `/subscriptions/${id}`);
    expect(response.status).toBe(202);
    expect(
      lambdaMock.commandCalls(DeleteEventSourceMappingCommand).map((c) => c.args[0].input),
    ).toEqual([{ UUID: ESM_UUID }]);
    expect(lambdaMock.commandCalls(DeleteAliasCommand).map((c) => c.args[0].input)).toEqual([
      { FunctionName: FUNCTION, Name: id },
    ]);
    const order = lambdaMock.calls().map((c) => c.args[0].constructor.name);
    expect(order.slice(-2)).toEqual(["DeleteEventSourceMappingCommand", "DeleteAliasCommand"]);
    expect(await store.getSubscription(id)).toBeUndefined();
  });

  it("treats an already deleted mapping or alias as done", async () => {
    const id = await created();
    lambdaMock
      .on(DeleteEventSourceMappingCommand)
      .rejects(new ResourceNotFoundException({ message: "gone", ...meta }));
    lambdaMock
      .on(DeleteAliasCommand)
      .rejects(new ResourceNotFoundException({ message: "gone", ...meta }));
    expect((await call(apiOver(store), "DELETE", `/subscriptions/${id}`)).status).toBe(202);
    expect(await store.getSubscription(id)).toBeUndefined();
  });

  it("retries a mapping that is still being created", async () => {
    const id = await created();
    lambdaMock
      .on(DeleteEventSourceMappingCommand)
      .rejectsOnce(new ResourceInUseException({ message: "Creating", ...meta }))
      .rejectsOnce(new ResourceInUseException({ message: "Creating", ...meta }))
      .resolves({ UUID: ESM_UUID });
    expect((await call(apiOver(store), "DELETE", `/subscriptions/${id}`)).status).toBe(202);
    expect(lambdaMock.commandCalls(DeleteEventSourceMappingCommand)).toHaveLength(3);
  });

  it("gives up after the configured retries and keeps the subscription for another DELETE", async () => {
    const id = await created();
    lambdaMock
      .on(DeleteEventSourceMappingCommand)
      .rejects(new ResourceInUseException({ message: "busy", ...meta }));
    const response = await call(apiOver(store, [0, 0]), "DELETE", `/subscriptions/${id}`);
    expect(response.status).toBe(502);
    expect(lambdaMock.commandCalls(DeleteEventSourceMappingCommand)).toHaveLength(3);
    expect(lambdaMock.commandCalls(DeleteAliasCommand)).toHaveLength(0);
    expect((await store.getSubscription(id))?.status).toBe("deleting");

    lambdaMock.on(DeleteEventSourceMappingCommand).resolves({ UUID: ESM_UUID });
    expect((await call(apiOver(store), "DELETE", `/subscriptions/${id}`)).status).toBe(202);
    expect(await store.getSubscription(id)).toBeUndefined();
  });
});

describe("pause and resume", () => {
  async function created(): Promise<string> {
    const response = await call(apiOver(store), "POST", "/subscriptions", {
      source: "kafka://msk/orders",
      sink: "service://Orders/process",
    });
    expect(response.status).toBe(201);
    return response.json.id;
  }

  it("disables and enables the mapping with UpdateEventSourceMapping", async () => {
    const id = await created();
    lambdaMock.on(UpdateEventSourceMappingCommand).resolves({ UUID: ESM_UUID, State: "Disabling" });
    const paused = await call(apiOver(store), "POST", `/subscriptions/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ id, status: "paused" });
    expect(
      lambdaMock.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input),
    ).toEqual([{ UUID: ESM_UUID, Enabled: false }]);
    expect((await store.getSubscription(id))?.status).toBe("paused");

    const resumed = await call(apiOver(store), "POST", `/subscriptions/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ id, status: "active" });
    expect(
      lambdaMock.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input),
    ).toEqual([
      { UUID: ESM_UUID, Enabled: false },
      { UUID: ESM_UUID, Enabled: true },
    ]);
    expect((await store.getSubscription(id))?.status).toBe("active");
  });

  it("retries while the mapping is Updating, then answers 409 and leaves the status alone", async () => {
    const id = await created();
    lambdaMock
      .on(UpdateEventSourceMappingCommand)
      .rejectsOnce(new ResourceInUseException({ message: "Updating", ...meta }))
      .resolves({ UUID: ESM_UUID });
    expect((await call(apiOver(store), "POST", `/subscriptions/${id}/pause`)).status).toBe(200);
    expect(lambdaMock.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(2);

    lambdaMock.reset();
    lambdaMock
      .on(UpdateEventSourceMappingCommand)
      .rejects(new ResourceInUseException({ message: "Updating", ...meta }));
    const busy = await call(apiOver(store), "POST", `/subscriptions/${id}/resume`);
    expect(busy.status).toBe(409);
    expect(busy.json.message).toMatch(/busy.*try again/);
    expect(lambdaMock.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(3); // 1 + 2 retries
    expect((await store.getSubscription(id))?.status).toBe("paused");
  });

  it("answers 502 without detail when AWS fails otherwise", async () => {
    const id = await created();
    lambdaMock
      .on(UpdateEventSourceMappingCommand)
      .rejects(new ServiceException({ message: "boom", ...meta }));
    const response = await call(apiOver(store), "POST", `/subscriptions/${id}/pause`);
    expect(response.status).toBe(502);
    expect(response.body).not.toContain("boom");
    expect((await store.getSubscription(id))?.status).toBe("active");
  });
});
