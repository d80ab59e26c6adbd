// The SecretResolver of the consumer on AWS: Secrets Manager `GetSecretValue`, cached per warm
// container (SECRET_CACHE_TTL_MS). Clients are created on the first lookup, so a consumer whose
// services declare no `auth` never builds one. Errors name the secret's ARN and the AWS error,
// never a value.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  cachedSecretResolver,
  type SecretResolver,
  SecretUnavailableError,
  tokenFromSecretString,
} from "../core/secrets.ts";

export interface SecretsManagerResolverOptions {
  /** How long a value is reused (SECRET_CACHE_TTL_MS). */
  readonly ttlMs: number;
  /** Default: a client per region named by the ARNs, with the function's credentials. */
  readonly client?: SecretsManagerClient;
  readonly now?: () => number;
}

export function secretsManagerResolver(options: SecretsManagerResolverOptions): SecretResolver {
  // One client per region: a secret is read in the region its ARN names (a token kept in another
  // region than the function still resolves).
  const clients = new Map<string, SecretsManagerClient>();
  function clientFor(secretRef: string): SecretsManagerClient {
    if (options.client) return options.client;
    const region = secretRef.split(":")[3] ?? "";
    let client = clients.get(region);
    if (client === undefined) {
      client = new SecretsManagerClient(region ? { region } : {});
      clients.set(region, client);
    }
    return client;
  }
  async function fetch(secretRef: string): Promise<string> {
    const client = clientFor(secretRef);
    let secret: string | undefined;
    try {
      const output = await client.send(new GetSecretValueCommand({ SecretId: secretRef }));
      secret = output.SecretString;
    } catch (error) {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new SecretUnavailableError(secretRef, `cannot read secret ${secretRef} (${what})`);
    }
    if (secret === undefined) {
      throw new SecretUnavailableError(
        secretRef,
        `secret ${secretRef} has no string value (binary secrets are not supported)`,
      );
    }
    return tokenFromSecretString(secretRef, secret);
  }
  return cachedSecretResolver(fetch, {
    ttlMs: options.ttlMs,
    ...(options.now ? { now: options.now } : {}),
  });
}
