// Kafka cluster handlers: register (a credentials secret only with the brokers it is bound to),
// list, show (credentials as `***`, with its subscriptions on request), change (PATCH: the whole
// properties map, refused while subscriptions use the cluster) and delete (refused while in use
// unless forced, which deletes the subscriptions first). Clusters from the config file are
// changed there only. Clusters are shown as Restate shows them, with `created_at`, so Restate's
// CLI reads, patches and edits them too.
import { clusterBodySchema, clusterPatchSchema, parseBody } from "../../core/admin-schemas.ts";
import {
  keepRedactedValues,
  redactCluster,
  validateClusterProperties,
} from "../../core/cluster-properties.ts";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../../core/errors.ts";
import type { KafkaCluster } from "../../core/model.ts";
import { quote } from "../../core/uris.ts";
import {
  checkPatchedCredentials,
  forgetClusterCredentials,
  forgetReplacedCredentials,
  keepClusterCredentials,
} from "./cluster-credentials.ts";
import { type AdminContext, checkKafkaSecretBinding, deleteUnlessUsed } from "./context.ts";
import { accepted, json, type Routes, readJson } from "./router.ts";
import { flag, subscriptionRemover, subscriptionView } from "./subscriptions.ts";
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
    const given: KafkaCluster = {
      name: body.name,
      properties: validateClusterProperties(body.properties, "api"),
      origin: "api",
      createdAt: ctx.now().toISOString(),
    };
    await checkKafkaSecretBinding(ctx, given);
    // Clear credentials go to the vault; the cluster is stored with its reference instead.
    const { cluster, undo } = await keepClusterCredentials(ctx, given);
    try {
      await store.createCluster(cluster);
    } catch (error) {
      await undo();
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

  const fromConfigFile = (name: string, action: string) =>
    new ConflictError(
      `Kafka cluster ${quote(name)} is declared in the config file; ${action} it there`,
    );

  const usersOf = async (name: string): Promise<string[]> =>
    (await store.listSubscriptions()).filter((s) => s.cluster === name).map((s) => s.id);

  /**
   * `PATCH /kafka-clusters/{name}` with `{properties}`: the new properties replace the old ones
   * (Restate's CLI reads the cluster, edits the map and sends all of it). A secret-like property
   * sent as `***` keeps its stored value. Validated as on POST.
   *
   * Refused (409) while subscriptions use the cluster: every property we accept is one their
   * event source mappings were created with (brokers or MSK cluster, security, the secret, VPC),
   * and an event source mapping cannot move to other brokers, so accepting the change would leave
   * them reading with the old settings. Delete the subscriptions, change the cluster, create them
   * again (or register a new cluster for them). Sending the properties it has is a no-op (200).
   */
  async function patchCluster(request: AdminRequest, name: string): Promise<AdminResponse> {
    const body = parseBody(clusterPatchSchema, readJson(request), "Kafka cluster");
    const cluster = await getCluster(name);
    if (cluster.origin === "config") throw fromConfigFile(name, "change");
    const properties = validateClusterProperties(
      keepRedactedValues(body.properties, cluster.properties),
      "api",
    );
    const changed = [...new Set([...Object.keys(cluster.properties), ...Object.keys(properties)])]
      .filter((key) => cluster.properties[key] !== properties[key])
      .sort();
    if (changed.length === 0) return json(200, clusterView(cluster));
    const next: KafkaCluster = { ...cluster, properties };
    const inUse = async (): Promise<ConflictError> => {
      const users = await usersOf(name).catch(() => []);
      return new ConflictError(
        `Kafka cluster ${quote(name)} is used by subscription${users.length === 1 ? "" : "s"} ${users.join(", ")}: their event source mappings read with its current ${changed.map((k) => quote(k)).join(", ")}, and would not follow the change; delete the subscriptions first (or register another cluster for the new settings)`,
      );
    };
    if ((await usersOf(name)).length > 0) throw await inUse();
    checkPatchedCredentials(ctx, cluster, next);
    await checkKafkaSecretBinding(ctx, next);
    try {
      await store.replaceCluster(cluster, next);
    } catch (error) {
      if (error instanceof ConflictError && (await usersOf(name).catch(() => [])).length > 0) {
        throw await inUse();
      }
      if (error instanceof ConflictError) {
        throw new ConflictError(
          `Kafka cluster ${quote(name)} changed meanwhile; read it and retry`,
        );
      }
      if (error instanceof NotFoundError)
        throw new NotFoundError(`Kafka cluster ${quote(name)} not found`);
      throw error;
    }
    await forgetReplacedCredentials(ctx, cluster, next);
    return json(200, clusterView(next));
  }

  const remover = subscriptionRemover(ctx);

  /**
   * `DELETE /kafka-clusters/{name}` (202). While subscriptions use it: 409 in Restate's words,
   * unless `?force=true`. Restate's force leaves the subscriptions orphaned; here an orphan would
   * keep an event source mapping reading with the cluster's credentials, so force deletes the
   * subscriptions first, as `DELETE /subscriptions/{id}` does, and is refused (409, nothing
   * deleted) while any of them holds dead letters: those are replayed, discarded or dropped with
   * that subscription's own forced delete.
   */
  async function deleteCluster(request: AdminRequest, name: string): Promise<AdminResponse> {
    const force = flag(request.query.force, "force");
    const cluster = await getCluster(name);
    if (cluster.origin === "config") throw fromConfigFile(name, "remove");
    const users = await usersOf(name);
    if (users.length > 0 && !force) {
      throw new ConflictError(
        `Removing the kafka cluster '${name}' leads to subscription '${users[0]}' being orphan. Remove the subscription first, or use the 'force' flag. (Used by ${users.join(", ")}; force deletes them first.)`,
      );
    }
    if (force) {
      const withLetters: string[] = [];
      for (const id of users) if (await remover.hasDeadLetters(id)) withLetters.push(id);
      if (withLetters.length > 0) {
        throw new ConflictError(
          `Kafka cluster ${quote(name)}: subscription${withLetters.length === 1 ? "" : "s"} ${withLetters.join(", ")} hold${withLetters.length === 1 ? "s" : ""} dead letters; replay or discard them (or DELETE the subscription with ?force=true to drop them) before deleting the cluster with force; nothing was deleted`,
        );
      }
      for (const id of users) {
        try {
          await remover.remove(id, false);
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error; // deleted meanwhile
        }
      }
    }
    await deleteUnlessUsed(store, "cluster", name, `Kafka cluster ${quote(name)}`, () =>
      store.deleteCluster(name),
    );
    await forgetClusterCredentials(ctx, cluster);
    return accepted();
  }

  return {
    "kafka-clusters": {
      GET: async () => json(200, { clusters: (await store.listClusters()).map(clusterView) }),
      POST: (request) => createCluster(request),
    },
    "kafka-clusters/:name": {
      GET: (request, [name = ""]) => showCluster(request, name),
      PATCH: (request, [name = ""]) => patchCluster(request, name),
      DELETE: (request, [name = ""]) => deleteCluster(request, name),
    },
  };
}
