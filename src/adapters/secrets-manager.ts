// Secrets Manager on AWS. The consumer's SecretResolver: `GetSecretValue` (the token and the
// endpoints it is bound to), cached per warm container (SECRET_CACHE_TTL_MS). The admin's
// KafkaSecretBindingReader: `DescribeSecret` (tags only, never the value). The admin's
// ClusterCredentialVault: one secret per cluster registered with clear SASL credentials, under
// the stack's prefix (`CreateSecret`, `PutSecretValue`, `TagResource`, `DeleteSecret`). Clients
// are created on the first lookup, one per region the ARNs name. Errors name the secret's ARN
// and the AWS error, never a value.
import { randomBytes } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from "@aws-sdk/client-secrets-manager";
import { brokerBindingTags, credentialsSecretString } from "../core/cluster-credentials.ts";
import { PROP_SECRET_ARN } from "../core/cluster-properties.ts";
import { DependencyError, errorText, SecretUnavailableError } from "../core/errors.ts";
import { brokersFromTags, type KafkaSecretBindingReader } from "../core/kafka-secret-binding.ts";
import type { KafkaCluster } from "../core/model.ts";
import type { ClusterCredentialVault } from "../core/ports.ts";
import {
  cachedSecretResolver,
  credentialFromSecretString,
  type SecretResolver,
  type SinkCredential,
} from "../core/secrets.ts";

export interface SecretsManagerResolverOptions {
  /** How long a value is reused (SECRET_CACHE_TTL_MS). */
  readonly ttlMs: number;
  /** Default: a client per region named by the ARNs, with the function's credentials. */
  readonly client?: SecretsManagerClient;
  readonly now?: () => number;
}

/** A client per region named by the ARNs (a secret is read in the region its ARN names). */
function regionalClients(client: SecretsManagerClient | undefined) {
  const clients = new Map<string, SecretsManagerClient>();
  return (secretRef: string): SecretsManagerClient => {
    if (client) return client;
    const region = secretRef.split(":")[3] ?? "";
    let regional = clients.get(region);
    if (regional === undefined) {
      regional = new SecretsManagerClient(region ? { region } : {});
      clients.set(region, regional);
    }
    return regional;
  };
}

export function secretsManagerResolver(options: SecretsManagerResolverOptions): SecretResolver {
  const clientFor = regionalClients(options.client);
  async function fetch(secretRef: string): Promise<SinkCredential> {
    const client = clientFor(secretRef);
    let secret: string | undefined;
    try {
      const output = await client.send(new GetSecretValueCommand({ SecretId: secretRef }));
      secret = output.SecretString;
    } catch (error) {
      throw new SecretUnavailableError(
        secretRef,
        `cannot read secret ${secretRef} (${errorText(error)})`,
      );
    }
    if (secret === undefined) {
      throw new SecretUnavailableError(
        secretRef,
        `secret ${secretRef} has no string value (binary secrets are not supported)`,
      );
    }
    return credentialFromSecretString(secretRef, secret);
  }
  return cachedSecretResolver(fetch, { ttlMs: options.ttlMs, now: options.now });
}

/** Errors that say the caller named a secret this function may not describe, or none at all. */
const REFERENCE_ERRORS = new Set([
  "AccessDeniedException",
  "ResourceNotFoundException",
  "InvalidParameterException",
  "InvalidRequestException",
  "ValidationException",
]);

/**
 * The admin's reader of Kafka secret bindings: `DescribeSecret {SecretId}` and the
 * `kafka-lambda-ingress:brokers` tags (core/kafka-secret-binding.ts). Never cached: a binding is
 * checked when a cluster is registered or a subscription created. A secret this role may not
 * describe (not in KafkaSecretArns) or that does not exist is a SecretUnavailableError (the
 * caller's reference is wrong); anything else a DependencyError.
 */
export function secretsManagerKafkaBindings(
  options: { readonly client?: SecretsManagerClient } = {},
): KafkaSecretBindingReader {
  const clientFor = regionalClients(options.client);
  return async (secretRef) => {
    try {
      const output = await clientFor(secretRef).send(
        new DescribeSecretCommand({ SecretId: secretRef }),
      );
      return brokersFromTags(output.Tags);
    } catch (error) {
      if (error instanceof Error && REFERENCE_ERRORS.has(error.name)) {
        throw new SecretUnavailableError(
          secretRef,
          `cannot read the binding (tags) of secret ${secretRef} (${errorText(error)})`,
        );
      }
      throw new DependencyError(`cannot describe secret ${secretRef}: ${errorText(error)}`, {
        cause: error,
      });
    }
  };
}

export interface SecretsManagerVaultOptions {
  /**
   * Names of the secrets created, `<prefix><cluster>/<random>`: the stack's
   * `kafka-lambda-ingress/<stack>/kafka-clusters/`, the only names the admin role may create,
   * change or delete and the consumer role (the event source mappings) may read.
   */
  readonly prefix: string;
  /** Default: a client of the function's region, with its credentials. */
  readonly client?: SecretsManagerClient;
  /** The random part of a new secret's name (tests). */
  readonly suffix?: () => string;
}

/** The name part of a secret ARN (`...:secret:<name>`, with Secrets Manager's `-XXXXXX`). */
const secretNameOf = (secretRef: string): string =>
  secretRef.slice(secretRef.indexOf(":secret:") + ":secret:".length);

/**
 * Clear credentials of clusters registered through the API, one secret per cluster: created
 * with the credentials as `{"username", "password"}` (what the event source mapping reads) and
 * tagged `kafka-lambda-ingress:brokers` with the cluster's brokers (the binding every
 * subscription on it is checked against); its ARN is stored as `aws.secrets.manager.arn`.
 * Deleting the cluster deletes the secret at once (no recovery window: the credentials are a
 * copy of what the Kafka cluster holds, and a cluster of the same name gets a new secret).
 * Secrets outside the prefix are never changed or deleted.
 */
export function secretsManagerCredentialVault(
  options: SecretsManagerVaultOptions,
): ClusterCredentialVault {
  const client = options.client ?? new SecretsManagerClient({});
  const suffix = options.suffix ?? (() => randomBytes(6).toString("hex"));
  const owns = (secretRef: string): boolean =>
    secretRef.includes(":secret:") && secretNameOf(secretRef).startsWith(options.prefix);
  const failed = (what: string, error: unknown): never => {
    throw new DependencyError(`cannot ${what}: ${errorText(error)}`, { cause: error });
  };
  const ownedRef = (cluster: KafkaCluster): string | undefined => {
    const secretRef = cluster.properties[PROP_SECRET_ARN];
    return secretRef !== undefined && owns(secretRef) ? secretRef : undefined;
  };

  return {
    owns,
    async put(cluster, credentials) {
      const name = `${options.prefix}${cluster.name}/${suffix()}`;
      try {
        const output = await client.send(
          new CreateSecretCommand({
            Name: name,
            Description: `SASL credentials of Kafka cluster ${cluster.name}, given through the kafka-lambda-ingress admin API`,
            SecretString: credentialsSecretString(credentials),
            Tags: brokerBindingTags(cluster.properties),
          }),
        );
        if (!output.ARN) throw new Error("CreateSecret answered without an ARN");
        return { [PROP_SECRET_ARN]: output.ARN };
      } catch (error) {
        return failed(`create secret ${name} for Kafka cluster ${cluster.name}`, error);
      }
    },
    async replace(cluster, credentials) {
      const secretRef = ownedRef(cluster);
      if (secretRef === undefined) {
        throw new DependencyError(
          `Kafka cluster ${cluster.name} has no credentials secret of this deployment to replace`,
        );
      }
      try {
        await client.send(
          new PutSecretValueCommand({
            SecretId: secretRef,
            SecretString: credentialsSecretString(credentials),
          }),
        );
        await client.send(
          new TagResourceCommand({
            SecretId: secretRef,
            Tags: brokerBindingTags(cluster.properties),
          }),
        );
      } catch (error) {
        failed(`replace the credentials in secret ${secretRef}`, error);
      }
    },
    async remove(cluster) {
      const secretRef = ownedRef(cluster);
      if (secretRef === undefined) return;
      try {
        await client.send(
          new DeleteSecretCommand({ SecretId: secretRef, ForceDeleteWithoutRecovery: true }),
        );
      } catch (error) {
        if (error instanceof Error && error.name === "ResourceNotFoundException") return;
        failed(`delete secret ${secretRef}`, error);
      }
    },
  };
}
