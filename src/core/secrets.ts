// Sink credentials by reference: a service declares the ARN of a Secrets Manager secret holding
// its bearer token, never the token, and the secret names the endpoints the token may go to. The
// consumer (and the dead-letter replay) resolve the reference through a SecretResolver and attach
// the token only to requests for a bound endpoint; values stay in memory, are never logged, and
// every error names the secret's ARN only.
import { SecretUnavailableError } from "./errors.ts";

/** The origin (and optional path prefix) a token may be sent to, as the secret names it. */
export interface BoundEndpoint {
  /** `scheme://host[:port]` as URL.origin writes it (host lower-case, default port left out). */
  readonly origin: string;
  /** Path prefix without a trailing slash; "" for any path. */
  readonly path: string;
}

/** What a sink secret holds: the bearer token and the endpoints it is bound to. */
export interface SinkCredential {
  readonly token: string;
  /** Empty when the secret names none: the token then goes nowhere. */
  readonly endpoints: readonly BoundEndpoint[];
}

/** Resolves a secret reference (an ARN) to the token it holds and where that token may go. */
export interface SecretResolver {
  resolve(secretRef: string): Promise<SinkCredential>;
  /** Drops a cached value (the sink rejected it), so that the next resolve reads it again. */
  forget?(secretRef: string): void;
}

/**
 * A Secrets Manager secret ARN, the one pattern for every place that takes one:
 * `arn:<partition>:secretsmanager:<region>:<12-digit account>:secret:<name>-<6 random chars>`.
 * Partitions `aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, …; regions `us-east-1`,
 * `us-gov-west-1`, `eusc-de-east-1`, …; the name (at most 512 characters) as Secrets Manager
 * allows it: letters, digits and `/_+=.@-`. The suffix is optional, since a partial ARN names a
 * secret too.
 */
export const SECRET_ARN_PATTERN =
  /^arn:aws(?:-[a-z]+)*:secretsmanager:[a-z]+(?:-[a-z]+)+-\d+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}(?:-[A-Za-z0-9]{6})?$/;

/** A token that can go into an `authorization` header as is: visible ASCII, no spaces. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/** The JSON shape a sink secret must have, for messages. */
export const SINK_SECRET_SHAPE = '{"token": "...", "endpoints": ["https://host[:port][/prefix]"]}';

/**
 * Parses one entry of a secret's `endpoints`: an http(s) URL without credentials, query or
 * fragment; its path (if any) is a prefix that request paths must stay under.
 */
function boundEndpoint(secretRef: string, entry: unknown): BoundEndpoint {
  const bad = (why: string) =>
    new SecretUnavailableError(
      secretRef,
      `secret ${secretRef} has an invalid entry in "endpoints" (${why}); expected ${SINK_SECRET_SHAPE}`,
    );
  if (typeof entry !== "string") throw bad("not a string");
  let url: URL;
  try {
    url = new URL(entry.trim());
  } catch {
    throw bad(`${JSON.stringify(entry)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw bad(`${JSON.stringify(entry)} is not http(s)`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw bad(`${JSON.stringify(url.origin)} entries take no credentials, query or fragment`);
  }
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, "") };
}

/**
 * The credential held by a secret's string: JSON `{"token": "...", "endpoints": [...]}`. A plain
 * string (the token alone) or JSON without `endpoints` is read too, bound to no endpoint, so
 * that the token is never sent and the refusal says how to fix the secret. Throws
 * SecretUnavailableError naming `secretRef` (and never the value) when there is no usable token
 * or an endpoint entry is not an http(s) URL.
 */
export function credentialFromSecretString(secretRef: string, secret: string): SinkCredential {
  const text = secret.trim();
  let token: unknown = text;
  let endpoints: BoundEndpoint[] = [];
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SecretUnavailableError(
        secretRef,
        `secret ${secretRef} starts with "{" but is not valid JSON (expected ${SINK_SECRET_SHAPE})`,
      );
    }
    const fields = parsed as { token?: unknown; endpoints?: unknown };
    token = fields.token;
    if (typeof token !== "string") {
      throw new SecretUnavailableError(
        secretRef,
        `secret ${secretRef} is a JSON object without a string "token" field (expected ${SINK_SECRET_SHAPE})`,
      );
    }
    token = token.trim();
    if (fields.endpoints !== undefined) {
      if (!Array.isArray(fields.endpoints)) {
        throw new SecretUnavailableError(
          secretRef,
          `secret ${secretRef} has "endpoints" that is not a list (expected ${SINK_SECRET_SHAPE})`,
        );
      }
      endpoints = fields.endpoints.map((entry) => boundEndpoint(secretRef, entry));
    }
  }
  if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) {
    throw new SecretUnavailableError(
      secretRef,
      `secret ${secretRef} does not hold a usable bearer token (expected printable ASCII without ` +
        `spaces in ${SINK_SECRET_SHAPE})`,
    );
  }
  return { token, endpoints };
}

const underPrefix = (pathname: string, prefix: string): boolean =>
  prefix === "" || pathname === prefix || pathname.startsWith(`${prefix}/`);

/**
 * Why the token of `secretRef` may not go to `url` (undefined when it may): the URL's origin
 * must equal a bound origin and its path lie under that entry's prefix, compared on the URL as
 * the HTTP client parses it (dot segments resolved). The reason names the rule, the secret's
 * ARN and the origin, never the token.
 */
export function tokenRefusal(
  secretRef: string,
  endpoints: readonly BoundEndpoint[],
  url: string,
): string | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return `the token in ${secretRef} is not sent to ${JSON.stringify(url)}: not a URL`;
  }
  if (endpoints.some((e) => e.origin === target.origin && underPrefix(target.pathname, e.path))) {
    return undefined;
  }
  if (endpoints.length === 0) {
    return (
      `the token in ${secretRef} is bound to no endpoint, so it is not sent to ${target.origin}: ` +
      `store the secret as ${SINK_SECRET_SHAPE} naming ${target.origin}`
    );
  }
  const sameOrigin = endpoints.filter((e) => e.origin === target.origin);
  if (sameOrigin.length > 0) {
    return (
      `the token in ${secretRef} is bound to ${sameOrigin.map((e) => e.origin + e.path).join(", ")}, ` +
      `not to ${target.origin}${target.pathname}; add the path to the secret's "endpoints"`
    );
  }
  return `the token in ${secretRef} is not bound to ${target.origin}; add the origin to the secret's "endpoints"`;
}

export interface SecretCacheOptions {
  /** How long a fetched value is used before it is fetched again (0: every call fetches). */
  readonly ttlMs: number;
  readonly now?: (() => number) | undefined;
}

interface CacheEntry<T> {
  value?: T;
  expiresAt: number;
  pending?: Promise<T>;
}

/** A resolver of secret references to values of type T, with `forget`. */
export interface CachedResolver<T> {
  resolve(secretRef: string): Promise<T>;
  forget(secretRef: string): void;
}

/**
 * A resolver over `fetch` (which returns what the secret holds), caching each value for `ttlMs`
 * per warm container and sharing one fetch between concurrent callers. Failures are not cached:
 * the next call fetches again.
 */
export function cachedSecretResolver<T>(
  fetch: (secretRef: string) => Promise<T>,
  options: SecretCacheOptions,
): CachedResolver<T> {
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry<T>>();
  return {
    resolve(secretRef) {
      const entry = cache.get(secretRef);
      if (entry?.pending) return entry.pending;
      if (entry?.value !== undefined && now() < entry.expiresAt) {
        return Promise.resolve(entry.value);
      }
      const pending = new Promise<T>((ok) => ok(fetch(secretRef))).then(
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

/** How a service authenticates to its sink: the header, and where it may be sent. */
export interface SinkAuthorization {
  readonly secretRef: string;
  /** `Bearer <token>`: goes into requests only, never into a log or a message. */
  readonly header: string;
  readonly endpoints: readonly BoundEndpoint[];
}

/** The authorization of a service, or undefined when it declares no auth. */
export async function authorizationFor(
  auth: { readonly bearer_token_secret: string } | undefined,
  secrets: SecretResolver | undefined,
): Promise<SinkAuthorization | undefined> {
  if (auth === undefined) return undefined;
  const ref = auth.bearer_token_secret;
  if (secrets === undefined) {
    throw new SecretUnavailableError(ref, `secret ${ref} cannot be read: no secret resolver here`);
  }
  const credential = await secrets.resolve(ref);
  return { secretRef: ref, header: `Bearer ${credential.token}`, endpoints: credential.endpoints };
}

/** Why a request to `url` may not carry this authorization (see tokenRefusal), or undefined. */
export const authorizationRefusal = (authorization: SinkAuthorization, url: string) =>
  tokenRefusal(authorization.secretRef, authorization.endpoints, url);

/**
 * Checks, when a service is registered or changed, that its token may go to its endpoint:
 * undefined when it may, else the reason. Throws SecretUnavailableError when the secret cannot
 * be read (that is a reason to refuse too, with a different message).
 */
export type SinkTokenCheck = (secretRef: string, endpoint: string) => Promise<string | undefined>;

/** A SinkTokenCheck that reads the secret itself (the consumer, and the local stack). */
export function sinkTokenCheck(secrets: SecretResolver): SinkTokenCheck {
  return async (secretRef, endpoint) => {
    const credential = await secrets.resolve(secretRef);
    return tokenRefusal(secretRef, credential.endpoints, endpoint);
  };
}
