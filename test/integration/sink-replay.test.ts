// Replay delivery of dead letters with sink auth, the record limits and the endpoint policy, over
// real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LetterDelivery } from "../../src/app/sink-replay.ts";
import type { DeadLetter } from "../../src/core/dead-letters.ts";
import { parseEndpointAllowList } from "../../src/core/endpoint-policy.ts";
import { ConflictError, SecretUnavailableError } from "../../src/core/errors.ts";
import type { SecretResolver } from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import { createHttpSinkReplay, type HttpSinkReplayOptions } from "../../src/wiring/consumer.ts";
import { service, subscription } from "../helpers/catalog-fixtures.ts";
import { exhaustedLetter } from "../helpers/letters.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";

const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";

/** A deadline far enough away not to matter. */
const soon = () => Date.now() + 60_000;

let sink: RecordingSink;
beforeAll(async () => {
  sink = await startRecordingSink();
});
afterAll(async () => {
  await sink.close();
});

/** What a secret `{"token", "endpoints": [url]}` resolves to. */
const boundTo = (url: string, token: string) => ({
  token,
  endpoints: [{ origin: new URL(url).origin, path: "" }],
});

function deliveries(
  secrets?: SecretResolver,
  options: Partial<HttpSinkReplayOptions> = {},
  endpoint = sink.url,
) {
  return createHttpSinkReplay({
    catalog: memoryCatalog({
      services: [service({ endpoint, auth: { bearer_token_secret: TOKEN_ARN } })],
    }),
    deadLetters: { whole: async (l: DeadLetter) => l },
    requestTimeoutMs: 2_000,
    retryDelayMs: 1,
    ...(secrets ? { secrets } : {}),
    ...options,
  });
}

describe("replay delivery", () => {
  it("sends authorization: Bearer <token> to a service with auth", async () => {
    const replay = deliveries({ resolve: async () => boundTo(sink.url, TOKEN) });
    const deliver: LetterDelivery = await replay.letterDelivery(subscription());
    expect(await deliver(exhaustedLetter('{"n":7}'), soon())).toEqual({ outcome: "delivered" });
    expect(sink.requests.at(-1)?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await replay.close();
  });

  it("sends nothing to an origin the secret does not name, and says which rule stopped it", async () => {
    const sent = sink.requests.length;
    const replay = deliveries(
      localSecretResolver({
        LOCAL_SECRETS: JSON.stringify({
          [TOKEN_ARN]: { token: TOKEN, endpoints: ["https://ingress.example.com/restate"] },
        }),
      }),
    );
    const deliver = await replay.letterDelivery(subscription());
    const outcome = await deliver(exhaustedLetter('{"n":7}'), soon());
    expect(outcome).toEqual({
      outcome: "failed",
      reason: `the token in ${TOKEN_ARN} is not bound to ${new URL(sink.url).origin}; add the origin to the secret's "endpoints"`,
    });
    expect(sink.requests).toHaveLength(sent);
    await replay.close();
  });

  it("a 401 drops the cached token and retries once with the one read again (rotation)", async () => {
    const rotated = await startRecordingSink((request) => ({
      status: request.headers.authorization === "Bearer new-token" ? 200 : 401,
    }));
    let current = "old-token";
    const forgotten: string[] = [];
    const replay = createHttpSinkReplay({
      catalog: memoryCatalog({
        services: [service({ endpoint: rotated.url, auth: { bearer_token_secret: TOKEN_ARN } })],
      }),
      deadLetters: { whole: async (l: DeadLetter) => l },
      requestTimeoutMs: 2_000,
      retryDelayMs: 1,
      maxAttempts: 1, // the re-read token still gets its own attempt
      secrets: {
        resolve: async () => boundTo(rotated.url, current),
        forget: (ref) => {
          forgotten.push(ref);
        },
      },
    });
    const deliver = await replay.letterDelivery(subscription());
    current = "new-token"; // rotated after the replay read the old one
    expect(await deliver(exhaustedLetter('{"n":7}'), soon())).toEqual({ outcome: "delivered" });
    expect(rotated.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer old-token",
      "Bearer new-token",
    ]);
    expect(forgotten).toEqual([TOKEN_ARN]);
    // A token that stays wrong is not re-read forever: one re-read per replay, then it fails.
    current = "still-wrong";
    const again = await replay.letterDelivery(subscription());
    expect(await again(exhaustedLetter('{"n":8}'), soon())).toMatchObject({ outcome: "failed" });
    expect(forgotten).toEqual([TOKEN_ARN, TOKEN_ARN]);
    await replay.close();
    await rotated.close();
  });

  it("refuses (409) when the token cannot be read here, naming the ARN only", async () => {
    const none = deliveries();
    const refused = await none.forSubscription(subscription()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as Error).message).toContain(TOKEN_ARN);
    expect((refused as Error).message).toContain("does not read sink secrets");
    await none.close();

    const failing = deliveries({
      resolve: async (ref) => {
        throw new SecretUnavailableError(ref, `cannot read secret ${ref} (AccessDeniedException)`);
      },
    });
    await expect(failing.forSubscription(subscription())).rejects.toThrow(
      `service Orders authenticates with a bearer token, but cannot read secret ${TOKEN_ARN} (AccessDeniedException)`,
    );
    await failing.close();
  });

  it("refuses a value over MAX_REQUEST_BYTES with the consumer's reason, sending nothing", async () => {
    const replay = deliveries(
      { resolve: async () => boundTo(sink.url, TOKEN) },
      { limits: { maxRequestBytes: 4 } },
    );
    const deliver = await replay.letterDelivery(subscription());
    const before = sink.requests.length;
    expect(await deliver(exhaustedLetter('{"n":7}'), soon())).toEqual({
      outcome: "failed",
      reason: "value of 7 bytes exceeds MAX_REQUEST_BYTES (4)",
    });
    expect(sink.requests.length).toBe(before);
    await replay.close();
  });

  it("within a deadline: a first attempt cut short defers the letter, sooner than its timeout", async () => {
    const hanging = await startRecordingSink(() => ({ status: 200, delayMs: 3_000 }));
    const replay = createHttpSinkReplay({
      catalog: memoryCatalog({ services: [service({ endpoint: hanging.url })] }),
      deadLetters: { whole: async (l: DeadLetter) => l },
      requestTimeoutMs: 2_000,
      retryDelayMs: 1,
    });
    const deliver = await replay.letterDelivery(subscription());
    const started = Date.now();
    expect(await deliver(exhaustedLetter('{"n":7}'), started + 500)).toEqual({
      outcome: "deferred",
    });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(hanging.requests).toHaveLength(1);
    // Too little time left to start: deferred without a request.
    expect(await deliver(exhaustedLetter('{"n":7}'), Date.now() + 100)).toEqual({
      outcome: "deferred",
    });
    expect(hanging.requests).toHaveLength(1);
    await replay.close();
    await hanging.close();
  });

  it("within a deadline: once a whole attempt has failed, running out of time is a failure", async () => {
    const hanging = await startRecordingSink(() => ({ status: 200, delayMs: 3_000 }));
    const replay = createHttpSinkReplay({
      catalog: memoryCatalog({ services: [service({ endpoint: hanging.url })] }),
      deadLetters: { whole: async (l: DeadLetter) => l },
      requestTimeoutMs: 300,
      retryDelayMs: 1,
      maxAttempts: 10,
    });
    const deliver = await replay.letterDelivery(subscription());
    const started = Date.now();
    const outcome = await deliver(exhaustedLetter('{"n":7}'), started + 1_000);
    expect(outcome).toEqual({
      outcome: "failed",
      reason: "timeout after 300 ms (then the replay ran out of time)",
    });
    expect(Date.now() - started).toBeLessThan(1_800);
    expect(hanging.requests.length).toBeGreaterThanOrEqual(2);
    expect(hanging.requests.length).toBeLessThan(10);
    await replay.close();
    await hanging.close();
  });

  it("refuses a key too long for the request path with the consumer's reason, sending nothing", async () => {
    const replay = deliveries({ resolve: async () => boundTo(sink.url, TOKEN) });
    const deliver = await replay.letterDelivery(subscription());
    const before = sink.requests.length;
    expect(await deliver(exhaustedLetter('{"n":7}', "é".repeat(400)), soon())).toEqual({
      outcome: "failed",
      reason: "object key is 2,400 bytes URL-encoded; the limit is 2,048 (MAX_KEY_URL_BYTES)",
    });
    expect(await deliver(exhaustedLetter('{"n":7}', "é".repeat(341)), soon())).toEqual({
      outcome: "delivered",
    });
    expect(sink.requests.length).toBe(before + 1);
    await replay.close();
  });

  it("checks the endpoint when connecting: unspecified addresses and the allow-list as set now", async () => {
    const port = new URL(sink.url).port;
    const before = sink.requests.length;
    for (const host of ["0.0.0.0", "[::ffff:0:0]"]) {
      const endpoint = `http://${host}:${port}`;
      // the token is bound to the endpoint: the address check is what refuses it
      const replay = deliveries({ resolve: async () => boundTo(endpoint, TOKEN) }, {}, endpoint);
      const deliver = await replay.letterDelivery(subscription());
      const address = host === "0.0.0.0" ? host : "::ffff:0:0";
      expect(await deliver(exhaustedLetter('{"n":7}'), soon())).toEqual({
        outcome: "failed",
        reason: expect.stringContaining(`endpoint address ${address} is refused: it is `),
      });
      await replay.close();
    }
    const listed = deliveries(
      { resolve: async () => boundTo(sink.url, TOKEN) },
      { endpointAllow: parseEndpointAllowList("restate.internal:8080") },
    );
    const deliver = await listed.letterDelivery(subscription());
    expect(await deliver(exhaustedLetter('{"n":7}'), soon())).toEqual({
      outcome: "failed",
      reason: `ERR_ENDPOINT_REFUSED: endpoint host 127.0.0.1 (port ${port}) is refused: it is not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)`,
    });
    await listed.close();
    expect(sink.requests.length).toBe(before);
  });
});
