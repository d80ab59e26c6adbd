// Serves the admin API over plain HTTP for the local stack (API Gateway's part on AWS), only to
// requests that name it by its own address and come from no other web origin; and, under /ui, the
// dashboard that calls it (src/local/ui/).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import type { AdminRequest, AdminResponse } from "../app/admin-api.ts";
import {
  hostName,
  isWildcardHost,
  type LocalAddressPolicy,
  localAddressNames,
  refuseForeignRequest,
} from "../core/admin-request-policy.ts";
import { uiAsset } from "./ui/assets.ts";

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Keeps at most `limit + 1` bytes, so that an oversized body is seen as such without buffering
 * it, but reads the body to its end: a body left unread (or a destroyed request) would break the
 * client's next request on the same kept-alive connection.
 */
async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    if (size <= limit) chunks.push(chunk);
    size += chunk.length;
  }
  return size === 0
    ? undefined
    : Buffer.concat(chunks)
        .subarray(0, limit + 1)
        .toString("utf8");
}

const machineAddresses = (): string[] =>
  Object.values(networkInterfaces()).flatMap((entries) =>
    (entries ?? []).map((entry) => entry.address),
  );

export async function startAdminServer(options: {
  handle: (request: AdminRequest) => Promise<AdminResponse>;
  host: string;
  port: number;
  maxBodyBytes: number;
  /** More names (or addresses) requests may give in `Host` and `Origin`, e.g. a hosts-file name. */
  allowedHosts?: readonly string[] | undefined;
}): Promise<AdminServer> {
  const allowed = options.allowedHosts ?? [];
  const wildcard = isWildcardHost(options.host);
  const fixedNames = localAddressNames(options.host, allowed, []);
  let port = options.port; // the real one once listening (port 0 picks one)
  // Listening on every interface: the machine's addresses as they are at each request.
  const policy = (): LocalAddressPolicy => ({
    port,
    names: wildcard ? localAddressNames(options.host, allowed, machineAddresses()) : fixedNames,
  });
  const server: Server = createServer((request, response) => {
    const refused = refuseForeignRequest(
      {
        host: request.headers.host,
        origin: request.headers.origin,
        "sec-fetch-site": request.headers["sec-fetch-site"] as string | undefined,
      },
      policy(),
    );
    if (refused !== undefined) {
      // Node reads and drops the unread body once this response is sent.
      response.writeHead(403, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: refused, restate_code: null }));
      return;
    }
    // The dashboard's files, under the same checks as the API it calls.
    const asset = uiAsset(
      request.method ?? "GET",
      new URL(request.url ?? "/", "http://localhost").pathname,
    );
    if (asset !== undefined) {
      response.writeHead(asset.status, asset.headers);
      response.end(request.method === "HEAD" ? undefined : asset.body);
      return;
    }
    void (async () => {
      try {
        const url = new URL(request.url ?? "/", "http://localhost");
        const headers: Record<string, string | undefined> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          headers[name] = Array.isArray(value) ? value.join(", ") : value;
        }
        const result = await options.handle({
          method: request.method ?? "GET",
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          body: await readBody(request, options.maxBodyBytes),
        });
        response.writeHead(result.status, result.headers);
        response.end(result.body);
      } catch (error) {
        console.error(
          JSON.stringify({ level: "error", msg: "admin request failed", error: String(error) }),
        );
        if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
        response.end(JSON.stringify({ message: "internal error", restate_code: null }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `${options.host}:${options.port} is already in use (another local stack?); stop it or start this one with --port`,
            )
          : error,
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    // On every interface, loopback is one of them (and a name `Host` may give).
    url: `http://${wildcard ? "127.0.0.1" : hostName(options.host)}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
