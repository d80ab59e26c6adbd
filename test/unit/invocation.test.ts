import { describe, expect, it } from "vitest";
import { type DecodedRecord, decodeKafkaEvent } from "../../src/core/event.ts";
import {
  createRequestBuilder,
  forwardedHeaders,
  headerNameToken,
  idempotencyKey,
  type SinkTarget,
  traceContextHeaders,
} from "../../src/core/invocation.ts";
import { fingerprintHex, recordFingerprint } from "../../src/core/record-identity.ts";
import { loadEvent } from "../helpers/kafka-events.ts";

const SUB = "sub_0123456789abcdefABCDEF";
const target = (overrides: Partial<SinkTarget> = {}): SinkTarget => ({
  subscriptionId: SUB,
  endpoint: "http://restate:8080",
  service: "Orders",
  handler: "process",
  keyed: true,
  invocation: "call",
  input: "json",
  ...overrides,
});
const firstRecord = (fixture: Parameters<typeof loadEvent>[0]): DecodedRecord => {
  const record = decodeKafkaEvent(loadEvent(fixture)).partitions[0]?.records[0];
  if (!record) throw new Error("fixture has no record");
  return record;
};

describe("createRequestBuilder", () => {
  it("builds the Restate ingress call for a virtual object, with metadata headers and the JSON body", () => {
    const record = firstRecord("msk-basic");
    const request = createRequestBuilder(target())(record, "customer-1");
    expect(request.method).toBe("POST");
    expect(request.url).toBe("http://restate:8080/Orders/customer-1/process");
    expect(request.headers).toEqual({
      "restate.subscription.id": SUB,
      "kafka.topic": "orders",
      "kafka.partition": "0",
      "kafka.offset": "100",
      "kafka.timestamp": "1767225600000",
      "kafka.key": Buffer.from("customer-1").toString("base64"),
      "idempotency-key": `${SUB}/orders/0/100/${fingerprintHex(recordFingerprint(record))}`,
      "content-type": "application/json",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4700-00f067aa0ba902b7-01",
      "kafka.header.traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4700-00f067aa0ba902b7-01",
      "kafka.header.source": "checkout",
    });
    expect(Buffer.from(request.body ?? []).toString()).toBe(
      '{"orderId":"o-1000","customer":"customer-1","amount":10}',
    );
  });

  it("services: /{Service}/{handler}, /send appended for send invocation", () => {
    const record = firstRecord("msk-basic");
    expect(createRequestBuilder(target({ keyed: false }))(record).url).toBe(
      "http://restate:8080/Orders/process",
    );
    expect(createRequestBuilder(target({ keyed: false, invocation: "send" }))(record).url).toBe(
      "http://restate:8080/Orders/process/send",
    );
    expect(createRequestBuilder(target({ invocation: "send" }))(record, "k").url).toBe(
      "http://restate:8080/Orders/k/process/send",
    );
  });

  it("URL-encodes the object key and keeps the endpoint's path prefix", () => {
    const record = firstRecord("msk-basic");
    const build = createRequestBuilder(target({ endpoint: "https://gw.example.com/restate/" }));
    expect(build(record, "a/b c?d#é%").url).toBe(
      "https://gw.example.com/restate/Orders/a%2Fb%20c%3Fd%23%C3%A9%25/process",
    );
  });

  it("encodes the object keys '.' and '..' so that no URL parser or proxy collapses them", () => {
    const record = firstRecord("msk-basic");
    const build = createRequestBuilder(target({ endpoint: "https://gw.example.com/restate" }));
    expect(build(record, ".").url).toBe("https://gw.example.com/restate/Orders/%2E/process");
    expect(build(record, "..").url).toBe("https://gw.example.com/restate/Orders/%2E%2E/process");
    // other keys with dots are no dot-segments: left as they are
    expect(build(record, "...").url).toBe("https://gw.example.com/restate/Orders/.../process");
    expect(build(record, "a.b").url).toBe("https://gw.example.com/restate/Orders/a.b/process");
    // a key spelling an encoded dot is its own text, encoded again
    expect(build(record, "%2E").url).toBe("https://gw.example.com/restate/Orders/%252E/process");
  });

  it("writes the endpoint in canonical form, so that the path is sent as built", () => {
    const record = firstRecord("msk-basic");
    const build = createRequestBuilder(
      target({ endpoint: "HTTP://GW.Example.com:80/a/./b/../restate//" }),
    );
    expect(build(record, "..").url).toBe("http://gw.example.com/a/restate/Orders/%2E%2E/process");
  });

  it("tombstone: no body and no content-type; a record without key: no kafka.key", () => {
    const records = decodeKafkaEvent(loadEvent("tombstones-and-null-keys")).partitions[0]?.records;
    const tombstone = records?.[1];
    const keyless = records?.[2];
    if (!tombstone || !keyless) throw new Error("fixture changed");
    const t = createRequestBuilder(target())(tombstone, "customer-1");
    expect(t.body).toBeUndefined();
    expect(t.headers["content-type"]).toBeUndefined();
    expect(t.headers["kafka.key"]).toBe(Buffer.from("customer-1").toString("base64"));
    const k = createRequestBuilder(target({ keyed: false }))(keyless);
    expect(k.headers["kafka.key"]).toBeUndefined();
    expect(k.headers["content-type"]).toBe("application/json");
  });

  it("kafka.key is URL-safe base64 with padding, as Restate's own Kafka ingress sends it", () => {
    const record = { ...firstRecord("msk-basic"), key: new Uint8Array([0xfb, 0xff, 0x7e, 0x3f]) };
    const request = createRequestBuilder(target({ keyed: false }))(record);
    // Standard base64 would be "+/9+Pw==".
    expect(request.headers["kafka.key"]).toBe("-_9-Pw==");
  });

  it("a record's W3C trace context goes out as traceparent / tracestate, besides its copies", () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const record = {
      ...firstRecord("msk-basic"),
      headers: [
        ["TraceParent", new TextEncoder().encode(traceparent)],
        ["tracestate", new TextEncoder().encode("congo=t61rcWkgMzE")],
      ] as const,
    };
    const request = createRequestBuilder(target({ keyed: false }))(record);
    expect(request.headers).toMatchObject({
      traceparent,
      tracestate: "congo=t61rcWkgMzE",
      "kafka.header.traceparent": traceparent,
      "kafka.header.tracestate": "congo=t61rcWkgMzE",
    });
  });

  it("an invalid traceparent is not sent as one, and tracestate never goes alone", () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(traceContextHeaders([["traceparent", bytes("not-a-trace")]])).toEqual({});
    expect(traceContextHeaders([["tracestate", bytes("a=b")]])).toEqual({});
    expect(
      traceContextHeaders([
        ["traceparent", bytes("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")],
      ]),
    ).toEqual({});
    const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    expect(
      traceContextHeaders([
        ["traceparent", bytes("garbage\r\nx: y")],
        ["traceparent", bytes(valid)],
      ]),
    ).toEqual({ traceparent: valid });
  });

  it("binary handlers get the raw bytes as application/octet-stream", () => {
    const record = firstRecord("binary-values");
    const request = createRequestBuilder(target({ input: "binary" }))(record, "sensor-1");
    expect(request.headers["content-type"]).toBe("application/octet-stream");
    expect([...(request.body ?? [])]).toEqual([0x00, 0xff, 0x80, 0x7f, 0x10]);
  });

  it("forwards record headers under kafka.header.* / kafka.header-b64.*", () => {
    const request = createRequestBuilder(target())(firstRecord("record-headers"), "customer-1");
    const forwarded = Object.fromEntries(
      Object.entries(request.headers).filter(([n]) => n.startsWith("kafka.header")),
    );
    const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
    expect(forwarded).toEqual({
      "kafka.header.traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "kafka.header.x-correlation-id": "corr-42",
      "kafka.header.tenant": ["acme", "globex"],
      "kafka.header-b64.greeting": b64("héllo wörld"),
      "kafka.header-b64.bin": b64(Buffer.from([0, 1, 2, 255])),
      "kafka.header.my%20header": "spaced name",
      "kafka.header.empty": "",
      "kafka.header-b64.padded": b64(" padded "),
    });
  });

  it("forwarded headers can never collide with our own headers", () => {
    const record: DecodedRecord = {
      ...firstRecord("msk-basic"),
      headers: [
        ["kafka.topic", Buffer.from("evil")],
        ["idempotency-key", Buffer.from("evil")],
        ["content-type", Buffer.from("text/evil")],
      ],
    };
    const request = createRequestBuilder(target())(record, "k");
    expect(request.headers["kafka.topic"]).toBe("orders");
    expect(request.headers["idempotency-key"]).toBe(
      `${SUB}/orders/0/100/${fingerprintHex(recordFingerprint(record))}`,
    );
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["kafka.header.kafka.topic"]).toBe("evil");
    expect(request.headers["kafka.header.idempotency-key"]).toBe("evil");
  });
});

describe("headerNameToken", () => {
  it.each([
    ["traceparent", "traceparent"],
    ["X-B3-TraceId", "x-b3-traceid"],
    ["a b", "a%20b"],
    ["100%", "100%25"],
    ["ünï", "%c3%bcn%c3%af"],
    ["a:b\r\n", "a%3ab%0d%0a"],
    ["(x)", "%28x%29"],
  ])("%j → %j", (name, token) => {
    expect(headerNameToken(name)).toBe(token);
    expect(token).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]*$/);
    expect(decodeURIComponent(token)).toBe(name.toLowerCase());
  });
});

describe("forwardedHeaders", () => {
  it("keeps printable ASCII plain; control characters, DEL and non-ASCII go base64", () => {
    const cases: Array<[number[], boolean]> = [
      [[0x41, 0x20, 0x7e], true],
      [[0x41, 0x09, 0x42], false],
      [[0x41, 0x7f], false],
      [[0x41, 0x0d, 0x0a, 0x42], false],
      [[0xc3, 0xa9], false],
    ];
    for (const [bytes, plain] of cases) {
      const [[name] = [""]] = forwardedHeaders([["h", Uint8Array.from(bytes)]]).entries;
      expect(name).toBe(plain ? "kafka.header.h" : "kafka.header-b64.h");
    }
  });
});

describe("forwarded header cap", () => {
  const header = (name: string, size: number): [string, Uint8Array] => [
    name,
    new Uint8Array(size).fill(0x61),
  ];

  it("keeps headers in record order while they fit; drops the first that does not and all after it", () => {
    // each line costs name (kafka.header. + 1) + value + 4 = 14 + 4 + value
    const headers = [header("a", 82), header("b", 82), header("a", 10), header("c", 1)];
    expect(forwardedHeaders(headers, 200)).toEqual({
      entries: [
        ["kafka.header.a", "a".repeat(82)],
        ["kafka.header.b", "a".repeat(82)],
      ],
      truncated: true,
    });
    expect(forwardedHeaders(headers, 100 * 2 + 28 + 19).truncated).toBe(false);
    expect(forwardedHeaders(headers).truncated).toBe(false);
  });

  it("the builder marks truncation with kafka.headers-truncated and never fails the record", () => {
    const record: DecodedRecord = {
      ...firstRecord("msk-basic"),
      headers: [header("small", 5), header("big", 9_000), header("after", 5)],
    };
    const request = createRequestBuilder(target())(record, "customer-1");
    expect(request.headers["kafka.header.small"]).toBe("aaaaa");
    expect(request.headers["kafka.header.big"]).toBeUndefined();
    expect(request.headers["kafka.header.after"]).toBeUndefined();
    expect(request.headers["kafka.headers-truncated"]).toBe("true");
    expect(request.body).toBe(record.value);

    const roomy = createRequestBuilder(target(), { maxForwardedHeaderBytes: 64 * 1024 });
    const all = roomy(record, "customer-1");
    expect(all.headers["kafka.header.big"]).toHaveLength(9_000);
    expect(all.headers["kafka.headers-truncated"]).toBeUndefined();
  });

  it("adds authorization only when the target carries one", () => {
    const record = firstRecord("msk-basic");
    expect(createRequestBuilder(target())(record, "k").headers.authorization).toBeUndefined();
    const withAuth = createRequestBuilder(target({ authorization: "Bearer t0k" }))(record, "k");
    expect(withAuth.headers.authorization).toBe("Bearer t0k");
  });
});

describe("idempotencyKey", () => {
  it("is deterministic per (subscription, topic, partition, offset, record)", () => {
    const record = firstRecord("msk-basic");
    expect(idempotencyKey(SUB, record)).toBe(
      `${SUB}/orders/0/100/${fingerprintHex(recordFingerprint(record))}`,
    );
    expect(idempotencyKey(SUB, { ...record })).toBe(idempotencyKey(SUB, record));
    expect(idempotencyKey(SUB, { ...record, offset: 101 })).not.toBe(idempotencyKey(SUB, record));
    // another record at a reused offset: another key, so Restate does not drop it as a duplicate
    expect(idempotencyKey(SUB, { ...record, timestamp: record.timestamp + 1 })).not.toBe(
      idempotencyKey(SUB, record),
    );
    expect(idempotencyKey(SUB, { ...record, value: Buffer.from("{}") })).not.toBe(
      idempotencyKey(SUB, record),
    );
  });
});
