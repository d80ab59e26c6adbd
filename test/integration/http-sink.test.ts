// The HTTP sink's deliver against real servers on loopback: how every kind of answer becomes a
// DeliveryResult (bodies drained or cut off, error details, Retry-After, timeouts, bad URLs), and
// the endpoint policy applied when it connects.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpSink, type HttpSink } from "../../src/adapters/http-sink.ts";
import { parseEndpointAllowList } from "../../src/core/endpoint-policy.ts";
import type { SinkRequest } from "../../src/core/invocation.ts";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function server(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const connections = { count: 0 };
  const srv = createServer((req, res) => {
    req.resume();
    req.on("end", () => handle(req, res));
  });
  srv.on("connection", () => connections.count++);
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, connections };
}

function sink(
  requestTimeoutMs = 2_000,
  options: Pick<Parameters<typeof createHttpSink>[0], "endpointAllow" | "lookup"> = {},
): HttpSink {
  const s = createHttpSink({ connections: 4, requestTimeoutMs, now: () => 1_000_000, ...options });
  cleanup.push(() => s.close());
  return s;
}

const post = (url: string): SinkRequest => ({
  method: "POST",
  url,
  headers: { "content-type": "application/json" },
  body: Buffer.from("{}"),
});

describe("http sink deliver", () => {
  it("2xx is success once the body is drained; connections are kept alive and reused", async () => {
    const s = await server((_req, res) => res.end('{"ok":true}'));
    const { deliver } = sink();
    for (let i = 0; i < 6; i++) {
      expect(await deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toEqual({
        kind: "success",
        status: 200,
      });
    }
    // undici's pool may open a second connection while the first is being released.
    expect(s.connections.count).toBeLessThanOrEqual(2);
  });

  it("a 2xx body beyond the drain limit is still a success (its connection is closed)", async () => {
    const s = await server((_req, res) => res.end(Buffer.alloc(256 * 1024, 0x61)));
    const { deliver } = sink();
    expect(await deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "success",
      status: 200,
    });
    expect(await deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toMatchObject({
      kind: "success",
    });
    expect(s.connections.count).toBe(2);
  });

  it("a 2xx whose body breaks off is a success", async () => {
    const s = await server((_req, res) => {
      res.writeHead(202, { "content-length": "100" });
      res.write("partial");
      setTimeout(() => res.destroy(), 20);
    });
    const { deliver } = sink();
    expect(await deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "success",
      status: 202,
    });
  });

  it("error answers carry at most 200 characters of their body, control characters replaced", async () => {
    const s = await server((req, res) => {
      res.writeHead(req.url === "/big" ? 500 : 400);
      if (req.url === "/big") res.end("é".repeat(100_000));
      else res.end('  {"message":\n"bad\tinput\u001b[2J\u0000\u202e"}\r\n{"level":"x"}');
    });
    const { deliver } = sink();
    expect(await deliver(post(`${s.url}/small`), { timeoutMs: 1_000 })).toEqual({
      kind: "terminal",
      status: 400,
      reason: 'HTTP 400: {"message": "bad input [2J "} {"level":"x"}',
    });
    const big = await deliver(post(`${s.url}/big`), { timeoutMs: 1_000 });
    expect(big).toMatchObject({ kind: "retryable", status: 500 });
    expect("reason" in big && big.reason).toBe(`HTTP 500: ${"é".repeat(200)}…`);
  });

  it("429 and 503 are retryable and carry Retry-After (seconds or HTTP date)", async () => {
    const s = await server((req, res) => {
      const date = new Date(1_000_000 + 3_000).toUTCString();
      res.writeHead(req.url === "/date" ? 503 : 429, {
        "retry-after": req.url === "/date" ? date : "2",
      });
      res.end();
    });
    const { deliver } = sink();
    expect(await deliver(post(`${s.url}/secs`), { timeoutMs: 1_000 })).toEqual({
      kind: "retryable",
      status: 429,
      reason: "HTTP 429",
      retryAfterMs: 2_000,
    });
    expect(await deliver(post(`${s.url}/date`), { timeoutMs: 1_000 })).toMatchObject({
      kind: "retryable",
      status: 503,
      retryAfterMs: expect.any(Number),
    });
  });

  it("an attempt that outlives its timeout is a retryable timeout, in headers or in the body", async () => {
    const s = await server((req, res) => {
      if (req.url === "/slow-body") {
        res.writeHead(500);
        res.write("started");
        return; // never ends
      }
      // /slow-headers: never answers
    });
    const { deliver } = sink();
    expect(await deliver(post(`${s.url}/slow-headers`), { timeoutMs: 100 })).toEqual({
      kind: "retryable",
      reason: "timeout after 100 ms",
    });
    expect(await deliver(post(`${s.url}/slow-body`), { timeoutMs: 100 })).toEqual({
      kind: "retryable",
      status: 500,
      reason: "HTTP 500: (body unreadable: timeout after 100 ms)",
    });
  });

  it("a redirect is not followed; refused connections are retryable; bad URLs are terminal", async () => {
    const s = await server((_req, res) => {
      res.writeHead(307, { location: "/elsewhere" });
      res.end();
    });
    const { deliver } = sink();
    expect(await deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "terminal",
      status: 307,
      reason: "HTTP 307",
    });
    expect(await deliver(post("http://127.0.0.1:9/A/b"), { timeoutMs: 1_000 })).toMatchObject({
      kind: "retryable",
      reason: expect.stringContaining("ECONNREFUSED"),
    });
    expect(await deliver(post("not a url"), { timeoutMs: 1_000 })).toMatchObject({
      kind: "terminal",
      reason: expect.stringContaining("ERR_INVALID_URL"),
    });
    expect(await deliver(post("ftp://127.0.0.1/A/b"), { timeoutMs: 1_000 })).toMatchObject({
      kind: "terminal",
      reason: expect.stringContaining("UND_ERR_INVALID_ARG"),
    });
    const badHeader = { ...post(`${s.url}/A/b`), headers: { "x-bad": "a\r\nb" } };
    expect(await deliver(badHeader, { timeoutMs: 1_000 })).toMatchObject({ kind: "terminal" });
  });
});

/** Resolves the given names only, as `dns.lookup` answers (`all` or the first address). */
const fakeDns =
  (names: Record<string, string[]>): LookupFunction =>
  (hostname, options, callback) => {
    const addresses = (names[hostname] ?? []).map((address) => ({
      address,
      family: address.includes(":") ? 6 : 4,
    }));
    const first = addresses[0];
    if (first === undefined) {
      callback(
        Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }),
        "",
      );
    } else if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  };

describe("endpoint policy at connect time", () => {
  it("unspecified addresses, which reach this host, are refused in every spelling; nothing connects", async () => {
    const s = await server((_req, res) => res.end());
    const { port } = new URL(s.url);
    const { deliver } = sink();
    // Only spellings that stay on this machine when dialled (the kernel sends them to loopback).
    for (const [host, address] of [
      ["0.0.0.0", "0.0.0.0"],
      ["0", "0.0.0.0"],
      ["[::]", "::"],
      ["[::ffff:0.0.0.0]", "::ffff:0:0"],
    ] as const) {
      const result = await deliver(post(`http://${host}:${port}/A/b`), { timeoutMs: 1_000 });
      expect(result, host).toEqual({
        kind: "terminal",
        reason: expect.stringContaining(
          `ERR_ENDPOINT_REFUSED: endpoint address ${address} is refused: it is `,
        ),
      });
      expect("reason" in result && result.reason, host).toContain("unspecified address");
    }
    expect(s.connections.count).toBe(0);
  });

  it("a name is checked where it resolves to: loopback is delivered, a refused address anywhere in the answer is not", async () => {
    const s = await server((_req, res) => res.end());
    const { port } = new URL(s.url);
    const { deliver } = sink(2_000, {
      lookup: fakeDns({
        "sink.test": ["127.0.0.1"],
        "rebound.test": ["127.0.0.1", "0.0.0.0"],
        "zero.test": ["::ffff:0:0"],
      }),
    });
    expect(await deliver(post(`http://sink.test:${port}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "success",
      status: 200,
    });
    expect(s.connections.count).toBe(1);
    expect(await deliver(post(`http://rebound.test:${port}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "terminal",
      reason:
        "ERR_ENDPOINT_REFUSED: endpoint address 0.0.0.0 (rebound.test resolves to it) is refused: it is an unspecified address (0.0.0.0/8, which reaches this host)",
    });
    expect(await deliver(post(`http://zero.test:${port}/A/b`), { timeoutMs: 1_000 })).toMatchObject(
      {
        kind: "terminal",
        reason: expect.stringContaining(
          "endpoint address ::ffff:0:0 (zero.test resolves to it) is refused",
        ),
      },
    );
    expect(s.connections.count).toBe(1);
  });

  it("the host is checked against SERVICE_ENDPOINT_ALLOW as configured when connecting", async () => {
    const s = await server((_req, res) => res.end());
    const { port } = new URL(s.url);
    const strict = sink(2_000, {
      endpointAllow: parseEndpointAllowList("restate.internal,127.0.0.1:1"),
    });
    expect(await strict.deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "terminal",
      reason: `ERR_ENDPOINT_REFUSED: endpoint host 127.0.0.1 (port ${port}) is refused: it is not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)`,
    });
    expect(s.connections.count).toBe(0);
    const open = sink(2_000, { endpointAllow: parseEndpointAllowList(`127.0.0.1:${port}`) });
    expect(await open.deliver(post(`${s.url}/A/b`), { timeoutMs: 1_000 })).toEqual({
      kind: "success",
      status: 200,
    });
  });
});
