// Sink credentials by reference: a service declares the ARN of a Secrets Manager secret holding
// its bearer token, never the token. The consumer (and the dead-letter replay) resolve the
// reference through a SecretResolver; values stay in memory, are never logged, and every error
// names the secret's ARN only.

/** Resolves a secret reference (an ARN) to the bearer token it holds. */
export interface SecretResolver {
  resolve(secretRef: string): Promise<string>;
  /** Drops a cached value (the sink rejected it), so that the next resolve reads it again. */
  forget?(secretRef: string): void;
}

/** The secret cannot be read or holds no usable token. The message names the ARN, never a value. */
export class SecretUnavailableError extends Error {
  override readonly name = "SecretUnavailableError";
  readonly secretRef: string;
  constructor(secretRef: string, message: string) {
    super(message);
    this.secretRef = secretRef;
  }
}

/**
 * A Secrets Manager secret ARN: `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`,
 * the name as Secrets Manager allows it (letters, digits, `/_+=.@-`), with or without the
 * six-character suffix Secrets Manager appends.
 */
export const SECRET_ARN_PATTERN =
  /^arn:aws(?:-[a-z]+)*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;

/** A token that can go into an `authorization` header as is: visible ASCII, no spaces. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * The bearer token held by a secret's string: either the whole string (surrounding whitespace
 * trimmed) or, when it is a JSON object, its `token` field. Throws SecretUnavailableError naming
 * `secretRef` (and never the value) when there is no usable token.
 */
export function tokenFromSecretString(secretRef: string, secret: string): string {
  const text = secret.trim();
  let token: unknown = text;
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SecretUnavailableError(
        secretRef,
        `secret ${secretRef} starts with "{" but is not valid JSON (expected a token, or {"token": "..."})`,
      );
    }
    token = (parsed as { token?: unknown }).token;
    if (typeof token !== "string") {
      throw new SecretUnavailableError(
        secretRef,
        `secret ${secretRef} is a JSON object without a string "token" field`,
      );
    }
    token = token.trim();
  }
  if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) {
    throw new SecretUnavailableError(
      secretRef,
      `secret ${secretRef} does not hold a usable bearer token (expected printable ASCII without ` +
        'spaces, as the whole secret string or as {"token": "..."})',
    );
  }
  return token;
}

export interface SecretCacheOptions {
  /** How long a fetched value is used before it is fetched again (0: every call fetches). */
  readonly ttlMs: number;
  readonly now?: () => number;
}

interface CacheEntry {
  value?: string;
  expiresAt: number;
  pending?: Promise<string>;
}

/**
 * A SecretResolver over `fetch` (which returns the token), caching each value for `ttlMs` per
 * warm container and sharing one fetch between concurrent callers. Failures are not cached: the
 * next call fetches again.
 */
export function cachedSecretResolver(
  fetch: (secretRef: string) => Promise<string>,
  options: SecretCacheOptions,
): SecretResolver {
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  return {
    resolve(secretRef) {
      const entry = cache.get(secretRef);
      if (entry?.pending) return entry.pending;
      if (entry?.value !== undefined && now() < entry.expiresAt) {
        return Promise.resolve(entry.value);
      }
      const pending = new Promise<string>((ok) => ok(fetch(secretRef))).then(
        (value) => {
          cache.set(secretRef, { value, expiresAt: now() + options.ttlMs });
          return value;
        },
        (error: unknown) => {
          cache.delete(secretRef);
          throw error;
        },
      );
      cache.set(secretRef, { expiresAt: 0, pending });
      return pending;
    },
    forget(secretRef) {
      if (cache.get(secretRef)?.pending === undefined) cache.delete(secretRef);
    },
  };
}

/** The `authorization` header value for a service, or undefined when it declares no auth. */
export async function authorizationFor(
  auth: { readonly bearer_token_secret: string } | undefined,
  secrets: SecretResolver | undefined,
): Promise<string | undefined> {
  if (auth === undefined) return undefined;
  const ref = auth.bearer_token_secret;
  if (secrets === undefined) {
    throw new SecretUnavailableError(ref, `secret ${ref} cannot be read: no secret resolver here`);
  }
  return `Bearer ${await secrets.resolve(ref)}`;
}
