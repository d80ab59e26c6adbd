// The headers a handler sees for one record, side by side: fed by restate-server's own Kafka
// ingress, and fed by our local stack through Restate's HTTP ingress. The same records (a key
// whose base64 differs between alphabets, no key, Kafka headers) go to two identical services;
// every header Restate's ingress sets must reach the handler from us too, with the same value
// (the subscription id aside), and what we add besides is named here: the forwarded record
// headers, and a record's W3C trace context as `traceparent`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin, Producer } from "@platformatic/kafka";
import * as restate from "@restatedev/restate-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningKafka, startKafka } from "../../infra/local/kafka.ts";
import {
  type RunningRestate,
  registerDeployment,
  startRestate,
} from "../../infra/local/restate.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { type SdkEndpoint, serveSdkEndpoint } from "../helpers/sdk-endpoint.ts";
import { waitUntil } from "../helpers/until.ts";

const TOPIC = "headers-in";
/** A W3C trace context the producer of the first record sends along. */
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const until = waitUntil({ timeoutMs: 90_000, pollMs: 200 });

interface Seen {
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** What each service's handler saw, per `kafka.offset`. */
const seen = { HeadersR: new Map<number, Seen>(), HeadersL: new Map<number, Seen>() };

function probe(name: keyof typeof seen) {
  return restate.service({
    name,
    handlers: {
      see: async (ctx: restate.Context, body: unknown): Promise<void> => {
        const headers = Object.fromEntries(ctx.request().headers);
        seen[name].set(Number(headers["kafka.offset"]), { headers, body });
      },
    },
  });
}

let kafka: RunningKafka | undefined;
let restateServer: RunningRestate | undefined;
let endpoint: SdkEndpoint | undefined;
let stack: LocalStack | undefined;
let work = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "e2e-headers-"));
  kafka = await startKafka();
  const admin = new Admin({ clientId: "e2e-admin", bootstrapBrokers: [kafka.bootstrapServers] });
  await admin.createTopics({ topics: [TOPIC], partitions: 1, replicas: 1 });
  await admin.close();
  restateServer = await startRestate({
    kafkaClusters: [{ name: "my-cluster", brokers: [kafka.bootstrapServers] }],
  });
  endpoint = await serveSdkEndpoint([probe("HeadersR"), probe("HeadersL")]);
  await registerDeployment(restateServer.adminUrl, endpoint.url);

  const configFile = join(work, "restate.toml");
  writeFileSync(
    configFile,
    `[[ingress.kafka-clusters]]\nname = "my-cluster"\nbrokers = ["PLAINTEXT://${kafka.bootstrapServers}"]\n`,
  );
  stack = await startLocalStack({
    dataDir: join(work, "data"),
    port: 0,
    configFile,
    log: () => {},
  });
});

afterAll(async () => {
  await stack?.close();
  await restateServer?.stop();
  await endpoint?.close();
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status, text).toBe(201);
  return JSON.parse(text) as Record<string, unknown>;
}

describe("record headers, ours beside Restate's own Kafka ingress", () => {
  it("a handler sees every header Restate's ingress sets, with the same values", async () => {
    const adminUrl = stack?.adminUrl ?? "";
    await post(`${adminUrl}/services`, {
      name: "HeadersL",
      type: "service",
      endpoint: restateServer?.ingressUrl,
      handlers: { see: {} },
    });
    const ours = await post(`${adminUrl}/subscriptions`, {
      source: `kafka://my-cluster/${TOPIC}`,
      sink: "service://HeadersL/see",
      options: { "auto.offset.reset": "earliest" },
    });
    const theirs = await post(`${restateServer?.adminUrl}/subscriptions`, {
      source: `kafka://my-cluster/${TOPIC}`,
      sink: "service://HeadersR/see",
      options: { "auto.offset.reset": "earliest" },
    });

    const producer = new Producer({
      clientId: "e2e-headers-producer",
      bootstrapBrokers: [kafka?.bootstrapServers ?? ""],
    });
    try {
      await producer.send({
        messages: [
          // "~~~~" is "fn5+fg==" in standard base64 and "fn5-fg==" URL-safe.
          {
            topic: TOPIC,
            key: Buffer.from("~~~~"),
            value: Buffer.from(JSON.stringify({ n: 0 })),
            headers: new Map([
              [Buffer.from("trace"), Buffer.from("abc")],
              [Buffer.from("traceparent"), Buffer.from(TRACEPARENT)],
            ]),
          },
          { topic: TOPIC, value: Buffer.from(JSON.stringify({ n: 1 })) },
          {
            topic: TOPIC,
            key: Buffer.from("plain"),
            value: Buffer.from(JSON.stringify({ n: 2 })),
            timestamp: 1_700_000_000_123n,
          },
        ],
      });
    } finally {
      await producer.close();
    }
    await until(
      "three records through both ingresses",
      () => seen.HeadersR.size === 3 && seen.HeadersL.size === 3,
      90_000,
    );

    const kafkaHeaders = (headers: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(headers).filter(([name]) => /^(kafka|restate)\./.test(name)),
      );
    for (const offset of [0, 1, 2]) {
      const restateSaw = seen.HeadersR.get(offset);
      const weSent = seen.HeadersL.get(offset);
      expect(weSent?.body).toEqual(restateSaw?.body);
      const expected = {
        ...kafkaHeaders(restateSaw?.headers ?? {}),
        "restate.subscription.id": ours.id,
      };
      expect(restateSaw?.headers["restate.subscription.id"]).toBe(theirs.id);
      // Every header of Restate's ingress, same value; besides, only our forwarded record headers.
      expect(kafkaHeaders(weSent?.headers ?? {})).toEqual({
        ...expected,
        ...(offset === 0
          ? { "kafka.header.trace": "abc", "kafka.header.traceparent": TRACEPARENT }
          : {}),
      });
      // Restate's HTTP ingress consumes the idempotency key: the handler does not see it.
      expect(weSent?.headers["idempotency-key"]).toBeUndefined();
      // Beyond those, what Restate's HTTP ingress itself adds to a request it accepts.
      const others = (headers: Record<string, string>) =>
        Object.keys(headers)
          .filter((name) => !/^(kafka|restate)\./.test(name))
          .sort();
      expect(others(restateSaw?.headers ?? {})).toEqual([]);
      // The producer's trace context reaches the handler as the HTTP header Restate reads.
      expect(others(weSent?.headers ?? {})).toEqual([
        "content-length",
        "content-type",
        ...(offset === 0 ? ["traceparent"] : []),
        "x-restate-ingress-path",
      ]);
      if (offset === 0) expect(weSent?.headers.traceparent).toBe(TRACEPARENT);
    }
    expect(kafkaHeaders(seen.HeadersR.get(0)?.headers ?? {})).toMatchObject({
      "kafka.key": "fn5-fg==",
      "kafka.offset": "0",
      "kafka.partition": "0",
      "kafka.topic": TOPIC,
    });
    expect(seen.HeadersR.get(1)?.headers["kafka.key"]).toBeUndefined();
    expect(seen.HeadersR.get(2)?.headers["kafka.timestamp"]).toMatch(/^17\d{11}$/);
  });
});
