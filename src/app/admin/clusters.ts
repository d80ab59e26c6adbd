// Kafka cluster handlers: register (a credentials secret only with the brokers it is bound to),
// list, show (credentials redacted, with its subscriptions on request) and delete (refused for
// clusters from the config file or in use). Clusters are shown as Restate shows them, with
// `created_at`, so Restate's CLI reads them too.
import { clusterBodySchema, parseBody } from "../../core/admin-schemas.ts";
import { redactCluster, validateClusterProperties } from "../../core/cluster-properties.ts";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../../core/errors.ts";
import type { KafkaCluster } from "../../core/model.ts";
import { quote } from "../../core/uris.ts";
import { type AdminContext, checkKafkaSecretBinding, deleteUnlessUsed } from "./context.ts";
import { accepted, json, type Routes, readJson } from "./router.ts";
import { flag, subscriptionView } from "./subscriptions.ts";
import type { AdminRequest, AdminResponse } from "./types.ts";

/** What Restate shows for clusters it has no registration time of (its static config ones). */
const UNKNOWN_CREATION = "1970-01-01T00:00:00Z";

/** How the API shows a cluster: credentials redacted, `created_at` always there. */
export function clusterView(cluster: KafkaCluster): Record<string, unknown> {
  return { ...redactCluster(cluster), created_at: cluster.createdAt ?? UNKNOWN_CREATION };
}

export function clusterRoutes(ctx: AdminContext): Routes {
  const { store } = ctx.deps;

  async function createCluster(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(clusterBodySchema, readJson(request), "Kafka cluster");
    const cluster: KafkaCluster = {
      name: body.name,
      properties: validateClusterProperties(body.properties, "api"),
      origin: "api",
      createdAt: ctx.now().toISOString(),
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
    return json(201, clusterView(cluster), {
      location: `kafka-clusters/${encodeURIComponent(cluster.name)}`,
    });
  }

  async function getCluster(name: string): Promise<KafkaCluster> {
    const cluster = await store.getCluster(name);
    if (!cluster) throw new NotFoundError(`Kafka cluster ${quote(name)} not found`);
    return cluster;
  }

  /** `GET /kafka-clusters/{name}`: `subscriptions` is always there (Restate's CLI requires it),
   * filled only with `?include_subscriptions=true`. */
  async function showCluster(request: AdminRequest, name: string): Promise<AdminResponse> {
    const withSubscriptions = flag(request.query.include_subscriptions, "include_subscriptions");
    const cluster = await getCluster(name);
    const subscriptions = withSubscriptions
      ? (await store.listSubscriptions())
          .filter((subscription) => subscription.cluster === name)
          .map(subscriptionView)
      : [];
    return json(200, { ...clusterView(cluster), subscriptions });
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
      GET: async () => json(200, { clusters: (await store.listClusters()).map(clusterView) }),
      POST: (request) => createCluster(request),
    },
    "kafka-clusters/:name": {
      GET: (request, [name = ""]) => showCluster(request, name),
      DELETE: (_r, [name = ""]) => deleteCluster(name),
    },
  };
}
