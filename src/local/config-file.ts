// Reads Kafka clusters from a Restate-style config file (`[[ingress.kafka-clusters]]` entries),
// and splits off their clear credentials, which the local stack keeps in memory only.
import { readFile } from "node:fs/promises";
import { parse } from "smol-toml";
import { clustersFromConfigFile, isSecretProperty } from "../core/cluster-properties.ts";
import type { KafkaCluster } from "../core/model.ts";

export async function readConfigFileClusters(path: string): Promise<KafkaCluster[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`Cannot read config file ${path}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new Error(`Config file ${path} is not valid TOML: ${(error as Error).message}`);
  }
  return clustersFromConfigFile(document);
}

/** Cluster credentials (`sasl.username`, `sasl.password`) by cluster name. */
export type ClusterCredentials = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** The cluster without its credentials (what may be stored), and the credentials. */
export function splitCredentials(cluster: KafkaCluster): {
  stored: KafkaCluster;
  credentials: Record<string, string>;
} {
  const kept: Record<string, string> = {};
  const credentials: Record<string, string> = {};
  for (const [key, value] of Object.entries(cluster.properties)) {
    if (isSecretProperty(key)) credentials[key] = value;
    else kept[key] = value;
  }
  return { stored: { ...cluster, properties: kept }, credentials };
}
