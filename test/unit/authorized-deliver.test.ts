import { describe, expect, it } from "vitest";
import { authorizedDeliver, type RejectedToken } from "../../src/app/authorized-deliver.ts";
import { SecretUnavailableError } from "../../src/core/errors.ts";
import type { SinkRequest } from "../../src/core/invocation.ts";
import type { DeliveryResult } from "../../src/core/retry.ts";
import type { SecretResolver } from "../../src/core/secrets.ts";

const REF = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-Ab12Cd";
const URL_ = "https://ingress.example.com/Orders/process";
const request: SinkRequest = {
  method: "POST",
  url: URL_,
  headers: { "kafka.offset": "7" },
  body: undefined,
};
const bound = (token: string) => ({
  token,
  endpoints: [{ origin: "https://ingress.example.com", path: "" }],
});

/** A resolver whose stored token the test rotates, caching until forgotten, as the real one. */
function rotatingSecrets(initial: string) {
  const state = { stored: initial, cached: undefined as string | undefined, reads: 0, forgets: 0 };
  const secrets: SecretResolver = {
    resolve: async () => {
      state.reads++;
      state.cached ??= state.stored;
      return bound(state.cached);
    },
    forget: () => {
      state.forgets++;
      state.cached = undefined;
    },
  };
  return { state, secrets };
}

function setup(initial: string, accepted: string, rejectedToken: RejectedToken = "retryable") {
  const { state, secrets } = rotatingSecrets(initial);
  const sent: string[] = [];
  const deliver = async (r: SinkRequest): Promise<DeliveryResult> => {
    const header = String(r.headers.authorization);
    sent.push(header);
    return header === `Bearer ${accepted}`
      ? { kind: "success", status: 200 }
      : { kind: "terminal", status: 401, reason: "HTTP 401: unauthorized" };
  };
  const make = () =>
    authorizedDeliver({ auth: { bearer_token_secret: REF }, secrets, deliver, rejectedToken });
  return { state, sent, make };
}

describe("authorizedDeliver", () => {
  it("passes requests through untouched for a service without auth", async () => {
    const seen: SinkRequest[] = [];
    const { deliver } = await authorizedDeliver({
      auth: undefined,
      secrets: undefined,
      deliver: async (r) => {
        seen.push(r);
        return { kind: "success", status: 200 };
      },
      rejectedToken: "retryable",
    });
    expect(await deliver(request, { timeoutMs: 1_000 })).toEqual({ kind: "success", status: 200 });
    expect(seen).toEqual([request]);
  });

  it("throws SecretUnavailableError when the token cannot be read: nothing can be sent", async () => {
    await expect(
      authorizedDeliver({
        auth: { bearer_token_secret: REF },
        secrets: undefined,
        deliver: async () => ({ kind: "success", status: 200 }),
        rejectedToken: "retryable",
      }),
    ).rejects.toBeInstanceOf(SecretUnavailableError);
  });

  it("sends nothing to an endpoint the secret does not bind the token to", async () => {
    const { sent, make } = setup("t", "t");
    const { deliver } = await make();
    const result = await deliver(
      { ...request, url: "https://elsewhere.example.com/x" },
      {
        timeoutMs: 1_000,
      },
    );
    expect(result.kind).toBe("terminal");
    expect(sent).toEqual([]);
  });

  it("on a 401 forgets the secret, re-reads it and sends again at once with the new token", async () => {
    const { state, sent, make } = setup("old", "new");
    const authorized = await make();
    state.stored = "new";
    expect(await authorized.deliver(request, { timeoutMs: 1_000 })).toEqual({
      kind: "success",
      status: 200,
    });
    expect(sent).toEqual(["Bearer old", "Bearer new"]);
    expect(state.forgets).toBe(1);
    // Later requests carry the new token; nothing more is read.
    await authorized.deliver(request, { timeoutMs: 1_000 });
    expect(sent.at(-1)).toBe("Bearer new");
    authorized.finish();
    expect(state).toMatchObject({ reads: 2, forgets: 1 });
  });

  it("re-reads once for all the requests that were refused together", async () => {
    const { state, sent, make } = setup("old", "new");
    const authorized = await make();
    state.stored = "new";
    const results = await Promise.all(
      [1, 2, 3].map(() => authorized.deliver(request, { timeoutMs: 1_000 })),
    );
    expect(results.every((r) => r.kind === "success")).toBe(true);
    expect(state).toMatchObject({ reads: 2, forgets: 1 });
    expect(sent.filter((h) => h === "Bearer new")).toHaveLength(3);
  });

  it("a token still refused after the re-read: retryable in the consumer, forgotten when done", async () => {
    const { state, sent, make } = setup("wrong", "right");
    const authorized = await make();
    const result = await authorized.deliver(request, { timeoutMs: 1_000 });
    expect(result).toEqual({
      kind: "retryable",
      status: 401,
      reason: "HTTP 401: the sink rejected the bearer token",
    });
    expect(sent).toEqual(["Bearer wrong"]); // the re-read returned the same token: not resent
    await authorized.deliver(request, { timeoutMs: 1_000 });
    expect(state).toMatchObject({ reads: 2, forgets: 1 }); // no second re-read
    authorized.finish();
    expect(state.forgets).toBe(2);
  });

  it("a refused token stays as answered for a replay", async () => {
    const { make } = setup("wrong", "right", "as-answered");
    const authorized = await make();
    expect(await authorized.deliver(request, { timeoutMs: 1_000 })).toEqual({
      kind: "terminal",
      status: 401,
      reason: "HTTP 401: unauthorized",
    });
  });

  it("says so when the secret cannot be read again", async () => {
    let readable = true;
    const authorized = await authorizedDeliver({
      auth: { bearer_token_secret: REF },
      secrets: {
        resolve: async (ref) => {
          if (readable) return bound("old");
          throw new SecretUnavailableError(ref, `cannot read secret ${ref}`);
        },
      },
      deliver: async () => ({ kind: "terminal", status: 401, reason: "HTTP 401" }),
      rejectedToken: "as-answered",
    });
    readable = false;
    const result = await authorized.deliver(request, { timeoutMs: 1_000 });
    expect(result).toMatchObject({ kind: "terminal", status: 401 });
    expect(result.kind !== "success" && result.reason).toBe(
      `HTTP 401; the token could not be read again: SecretUnavailableError: cannot read secret ${REF}`,
    );
  });
});
