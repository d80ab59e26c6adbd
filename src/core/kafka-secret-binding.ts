// Which brokers a Kafka credentials secret (`aws.secrets.manager.arn`) may be used with: the
// secret's owner binds it with tags naming MSK cluster ARNs or `host:port` bootstrap servers, and
// a cluster is accepted only when everything its event source would connect to is bound. Pure:
// tags in, a reason out.
import {
  bootstrapServerList,
  PROP_MSK_CLUSTER_ARN,
  PROP_SECRET_ARN,
} from "./cluster-properties.ts";

/**
 * The tag that binds a Kafka secret: space-separated MSK cluster ARNs and/or `host:port` entries
 * (tag values cannot hold commas). More entries than one value holds (256 characters) go into
 * further tags whose keys start with `kafka-lambda-ingress:brokers:` (`...:brokers:2`).
 */
export const KAFKA_BROKERS_TAG = "kafka-lambda-ingress:brokers";

/** Reads the binding of a Kafka secret (its entries); throws SecretUnavailableError when it
 * cannot be read. */
export type KafkaSecretBindingReader = (secretRef: string) => Promise<readonly string[]>;

/** The binding entries in a secret's tags (Secrets Manager's `{Key, Value}` list). */
export function brokersFromTags(
  tags:
    | readonly { readonly Key?: string | undefined; readonly Value?: string | undefined }[]
    | undefined,
): string[] {
  const entries: string[] = [];
  for (const tag of tags ?? []) {
    const key = tag.Key ?? "";
    if (key !== KAFKA_BROKERS_TAG && !key.startsWith(`${KAFKA_BROKERS_TAG}:`)) continue;
    entries.push(...(tag.Value ?? "").split(/[\s,]+/).filter((entry) => entry.length > 0));
  }
  return entries;
}

/** Host names compare case-insensitively; ARNs exactly. */
const normaliseServer = (server: string): string => server.trim().toLowerCase();

/**
 * Why the cluster may not use its secret (undefined when it may, or names none). An MSK cluster
 * (`aws.msk.cluster.arn`, which the event source uses when set) needs its ARN bound; a
 * self-managed one needs every `bootstrap.servers` entry bound. The reason names the rule, the
 * secret's ARN and what is not bound.
 */
export function kafkaSecretRefusal(
  properties: Readonly<Record<string, string>>,
  bound: readonly string[],
): string | undefined {
  const secretRef = properties[PROP_SECRET_ARN];
  if (secretRef === undefined) return undefined;
  const how = `add them to the secret's tag ${KAFKA_BROKERS_TAG} (space-separated)`;
  const msk = properties[PROP_MSK_CLUSTER_ARN];
  if (msk !== undefined) {
    if (bound.includes(msk)) return undefined;
    return `secret ${secretRef} is not bound to MSK cluster ${msk}; ${how}`;
  }
  const boundServers = new Set(bound.map(normaliseServer));
  const unbound = bootstrapServerList(properties).filter(
    (server) => !boundServers.has(normaliseServer(server)),
  );
  if (unbound.length === 0) return undefined;
  return `secret ${secretRef} is not bound to ${unbound.join(", ")}; ${how}`;
}
