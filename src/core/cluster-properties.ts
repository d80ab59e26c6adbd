// Kafka cluster properties: which ones we honour, their validation, the config-file form
// (`[[ingress.kafka-clusters]]`) and redaction for API output. Credentials travel by reference
// (a Secrets Manager ARN) or in clear (`sasl.username` / `sasl.password`): through the API these
// are never stored with the cluster but kept by the deployment's credential vault.
import { ValidationError } from "./errors.ts";
import type { ClusterOrigin, KafkaCluster } from "./model.ts";
import {
  checkRegistryProperties,
  isSchemaRegistryProperty,
  normaliseRegistryProperty,
  SCHEMA_REGISTRY_PROPERTIES,
} from "./schema-registry.ts";
import { SECRET_ARN_PATTERN } from "./secrets.ts";
import { scalarText, splitList } from "./text.ts";
import { CLUSTER_NAME_PATTERN, quote } from "./uris.ts";

export const PROP_BOOTSTRAP_SERVERS = "bootstrap.servers";
export const PROP_MSK_CLUSTER_ARN = "aws.msk.cluster.arn";
export const PROP_SECURITY_PROTOCOL = "security.protocol";
export const PROP_SASL_MECHANISM = "sasl.mechanism";
export const PROP_SECRET_ARN = "aws.secrets.manager.arn";
export const PROP_VPC_SUBNETS = "aws.vpc.subnets";
export const PROP_VPC_SECURITY_GROUPS = "aws.vpc.security.groups";
export const PROP_SASL_USERNAME = "sasl.username";
export const PROP_SASL_PASSWORD = "sasl.password";

export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;
export const SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** Properties accepted through the admin API. */
export const API_CLUSTER_PROPERTIES: readonly string[] = [
  PROP_BOOTSTRAP_SERVERS,
  PROP_MSK_CLUSTER_ARN,
  PROP_SECURITY_PROTOCOL,
  PROP_SASL_MECHANISM,
  PROP_SECRET_ARN,
  PROP_VPC_SUBNETS,
  PROP_VPC_SECURITY_GROUPS,
  ...SCHEMA_REGISTRY_PROPERTIES,
  PROP_SASL_USERNAME,
  PROP_SASL_PASSWORD,
];
/** Properties accepted from the local config file: the same. */
export const CONFIG_CLUSTER_PROPERTIES: readonly string[] = API_CLUSTER_PROPERTIES;

const HOST_LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?";
const HOST_PORT = new RegExp(
  `^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9A-Fa-f:.]+\\]):(\\d{1,5})$`,
);
/** `arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>` (also other partitions). */
const MSK_CLUSTER_ARN =
  /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9-]{1,64}\/[A-Za-z0-9-]+$/;
const SUBNET_ID = /^subnet-[0-9a-z]{1,64}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-zA-Z]{1,64}$/;
const MAX_SUBNETS = 16;
const MAX_SECURITY_GROUPS = 5;

/**
 * Key fragments Restate 1.7 redacts (case-insensitive "contains"), from librdkafka's properties
 * that hold credentials, private keys or the file layout of key stores.
 */
const RESTATE_SENSITIVE_FRAGMENTS = [
  "password",
  "secret",
  "passphrase",
  "sasl.username",
  "sasl.jaas.config",
  "sasl.oauthbearer.config",
  "token.endpoint.url",
  "ssl.key.location",
  "ssl.key.pem",
  "keystore.location",
  "truststore.location",
  "sasl.oauthbearer.assertion.private.key",
];

/**
 * Keys whose values must never leave the process: those Restate redacts, and beyond them anything
 * named like a token or a key. The Secrets Manager ARN is a reference, not a secret, and is shown.
 */
export function isSecretProperty(key: string): boolean {
  if (key === PROP_SECRET_ARN) return false;
  const lower = key.toLowerCase();
  return (
    RESTATE_SENSITIVE_FRAGMENTS.some((fragment) => lower.includes(fragment)) ||
    /token|key$/.test(lower)
  );
}

/** What Restate shows in place of a secret value (and its CLI recognises as redacted). */
export const REDACTED = "***";

/** Secret-like values replaced by {@link REDACTED}: cluster properties, subscription options. */
export function redactProperties(
  properties: Readonly<Record<string, string>>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(properties)) {
    result[key] = isSecretProperty(key) ? REDACTED : value;
  }
  return result;
}

/**
 * The properties of a `PATCH`, with every secret-like property sent as {@link REDACTED} (the value
 * the API showed for it) replaced by the stored value: "keep it as it is", which is what Restate's
 * CLI means when it sends back what it read. A marker for a property the cluster does not hold is
 * refused; a marker on any other property is left as it is (a literal value).
 */
export function keepRedactedValues(
  incoming: Readonly<Record<string, unknown>>,
  stored: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(incoming)) {
    if (value !== REDACTED || !isSecretProperty(key)) {
      result[key] = value;
      continue;
    }
    const kept = stored[key];
    if (kept === undefined) {
      throw new ValidationError(
        `property ${quote(key)} is ${quote(REDACTED)}, the marker for a value the API does not show, but the cluster has no value for it to keep`,
      );
    }
    result[key] = kept;
  }
  return result;
}

/** The cluster as the API shows it: secret-like values replaced by a marker. */
export function redactCluster(cluster: KafkaCluster): KafkaCluster {
  return {
    name: cluster.name,
    properties: redactProperties(cluster.properties),
    origin: cluster.origin,
  };
}

/** `bootstrap.servers` as a list of `host:port`. */
export const bootstrapServerList = (properties: Readonly<Record<string, string>>): string[] =>
  splitList(properties[PROP_BOOTSTRAP_SERVERS] ?? "");

/** `PLAINTEXT://`, `SASL_SSL://`, …: the protocol prefix librdkafka accepts on a broker. */
const PROTOCOL_PREFIX = /^([A-Za-z_]+):\/\//;

/**
 * Brokers as librdkafka takes them, each optionally with a protocol prefix
 * (`PLAINTEXT://broker:9092`): the `host:port` list, and the one protocol the prefixes name
 * (undefined without prefixes). Refuses unknown and mixed protocols.
 */
export function splitBrokerProtocols(brokers: readonly string[]): {
  servers: string[];
  protocol: SecurityProtocol | undefined;
} {
  const protocols = new Set<SecurityProtocol>();
  const servers = brokers.map((raw) => {
    const broker = raw.trim();
    const match = PROTOCOL_PREFIX.exec(broker);
    if (!match?.[1]) return broker;
    const protocol = SECURITY_PROTOCOLS.find((p) => p === match[1]?.toUpperCase());
    if (!protocol) {
      throw new ValidationError(
        `broker ${quote(broker)} has an unknown protocol prefix; use ${SECURITY_PROTOCOLS.map((p) => `${p}://`).join(", ")} or none`,
      );
    }
    protocols.add(protocol);
    return broker.slice(match[0].length);
  });
  if (protocols.size > 1) {
    throw new ValidationError(
      `brokers mix protocols ${[...protocols].join(", ")}; one cluster connects with one "security.protocol"`,
    );
  }
  const [protocol] = [...protocols];
  return { servers, protocol };
}

/**
 * Moves protocol prefixes of `bootstrap.servers` onto `security.protocol`: set it when absent,
 * refuse a prefix that contradicts it. Runs before the properties are validated.
 */
function liftBrokerProtocol(raw: Record<string, unknown>): void {
  const value = raw[PROP_BOOTSTRAP_SERVERS];
  if (typeof value !== "string" || !value.includes("://")) return;
  const { servers, protocol } = splitBrokerProtocols(splitList(value));
  raw[PROP_BOOTSTRAP_SERVERS] = servers.join(",");
  if (protocol === undefined) return;
  const explicit = raw[PROP_SECURITY_PROTOCOL];
  if (explicit === undefined) {
    raw[PROP_SECURITY_PROTOCOL] = protocol;
    return;
  }
  const stated =
    typeof explicit === "string" ? explicit.trim().toUpperCase() : String(explicit).toUpperCase();
  if (stated !== protocol) {
    throw new ValidationError(
      `property "bootstrap.servers" names protocol ${protocol}:// but "security.protocol" is ${quote(String(explicit))}; drop the prefix or make them agree`,
    );
  }
}

function normaliseBootstrapServers(value: string): string {
  const servers = splitList(value);
  if (servers.length === 0) {
    throw new ValidationError(`property "bootstrap.servers" must list at least one host:port`);
  }
  for (const server of servers) {
    const match = HOST_PORT.exec(server);
    const port = match ? Number(match[1]) : 0;
    if (!match || port < 1 || port > 65_535) {
      const hint = server.includes("://") ? " (without a scheme such as PLAINTEXT://)" : "";
      throw new ValidationError(
        `property "bootstrap.servers" must be a comma-separated list of host:port${hint}, got ${quote(server)}`,
      );
    }
  }
  return servers.join(",");
}

function normaliseIdList(key: string, value: string, pattern: RegExp, max: number): string {
  const ids = splitList(value);
  if (ids.length === 0 || ids.length > max) {
    throw new ValidationError(`property ${quote(key)} must list 1 to ${max} comma-separated ids`);
  }
  for (const id of ids) {
    if (!pattern.test(id)) {
      throw new ValidationError(`property ${quote(key)} has an invalid id ${quote(id)}`);
    }
  }
  return ids.join(",");
}

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  const upper = value.trim().toUpperCase();
  const found = allowed.find((candidate) => candidate === upper);
  if (!found) {
    throw new ValidationError(
      `property ${quote(key)} must be one of ${allowed.join(", ")}, got ${quote(value)}`,
    );
  }
  return found;
}

/**
 * Validates and normalises cluster properties. Clear credentials (`sasl.username` /
 * `sasl.password`) go together; through the API (`origin` "api") also only with a SASL PLAIN or
 * SCRAM mechanism, never beside `aws.secrets.manager.arn`, and not for MSK. Messages never
 * contain the values of secret-like properties.
 */
export function validateClusterProperties(
  input: Readonly<Record<string, unknown>>,
  origin: ClusterOrigin,
): Record<string, string> {
  const raw: Record<string, unknown> = { ...input };
  liftBrokerProtocol(raw);
  const keys = Object.keys(raw);
  const supported = origin === "api" ? API_CLUSTER_PROPERTIES : CONFIG_CLUSTER_PROPERTIES;
  const unknown = keys.filter((key) => !supported.includes(key));
  if (unknown.length > 0) {
    throw new ValidationError(
      `unsupported cluster propert${unknown.length > 1 ? "ies" : "y"} ${unknown.map((k) => quote(k)).join(", ")}; supported properties: ${supported.join(", ")}`,
    );
  }

  const p: Record<string, string> = {};
  for (const key of keys) {
    const text = scalarText(raw[key], `property ${quote(key)}`);
    if (isSecretProperty(key)) {
      if (text.length === 0) throw new ValidationError(`property ${quote(key)} must not be empty`);
      p[key] = text;
      continue;
    }
    const value = text.trim();
    switch (key) {
      case PROP_BOOTSTRAP_SERVERS:
        p[key] = normaliseBootstrapServers(value);
        break;
      case PROP_MSK_CLUSTER_ARN:
        if (!MSK_CLUSTER_ARN.test(value)) {
          throw new ValidationError(
            `property "aws.msk.cluster.arn" must be an MSK cluster ARN like arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>, got ${quote(value)}`,
          );
        }
        p[key] = value;
        break;
      case PROP_SECURITY_PROTOCOL:
        p[key] = oneOf(key, value, SECURITY_PROTOCOLS);
        break;
      case PROP_SASL_MECHANISM:
        p[key] = oneOf(key, value, SASL_MECHANISMS);
        break;
      case PROP_SECRET_ARN:
        if (!SECRET_ARN_PATTERN.test(value)) {
          throw new ValidationError(
            `property "aws.secrets.manager.arn" must be a Secrets Manager secret ARN like arn:aws:secretsmanager:<region>:<account>:secret:<name>`,
          );
        }
        p[key] = value;
        break;
      case PROP_VPC_SUBNETS:
        p[key] = normaliseIdList(key, value, SUBNET_ID, MAX_SUBNETS);
        break;
      case PROP_VPC_SECURITY_GROUPS:
        p[key] = normaliseIdList(key, value, SECURITY_GROUP_ID, MAX_SECURITY_GROUPS);
        break;
      default:
        p[key] = isSchemaRegistryProperty(key) ? normaliseRegistryProperty(key, value) : value;
    }
  }
  checkConsistency(p);
  checkRegistryProperties(p);
  if (origin === "api") checkApiCredentials(p);
  return p;
}

/** Clear credentials through the API: what the vault keeps must be what the event source uses. */
function checkApiCredentials(p: Readonly<Record<string, string>>): void {
  if (p[PROP_SASL_USERNAME] === undefined) return;
  const mechanism = p[PROP_SASL_MECHANISM] as SaslMechanism | undefined;
  if (mechanism === undefined) {
    throw new ValidationError(
      `"sasl.username" / "sasl.password" need "sasl.mechanism" PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (and "security.protocol" SASL_PLAINTEXT or SASL_SSL)`,
    );
  }
  if (p[PROP_SECRET_ARN] !== undefined) {
    throw new ValidationError(
      `give either "sasl.username" / "sasl.password" or "aws.secrets.manager.arn", not both`,
    );
  }
  if (p[PROP_MSK_CLUSTER_ARN] !== undefined) {
    throw new ValidationError(
      `Amazon MSK takes SCRAM credentials only from a secret named AmazonMSK_... that is associated with the cluster: set "aws.secrets.manager.arn" to its ARN instead of "sasl.username" / "sasl.password"`,
    );
  }
}

function checkConsistency(p: Readonly<Record<string, string>>): void {
  const msk = p[PROP_MSK_CLUSTER_ARN] !== undefined;
  if (!msk && p[PROP_BOOTSTRAP_SERVERS] === undefined) {
    throw new ValidationError(
      `cluster properties need "bootstrap.servers" (a self-managed cluster) or "aws.msk.cluster.arn" (an Amazon MSK cluster)`,
    );
  }
  const protocol = p[PROP_SECURITY_PROTOCOL] as SecurityProtocol | undefined;
  const mechanism = p[PROP_SASL_MECHANISM] as SaslMechanism | undefined;
  const sasl = protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";
  if (mechanism && protocol && !sasl) {
    throw new ValidationError(
      `property "sasl.mechanism" needs "security.protocol" SASL_PLAINTEXT or SASL_SSL, not ${protocol}`,
    );
  }
  if (sasl && !mechanism) {
    throw new ValidationError(`"security.protocol" ${protocol} needs "sasl.mechanism"`);
  }
  const hasClearCredentials =
    p[PROP_SASL_USERNAME] !== undefined || p[PROP_SASL_PASSWORD] !== undefined;
  if (hasClearCredentials) {
    if (p[PROP_SASL_USERNAME] === undefined || p[PROP_SASL_PASSWORD] === undefined) {
      throw new ValidationError(`"sasl.username" and "sasl.password" go together`);
    }
    // Without a mechanism they are unused (the reference config shows them beside PLAINTEXT
    // brokers), which is harmless; with IAM they contradict it.
    if (mechanism === "AWS_MSK_IAM") {
      throw new ValidationError(
        `"sasl.username" / "sasl.password" do not go with "sasl.mechanism" AWS_MSK_IAM`,
      );
    }
  }
  if (mechanism === "AWS_MSK_IAM" && !msk) {
    throw new ValidationError(`"sasl.mechanism" AWS_MSK_IAM needs "aws.msk.cluster.arn"`);
  }
  if (mechanism && mechanism !== "AWS_MSK_IAM" && !hasClearCredentials && !p[PROP_SECRET_ARN]) {
    throw new ValidationError(
      `"sasl.mechanism" ${mechanism} needs credentials: set "aws.secrets.manager.arn" to the ARN of the secret holding them`,
    );
  }
  if (msk && (mechanism === "PLAIN" || mechanism === "SCRAM-SHA-256")) {
    throw new ValidationError(
      `Amazon MSK event sources support "sasl.mechanism" SCRAM-SHA-512 or AWS_MSK_IAM, not ${mechanism}`,
    );
  }
  if (p[PROP_SECRET_ARN] && (!mechanism || mechanism === "AWS_MSK_IAM") && protocol !== "SSL") {
    throw new ValidationError(
      `"aws.secrets.manager.arn" is used for SASL PLAIN/SCRAM credentials or, with "security.protocol" SSL, a client certificate; set one of those`,
    );
  }
  const subnets = p[PROP_VPC_SUBNETS] !== undefined;
  const groups = p[PROP_VPC_SECURITY_GROUPS] !== undefined;
  if (subnets !== groups) {
    throw new ValidationError(`"aws.vpc.subnets" and "aws.vpc.security.groups" go together`);
  }
  if (subnets && msk) {
    throw new ValidationError(
      `"aws.vpc.subnets" / "aws.vpc.security.groups" apply to self-managed clusters; an MSK event source uses the cluster's own network settings`,
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Converts one `[[ingress.kafka-clusters]]` entry (`name`, `brokers = ["PLAINTEXT://host:9092"]`,
 * plus quoted Kafka property keys) into a config-origin cluster. The brokers' scheme prefix is
 * stripped and becomes `security.protocol` unless that is set explicitly.
 */
export function clusterFromConfigEntry(
  entry: unknown,
  where = "ingress.kafka-clusters entry",
): KafkaCluster {
  const fail = (message: string): never => {
    throw new ValidationError(`${where}: ${message}`);
  };
  if (!isRecord(entry)) return fail("must be a table");
  const { name, brokers, ...rest } = entry;
  if (typeof name !== "string" || !CLUSTER_NAME_PATTERN.test(name)) {
    return fail(`"name" must be 1 to 64 letters, digits, '_' or '-'`);
  }
  const properties: Record<string, unknown> = { ...rest };
  if (brokers !== undefined) {
    if (properties[PROP_BOOTSTRAP_SERVERS] !== undefined) {
      fail(`set either "brokers" or "bootstrap.servers", not both`);
    }
    const list = typeof brokers === "string" ? [brokers] : brokers;
    if (!Array.isArray(list) || list.length === 0 || !list.every((b) => typeof b === "string")) {
      fail(`"brokers" must be a non-empty list of strings such as "PLAINTEXT://broker:9092"`);
    }
    // The prefixes go onto "security.protocol" as they do for "bootstrap.servers" given
    // through the API (one implementation: validateClusterProperties).
    properties[PROP_BOOTSTRAP_SERVERS] = (list as string[]).map((b) => b.trim()).join(",");
  }
  try {
    return { name, properties: validateClusterProperties(properties, "config"), origin: "config" };
  } catch (error) {
    if (error instanceof ValidationError) return fail(`cluster ${quote(name)}: ${error.message}`);
    throw error;
  }
}

/**
 * Reads the clusters of a parsed Restate-style config document (`ingress.kafka-clusters`, an
 * array of tables). A document without that section has no clusters. Duplicate names are refused.
 */
export function clustersFromConfigFile(document: unknown): KafkaCluster[] {
  if (!isRecord(document))
    throw new ValidationError("config file: expected a table at the top level");
  const ingress = document.ingress;
  if (ingress === undefined) return [];
  if (!isRecord(ingress)) throw new ValidationError(`config file: "ingress" must be a table`);
  const entries = ingress["kafka-clusters"];
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) {
    throw new ValidationError(
      `config file: "ingress.kafka-clusters" must be an array of tables ([[ingress.kafka-clusters]])`,
    );
  }
  const clusters = entries.map((entry, index) =>
    clusterFromConfigEntry(entry, `ingress.kafka-clusters[${index}]`),
  );
  const seen = new Set<string>();
  for (const cluster of clusters) {
    if (seen.has(cluster.name)) {
      throw new ValidationError(`config file: cluster ${quote(cluster.name)} is declared twice`);
    }
    seen.add(cluster.name);
  }
  return clusters;
}
