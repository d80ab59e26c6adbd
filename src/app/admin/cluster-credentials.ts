// Clear SASL credentials of clusters registered through the API: before the cluster is stored
// they go to the deployment's credential vault (a Secrets Manager secret on AWS, a private file
// locally) and the cluster keeps only the reference the vault gives back; deleting the cluster
// removes them. The catalog, the logs and API answers never hold them.

import { takeCredentials } from "../../core/cluster-credentials.ts";
import { PROP_SASL_USERNAME, PROP_SECRET_ARN } from "../../core/cluster-properties.ts";
import { AlreadyExistsError, ValidationError } from "../../core/errors.ts";
import type { KafkaCluster } from "../../core/model.ts";
import { quote } from "../../core/uris.ts";
import type { AdminContext } from "./context.ts";
import { errorDetail } from "./router.ts";

/**
 * Moves a new API cluster's clear credentials into the vault: returns the cluster to store
 * (credentials replaced by the vault's reference) and `undo`, which removes them again when the
 * cluster could not be stored. A cluster without credentials is returned as it is; one naming
 * a secret the vault created for another cluster is refused.
 */
export async function keepClusterCredentials(
  ctx: AdminContext,
  given: KafkaCluster,
): Promise<{ cluster: KafkaCluster; undo: () => Promise<void> }> {
  const vault = ctx.deps.credentialVault;
  const secretRef = given.properties[PROP_SECRET_ARN];
  if (secretRef !== undefined && vault?.owns(secretRef)) {
    throw new ValidationError(
      `Kafka cluster ${quote(given.name)}: secret ${secretRef} holds the credentials of a cluster registered with "sasl.username" / "sasl.password"; give the credentials instead`,
    );
  }
  const { cluster, credentials } = takeCredentials(given);
  if (credentials === undefined) return { cluster: given, undo: async () => {} };
  if (vault === undefined) {
    throw new ValidationError(
      `Kafka cluster ${quote(given.name)}: this deployment cannot keep "sasl.username" / "sasl.password"; set "aws.secrets.manager.arn" to a secret holding them`,
    );
  }
  // A second cluster of the same name would be refused by the store anyway; refuse it before
  // its credentials go anywhere.
  if (await ctx.deps.store.getCluster(given.name)) {
    throw new AlreadyExistsError(`Kafka cluster ${quote(given.name)} already exists`);
  }
  const reference = await vault.put(cluster, credentials);
  const kept: KafkaCluster = { ...cluster, properties: { ...cluster.properties, ...reference } };
  return { cluster: kept, undo: () => forgetClusterCredentials(ctx, kept) };
}

/**
 * Removes what the vault keeps for a deleted cluster. The cluster is gone either way: a failure
 * is logged (naming the cluster and its reference, never a value) for an operator to clean up.
 */
export async function forgetClusterCredentials(
  ctx: AdminContext,
  cluster: KafkaCluster,
): Promise<void> {
  const vault = ctx.deps.credentialVault;
  if (vault === undefined || cluster.origin !== "api") return;
  try {
    await vault.remove(cluster);
  } catch (error) {
    ctx.log({
      level: "error",
      msg: "admin: credentials of a removed cluster are left behind",
      cluster: cluster.name,
      secret: cluster.properties[PROP_SECRET_ARN],
      ...errorDetail(error),
    });
  }
}

/**
 * What a `PATCH` may not do with credentials (until replacing them through the vault is wired):
 * send clear ones, which would be stored as they are, or point the cluster at a secret the vault
 * created for another cluster (deleting this one would delete it).
 */
export function checkPatchedCredentials(
  ctx: AdminContext,
  stored: KafkaCluster,
  next: KafkaCluster,
): void {
  if (takeCredentials(next).credentials !== undefined || next.properties[PROP_SASL_USERNAME]) {
    throw new ValidationError(
      `Kafka cluster ${quote(stored.name)}: "sasl.username" / "sasl.password" cannot be changed with PATCH; delete the cluster and register it again with the new ones`,
    );
  }
  const secretRef = next.properties[PROP_SECRET_ARN];
  if (
    secretRef !== undefined &&
    secretRef !== stored.properties[PROP_SECRET_ARN] &&
    ctx.deps.credentialVault?.owns(secretRef)
  ) {
    throw new ValidationError(
      `Kafka cluster ${quote(stored.name)}: secret ${secretRef} holds the credentials of another cluster`,
    );
  }
}

/** After a `PATCH` that dropped or replaced the vault's secret of a cluster: remove it. */
export async function forgetReplacedCredentials(
  ctx: AdminContext,
  stored: KafkaCluster,
  next: KafkaCluster,
): Promise<void> {
  if (stored.properties[PROP_SECRET_ARN] === next.properties[PROP_SECRET_ARN]) return;
  await forgetClusterCredentials(ctx, stored);
}
