import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.ts";
import { buildFeedParams } from "../../src/core/feed-params.ts";
import { checkConsumptionMode, checkOnFailureDestination } from "../../src/core/mapping-options.ts";
import type { KafkaCluster, Subscription } from "../../src/core/model.ts";
import { normaliseSubscriptionOptions } from "../../src/core/subscription-options.ts";
import { subscription as fixtureSubscription } from "../helpers/catalog-fixtures.ts";

const ALIAS = "arn:aws:lambda:eu-west-1:123456789012:function:kafka-consumer:sub_abc";
const MSK_ARN =
  "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5";
const QUEUE = "arn:aws:sqs:eu-west-1:123456789012:orders-failed";

const subscription = (raw: Record<string, unknown>): Subscription =>
  fixtureSubscription({ cluster: "c", options: normaliseSubscriptionOptions(raw) });
const selfManaged: KafkaCluster = {
  name: "c",
  properties: { "bootstrap.servers": "b1:9092" },
  origin: "api",
};
const msk: KafkaCluster = {
  name: "c",
  properties: {
    "aws.msk.cluster.arn": MSK_ARN,
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "AWS_MSK_IAM",
  },
  origin: "api",
};

describe("failure backstops", () => {
  it("retries, record age, bisecting and an on-failure destination, in provisioned mode", () => {
    const params = buildFeedParams(
      subscription({
        "lambda.max.retry.attempts": 3,
        "lambda.max.record.age.seconds": "3600",
        "lambda.bisect.batch.on.error": true,
        "lambda.on.failure.destination": QUEUE,
      }),
      selfManaged,
      ALIAS,
    );
    expect(params).toMatchObject({
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: QUEUE } },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 20, PollerGroupName: "c" },
      LoggingConfig: { SystemLogLevel: "INFO" },
    });
  });

  it("a Kafka topic of the same cluster as destination", () => {
    const params = buildFeedParams(
      subscription({ "lambda.on.failure.destination": "kafka://orders-failed" }),
      msk,
      ALIAS,
    );
    expect(params.DestinationConfig).toEqual({
      OnFailure: { Destination: "kafka://orders-failed" },
    });
  });

  it("never lets the mapping drop records: finite limits need a destination", () => {
    expect(() => normaliseSubscriptionOptions({ "lambda.max.retry.attempts": 3 })).toThrow(
      new ValidationError(
        `"lambda.max.retry.attempts" would let the event source drop records: set "lambda.on.failure.destination" to keep them`,
      ),
    );
    expect(normaliseSubscriptionOptions({ "lambda.max.retry.attempts": -1 })).toEqual({
      "lambda.max.retry.attempts": "-1",
    });
  });

  it.each([
    [
      { "lambda.max.retry.attempts": "many" },
      "must be -1 (no limit) or a whole number from 0 to 10000",
    ],
    [{ "lambda.max.record.age.seconds": 10 }, "from 60 to 604800"],
    [{ "lambda.bisect.batch.on.error": "yes" }, `must be "true" or "false"`],
    [
      { "lambda.on.failure.destination": "https://example.com" },
      "SQS queue, SNS topic or S3 bucket ARN",
    ],
    [{ "lambda.on.failure.destination": "kafka://bad topic" }, "needs a Kafka topic name"],
  ])("refuses %j", (options, message) => {
    expect(() => normaliseSubscriptionOptions(options)).toThrow(message);
  });
});

describe("poller groups, metrics and logs", () => {
  it("a mapping's own pollers with lambda.poller.group none; another group by name", () => {
    const own = buildFeedParams(
      subscription({ "lambda.report.batch.item.failures": true, "lambda.poller.group": "none" }),
      selfManaged,
      ALIAS,
    );
    expect(own.ProvisionedPollerConfig).toEqual({ MinimumPollers: 1, MaximumPollers: 200 });
    const named = buildFeedParams(
      subscription({ "lambda.poller.group": "orders-pollers", "lambda.max.pollers": 50 }),
      selfManaged,
      ALIAS,
    );
    expect(named.ProvisionedPollerConfig).toEqual({
      MinimumPollers: 1,
      MaximumPollers: 50,
      PollerGroupName: "orders-pollers",
    });
  });

  it("metrics on by default, chosen or off; system logs at the level asked", () => {
    // On demand: EventCount, which AWS has for every mapping; provisioned: all three.
    expect(buildFeedParams(subscription({}), selfManaged, ALIAS)).toMatchObject({
      MetricsConfig: { Metrics: ["EventCount"] },
    });
    expect(
      buildFeedParams(subscription({ "lambda.max.pollers": 5 }), selfManaged, ALIAS),
    ).toMatchObject({
      MetricsConfig: { Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
    });
    expect(buildFeedParams(subscription({}), selfManaged, ALIAS).LoggingConfig).toBeUndefined();
    const chosen = buildFeedParams(
      subscription({ "lambda.metrics": "kafkametrics, EventCount", "lambda.log.level": "debug" }),
      selfManaged,
      ALIAS,
    );
    expect(chosen.MetricsConfig).toEqual({ Metrics: ["EventCount", "KafkaMetrics"] });
    expect(chosen.LoggingConfig).toEqual({ SystemLogLevel: "DEBUG" });
    expect(
      buildFeedParams(subscription({ "lambda.metrics": "none" }), selfManaged, ALIAS).MetricsConfig,
    ).toBeUndefined();
    expect(() => normaliseSubscriptionOptions({ "lambda.metrics": "latency" })).toThrow(
      "EventCount, ErrorCount, KafkaMetrics",
    );
  });
});

describe("queue mode", () => {
  it("a share group on a self-managed cluster: no consumer group, no starting position", () => {
    const params = buildFeedParams(
      subscription({ "lambda.consumption.mode": "QUEUE" }),
      selfManaged,
      ALIAS,
    );
    expect(params.SelfManagedKafkaEventSourceConfig).toEqual({ ConsumptionMode: "Queue" });
    expect(params.StartingPosition).toBeUndefined();
  });

  it("refused for exclusive handlers of keyed services, for MSK, and with consumer group settings", () => {
    const options = normaliseSubscriptionOptions({ "lambda.consumption.mode": "queue" });
    expect(() =>
      checkConsumptionMode(options, { msk: false, ordered: true, sink: "service://Cart/add" }),
    ).toThrow("does not keep order");
    expect(() =>
      buildFeedParams(subscription({ "lambda.consumption.mode": "queue" }), msk, ALIAS),
    ).toThrow("for self-managed Kafka clusters");
    expect(() =>
      normaliseSubscriptionOptions({
        "lambda.consumption.mode": "queue",
        "auto.offset.reset": "earliest",
      }),
    ).toThrow(`"auto.offset.reset" do not apply`);
  });
});

describe("on-failure destinations the deployment may send to", () => {
  const options = (destination: string) =>
    normaliseSubscriptionOptions({ "lambda.on.failure.destination": destination });

  it("a listed ARN, or a topic of the subscription's own cluster", () => {
    const self = { arns: [QUEUE], kafkaTopicArns: [] };
    expect(() => checkOnFailureDestination(options(QUEUE), self)).not.toThrow();
    expect(() => checkOnFailureDestination(options("kafka://failed"), self)).not.toThrow();
    expect(() => checkOnFailureDestination(options(QUEUE), {})).not.toThrow();
  });

  it("an MSK cluster's topic only when its role may write it", () => {
    const failedTopic =
      "arn:aws:kafka:eu-west-1:123456789012:topic/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5/orders-failed";
    const allowed = { arns: [], kafkaTopicArns: [failedTopic], mskClusterArn: MSK_ARN };
    expect(() =>
      checkOnFailureDestination(options("kafka://orders-failed"), allowed),
    ).not.toThrow();
    expect(() => checkOnFailureDestination(options("kafka://other"), allowed)).toThrow(
      `this deployment may not write ${failedTopic.replace("orders-failed", "other")}: list it in the template parameter OnFailureKafkaTopicArns`,
    );
  });

  it("any other is a 400 naming the template parameters", () => {
    const other = "arn:aws:sns:eu-west-1:123456789012:elsewhere";
    expect(() => checkOnFailureDestination(options(other), { arns: [QUEUE] })).toThrow(
      new ValidationError(
        `option "lambda.on.failure.destination" "${other}" is not one this deployment may send to: list it in the template parameter OnFailureQueueArns, OnFailureTopicArns or OnFailureBucketArns`,
      ),
    );
  });
});
