// Reads Kafka clusters from a Restate-style config file (`[[ingress.kafka-clusters]]` entries).
import { readFile } from "node:fs/promises";
import { parse } from "smol-toml";
import { clustersFromConfigFile } from "../core/cluster-properties.ts";
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
