// Serves the admin API over plain HTTP for the local stack (API Gateway's part on AWS).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { AdminRequest, AdminResponse } from "../app/admin-api.ts";

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Reads at most `limit + 1` bytes, so that an oversized body is seen as such without buffering it. */
async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      request.resume();
      break;
    }
  }
  return size === 0
    ? undefined
    : Buffer.concat(chunks)
        .subarray(0, limit + 1)
        .toString("utf8");
}

export async function startAdminServer(options: {
  handle: (request: AdminRequest) => Promise<AdminResponse>;
  host: string;
  port: number;
  maxBodyBytes: number;
}): Promise<AdminServer> {
  const server: Server = createServer((request, response) => {
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
        response.end(JSON.stringify({ message: "internal error" }));
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
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
