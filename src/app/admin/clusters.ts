// Kafka cluster handlers: register (a credentials secret only with the brokers it is bound to),
// list, show (credentials redacted) and delete (refused for clusters from the config file or in
// use).
import { clusterBodySchema, parseBody } from "../../core/admin-schemas.ts";
import { redactCluster, validateClusterProperties } from "../../core/cluster-properties.ts";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../../core/errors.ts";
import type { KafkaCluster } from "../../core/model.ts";
import { quote } from "../../core/uris.ts";
import { type AdminContext, checkKafkaSecretBinding, deleteUnlessUsed } from "./context.ts";
import { accepted, json, type Routes, readJson } from "./router.ts";
import type { AdminRequest, AdminResponse } from "./types.ts";

export function clusterRoutes(ctx: AdminContext): Routes {
  const { store } = ctx.deps;

  async function createCluster(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(clusterBodySchema, readJson(request), "Kafka cluster");
    const cluster: KafkaCluster = {
      name: body.name,
      properties: validateClusterProperties(body.properties, "api"),
      origin: "api",
    };
    await checkKafkaSecretBinding(ctx, cluster);
    try {
      await store.createCluster(cluster);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        throw new AlreadyExistsError(`Kafka cluster ${quote(cluster.name)} already exists`);
      }
      throw error;
    }
    return json(201, redactCluster(cluster), {
      location: `kafka-clusters/${encodeURIComponent(cluster.name)}`,
    });
  }

  async function getCluster(name: string): Promise<KafkaCluster> {
    const cluster = await store.getCluster(name);
    if (!cluster) throw new NotFoundError(`Kafka cluster ${quote(name)} not found`);
    return cluster;
  }

  async function deleteCluster(name: string): Promise<AdminResponse> {
    const cluster = await getCluster(name);
    if (cluster.origin === "config") {
      throw new ConflictError(
        `Kafka cluster ${quote(name)} is declared in the config file; remove it there`,
      );
    }
    await deleteUnlessUsed(store, "cluster", name, `Kafka cluster ${quote(name)}`, () =>
      store.deleteCluster(name),
    );
    return accepted();
  }

  return {
    "kafka-clusters": {
      GET: async () => json(200, { clusters: (await store.listClusters()).map(redactCluster) }),
      POST: (request) => createCluster(request),
    },
    "kafka-clusters/:name": {
      GET: async (_r, [name = ""]) => json(200, redactCluster(await getCluster(name))),
      DELETE: (_r, [name = ""]) => deleteCluster(name),
    },
  };
}
