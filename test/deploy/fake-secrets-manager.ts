// A stand-in for Secrets Manager on loopback: GetSecretValue and DescribeSecret (tags) (JSON 1.1
// protocol) for the secrets it was given, ResourceNotFoundException otherwise. Reached through the SDK's standard
// AWS_ENDPOINT_URL_SECRETS_MANAGER variable; records who asked (SigV4 credential scope).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface SecretsManagerCall {
  readonly target: string;
  readonly secretId: string;
  readonly authorization: string;
}

export interface FakeSecretsManager {
  readonly url: string;
  readonly calls: SecretsManagerCall[];
  close(): Promise<void>;
}

export async function startFakeSecretsManager(
  secrets: Readonly<Record<string, string>>,
  tags: Readonly<Record<string, Readonly<Record<string, string>>>> = {},
): Promise<FakeSecretsManager> {
  const calls: SecretsManagerCall[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as {
        SecretId?: string;
      };
      const target = String(request.headers["x-amz-target"] ?? "");
      const secretId = String(body.SecretId ?? "");
      calls.push({ target, secretId, authorization: request.headers.authorization ?? "" });
      const send = (status: number, payload: unknown) => {
        response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        response.end(JSON.stringify(payload));
      };
      const value = secrets[secretId];
      if (target === "secretsmanager.DescribeSecret" && value !== undefined) {
        const Tags = Object.entries(tags[secretId] ?? {}).map(([Key, Value]) => ({ Key, Value }));
        send(200, { ARN: secretId, Name: secretId.split(":").at(-1), Tags });
        return;
      }
      if (target !== "secretsmanager.GetSecretValue" || value === undefined) {
        send(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      send(200, { ARN: secretId, Name: secretId.split(":").at(-1), SecretString: value });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
