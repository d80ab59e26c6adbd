// A real HTTP sink on loopback that records every request and can be told to fail or slow down.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly receivedAt: number;
}

export interface SinkReply {
  readonly status: number;
  readonly delayMs?: number;
  readonly body?: string;
}

export interface RecordingSink {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Most requests in flight at the same moment. */
  readonly maxInFlight: () => number;
  /** Most requests to one path (one Restate key) in flight at the same moment. */
  readonly maxInFlightPerPath: () => number;
  close(): Promise<void>;
}

export async function startRecordingSink(
  reply: (request: RecordedRequest) => SinkReply = () => ({ status: 200 }),
): Promise<RecordingSink> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const inFlightByPath = new Map<string, number>();
  let maxInFlightPerPath = 0;
  const server = createServer((request, response) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const path = request.url ?? "";
    const onPath = (inFlightByPath.get(path) ?? 0) + 1;
    inFlightByPath.set(path, onPath);
    maxInFlightPerPath = Math.max(maxInFlightPerPath, onPath);
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const recorded: RecordedRequest = {
        method: request.method ?? "",
        path: request.url ?? "",
        headers,
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
      };
      requests.push(recorded);
      const answer = reply(recorded);
      setTimeout(() => {
        inFlight -= 1;
        inFlightByPath.set(path, (inFlightByPath.get(path) ?? 1) - 1);
        response.writeHead(answer.status, { "content-type": "application/json" });
        response.end(answer.body ?? "{}");
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    maxInFlight: () => maxInFlight,
    maxInFlightPerPath: () => maxInFlightPerPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
