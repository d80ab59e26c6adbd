import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.ts";
import { buildFeedParams } from "../../src/core/feed-params.ts";
import type { KafkaCluster, Subscription } from "../../src/core/model.ts";

const ALIAS = "arn:aws:lambda:eu-west-1:123456789012:function:kafka-consumer:sub_abc";
const MSK_ARN =
  "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-creds-AbCdEf";

function subscription(options: Record<string, string> = {}): Subscription {
  return {
    id: "sub_abc",
    source: "kafka://c/orders",
    sink: "service://Orders/handle",
    options,
    cluster: "c",
    topic: "orders",
    service: "Orders",
    handler: "handle",
    status: "provisioning",
    createdAt: "2025-01-01T00:00:00.000Z",
  };
}

const cluster = (properties: Record<string, string>): KafkaCluster => ({
  name: "c",
  properties,
  origin: "api",
});

/** On provisioned mappings unless `lambda.metrics` says otherwise. */
const METRICS = { MetricsConfig: { Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] } };
/** On on-demand mappings: the count AWS has for every kind of mapping. */
const EVENT_COUNT = { MetricsConfig: { Metrics: ["EventCount"] } };
/** Provisioned mappings send their system logs at INFO. */
const LOGS = { LoggingConfig: { SystemLogLevel: "INFO" } };

describe("buildFeedParams", () => {
  it("builds an MSK mapping with IAM and defaults", () => {
    expect(
      buildFeedParams(
        subscription(),
        cluster({
          "aws.msk.cluster.arn": MSK_ARN,
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "AWS_MSK_IAM",
        }),
        ALIAS,
      ),
    ).toEqual({
      FunctionName: ALIAS,
      ...EVENT_COUNT,
      Topics: ["orders"],
      StartingPosition: "LATEST",
      EventSourceArn: MSK_ARN,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: "sub_abc" },
    });
  });

  it("builds an MSK mapping with SCRAM-512 and every option", () => {
    expect(
      buildFeedParams(
        subscription({
          "auto.offset.reset": "earliest",
          "group.id": "orders-group",
          "lambda.batch.size": "1000",
          "lambda.batch.window.seconds": "5",
          "lambda.min.pollers": "2",
          "lambda.max.pollers": "20",
          "lambda.report.batch.item.failures": "true",
        }),
        cluster({
          "aws.msk.cluster.arn": MSK_ARN,
          "bootstrap.servers": "localhost:9092",
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "SCRAM-SHA-512",
          "aws.secrets.manager.arn": SECRET_ARN,
        }),
        ALIAS,
      ),
    ).toEqual({
      FunctionName: ALIAS,
      ...METRICS,
      Topics: ["orders"],
      StartingPosition: "TRIM_HORIZON",
      EventSourceArn: MSK_ARN,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: "orders-group" },
      SourceAccessConfigurations: [{ Type: "SASL_SCRAM_512_AUTH", URI: SECRET_ARN }],
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 5,
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 20, PollerGroupName: "c" },
      ...LOGS,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("builds a self-managed mapping without authentication", () => {
    expect(
      buildFeedParams(subscription(), cluster({ "bootstrap.servers": "b1:9092,b2:9092" }), ALIAS),
    ).toEqual({
      FunctionName: ALIAS,
      ...EVENT_COUNT,
      Topics: ["orders"],
      StartingPosition: "LATEST",
      SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ["b1:9092", "b2:9092"] } },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: "sub_abc" },
    });
  });

  it("builds a self-managed mapping with SASL in a VPC", () => {
    const params = buildFeedParams(
      subscription({ "lambda.report.batch.item.failures": "true" }),
      cluster({
        "bootstrap.servers": "kafka.internal:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "aws.secrets.manager.arn": SECRET_ARN,
        "aws.vpc.subnets": "subnet-0a,subnet-0b",
        "aws.vpc.security.groups": "sg-01",
      }),
      ALIAS,
    );
    expect(params).toEqual({
      FunctionName: ALIAS,
      ...METRICS,
      Topics: ["orders"],
      StartingPosition: "LATEST",
      SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ["kafka.internal:9096"] } },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: "sub_abc" },
      SourceAccessConfigurations: [
        { Type: "SASL_SCRAM_256_AUTH", URI: SECRET_ARN },
        { Type: "VPC_SUBNET", URI: "subnet:subnet-0a" },
        { Type: "VPC_SUBNET", URI: "subnet:subnet-0b" },
        { Type: "VPC_SECURITY_GROUP", URI: "security_group:sg-01" },
      ],
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 20, PollerGroupName: "c" },
      ...LOGS,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("maps SASL/PLAIN to BASIC_AUTH and an SSL client certificate to CLIENT_CERTIFICATE_TLS_AUTH", () => {
    expect(
      buildFeedParams(
        subscription(),
        cluster({
          "bootstrap.servers": "b:9092",
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "PLAIN",
          "aws.secrets.manager.arn": SECRET_ARN,
        }),
        ALIAS,
      ).SourceAccessConfigurations,
    ).toEqual([{ Type: "BASIC_AUTH", URI: SECRET_ARN }]);
    expect(
      buildFeedParams(
        subscription(),
        cluster({
          "bootstrap.servers": "b:9094",
          "security.protocol": "SSL",
          "aws.secrets.manager.arn": SECRET_ARN,
        }),
        ALIAS,
      ).SourceAccessConfigurations,
    ).toEqual([{ Type: "CLIENT_CERTIFICATE_TLS_AUTH", URI: SECRET_ARN }]);
  });

  it("refuses a config cluster whose credentials are only in clear", () => {
    const configCluster: KafkaCluster = {
      name: "local",
      origin: "config",
      properties: {
        "bootstrap.servers": "b:9092",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "secret-value",
      },
    };
    const attempt = () => buildFeedParams(subscription(), configCluster, ALIAS);
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(/clear credentials .* cannot be used by an AWS event source/);
    expect(attempt).not.toThrow(/secret-value/);
  });

  it("refuses SASL mechanisms MSK does not support", () => {
    expect(() =>
      buildFeedParams(
        subscription(),
        cluster({
          "aws.msk.cluster.arn": MSK_ARN,
          "sasl.mechanism": "PLAIN",
          "aws.secrets.manager.arn": SECRET_ARN,
        }),
        ALIAS,
      ),
    ).toThrow(/do not support SASL PLAIN/);
  });
});

describe("buildFeedParams with a schema registry", () => {
  const REGISTRY_SECRET =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-basic-AbCdEf";
  const CA_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-ca-AbCdEf";
  const GLUE = "arn:aws:glue:eu-west-1:123456789012:registry/orders";

  it("a Confluent registry with basic auth and a root CA: SchemaRegistryConfig in provisioned mode", () => {
    expect(
      buildFeedParams(
        subscription({ "schema.registry.decode": "key,value" }),
        cluster({
          "bootstrap.servers": "b1:9092",
          "schema.registry.url": "https://registry.example.com:8081",
          "schema.registry.basic.auth.arn": REGISTRY_SECRET,
          "schema.registry.root.ca.arn": CA_SECRET,
        }),
        ALIAS,
      ),
    ).toEqual({
      FunctionName: ALIAS,
      ...METRICS,
      Topics: ["orders"],
      StartingPosition: "LATEST",
      SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ["b1:9092"] } },
      SelfManagedKafkaEventSourceConfig: {
        ConsumerGroupId: "sub_abc",
        SchemaRegistryConfig: {
          SchemaRegistryURI: "https://registry.example.com:8081",
          EventRecordFormat: "JSON",
          AccessConfigs: [
            { Type: "BASIC_AUTH", URI: REGISTRY_SECRET },
            { Type: "SERVER_ROOT_CA_CERTIFICATE", URI: CA_SECRET },
          ],
          SchemaValidationConfigs: [{ Attribute: "KEY" }, { Attribute: "VALUE" }],
        },
      },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 20, PollerGroupName: "c" },
      ...LOGS,
    });
  });

  it("a Glue registry on MSK, values only, in their source format", () => {
    expect(
      buildFeedParams(
        subscription({
          "schema.registry.decode": "value",
          "schema.registry.record.format": "SOURCE",
          "lambda.max.pollers": "5",
        }),
        cluster({
          "aws.msk.cluster.arn": MSK_ARN,
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "AWS_MSK_IAM",
          "schema.registry.url": GLUE,
        }),
        ALIAS,
      ),
    ).toEqual({
      FunctionName: ALIAS,
      ...METRICS,
      Topics: ["orders"],
      StartingPosition: "LATEST",
      EventSourceArn: MSK_ARN,
      AmazonManagedKafkaEventSourceConfig: {
        ConsumerGroupId: "sub_abc",
        SchemaRegistryConfig: {
          SchemaRegistryURI: GLUE,
          EventRecordFormat: "SOURCE",
          SchemaValidationConfigs: [{ Attribute: "VALUE" }],
        },
      },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 5, PollerGroupName: "c" },
      ...LOGS,
    });
  });

  it("decoding on a cluster without a registry is a 400 naming the property", () => {
    expect(() =>
      buildFeedParams(
        subscription({ "schema.registry.decode": "value" }),
        cluster({ "bootstrap.servers": "b1:9092" }),
        ALIAS,
      ),
    ).toThrow(
      new ValidationError(
        `option "schema.registry.decode" needs a schema registry on cluster "c": set its "schema.registry.url"`,
      ),
    );
  });
});

describe("buildFeedParams starting at a time", () => {
  it("AT_TIMESTAMP with StartingPositionTimestamp", () => {
    const params = buildFeedParams(
      subscription({ "lambda.starting.position.timestamp": "2026-11-30T08:00:00.000Z" }),
      cluster({ "bootstrap.servers": "b1:9092" }),
      ALIAS,
    );
    expect(params.StartingPosition).toBe("AT_TIMESTAMP");
    expect(params.StartingPositionTimestamp).toEqual(new Date("2026-11-30T08:00:00.000Z"));
  });
});
