// The local stack's SecretResolver: there is no Secrets Manager locally, so secret references
// resolve from the LOCAL_SECRETS environment variable, a JSON object mapping secret ARNs to
// their values (a token, or {"token": "..."} as a JSON string — as stored in Secrets Manager).
// Local only: the Lambda consumer never reads it.
import {
  type SecretResolver,
  SecretUnavailableError,
  tokenFromSecretString,
} from "../core/secrets.ts";

/** Throws when LOCAL_SECRETS is set but is not a JSON object of strings (its content is never shown). */
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
    if (entries === undefined || entries.some(([, value]) => typeof value !== "string")) {
      throw new Error(
        'LOCAL_SECRETS must be a JSON object mapping secret ARNs to string values, e.g. {"arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token": "<token>"}',
      );
    }
    for (const [ref, value] of entries) secrets.set(ref, value as string);
  }
  return {
    async resolve(secretRef) {
      const value = secrets.get(secretRef);
      if (value === undefined) {
        throw new SecretUnavailableError(
          secretRef,
          `secret ${secretRef} is not in LOCAL_SECRETS (the local stack has no Secrets Manager: ` +
            `set LOCAL_SECRETS to a JSON object mapping the ARN to the token)`,
        );
      }
      return tokenFromSecretString(secretRef, value);
    },
  };
}
