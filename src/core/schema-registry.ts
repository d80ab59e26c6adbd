// Schema registries (Avro, Protobuf, JSON Schema records in the Confluent or AWS Glue format):
// where a cluster's registry is and how to reach it (cluster properties), which parts of a
// subscription's records are decoded and in which form (subscription options), and what that
// makes of the event source mapping's `SchemaRegistryConfig`.
//
// The registry belongs to the cluster: one registry serves every topic of a Kafka environment,
// and its address and credentials are set up once, like the brokers'. What to decode belongs to
// the subscription: topics differ (a JSON key beside an Avro value), and every event source
// mapping — one per subscription — carries its own SchemaRegistryConfig.
import type { KafkaSchemaRegistryConfig } from "@aws-sdk/client-lambda";
import { ValidationError } from "./errors.ts";
import { SECRET_ARN_PATTERN } from "./secrets.ts";
import { splitList } from "./text.ts";
import { quote } from "./uris.ts";

export const PROP_SCHEMA_REGISTRY_URL = "schema.registry.url";
export const PROP_SCHEMA_REGISTRY_BASIC_AUTH = "schema.registry.basic.auth.arn";
export const PROP_SCHEMA_REGISTRY_CLIENT_CERTIFICATE = "schema.registry.client.certificate.arn";
export const PROP_SCHEMA_REGISTRY_ROOT_CA = "schema.registry.root.ca.arn";

/** Cluster properties naming the registry (the ARNs are references to secrets, not secrets). */
export const SCHEMA_REGISTRY_PROPERTIES: readonly string[] = [
  PROP_SCHEMA_REGISTRY_URL,
  PROP_SCHEMA_REGISTRY_BASIC_AUTH,
  PROP_SCHEMA_REGISTRY_CLIENT_CERTIFICATE,
  PROP_SCHEMA_REGISTRY_ROOT_CA,
];

export const OPTION_SCHEMA_DECODE = "schema.registry.decode";
export const OPTION_SCHEMA_RECORD_FORMAT = "schema.registry.record.format";

export const SCHEMA_REGISTRY_OPTIONS: readonly string[] = [
  OPTION_SCHEMA_DECODE,
  OPTION_SCHEMA_RECORD_FORMAT,
];

export type RecordPart = "key" | "value";
export type RecordFormat = "JSON" | "SOURCE";
export type RegistryKind = "confluent" | "glue";

/** `arn:aws:glue:<region>:<account>:registry/<name>` (other partitions too). */
const GLUE_REGISTRY_ARN =
  /^arn:aws[a-z-]*:glue:[a-z0-9-]+:\d{12}:registry\/[A-Za-z0-9_$#.-]{1,255}$/;
/** What the Lambda API accepts for SchemaRegistryURI. */
const REGISTRY_URI_CHARACTERS = /^[a-zA-Z0-9\-/*:_+=.@]{1,10000}$/;

export const isSchemaRegistryProperty = (key: string): boolean =>
  SCHEMA_REGISTRY_PROPERTIES.includes(key);

export const registryKind = (url: string): RegistryKind =>
  url.startsWith("arn:") ? "glue" : "confluent";

function registryUrl(value: string): string {
  if (value.startsWith("arn:")) {
    if (!GLUE_REGISTRY_ARN.test(value)) {
      throw new ValidationError(
        `property "schema.registry.url" must be a Confluent-compatible registry URL (https://host[:port][/path]) or an AWS Glue registry ARN (arn:aws:glue:<region>:<account>:registry/<name>), got ${quote(value)}`,
      );
    }
    return value;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(
      `property "schema.registry.url" must be an absolute http:// or https:// URL or an AWS Glue registry ARN, got ${quote(value)}`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ValidationError(`property "schema.registry.url" must be an http:// or https:// URL`);
  }
  if (url.username || url.password) {
    throw new ValidationError(
      `property "schema.registry.url" must not contain credentials: store them in a secret and set "schema.registry.basic.auth.arn" to its ARN`,
    );
  }
  if (url.search || url.hash) {
    throw new ValidationError(
      `property "schema.registry.url" must not contain a query or fragment`,
    );
  }
  const text = value.replace(/\/+$/, "");
  if (!REGISTRY_URI_CHARACTERS.test(text)) {
    throw new ValidationError(
      `property "schema.registry.url" may contain only letters, digits and - / * : _ + = . @ (what the event source mapping accepts)`,
    );
  }
  return text;
}

/** The normal form of a registry property, or ValidationError naming it. */
export function normaliseRegistryProperty(key: string, value: string): string {
  if (key === PROP_SCHEMA_REGISTRY_URL) return registryUrl(value);
  if (!SECRET_ARN_PATTERN.test(value)) {
    throw new ValidationError(
      `property ${quote(key)} must be a Secrets Manager secret ARN like arn:aws:secretsmanager:<region>:<account>:secret:<name>`,
    );
  }
  return value;
}

/** Rules across the registry properties of one cluster. */
export function checkRegistryProperties(p: Readonly<Record<string, string>>): void {
  const url = p[PROP_SCHEMA_REGISTRY_URL];
  const references = SCHEMA_REGISTRY_PROPERTIES.filter(
    (key) => key !== PROP_SCHEMA_REGISTRY_URL && p[key] !== undefined,
  );
  if (url === undefined) {
    if (references.length > 0) {
      throw new ValidationError(
        `${references.map((k) => quote(k)).join(", ")} need "schema.registry.url"`,
      );
    }
    return;
  }
  if (
    p[PROP_SCHEMA_REGISTRY_BASIC_AUTH] !== undefined &&
    p[PROP_SCHEMA_REGISTRY_CLIENT_CERTIFICATE] !== undefined
  ) {
    // The mapping takes one way to authenticate, plus a root CA (at most two AccessConfigs).
    throw new ValidationError(
      `"schema.registry.basic.auth.arn" and "schema.registry.client.certificate.arn" do not go together: a registry is reached with one of them`,
    );
  }
  if (registryKind(url) === "glue" && references.length > 0) {
    throw new ValidationError(
      `an AWS Glue registry is reached with the event source's IAM role: ${references.map((k) => quote(k)).join(", ")} apply to Confluent-compatible registries only`,
    );
  }
}

/** The normal form of a registry subscription option, or undefined when `key` is not one. */
export function normaliseRegistryOption(key: string, value: string): string | undefined {
  if (key === OPTION_SCHEMA_DECODE) {
    const parts = splitList(value.toLowerCase());
    const valid = parts.length > 0 && parts.every((part) => part === "key" || part === "value");
    if (!valid || new Set(parts).size !== parts.length) {
      throw new ValidationError(
        `option "schema.registry.decode" must be "key", "value" or "key,value", got ${quote(value)}`,
      );
    }
    return (["key", "value"] as const).filter((part) => parts.includes(part)).join(",");
  }
  if (key === OPTION_SCHEMA_RECORD_FORMAT) {
    const upper = value.trim().toUpperCase();
    if (upper !== "JSON" && upper !== "SOURCE") {
      throw new ValidationError(
        `option "schema.registry.record.format" must be "JSON" or "SOURCE", got ${quote(value)}`,
      );
    }
    return upper;
  }
  return undefined;
}

/** What a subscription decodes with its cluster's registry. */
export interface RegistryDecoding {
  readonly url: string;
  readonly kind: RegistryKind;
  readonly parts: readonly RecordPart[];
  readonly format: RecordFormat;
}

/**
 * The decoding a subscription asks for (undefined when it asks for none). Throws ValidationError
 * when it asks for one and its cluster has no registry.
 */
export function registryDecoding(
  clusterName: string,
  properties: Readonly<Record<string, string>>,
  options: Readonly<Record<string, string>>,
): RegistryDecoding | undefined {
  const decode = options[OPTION_SCHEMA_DECODE];
  const format = options[OPTION_SCHEMA_RECORD_FORMAT];
  if (decode === undefined) {
    if (format !== undefined) {
      throw new ValidationError(
        `option "schema.registry.record.format" needs "schema.registry.decode"`,
      );
    }
    return undefined;
  }
  const url = properties[PROP_SCHEMA_REGISTRY_URL];
  if (url === undefined) {
    throw new ValidationError(
      `option "schema.registry.decode" needs a schema registry on cluster ${quote(clusterName)}: set its "schema.registry.url"`,
    );
  }
  return {
    url,
    kind: registryKind(url),
    parts: splitList(decode) as RecordPart[],
    format: format === "SOURCE" ? "SOURCE" : "JSON",
  };
}

/** The event source mapping's `SchemaRegistryConfig` for a subscription's decoding. */
export function schemaRegistryConfig(
  decoding: RegistryDecoding,
  properties: Readonly<Record<string, string>>,
): KafkaSchemaRegistryConfig {
  const access: NonNullable<KafkaSchemaRegistryConfig["AccessConfigs"]> = [];
  const basic = properties[PROP_SCHEMA_REGISTRY_BASIC_AUTH];
  const certificate = properties[PROP_SCHEMA_REGISTRY_CLIENT_CERTIFICATE];
  const rootCa = properties[PROP_SCHEMA_REGISTRY_ROOT_CA];
  if (basic !== undefined) access.push({ Type: "BASIC_AUTH", URI: basic });
  if (certificate !== undefined)
    access.push({ Type: "CLIENT_CERTIFICATE_TLS_AUTH", URI: certificate });
  if (rootCa !== undefined) access.push({ Type: "SERVER_ROOT_CA_CERTIFICATE", URI: rootCa });
  return {
    SchemaRegistryURI: decoding.url,
    EventRecordFormat: decoding.format,
    ...(access.length > 0 ? { AccessConfigs: access } : {}),
    SchemaValidationConfigs: decoding.parts.map((part) => ({
      Attribute: part === "key" ? "KEY" : "VALUE",
    })),
  };
}
