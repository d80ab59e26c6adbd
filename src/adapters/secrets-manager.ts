// Secrets Manager on AWS. The consumer's SecretResolver: `GetSecretValue` (the token and the
// endpoints it is bound to), cached per warm container (SECRET_CACHE_TTL_MS). The admin's
// KafkaSecretBindingReader: `DescribeSecret` (tags only, never the value). Clients are created on
// the first lookup, one per region the ARNs name. Errors name the secret's ARN and the AWS error,
// never a value.
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { DependencyError, errorText, SecretUnavailableError } from "../core/errors.ts";
import { brokersFromTags, type KafkaSecretBindingReader } from "../core/kafka-secret-binding.ts";
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
