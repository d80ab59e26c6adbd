// The one deliver for a service's records, used by the consumer and by dead-letter replays: the
// bearer token of a service with `auth` goes only where its secret binds it, and a 401 to a request
// that carried it (usually a rotated token) re-reads the secret once and sends the request again
// at once, within the same attempt.
import type { SinkRequest } from "../core/invocation.ts";
import type { ServiceDefinition } from "../core/model.ts";
import type { Deliver, DeliveryResult } from "../core/retry.ts";
import {
  authorizationFor,
  authorizationRefusal,
  type SecretResolver,
  type SinkAuthorization,
} from "../core/secrets.ts";

/**
 * What a 401 that the re-read token does not cure becomes: `retryable` in the consumer (the record
 * keeps its place in its lane and is not dead-lettered for it; a token that stays wrong exhausts
 * the retry budget like any other failure), `as-answered` in a replay (the letter stays a letter).
 */
export type RejectedToken = "retryable" | "as-answered";

type TerminalResult = Extract<DeliveryResult, { kind: "terminal" }>;

export interface AuthorizedDeliverOptions {
  readonly auth: ServiceDefinition["auth"];
  readonly secrets: SecretResolver | undefined;
  /** The sink's deliver; it receives requests with the `authorization` header set. */
  readonly deliver: Deliver<SinkRequest>;
  readonly rejectedToken: RejectedToken;
  readonly now?: () => number;
}

export interface AuthorizedDeliver {
  readonly deliver: Deliver<SinkRequest>;
  /**
   * Call when the batch is done: a token the sink still rejected after its re-read is forgotten,
   * so that the next batch starts from a fresh read instead of one more rejected request.
   */
  readonly finish: () => void;
}

/**
 * Reads the service's token (SecretUnavailableError when it cannot be read: nothing can be sent)
 * and returns the deliver that attaches it. Requests are built without the token; the re-read
 * happens at most once per AuthorizedDeliver, shared by every request in flight, so a token that
 * stays wrong costs one read, not one per record.
 */
export async function authorizedDeliver(
  options: AuthorizedDeliverOptions,
): Promise<AuthorizedDeliver> {
  const { auth, secrets, deliver } = options;
  if (auth === undefined) return { deliver, finish: () => {} };
  const now = options.now ?? Date.now;
  const secretRef = auth.bearer_token_secret;
  // With `auth` given, authorizationFor answers an authorization or throws.
  const read = async () => (await authorizationFor(auth, secrets)) as SinkAuthorization;
  const first = await read();
  let current: SinkAuthorization = first;
  /** The re-read: the new authorization, or why the secret could not be read again. */
  let reread: Promise<{ fresh: SinkAuthorization } | { unreadable: string }> | undefined;
  let stillRejected = false;

  const send = (
    authorization: SinkAuthorization,
    request: SinkRequest,
    timeoutMs: number,
  ): Promise<DeliveryResult> => {
    // The token goes only where its secret binds it; anything else is terminal, nothing is sent.
    const refused = authorizationRefusal(authorization, request.url);
    if (refused !== undefined) return Promise.resolve({ kind: "terminal", reason: refused });
    const headers = { ...request.headers, authorization: authorization.header };
    return deliver({ ...request, headers }, { timeoutMs });
  };

  const rejected = (result: TerminalResult, unreadable?: string): DeliveryResult => {
    const suffix =
      unreadable === undefined ? "" : `; the token could not be read again: ${unreadable}`;
    if (options.rejectedToken === "as-answered")
      return { ...result, reason: result.reason + suffix };
    return {
      kind: "retryable",
      status: 401,
      reason: `HTTP 401: the sink rejected the bearer token${suffix}`,
    };
  };

  const readAgain = () => {
    secrets?.forget?.(secretRef);
    return read().then(
      (fresh) => {
        current = fresh;
        return { fresh };
      },
      (error: unknown) => ({ unreadable: String(error) }),
    );
  };

  return {
    deliver: async (request, attempt) => {
      const startedAt = now();
      const sentWith = current;
      const result = await send(sentWith, request, attempt.timeoutMs);
      if (result.kind !== "terminal" || result.status !== 401) return result;
      if (sentWith !== first) {
        stillRejected = true; // the re-read token itself was refused
        return rejected(result);
      }
      reread ??= readAgain();
      const read = await reread;
      if ("unreadable" in read) return rejected(result, read.unreadable);
      if (read.fresh.header === sentWith.header) {
        stillRejected = true; // the secret still holds the refused token
        return rejected(result);
      }
      const timeoutMs = attempt.timeoutMs - (now() - startedAt);
      if (timeoutMs <= 0) return rejected(result); // the next attempt sends the new token
      const again = await send(read.fresh, request, timeoutMs);
      if (again.kind !== "terminal" || again.status !== 401) return again;
      stillRejected = true;
      return rejected(again);
    },
    finish: () => {
      if (stillRejected) secrets?.forget?.(secretRef);
    },
  };
}
