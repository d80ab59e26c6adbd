// Clear SASL credentials given with a cluster through the API: taken out of its properties before
// anything is stored, the value a credentials secret holds (`{"username", "password"}`, what
// Lambda's Kafka event sources read), and the tags that bind such a secret to the cluster's
// brokers (core/kafka-secret-binding.ts reads them back). Pure.
import {
  bootstrapServerList,
  PROP_MSK_CLUSTER_ARN,
  PROP_SASL_PASSWORD,
  PROP_SASL_USERNAME,
} from "./cluster-properties.ts";
import { KAFKA_BROKERS_TAG } from "./kafka-secret-binding.ts";
import type { KafkaCluster } from "./model.ts";
import type { SaslCredentials } from "./ports.ts";

/** The cluster without `sasl.username` / `sasl.password`, and those (when it had both). */
export function takeCredentials(cluster: KafkaCluster): {
  readonly cluster: KafkaCluster;
  readonly credentials: SaslCredentials | undefined;
} {
  const {
    [PROP_SASL_USERNAME]: username,
    [PROP_SASL_PASSWORD]: password,
    ...rest
  } = cluster.properties;
  return {
    cluster: { ...cluster, properties: rest },
    credentials:
      username !== undefined && password !== undefined ? { username, password } : undefined,
  };
}

/** The secret string of a SASL/PLAIN or SCRAM secret, as event source mappings read it. */
export const credentialsSecretString = (credentials: SaslCredentials): string =>
  JSON.stringify({ username: credentials.username, password: credentials.password });

/** Secrets Manager allows 256 characters in a tag value. */
const TAG_VALUE_MAX = 256;

/**
 * The tags binding a credentials secret to what the cluster's event source connects to: the MSK
 * cluster ARN, or every `bootstrap.servers` entry, space-separated, spread over
 * `kafka-lambda-ingress:brokers`, `...:brokers:2`, ... when one value cannot hold them.
 */
export function brokerBindingTags(
  properties: Readonly<Record<string, string>>,
): { Key: string; Value: string }[] {
  const msk = properties[PROP_MSK_CLUSTER_ARN];
  const entries = msk !== undefined ? [msk] : bootstrapServerList(properties);
  const values: string[] = [];
  for (const entry of entries) {
    const last = values.at(-1);
    if (last !== undefined && last.length + 1 + entry.length <= TAG_VALUE_MAX) {
      values[values.length - 1] = `${last} ${entry}`;
    } else {
      values.push(entry);
    }
  }
  return values.map((Value, index) => ({
    Key: index === 0 ? KAFKA_BROKERS_TAG : `${KAFKA_BROKERS_TAG}:${index + 1}`,
    Value,
  }));
}
