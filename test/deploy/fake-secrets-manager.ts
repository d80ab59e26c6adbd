// A stand-in for Secrets Manager on loopback (JSON 1.1 protocol), reached through the SDK's
// standard AWS_ENDPOINT_URL_SECRETS_MANAGER variable (or an explicit client endpoint); records who
// asked (SigV4 credential scope) and every request body as sent. GetSecretValue and
// DescribeSecret (tags) for the secrets it was given or created; CreateSecret, PutSecretValue,
// TagResource and DeleteSecret on the ones it holds, each accepting only the exact request shape
// the admin's credential vault sends (anything else is a ValidationException, so a changed
// request fails the test that makes it). ResourceNotFoundException for unknown secrets.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface SecretsManagerCall {
  readonly target: string;
  readonly secretId: string;
  readonly authorization: string;
  /** The request body as sent. */
  readonly body: Record<string, unknown>;
}

export interface FakeSecretsManager {
  readonly url: string;
  readonly calls: SecretsManagerCall[];
  /** Secret values by ARN (given ones, and those created and not deleted). */
  readonly secrets: Map<string, string>;
  /** Tags by ARN. */
  readonly tags: Map<string, Record<string, string>>;
  /** Forgets the calls and every secret (given or created). */
  reset(): void;
  close(): Promise<void>;
}

const REGION = "us-east-1";
const ACCOUNT = "123456789012";

const keysAre = (body: Record<string, unknown>, required: string[], optional: string[] = []) =>
  required.every((key) => key in body) &&
  Object.keys(body).every((key) => required.includes(key) || optional.includes(key));

const isTagList = (value: unknown): value is { Key: string; Value: string }[] =>
  Array.isArray(value) &&
  value.every(
    (tag) =>
      typeof tag === "object" &&
      tag !== null &&
      keysAre(tag as Record<string, unknown>, ["Key", "Value"]) &&
      typeof (tag as { Key: unknown }).Key === "string" &&
      typeof (tag as { Value: unknown }).Value === "string" &&
      (tag as { Value: string }).Value.length <= 256,
  );

export async function startFakeSecretsManager(
  secrets: Readonly<Record<string, string>> = {},
  tags: Readonly<Record<string, Readonly<Record<string, string>>>> = {},
): Promise<FakeSecretsManager> {
  const calls: SecretsManagerCall[] = [];
  const values = new Map(Object.entries(secrets));
  const tagsOf = new Map<string, Record<string, string>>(
    Object.entries(tags).map(([arn, t]) => [arn, { ...t }] as const),
  );
  const names = new Map<string, string>(); // name → ARN of created secrets
  let created = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<
        string,
        unknown
      >;
      const target = String(request.headers["x-amz-target"] ?? "");
      const secretId = String(body.SecretId ?? body.Name ?? "");
      calls.push({ target, secretId, authorization: request.headers.authorization ?? "", body });
      const send = (status: number, payload: unknown) => {
        response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        response.end(JSON.stringify(payload));
      };
      const invalid = (message: string) => send(400, { __type: "ValidationException", message });
      const notFound = () =>
        send(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
      const arn = names.get(secretId) ?? secretId;
      const value = values.get(arn);
      const name = arn.split(":").at(-1);
      switch (target) {
        case "secretsmanager.CreateSecret": {
          if (
            !keysAre(
              body,
              ["Name", "SecretString", "Tags"],
              ["Description", "ClientRequestToken"],
            ) ||
            typeof body.Name !== "string" ||
            typeof body.SecretString !== "string" ||
            !isTagList(body.Tags)
          ) {
            invalid("unexpected CreateSecret request");
            return;
          }
          if (names.has(body.Name)) {
            send(400, { __type: "ResourceExistsException", message: "the secret exists already" });
            return;
          }
          created += 1;
          const newArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${body.Name}-Fk${String(created).padStart(4, "0")}`;
          names.set(body.Name, newArn);
          values.set(newArn, body.SecretString);
          tagsOf.set(newArn, Object.fromEntries(body.Tags.map((t) => [t.Key, t.Value])));
          send(200, { ARN: newArn, Name: body.Name, VersionId: `v${created}` });
          return;
        }
        case "secretsmanager.PutSecretValue":
          if (!keysAre(body, ["SecretId", "SecretString"], ["ClientRequestToken"])) {
            invalid("unexpected PutSecretValue request");
            return;
          }
          if (value === undefined) return notFound();
          values.set(arn, String(body.SecretString));
          send(200, { ARN: arn, Name: name, VersionId: "v-put" });
          return;
        case "secretsmanager.TagResource":
          if (!keysAre(body, ["SecretId", "Tags"]) || !isTagList(body.Tags)) {
            invalid("unexpected TagResource request");
            return;
          }
          if (value === undefined) return notFound();
          for (const tag of body.Tags) (tagsOf.get(arn) ?? {})[tag.Key] = tag.Value;
          send(200, {});
          return;
        case "secretsmanager.DeleteSecret":
          if (!keysAre(body, ["SecretId", "ForceDeleteWithoutRecovery"])) {
            invalid("unexpected DeleteSecret request");
            return;
          }
          if (value === undefined) return notFound();
          values.delete(arn);
          tagsOf.delete(arn);
          for (const [n, a] of names) if (a === arn) names.delete(n);
          send(200, { ARN: arn, Name: name, DeletionDate: Date.now() / 1000 });
          return;
        case "secretsmanager.DescribeSecret": {
          if (value === undefined) return notFound();
          const Tags = Object.entries(tagsOf.get(arn) ?? {}).map(([Key, Value]) => ({
            Key,
            Value,
          }));
          send(200, { ARN: arn, Name: name, Tags });
          return;
        }
        case "secretsmanager.GetSecretValue":
          if (value === undefined) return notFound();
          send(200, { ARN: arn, Name: name, SecretString: value });
          return;
        default:
          notFound();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    secrets: values,
    tags: tagsOf,
    reset: () => {
      calls.length = 0;
      values.clear();
      tagsOf.clear();
      names.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
