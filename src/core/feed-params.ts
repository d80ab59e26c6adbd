// The AWS event source mapping that feeds one subscription, as a pure function of the
// subscription, its cluster and the function alias it invokes.
import type {
  CreateEventSourceMappingCommandInput,
  SourceAccessConfiguration,
} from "@aws-sdk/client-lambda";
import {
  bootstrapServerList,
  PROP_MSK_CLUSTER_ARN,
  PROP_SASL_MECHANISM,
  PROP_SASL_PASSWORD,
  PROP_SECRET_ARN,
  PROP_SECURITY_PROTOCOL,
  PROP_VPC_SECURITY_GROUPS,
  PROP_VPC_SUBNETS,
  type SaslMechanism,
} from "./cluster-properties.ts";
import { ValidationError } from "./errors.ts";
import {
  checkConsumptionMode,
  consumptionMode,
  mappingParams,
  pollerGroupName,
} from "./mapping-options.ts";
import type { KafkaCluster, Subscription } from "./model.ts";
import { registryDecoding, schemaRegistryConfig } from "./schema-registry.ts";
import { feedSettings } from "./subscription-options.ts";
import { splitList } from "./text.ts";
import { quote } from "./uris.ts";

function sourceAccess(cluster: KafkaCluster, msk: boolean): SourceAccessConfiguration[] {
  const p = cluster.properties;
  const mechanism = p[PROP_SASL_MECHANISM] as SaslMechanism | undefined;
  const secret = p[PROP_SECRET_ARN];
  const result: SourceAccessConfiguration[] = [];
  const needSecret = (): string => {
    if (secret) return secret;
    const why =
      p[PROP_SASL_PASSWORD] !== undefined
        ? "its clear credentials (config file) cannot be used by an AWS event source"
        : "it has no credentials";
    throw new ValidationError(
      `cluster ${quote(cluster.name)} uses SASL ${mechanism} but ${why}: set "aws.secrets.manager.arn"`,
    );
  };
  switch (mechanism) {
    case "SCRAM-SHA-512":
      result.push({ Type: "SASL_SCRAM_512_AUTH", URI: needSecret() });
      break;
    case "SCRAM-SHA-256":
    case "PLAIN":
      if (msk) {
        throw new ValidationError(
          `cluster ${quote(cluster.name)}: Amazon MSK event sources do not support SASL ${mechanism}`,
        );
      }
      result.push({
        Type: mechanism === "PLAIN" ? "BASIC_AUTH" : "SASL_SCRAM_256_AUTH",
        URI: needSecret(),
      });
      break;
    case "AWS_MSK_IAM":
      // MSK event sources authenticate with the function's execution role; nothing to add.
      break;
    default:
      if (p[PROP_SECURITY_PROTOCOL] === "SSL" && secret) {
        result.push({ Type: "CLIENT_CERTIFICATE_TLS_AUTH", URI: secret });
      }
  }
  if (!msk) {
    for (const subnet of splitList(p[PROP_VPC_SUBNETS] ?? "")) {
      result.push({ Type: "VPC_SUBNET", URI: `subnet:${subnet}` });
    }
    for (const group of splitList(p[PROP_VPC_SECURITY_GROUPS] ?? "")) {
      result.push({ Type: "VPC_SECURITY_GROUP", URI: `security_group:${group}` });
    }
  }
  return result;
}

/**
 * The CreateEventSourceMapping request for a subscription. An MSK cluster (`aws.msk.cluster.arn`,
 * which wins when `bootstrap.servers` is also set) becomes `EventSourceArn`; a self-managed one
 * becomes `SelfManagedEventSource`. Throws ValidationError when the cluster cannot feed an AWS
 * event source (e.g. clear credentials only).
 */
export function buildFeedParams(
  subscription: Subscription,
  cluster: KafkaCluster,
  functionAliasArn: string,
): CreateEventSourceMappingCommandInput {
  const settings = feedSettings(subscription.id, subscription.options);
  const mskArn = cluster.properties[PROP_MSK_CLUSTER_ARN];
  const access = sourceAccess(cluster, mskArn !== undefined);
  const params: CreateEventSourceMappingCommandInput = {
    FunctionName: functionAliasArn,
    Topics: [subscription.topic],
    // A share group (queue mode) has no starting position.
    ...(consumptionMode(subscription.options)
      ? {}
      : { StartingPosition: settings.startingPosition }),
  };
  if (settings.startingPositionTimestamp !== undefined) {
    params.StartingPositionTimestamp = new Date(settings.startingPositionTimestamp);
  }
  checkConsumptionMode(subscription.options, {
    msk: mskArn !== undefined,
    ordered: false, // the admin checks the sink before a mapping is built
    sink: subscription.sink,
  });
  const decoding = registryDecoding(cluster.name, cluster.properties, subscription.options);
  const registry = decoding
    ? { SchemaRegistryConfig: schemaRegistryConfig(decoding, cluster.properties) }
    : {};
  if (mskArn !== undefined) {
    params.EventSourceArn = mskArn;
    params.AmazonManagedKafkaEventSourceConfig = {
      ConsumerGroupId: settings.consumerGroupId,
      ...registry,
    };
  } else {
    const servers = bootstrapServerList(cluster.properties);
    if (servers.length === 0) {
      throw new ValidationError(
        `cluster ${quote(cluster.name)} has neither "aws.msk.cluster.arn" nor "bootstrap.servers"`,
      );
    }
    params.SelfManagedEventSource = { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: servers } };
    const mode = consumptionMode(subscription.options);
    params.SelfManagedKafkaEventSourceConfig = mode
      ? { ConsumptionMode: mode, ...registry }
      : { ConsumerGroupId: settings.consumerGroupId, ...registry };
  }
  if (access.length > 0) params.SourceAccessConfigurations = access;
  if (settings.batchSize !== undefined) params.BatchSize = settings.batchSize;
  if (settings.batchingWindowSeconds !== undefined) {
    params.MaximumBatchingWindowInSeconds = settings.batchingWindowSeconds;
  }
  if (settings.pollers) {
    const group = pollerGroupName(subscription.options, cluster.name);
    params.ProvisionedPollerConfig = {
      MinimumPollers: settings.pollers.minimum,
      MaximumPollers: settings.pollers.maximum,
      ...(group === undefined ? {} : { PollerGroupName: group }),
    };
  }
  Object.assign(params, mappingParams(subscription.options, settings.pollers !== undefined));
  if (settings.reportBatchItemFailures) params.FunctionResponseTypes = ["ReportBatchItemFailures"];
  return params;
}
