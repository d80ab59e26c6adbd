// What the admin API's handler modules share: the dependencies with their defaults resolved, the
// delete both clusters and services do (refused, naming the users, while subscriptions use them),
// and the check that a cluster's Kafka secret is bound to its brokers (clusters and subscriptions).
import { PROP_SECRET_ARN } from "../../core/cluster-properties.ts";
import { ConflictError, SecretUnavailableError, ValidationError } from "../../core/errors.ts";
import { kafkaSecretRefusal } from "../../core/kafka-secret-binding.ts";
import type { KafkaCluster } from "../../core/model.ts";
import type { AdminStore } from "../../core/ports.ts";
import { quote } from "../../core/uris.ts";
import type { AdminApiDeps, AdminLog } from "./types.ts";

export interface AdminContext {
  readonly deps: AdminApiDeps;
  readonly newId: () => string;
  readonly now: () => Date;
  readonly log: AdminLog;
}

async function usersOf(
  store: AdminStore,
  field: "cluster" | "service",
  name: string,
): Promise<string[]> {
  try {
    const all = await store.listSubscriptions();
    return all.filter((s) => s[field] === name).map((s) => s.id);
  } catch {
    return [];
  }
}

/**
 * Runs `remove` (the store's delete of a cluster or service); when the store refuses because
 * subscriptions still use it, the ConflictError names them. `what` reads `Kafka cluster "x"`.
 */
export async function deleteUnlessUsed(
  store: AdminStore,
  field: "cluster" | "service",
  name: string,
  what: string,
  remove: () => Promise<void>,
): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const users = await usersOf(store, field, name);
    throw new ConflictError(
      `${what} is used by subscriptions${users.length ? ` ${users.join(", ")}` : ""}; delete them first`,
    );
  }
}

/**
 * Refuses (400, naming the rule) a cluster whose `aws.secrets.manager.arn` is not bound to what
 * its event source connects to, or whose binding cannot be read. Config-file clusters are the
 * deployment's own and are not checked.
 */
export async function checkKafkaSecretBinding(
  ctx: AdminContext,
  cluster: KafkaCluster,
): Promise<void> {
  const secretRef = cluster.properties[PROP_SECRET_ARN];
  if (secretRef === undefined || cluster.origin === "config") return;
  const refuse = (why: string): never => {
    throw new ValidationError(
      `Kafka cluster ${quote(cluster.name)}: credentials go only to the brokers their secret is bound to: ${why}`,
    );
  };
  const read = ctx.deps.kafkaSecretBindings;
  if (read === undefined) {
    return refuse(`this deployment cannot read the binding of secret ${secretRef}`);
  }
  let bound: readonly string[];
  try {
    bound = await read(secretRef);
  } catch (error) {
    if (error instanceof SecretUnavailableError) return refuse(error.message);
    throw error;
  }
  const refusal = kafkaSecretRefusal(cluster.properties, bound);
  if (refusal !== undefined) refuse(refusal);
}
