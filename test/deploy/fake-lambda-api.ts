// A stand-in for the Lambda API on loopback, answering the calls the admin function makes
// (CreateAlias, CreateEventSourceMapping, DeleteEventSourceMapping, DeleteAlias, and Invoke of the
// consumer for replays, which runs `invoke`) in the REST-JSON shapes of the real API. The built admin bundle reaches it through the SDK's
// standard AWS_ENDPOINT_URL_LAMBDA variable, so the requests are the bundle's own, SigV4-signed.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface LambdaCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string;
  readonly body: Record<string, unknown> | undefined;
}

export interface FakeLambdaApi {
  readonly url: string;
  readonly calls: LambdaCall[];
  readonly aliases: Map<string, string>;
  readonly mappings: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/** What Invoke runs: the function's handler; a throw becomes a function error, as in Lambda. */
export type InvokeFunction = (functionName: string, payload: unknown) => Promise<unknown>;

export async function startFakeLambdaApi(invoke?: InvokeFunction): Promise<FakeLambdaApi> {
  const calls: LambdaCall[] = [];
  const aliases = new Map<string, string>();
  const mappings = new Map<string, Record<string, unknown>>();

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      const method = request.method ?? "";
      const path = decodeURIComponent((request.url ?? "").split("?")[0] ?? "");
      calls.push({ method, path, authorization: request.headers.authorization ?? "", body });

      const send = (status: number, payload?: unknown) => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(payload === undefined ? "" : JSON.stringify(payload));
      };
      const notFound = (what: string) =>
        send(404, { Type: "User", message: `${what} not found` }) as undefined;
      const fn = (name: string) =>
        name.startsWith("arn:") ? name : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

      let match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
      if (method === "POST" && match?.[1] && invoke) {
        const functionName = match[1];
        invoke(functionName, body).then(
          (result) => {
            response.writeHead(200, { "x-amz-executed-version": "$LATEST" });
            response.end(result === undefined ? "null" : JSON.stringify(result));
          },
          (error: Error) => {
            response.writeHead(200, { "x-amz-function-error": "Unhandled" });
            response.end(JSON.stringify({ errorType: error.name, errorMessage: error.message }));
          },
        );
        return;
      }
      match = /^\/2015-03-31\/functions\/([^/]+)\/aliases$/.exec(path);
      if (method === "POST" && match?.[1]) {
        const name = String(body?.Name);
        const arn = `${fn(match[1])}:${name}`;
        aliases.set(name, arn);
        send(201, {
          AliasArn: arn,
          Name: name,
          FunctionVersion: body?.FunctionVersion,
          Description: body?.Description,
          RevisionId: randomUUID(),
        });
        return;
      }
      match = /^\/2015-03-31\/functions\/([^/]+)\/aliases\/([^/]+)$/.exec(path);
      if (method === "DELETE" && match?.[2]) {
        if (!aliases.delete(match[2])) return notFound("alias");
        send(204);
        return;
      }
      if (method === "POST" && /^\/2015-03-31\/event-source-mappings\/?$/.test(path)) {
        const uuid = randomUUID();
        const mapping = { ...body, UUID: uuid, FunctionArn: body?.FunctionName, State: "Creating" };
        mappings.set(uuid, mapping);
        send(202, mapping);
        return;
      }
      match = /^\/2015-03-31\/event-source-mappings\/([^/]+)$/.exec(path);
      if (method === "DELETE" && match?.[1]) {
        const mapping = mappings.get(match[1]);
        if (!mapping) return notFound("event source mapping");
        mappings.delete(match[1]);
        send(202, { ...mapping, State: "Deleting" });
        return;
      }
      send(400, { Type: "User", message: `fake Lambda API: unexpected ${method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    aliases,
    mappings,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
