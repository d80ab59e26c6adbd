// The Secrets Manager adapters against a mocked SDK client: the consumer's SecretResolver (the
// exact GetSecretValue request, caching per TTL, the token with its bound endpoints) and the
// admin's reader of Kafka secret bindings (the exact DescribeSecret request, tags only); errors
// name the ARN and never a value.
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  InternalServiceError,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  secretsManagerKafkaBindings,
  secretsManagerResolver,
} from "../../src/adapters/secrets-manager.ts";
import { DependencyError, SecretUnavailableError } from "../../src/core/errors.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:restate/ingress-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";
const BOUND = "https://abc.env.eu.restate.cloud:8080";
const SECRET = JSON.stringify({ token: TOKEN, endpoints: [BOUND] });
const CREDENTIAL = { token: TOKEN, endpoints: [{ origin: BOUND, path: "" }] };

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
    smMock.on(GetSecretValueCommand).resolves({ ARN, SecretString: SECRET });
    let clock = 0;
    const resolver = secretsManagerResolver({ client, ttlMs: 300_000, now: () => clock });

    const tokens = await Promise.all([resolver.resolve(ARN), resolver.resolve(ARN)]);
    expect(tokens).toEqual([CREDENTIAL, CREDENTIAL]);
    clock = 299_999;
    expect(await resolver.resolve(ARN)).toEqual(CREDENTIAL);
    const calls = smMock.commandCalls(GetSecretValueCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ SecretId: ARN });

    clock = 300_000;
    await resolver.resolve(ARN);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it("reads a bare token or JSON without endpoints as bound to nothing", async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ token: TOKEN }) });
    const resolver = secretsManagerResolver({ client, ttlMs: 0 });
    expect(await resolver.resolve(ARN)).toEqual({ token: TOKEN, endpoints: [] });
    smMock.on(GetSecretValueCommand).resolves({ SecretString: TOKEN });
    expect(await resolver.resolve(ARN)).toEqual({ token: TOKEN, endpoints: [] });
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
      .resolves({ SecretString: SECRET });
    const resolver = secretsManagerResolver({ client, ttlMs: 300_000 });
    const failure = await resolver.resolve(ARN).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SecretUnavailableError);
    expect((failure as Error).message).toBe(
      `cannot read secret ${ARN} (ResourceNotFoundException: Secrets Manager can't find the specified secret.)`,
    );
    expect(await resolver.resolve(ARN)).toEqual(CREDENTIAL);
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

describe("secretsManagerKafkaBindings", () => {
  const KAFKA_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-prod-AbCdEf";

  it("sends exactly DescribeSecret {SecretId} and reads the brokers tags, every time", async () => {
    smMock.on(DescribeSecretCommand).resolves({
      ARN: KAFKA_ARN,
      Tags: [
        { Key: "team", Value: "payments" },
        { Key: "kafka-lambda-ingress:brokers", Value: "b-1.prod:9096  b-2.prod:9096" },
        { Key: "kafka-lambda-ingress:brokers:2", Value: "b-3.prod:9096" },
        { Key: "kafka-lambda-ingress:brokersx", Value: "evil.example:9096" },
      ],
    });
    const read = secretsManagerKafkaBindings({ client });
    expect(await read(KAFKA_ARN)).toEqual(["b-1.prod:9096", "b-2.prod:9096", "b-3.prod:9096"]);
    expect(await read(KAFKA_ARN)).toHaveLength(3);
    const calls = smMock.commandCalls(DescribeSecretCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([
      { SecretId: KAFKA_ARN },
      { SecretId: KAFKA_ARN },
    ]);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it("a secret without the tag is bound to nothing", async () => {
    smMock.on(DescribeSecretCommand).resolves({ ARN: KAFKA_ARN });
    expect(await secretsManagerKafkaBindings({ client })(KAFKA_ARN)).toEqual([]);
  });

  it("a secret it may not describe or that does not exist is the caller's reference; other errors a dependency's", async () => {
    const read = secretsManagerKafkaBindings({ client });
    smMock
      .on(DescribeSecretCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find it.", $metadata: {} }),
      );
    const missing = await read(KAFKA_ARN).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(SecretUnavailableError);
    expect((missing as Error).message).toBe(
      `cannot read the binding (tags) of secret ${KAFKA_ARN} (ResourceNotFoundException: Secrets Manager can't find it.)`,
    );
    const denied = Object.assign(new Error("not authorized to perform DescribeSecret"), {
      name: "AccessDeniedException",
    });
    smMock.on(DescribeSecretCommand).rejects(denied);
    await expect(read(KAFKA_ARN)).rejects.toBeInstanceOf(SecretUnavailableError);
    smMock
      .on(DescribeSecretCommand)
      .rejects(new InternalServiceError({ message: "try again", $metadata: {} }));
    await expect(read(KAFKA_ARN)).rejects.toBeInstanceOf(DependencyError);
  });
});
