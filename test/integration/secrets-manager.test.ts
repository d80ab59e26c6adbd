// The Secrets Manager adapter of SecretResolver against a mocked SDK client: the exact
// GetSecretValue request, caching per TTL, and errors that name the ARN and never a value.
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { secretsManagerResolver } from "../../src/adapters/secrets-manager.ts";
import { SecretUnavailableError } from "../../src/core/secrets.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:restate/ingress-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";

const client = new SecretsManagerClient({
  region: "eu-west-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const smMock = mockClient(client);

beforeEach(() => smMock.reset());
afterAll(() => {
  smMock.restore();
  client.destroy();
});

describe("secretsManagerResolver", () => {
  it("sends exactly GetSecretValue {SecretId: <ARN>} and caches the token for the TTL", async () => {
    smMock.on(GetSecretValueCommand).resolves({ ARN, SecretString: TOKEN });
    let clock = 0;
    const resolver = secretsManagerResolver({ client, ttlMs: 300_000, now: () => clock });

    const tokens = await Promise.all([resolver.resolve(ARN), resolver.resolve(ARN)]);
    expect(tokens).toEqual([TOKEN, TOKEN]);
    clock = 299_999;
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
    const calls = smMock.commandCalls(GetSecretValueCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ SecretId: ARN });

    clock = 300_000;
    await resolver.resolve(ARN);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('reads {"token": "..."} JSON secrets', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ token: TOKEN }) });
    const resolver = secretsManagerResolver({ client, ttlMs: 0 });
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
  });

  it("an unreadable secret fails with the ARN and the AWS error, and is fetched again next time", async () => {
    smMock
      .on(GetSecretValueCommand)
      .rejectsOnce(
        new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret.",
          $metadata: {},
        }),
      )
      .resolves({ SecretString: TOKEN });
    const resolver = secretsManagerResolver({ client, ttlMs: 300_000 });
    const failure = await resolver.resolve(ARN).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SecretUnavailableError);
    expect((failure as Error).message).toBe(
      `cannot read secret ${ARN} (ResourceNotFoundException: Secrets Manager can't find the specified secret.)`,
    );
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
  });

  it("binary or unusable values fail without showing the value", async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    const binary = secretsManagerResolver({ client, ttlMs: 0 });
    await expect(binary.resolve(ARN)).rejects.toThrow(`secret ${ARN} has no string value`);

    smMock.on(GetSecretValueCommand).resolves({ SecretString: `Bearer ${TOKEN}` });
    const spaced = secretsManagerResolver({ client, ttlMs: 0 });
    const failure = (await spaced.resolve(ARN).catch((e: unknown) => e)) as Error;
    expect(failure.message).toContain(ARN);
    expect(failure.message).not.toContain(TOKEN);
  });
});
