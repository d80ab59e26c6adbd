// Replay delivery of dead letters with sink auth and the request size limit, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplayDelivery } from "../../src/app/dead-letter-replay.ts";
import { createReplayDeliveries } from "../../src/app/replay-delivery.ts";
import { ConflictError } from "../../src/core/errors.ts";
import type { DecodedRecord } from "../../src/core/event.ts";
import { SecretUnavailableError } from "../../src/core/secrets.ts";
import { memoryCatalog, service, subscription } from "../helpers/memory-catalog.ts";
import { type RecordingSink, startRecordingSink } from "../helpers/recording-sink.ts";

const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";

const record = (value: string): DecodedRecord => ({
  topic: "orders",
  partition: 0,
  offset: 7,
  timestamp: 1_700_000_000_000,
  timestampType: "CREATE_TIME",
  key: new Uint8Array(Buffer.from("k1")),
  value: new Uint8Array(Buffer.from(value)),
  headers: [],
});

let sink: RecordingSink;
beforeAll(async () => {
  sink = await startRecordingSink();
});
afterAll(async () => {
  await sink.close();
});

function deliveries(secrets?: { resolve(ref: string): Promise<string> }, maxRequestBytes?: number) {
  return createReplayDeliveries({
    catalog: memoryCatalog({
      services: [service({ endpoint: sink.url, auth: { bearer_token_secret: TOKEN_ARN } })],
    }),
    requestTimeoutMs: 2_000,
    retryDelayMs: 1,
    ...(secrets ? { secrets } : {}),
    ...(maxRequestBytes ? { maxRequestBytes } : {}),
  });
}

describe("replay delivery", () => {
  it("sends authorization: Bearer <token> to a service with auth", async () => {
    const replay = deliveries({ resolve: async () => TOKEN });
    const deliver: ReplayDelivery = await replay.forSubscription(subscription());
    expect(await deliver(record('{"n":7}'))).toEqual({ ok: true });
    expect(sink.requests.at(-1)?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await replay.close();
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
    const replay = deliveries({ resolve: async () => TOKEN }, 4);
    const deliver = await replay.forSubscription(subscription());
    const before = sink.requests.length;
    expect(await deliver(record('{"n":7}'))).toEqual({
      ok: false,
      reason: "value of 7 bytes exceeds MAX_REQUEST_BYTES (4)",
    });
    expect(sink.requests.length).toBe(before);
    await replay.close();
  });
});
