// The local stack's SecretResolver: there is no Secrets Manager locally, so secret references
// resolve from the LOCAL_SECRETS environment variable, a JSON object mapping secret ARNs to
// their values as stored in Secrets Manager — {"token": "...", "endpoints": [...]} as a JSON
// string, or that object itself. Kafka credentials are never read by reference locally (the
// local event source takes them from the config file, or from what the API was given, beside
// their brokers), so a cluster naming a secret has no binding the local admin could check, and
// is refused.
// Local only: the Lambda consumer never reads it.

import { SecretUnavailableError } from "../core/errors.ts";
import type { KafkaSecretBindingReader } from "../core/kafka-secret-binding.ts";
import {
  credentialFromSecretString,
  type SecretResolver,
  SINK_SECRET_SHAPE,
} from "../core/secrets.ts";

/** Throws when LOCAL_SECRETS is set but is not a JSON object of secret values (its content is never shown). */
export function localSecretResolver(env: NodeJS.ProcessEnv = process.env): SecretResolver {
  const text = env.LOCAL_SECRETS;
  const secrets = new Map<string, string>();
  if (text !== undefined && text.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const entries =
      typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
        ? Object.entries(parsed)
        : undefined;
    const usable = (value: unknown) =>
      typeof value === "string" ||
      (typeof value === "object" && value !== null && !Array.isArray(value));
    if (entries === undefined || !entries.every(([, value]) => usable(value))) {
      throw new Error(
        'LOCAL_SECRETS must be a JSON object mapping secret ARNs to their values (the secret string, or that JSON object itself), e.g. {"arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token": "{\\"token\\": \\"<token>\\", \\"endpoints\\": [\\"https://ingress.example.com\\"]}"}',
      );
    }
    for (const [ref, value] of entries) {
      secrets.set(ref, typeof value === "string" ? value : JSON.stringify(value));
    }
  }
  return {
    async resolve(secretRef) {
      const value = secrets.get(secretRef);
      if (value === undefined) {
        throw new SecretUnavailableError(
          secretRef,
          `secret ${secretRef} is not in LOCAL_SECRETS (the local stack has no Secrets Manager: ` +
            `set LOCAL_SECRETS to a JSON object mapping the ARN to the secret's string, ` +
            `${JSON.stringify(SINK_SECRET_SHAPE)})`,
        );
      }
      return credentialFromSecretString(secretRef, value);
    },
  };
}

/** The local stack's KafkaSecretBindingReader: there are no secret tags to read here. */
export const localKafkaSecretBindings: KafkaSecretBindingReader = async (secretRef) => {
  throw new SecretUnavailableError(
    secretRef,
    `the local stack has no Secrets Manager, so secret ${secretRef} is bound to no broker here: ` +
      `give "sasl.username" and "sasl.password" instead (through the API, or in the config file)`,
  );
};
