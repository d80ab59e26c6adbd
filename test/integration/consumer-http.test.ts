// The consumer end to end against a real HTTP server on loopback: real undici sink, real
// createConsumer / createConsumerHandler, in-memory catalog.
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpSink, type HttpSink } from "../../src/adapters/http-sink.ts";
import { type ConsumerSettings, createConsumer } from "../../src/app/consumer.ts";
import { CONSUMER_DEFAULTS } from "../../src/config.ts";
import { parseEndpointAllowList } from "../../src/core/endpoint-policy.ts";
import { BatchRetryError, SecretUnavailableError } from "../../src/core/errors.ts";
import type { SecretResolver } from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import { createConsumerHandler } from "../../src/wiring/consumer.ts";
import {
  demoCluster,
  functionArn,
  SUB_ID,
  service,
  subscription,
} from "../helpers/catalog-fixtures.ts";
import { loadEvent, manyRecords, mskEvent, type SyntheticRecord } from "../helpers/kafka-events.ts";
import {
  type RecordedRequest,
  type RecordingSink,
  type SinkReply,
  startRecordingSink,
} from "../helpers/recording-sink.ts";

const config: ConsumerSettings = {
  ...CONSUMER_DEFAULTS,
  MAX_CONCURRENCY: 16,
  CATALOG_CACHE_TTL_MS: 10_000,
  MAX_ATTEMPTS: 3,
  REQUEST_TIMEOUT_MS: 2_000,
  DEADLINE_MARGIN_MS: 500,
  RETRY_BASE_DELAY_MS: 20,
  RETRY_MAX_DELAY_MS: 50,
};
const context = (remainingMs = 30_000) => {
  const end = Date.now() + remainingMs;
  return {
    invokedFunctionArn: functionArn(SUB_ID),
    getRemainingTimeInMillis: () => end - Date.now(),
  };
};
const PARTIAL = { "lambda.report.batch.item.failures": "true" };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function sinkServer(reply?: (r: RecordedRequest) => SinkReply): Promise<RecordingSink> {
  const sink = await startRecordingSink(reply);
  cleanup.push(() => sink.close());
  return sink;
}

function httpSink(settings: ConsumerSettings = config): HttpSink {
  const sink = createHttpSink({
    connections: settings.MAX_CONCURRENCY,
    requestTimeoutMs: settings.REQUEST_TIMEOUT_MS,
  });
  cleanup.push(() => sink.close());
  return sink;
}

function consumerFor(endpoint: string, options: Record<string, string> = {}, settings = config) {
  const lines: string[] = [];
  const consumer = createConsumer({
    catalog: memoryCatalog({
      subscriptions: [subscription({ options })],
      services: [service({ endpoint })],
      clusters: [demoCluster],
    }),
    config: settings,
    deliver: httpSink(settings).deliver,
    log: (line) => lines.push(line),
  });
  return { consumer, logs: () => lines.map((l) => JSON.parse(l)) };
}

const keyOf = (r: RecordedRequest) => decodeURIComponent(r.path.split("/")[2] ?? "");

describe("consumer over real HTTP", () => {
  it("delivers every record once, to the right path, with headers and body; per-key order; concurrent keys", async () => {
    const sink = await sinkServer(() => ({ status: 200, delayMs: 15 }));
    const records = manyRecords(240, 2, 24); // 24 keys over 2 partitions, 10 records per key
    const { consumer } = consumerFor(`${sink.url}/`);

    const response = await consumer.processEvent(mskEvent(records), context());

    expect(response).toBeUndefined();
    expect(sink.requests).toHaveLength(240);
    const ids = new Set(sink.requests.map((r) => r.headers["idempotency-key"]));
    expect(ids.size).toBe(240);
    for (const record of records) {
      const id = `${SUB_ID}/orders/${record.partition}/${record.offset}/`;
      const request = sink.requests.find((r) =>
        String(r.headers["idempotency-key"]).startsWith(id),
      );
      expect(request).toBeDefined();
      expect(request?.method).toBe("POST");
      expect(request?.path).toBe(`/Orders/${record.key}/process`);
      expect(request?.headers).toMatchObject({
        "restate.subscription.id": SUB_ID,
        "kafka.topic": "orders",
        "kafka.partition": String(record.partition),
        "kafka.offset": String(record.offset),
        "kafka.timestamp": String(1_700_000_000_000 + record.offset),
        "kafka.key": Buffer.from(record.key ?? "").toString("base64"),
        "content-type": "application/json",
      });
      expect(JSON.parse(request?.body.toString() ?? "")).toEqual(record.value);
    }
    // per key, the server saw offsets in increasing order
    const seen = new Map<string, number[]>();
    for (const r of sink.requests) {
      const key = `${r.headers["kafka.partition"]}/${keyOf(r)}`;
      seen.set(key, [...(seen.get(key) ?? []), Number(r.headers["kafka.offset"])]);
    }
    expect(seen.size).toBe(24);
    for (const offsets of seen.values())
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    // lanes really ran side by side, within the bound
    expect(sink.maxInFlight()).toBeGreaterThanOrEqual(8);
    expect(sink.maxInFlight()).toBeLessThanOrEqual(config.MAX_CONCURRENCY);
  });

  it("a key failing with 500 stops only that key; partial response names the lowest undelivered offset per partition", async () => {
    const failing = new Set(["key-3", "key-6"]); // key-3 in partition 1, key-6 in partition 0
    const sink = await sinkServer((r) => ({ status: failing.has(keyOf(r)) ? 500 : 200 }));
    const records = manyRecords(120, 2, 12);
    const { consumer } = consumerFor(sink.url, PARTIAL);

    const response = await consumer.processEvent(mskEvent(records), context());

    const firstOffset = (key: string) => records.find((r) => r.key === key)?.offset;
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: "orders-0", offset: firstOffset("key-6") } },
        { itemIdentifier: { partition: "orders-1", offset: firstOffset("key-3") } },
      ],
    });
    const perKey = new Map<string, number>();
    for (const r of sink.requests) perKey.set(keyOf(r), (perKey.get(keyOf(r)) ?? 0) + 1);
    for (let k = 0; k < 12; k++) {
      const key = `key-${k}`;
      // failing keys: only their first record, MAX_ATTEMPTS times; the others: all 10, once
      expect(perKey.get(key)).toBe(failing.has(key) ? config.MAX_ATTEMPTS : 10);
    }
    const failingOffsets = sink.requests
      .filter((r) => failing.has(keyOf(r)))
      .map((r) => r.headers["kafka.offset"]);
    expect(new Set(failingOffsets)).toEqual(
      new Set([String(firstOffset("key-3")), String(firstOffset("key-6"))]),
    );
  });

  it("without partial batch responses the handler throws so that the ESM retries the batch", async () => {
    const sink = await sinkServer((r) => ({ status: keyOf(r) === "key-1" ? 503 : 200 }));
    const lines: string[] = [];
    const handler = createConsumerHandler({
      catalog: memoryCatalog({
        subscriptions: [subscription()],
        services: [service({ endpoint: sink.url })],
        clusters: [demoCluster],
      }),
      config,
      deliver: httpSink().deliver,
      log: (line) => lines.push(line),
    });
    await expect(handler(mskEvent(manyRecords(20, 2, 4)), context())).rejects.toThrow(
      BatchRetryError,
    );
    const last = JSON.parse(lines.at(-1) ?? "{}");
    expect(last).toMatchObject({ level: "error", error: "BatchRetryError" });
    expect(last.reason).toMatch(/1 failed, 4 not attempted, 15 delivered/);
  });

  it("retries connection refused within the attempt budget, then reports the records", async () => {
    const port = await closedPort();
    const { consumer, logs } = consumerFor(`http://127.0.0.1:${port}`, PARTIAL);
    const records: SyntheticRecord[] = [
      { partition: 0, offset: 7, key: "a", value: 1 },
      { partition: 0, offset: 8, key: "a", value: 2 },
      { partition: 1, offset: 3, key: "b", value: 3 },
    ];
    const response = await consumer.processEvent(mskEvent(records), context());
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: "orders-0", offset: 7 } },
        { itemIdentifier: { partition: "orders-1", offset: 3 } },
      ],
    });
    const summary = logs().at(-1);
    expect(summary).toMatchObject({ failed: 2, notAttempted: 1, delivered: 0 });
    expect(summary.firstFailure.reason).toMatch(/ECONNREFUSED.*\(after 3 attempts\)/);
  });

  it("a timed-out attempt is retried and succeeds", async () => {
    const settings = { ...config, REQUEST_TIMEOUT_MS: 200 };
    let calls = 0;
    const sink = await sinkServer(() => ({ status: 200, delayMs: ++calls === 1 ? 1_000 : 0 }));
    const { consumer, logs } = consumerFor(sink.url, PARTIAL, settings);
    const response = await consumer.processEvent(
      mskEvent([{ partition: 0, offset: 1, key: "a", value: 1 }]),
      context(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(2);
    const keys = sink.requests.map((r) => r.headers["idempotency-key"]);
    expect(keys[0]).toMatch(new RegExp(`^${SUB_ID}/orders/0/1/[0-9a-f]{8}$`));
    expect(keys[1]).toBe(keys[0]);
    expect(logs().at(-1)).toMatchObject({ delivered: 1 });
  });

  it("stops retrying at the deadline, well before the Lambda timeout", async () => {
    const settings = { ...config, REQUEST_TIMEOUT_MS: 300, MAX_ATTEMPTS: 100 };
    const sink = await sinkServer(() => ({ status: 200, delayMs: 5_000 }));
    const { consumer, logs } = consumerFor(sink.url, PARTIAL, settings);
    const started = Date.now();
    const remaining = 1_500; // deadline = 1,500 - 500 margin = 1,000 ms from now
    const response = await consumer.processEvent(
      mskEvent([
        { partition: 0, offset: 1, key: "a", value: 1 },
        { partition: 0, offset: 2, key: "a", value: 2 },
      ]),
      context(remaining),
    );
    const elapsed = Date.now() - started;
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: "orders-0", offset: 1 } }],
    });
    expect(elapsed).toBeLessThan(remaining - settings.DEADLINE_MARGIN_MS + 200);
    expect(sink.requests.length).toBeGreaterThanOrEqual(2);
    expect(sink.requests.length).toBeLessThanOrEqual(4); // ~1,000 ms / (300 ms + backoff)
    expect(logs().at(-1).firstFailure.reason).toMatch(/timeout after \d+ ms/);
  });

  it("redirects are not followed (terminal); 202 from /send is success; 4xx is terminal and logged", async () => {
    const sink = await sinkServer((r) => {
      if (r.path.includes("/redirect/")) return { status: 307 };
      if (r.path.includes("/bad/")) return { status: 400, body: '{"message":"bad input"}' };
      return { status: 202, body: '{"invocationId":"inv_1","status":"Accepted"}' };
    });
    const lines: string[] = [];
    const consumer = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [subscription({ options: PARTIAL })],
        services: [service({ endpoint: sink.url, invocation: "send" })],
        clusters: [demoCluster],
      }),
      config,
      deliver: httpSink().deliver,
      log: (line) => lines.push(line),
    });
    const response = await consumer.processEvent(
      mskEvent([
        { partition: 0, offset: 1, key: "redirect", value: 1 },
        { partition: 0, offset: 2, key: "bad", value: 2 },
        { partition: 0, offset: 3, key: "good", value: 3 },
      ]),
      context(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(sink.requests.map((r) => r.path).sort()).toEqual([
      "/Orders/bad/process/send",
      "/Orders/good/process/send",
      "/Orders/redirect/process/send",
    ]);
    const terminal = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes("terminal"));
    expect(terminal.map((l) => [l.offset, l.reason]).sort()).toEqual([
      [1, "HTTP 307: {}"],
      [2, 'HTTP 400: {"message":"bad input"}'],
    ]);
  });
});

describe("object keys in the request path over real HTTP", () => {
  it("keys '.', '..' and one with '/' and '%' stay one path segment, under the endpoint's prefix", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const { consumer, logs } = consumerFor(`${sink.url}/restate/`, PARTIAL);
    const response = await consumer.processEvent(
      mskEvent([
        { partition: 0, offset: 1, key: ".", value: 1 },
        { partition: 0, offset: 2, key: "..", value: 2 },
        { partition: 0, offset: 3, key: "a/../b%2E%c", value: 3 },
      ]),
      context(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(logs().filter((l) => l.reason !== undefined)).toEqual([]);
    const byOffset = new Map(sink.requests.map((r) => [r.headers["kafka.offset"], r.path]));
    expect(Object.fromEntries(byOffset)).toEqual({
      "1": "/restate/Orders/%2E/process",
      "2": "/restate/Orders/%2E%2E/process",
      "3": "/restate/Orders/a%2F..%2Fb%252E%25c/process",
    });
  });
});

describe("keys too long for the request path", () => {
  it("are terminal up front with their size and the limit, blocking nothing; at the limit they go", async () => {
    // Before the limit existed, Node's HTTP server answered 431 to this record (path + kafka.key).
    const sink = await sinkServer(() => ({ status: 200 }));
    const { consumer, logs } = consumerFor(sink.url, PARTIAL);
    const long = "k".repeat(12 * 1024);
    const response = await consumer.processEvent(
      mskEvent([
        { partition: 0, offset: 1, key: long, value: 1 },
        { partition: 0, offset: 2, key: long, value: 2 },
        { partition: 0, offset: 3, key: "k".repeat(2_048), value: 3 },
      ]),
      context(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(sink.requests.map((r) => r.headers["kafka.offset"])).toEqual(["3"]);
    const terminal = logs().filter((l) => l.msg.includes("terminal"));
    const reason = "object key is 12,288 bytes URL-encoded; the limit is 2,048 (MAX_KEY_URL_BYTES)";
    expect(terminal.map((l) => [l.offset, l.reason])).toEqual([
      [1, reason],
      [2, reason],
    ]);
  });
});

describe("the endpoint policy, applied when the consumer connects", () => {
  /** The consumer function as the Lambda builds it: its HTTP sink comes from the settings. */
  function consumerWith(endpoint: string, settings: ConsumerSettings) {
    const lines: string[] = [];
    const handler = createConsumerHandler({
      catalog: memoryCatalog({
        subscriptions: [subscription({ options: PARTIAL })],
        services: [service({ endpoint })],
        clusters: [demoCluster],
      }),
      config: settings,
      log: (line) => lines.push(line),
    });
    const run = (records: SyntheticRecord[]) => handler(mskEvent(records), context());
    return { run, logs: () => lines.map((l) => JSON.parse(l)) };
  }
  const records: SyntheticRecord[] = [
    { partition: 0, offset: 1, key: "a", value: 1 },
    { partition: 0, offset: 2, key: "b", value: 2 },
  ];

  it("an endpoint stored before the policy refused it (0.0.0.0 reaches this host) is terminal, sending nothing", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const { run, logs } = consumerWith(`http://0.0.0.0:${new URL(sink.url).port}`, config);
    expect(await run(records)).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toEqual([]);
    const terminal = logs().filter((l) => l.msg.includes("terminal"));
    expect(terminal.map((l) => [l.offset, l.attempts, l.reason])).toEqual([
      [
        1,
        1,
        "ERR_ENDPOINT_REFUSED: endpoint address 0.0.0.0 is refused: it is an unspecified address (0.0.0.0/8, which reaches this host)",
      ],
      [
        2,
        1,
        "ERR_ENDPOINT_REFUSED: endpoint address 0.0.0.0 is refused: it is an unspecified address (0.0.0.0/8, which reaches this host)",
      ],
    ]);
  });

  it("SERVICE_ENDPOINT_ALLOW as configured now wins over what was allowed at registration", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const { port } = new URL(sink.url);
    const narrowed = consumerWith(sink.url, {
      ...config,
      SERVICE_ENDPOINT_ALLOW: parseEndpointAllowList("*.restate.internal:8080"),
    });
    expect(await narrowed.run(records)).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toEqual([]);
    expect(
      narrowed
        .logs()
        .filter((l) => l.msg.includes("terminal"))
        .map((l) => l.reason),
    ).toEqual([
      `ERR_ENDPOINT_REFUSED: endpoint host 127.0.0.1 (port ${port}) is refused: it is not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)`,
      `ERR_ENDPOINT_REFUSED: endpoint host 127.0.0.1 (port ${port}) is refused: it is not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)`,
    ]);
    const listed = consumerWith(sink.url, {
      ...config,
      SERVICE_ENDPOINT_ALLOW: parseEndpointAllowList(`*.restate.internal,127.0.0.1:${port}`),
    });
    expect(await listed.run(records)).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(2);
  });
});

describe("record headers over real HTTP", () => {
  it("arrive as valid HTTP headers, repeated names joined by the server, binary ones in base64", async () => {
    const sink = await sinkServer(() => ({ status: 500, body: "x".repeat(200_000) }));
    const { consumer } = consumerFor(sink.url, PARTIAL, { ...config, MAX_ATTEMPTS: 2 });
    const response = await consumer.processEvent(loadEvent("record-headers"), context());
    // a huge error body is capped and the retry still happens
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: "orders-0", offset: 500 } }],
    });
    expect(sink.requests).toHaveLength(2);
    const headers = sink.requests[0]?.headers ?? {};
    expect(headers["kafka.header.x-correlation-id"]).toBe("corr-42");
    expect(headers["kafka.header.tenant"]).toBe("acme, globex");
    expect(headers["kafka.header.my%20header"]).toBe("spaced name");
    expect(headers["kafka.header.empty"]).toBe("");
    expect(Buffer.from(headers["kafka.header-b64.greeting"] ?? "", "base64").toString()).toBe(
      "héllo wörld",
    );
    expect([...Buffer.from(headers["kafka.header-b64.bin"] ?? "", "base64")]).toEqual([
      0, 1, 2, 255,
    ]);
  });
});

describe("sink auth over real HTTP", () => {
  const TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:restate-token-Ab12Cd";
  const TOKEN = "rst_live_0123456789abcdef";

  /** What a secret `{"token", "endpoints": [url]}` resolves to. */
  const boundTo = (url: string, token: string) => ({
    token,
    endpoints: [{ origin: new URL(url).origin, path: "" }],
  });

  function authedHandler(endpoint: string, secrets: SecretResolver, lines: string[]) {
    return createConsumerHandler({
      catalog: memoryCatalog({
        subscriptions: [subscription({ options: PARTIAL })],
        services: [service({ endpoint, auth: { bearer_token_secret: TOKEN_ARN } })],
        clusters: [demoCluster],
      }),
      config,
      deliver: httpSink().deliver,
      secrets,
      log: (line) => lines.push(line),
    });
  }

  it("every request to a service with auth carries authorization: Bearer <token>; logs never hold it", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const asked: string[] = [];
    const lines: string[] = [];
    const handler = authedHandler(
      sink.url,
      {
        resolve: async (ref) => {
          asked.push(ref);
          return boundTo(sink.url, TOKEN);
        },
      },
      lines,
    );
    expect(await handler(mskEvent(manyRecords(12, 2, 3)), context())).toEqual({
      batchItemFailures: [],
    });
    expect(sink.requests).toHaveLength(12);
    for (const request of sink.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    }
    expect(asked).toEqual([TOKEN_ARN]); // once per batch; the resolver caches across batches
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("a token goes only to the origins its secret names: a service moved elsewhere gets nothing sent, its records are terminal", async () => {
    const bound = await sinkServer(() => ({ status: 200 }));
    const elsewhere = await sinkServer(() => ({ status: 200 }));
    const secrets = localSecretResolver({
      LOCAL_SECRETS: JSON.stringify({
        [TOKEN_ARN]: JSON.stringify({ token: TOKEN, endpoints: [bound.url] }),
      }),
    });
    const lines: string[] = [];
    // As after `PATCH /services/Orders {"endpoint": ...}` by a caller of the admin API.
    const moved = authedHandler(elsewhere.url, secrets, lines);
    expect(await moved(mskEvent(manyRecords(6, 2, 3)), context())).toEqual({
      batchItemFailures: [],
    });
    expect(elsewhere.requests).toHaveLength(0);
    const origin = new URL(elsewhere.url).origin;
    const terminal = lines.map((l) => JSON.parse(l)).filter((l) => l.offset !== undefined);
    expect(terminal).toHaveLength(6);
    for (const line of terminal) {
      expect(line.reason).toBe(
        `the token in ${TOKEN_ARN} is not bound to ${origin}; add the origin to the secret's "endpoints"`,
      );
    }
    expect(lines.join("\n")).not.toContain(TOKEN);

    // The bound origin still gets every record, with the token.
    const handler = authedHandler(bound.url, secrets, []);
    expect(await handler(mskEvent(manyRecords(6, 2, 3)), context())).toEqual({
      batchItemFailures: [],
    });
    expect(bound.requests).toHaveLength(6);
    expect(bound.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("a token whose secret names no endpoints (a bare token) is sent nowhere; the reason says how to bind it", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const lines: string[] = [];
    const handler = authedHandler(
      sink.url,
      localSecretResolver({ LOCAL_SECRETS: JSON.stringify({ [TOKEN_ARN]: TOKEN }) }),
      lines,
    );
    await handler(mskEvent(manyRecords(2, 1, 1)), context());
    expect(sink.requests).toHaveLength(0);
    const reasons = lines.map((l) => JSON.parse(l).reason).filter(Boolean);
    expect(reasons[0]).toBe(
      `the token in ${TOKEN_ARN} is bound to no endpoint, so it is not sent to ${new URL(sink.url).origin}: ` +
        `store the secret as {"token": "...", "endpoints": ["https://host[:port][/prefix]"]} naming ${new URL(sink.url).origin}`,
    );
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("a 401 (rotated token) is retryable, keeps the record in its lane and re-reads the secret", async () => {
    let current = "old-token";
    const sink = await sinkServer((request) => ({
      status: request.headers.authorization === "Bearer new-token" ? 200 : 401,
    }));
    const forgotten: string[] = [];
    let cached: string | undefined;
    const secrets: SecretResolver = {
      resolve: async () => {
        cached ??= current;
        return boundTo(sink.url, cached);
      },
      forget: (ref) => {
        forgotten.push(ref);
        cached = undefined;
      },
    };
    const handler = authedHandler(sink.url, secrets, []);
    const event = mskEvent(manyRecords(6, 2, 3));

    const first = await handler(event, context());
    expect(first?.batchItemFailures.map((f) => f.itemIdentifier.offset)).toEqual([0, 0]);
    // Forgotten twice: for the re-read at the first 401 (which still read the old token), and
    // when the batch ended with the token still refused, so the next invocation reads afresh.
    expect(forgotten).toEqual([TOKEN_ARN, TOKEN_ARN]);
    expect(new Set(sink.requests.map((r) => r.headers.authorization))).toEqual(
      new Set(["Bearer old-token"]),
    );

    current = "new-token"; // rotated in Secrets Manager
    sink.requests.length = 0;
    expect(await handler(event, context())).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(6);
    expect(sink.requests.every((r) => r.headers.authorization === "Bearer new-token")).toBe(true);
  });

  it("a 401 re-reads the secret at once: a token rotated before the batch costs one request, no retry", async () => {
    const sink = await sinkServer((request) => ({
      status: request.headers.authorization === "Bearer new-token" ? 200 : 401,
    }));
    let stored = "old-token";
    let cached: string | undefined;
    const reads: string[] = [];
    const secrets: SecretResolver = {
      resolve: async () => {
        cached ??= stored;
        reads.push(cached);
        return boundTo(sink.url, cached);
      },
      forget: () => {
        cached = undefined;
      },
    };
    const handler = authedHandler(sink.url, secrets, []);
    await secrets.resolve(TOKEN_ARN); // a warm container holds the old token
    stored = "new-token"; // rotated in Secrets Manager
    reads.length = 0;
    expect(await handler(mskEvent(manyRecords(6, 1, 1)), context())).toEqual({
      batchItemFailures: [],
    });
    expect(reads).toEqual(["old-token", "new-token"]); // the batch's read, then one re-read
    expect(sink.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer old-token",
      ...Array(6).fill("Bearer new-token"),
    ]);
  });

  it("a secret that cannot be read fails the invocation (retryable), naming the ARN only; nothing is sent", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const lines: string[] = [];
    const handler = authedHandler(
      sink.url,
      {
        resolve: async (ref) => {
          throw new SecretUnavailableError(
            ref,
            `cannot read secret ${ref} (AccessDeniedException)`,
          );
        },
      },
      lines,
    );
    await expect(handler(mskEvent(manyRecords(4, 1, 2)), context())).rejects.toThrow(
      `Service Orders (subscription ${SUB_ID}) authenticates with a bearer token, but cannot read secret ${TOKEN_ARN} (AccessDeniedException); the batch will be retried`,
    );
    expect(sink.requests).toHaveLength(0);
    const last = JSON.parse(lines.at(-1) ?? "{}");
    expect(last).toMatchObject({ level: "error", error: "SecretUnavailableError" });
    expect(last.reason).toContain(TOKEN_ARN);
  });

  it("a service with auth and no resolver fails clearly too", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const consumer = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [subscription()],
        services: [service({ endpoint: sink.url, auth: { bearer_token_secret: TOKEN_ARN } })],
        clusters: [demoCluster],
      }),
      config,
      deliver: httpSink().deliver,
      log: () => {},
    });
    await expect(consumer.processEvent(mskEvent(manyRecords(2, 1, 1)), context())).rejects.toThrow(
      SecretUnavailableError,
    );
    expect(sink.requests).toHaveLength(0);
  });
});

describe("size limits over real HTTP", () => {
  it("a value over MAX_REQUEST_BYTES is terminal up front and blocks nothing, even in its own key", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const lines: string[] = [];
    const consumer = createConsumer({
      catalog: memoryCatalog({
        subscriptions: [subscription({ options: PARTIAL })],
        services: [service({ endpoint: sink.url })],
        clusters: [demoCluster],
      }),
      config: { ...config, MAX_REQUEST_BYTES: 100 },
      deliver: httpSink().deliver,
      log: (line) => lines.push(line),
    });
    const big = { pad: "x".repeat(200) };
    const response = await consumer.processEvent(
      mskEvent([
        { partition: 0, offset: 1, key: "k", value: 1 },
        { partition: 0, offset: 2, key: "k", value: big },
        { partition: 0, offset: 3, key: "k", value: 3 },
      ]),
      context(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(sink.requests.map((r) => r.headers["kafka.offset"])).toEqual(["1", "3"]);
    const terminal = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes("terminal"));
    expect(terminal.map((l) => [l.offset, l.reason])).toEqual([
      [2, `value of ${JSON.stringify(big).length} bytes exceeds MAX_REQUEST_BYTES (100)`],
    ]);
  });

  it("forwarded headers beyond the cap are dropped and flagged; the record is still delivered", async () => {
    const sink = await sinkServer(() => ({ status: 200 }));
    const { consumer } = consumerFor(sink.url, PARTIAL);
    const event = loadEvent("record-headers");
    const first = event.records["orders-0"][0];
    first.headers = [
      { small: [...Buffer.from("ok")] },
      { huge: [...Buffer.alloc(20_000, 0x61)] },
      { later: [...Buffer.from("dropped")] },
    ];
    event.records["orders-0"] = [first];
    expect(await consumer.processEvent(event, context())).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(1);
    const headers = sink.requests[0]?.headers ?? {};
    expect(headers["kafka.header.small"]).toBe("ok");
    expect(headers["kafka.header.huge"]).toBeUndefined();
    expect(headers["kafka.header.later"]).toBeUndefined();
    expect(headers["kafka.headers-truncated"]).toBe("true");
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
