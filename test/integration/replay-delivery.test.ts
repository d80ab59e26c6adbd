// Replay delivery of dead letters with sink auth and the request size limit, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplayDelivery } from "../../src/app/dead-letter-replay.ts";
import { createReplayDeliveries } from "../../src/app/replay-delivery.ts";
import { buildDeadLetter, type DeadLetter } from "../../src/core/dead-letters.ts";
import { ConflictError } from "../../src/core/errors.ts";
import { type SecretResolver, SecretUnavailableError } from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";
import { memoryCatalog, service, subscription } from "../helpers/memory-catalog.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";

const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";

const letter = (value: string): DeadLetter =>
  buildDeadLetter({
    subscriptionId: "sub_1",
    partitionId: "orders-0",
    record: {
      topic: "orders",
      partition: 0,
      offset: 7,
      timestamp: 1_700_000_000_000,
      timestampType: "CREATE_TIME",
      key: new Uint8Array(Buffer.from("k1")),
      value: new Uint8Array(Buffer.from(value)),
      headers: [],
    },
    kind: "exhausted",
    reason: "HTTP 503",
    attempts: 10,
    firstFailedAt: 1_700_000_000_000,
    parkedAt: 1_700_000_000_000,
  });

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

function deliveries(secrets?: SecretResolver, maxRequestBytes?: number) {
  return createReplayDeliveries({
    catalog: memoryCatalog({
      services: [service({ endpoint: sink.url, auth: { bearer_token_secret: TOKEN_ARN } })],
    }),
    deadLetters: { whole: async (l: DeadLetter) => l },
    requestTimeoutMs: 2_000,
    retryDelayMs: 1,
    ...(secrets ? { secrets } : {}),
    ...(maxRequestBytes ? { maxRequestBytes } : {}),
  });
}

describe("replay delivery", () => {
  it("sends authorization: Bearer <token> to a service with auth", async () => {
    const replay = deliveries({ resolve: async () => boundTo(sink.url, TOKEN) });
    const deliver: ReplayDelivery = await replay.forSubscription(subscription());
    expect(await deliver(letter('{"n":7}'))).toEqual({ ok: true });
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
    const deliver = await replay.forSubscription(subscription());
    const outcome = await deliver(letter('{"n":7}'));
    expect(outcome).toEqual({
      ok: false,
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
    const replay = createReplayDeliveries({
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
    const deliver = await replay.forSubscription(subscription());
    current = "new-token"; // rotated after the replay read the old one
    expect(await deliver(letter('{"n":7}'))).toEqual({ ok: true });
    expect(rotated.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer old-token",
      "Bearer new-token",
    ]);
    expect(forgotten).toEqual([TOKEN_ARN]);
    // A token that stays wrong is not re-read forever: one re-read per letter, then it fails.
    current = "still-wrong";
    const again = await replay.forSubscription(subscription());
    expect(await again(letter('{"n":8}'))).toMatchObject({ ok: false });
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
    const replay = deliveries({ resolve: async () => boundTo(sink.url, TOKEN) }, 4);
    const deliver = await replay.forSubscription(subscription());
    const before = sink.requests.length;
    expect(await deliver(letter('{"n":7}'))).toEqual({
      ok: false,
      reason: "value of 7 bytes exceeds MAX_REQUEST_BYTES (4)",
    });
    expect(sink.requests.length).toBe(before);
    await replay.close();
  });
});
