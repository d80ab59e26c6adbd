import { describe, expect, it } from "vitest";
import {
  clusterFromConfigEntry,
  clustersFromConfigFile,
  isSecretProperty,
  keepRedactedValues,
  REDACTED,
  redactCluster,
  redactProperties,
  validateClusterProperties,
} from "../../src/core/cluster-properties.ts";
import { ValidationError } from "../../src/core/errors.ts";

const MSK_ARN =
  "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_kafka-abc123";

describe("validateClusterProperties", () => {
  it("accepts and normalises a self-managed cluster", () => {
    expect(
      validateClusterProperties(
        {
          "bootstrap.servers": " b1.example.com:9092, 10.0.0.2:9093 ,[::1]:9094",
          "security.protocol": "plaintext",
        },
        "api",
      ),
    ).toEqual({
      "bootstrap.servers": "b1.example.com:9092,10.0.0.2:9093,[::1]:9094",
      "security.protocol": "PLAINTEXT",
    });
  });

  it("accepts an MSK cluster with IAM, and one that also carries bootstrap servers", () => {
    expect(
      validateClusterProperties(
        {
          "aws.msk.cluster.arn": MSK_ARN,
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "AWS_MSK_IAM",
        },
        "api",
      ),
    ).toEqual({
      "aws.msk.cluster.arn": MSK_ARN,
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "AWS_MSK_IAM",
    });
    expect(
      validateClusterProperties(
        { "aws.msk.cluster.arn": MSK_ARN, "bootstrap.servers": "localhost:9092" },
        "api",
      ),
    ).toEqual({ "aws.msk.cluster.arn": MSK_ARN, "bootstrap.servers": "localhost:9092" });
  });

  it("accepts SASL/SCRAM by Secrets Manager reference, and VPC settings", () => {
    expect(
      validateClusterProperties(
        {
          "bootstrap.servers": "kafka.internal:9096",
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "scram-sha-256",
          "aws.secrets.manager.arn": SECRET_ARN,
          "aws.vpc.subnets": "subnet-0a1b2c3d, subnet-0e1f2a3b",
          "aws.vpc.security.groups": "sg-0123456789abcdef0",
        },
        "api",
      ),
    ).toEqual({
      "bootstrap.servers": "kafka.internal:9096",
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-256",
      "aws.secrets.manager.arn": SECRET_ARN,
      "aws.vpc.subnets": "subnet-0a1b2c3d,subnet-0e1f2a3b",
      "aws.vpc.security.groups": "sg-0123456789abcdef0",
    });
  });

  it("takes clear credentials through the API only with a SASL mechanism, never echoing them", () => {
    const sasl = {
      "bootstrap.servers": "b:9092",
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.username": "alice",
      "sasl.password": "hunter2",
    };
    expect(validateClusterProperties(sasl, "api")).toEqual(sasl);
    const refusals: [Record<string, string>, RegExp][] = [
      [
        { "bootstrap.servers": "b:9092", "sasl.username": "alice", "sasl.password": "hunter2" },
        /need "sasl.mechanism" PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512/,
      ],
      [
        { ...sasl, "aws.secrets.manager.arn": SECRET_ARN },
        /either "sasl.username" \/ "sasl.password" or "aws.secrets.manager.arn", not both/,
      ],
      [{ "bootstrap.servers": "b:9092", "sasl.password": "hunter2" }, /go together/],
    ];
    for (const [properties, message] of refusals) {
      const attempt = () => validateClusterProperties(properties, "api");
      expect(attempt).toThrow(ValidationError);
      expect(attempt).toThrow(message);
      try {
        attempt();
      } catch (error) {
        expect((error as Error).message).not.toMatch(/hunter2|alice/);
      }
    }
    // Without a mechanism the config file may still carry them (unused), as Restate's does.
    const { "sasl.mechanism": _m, "security.protocol": _p, ...bare } = sasl;
    expect(validateClusterProperties(bare, "config")).toEqual(bare);
  });

  it("accepts clear credentials from the config file", () => {
    expect(
      validateClusterProperties(
        {
          "bootstrap.servers": "b:9092",
          "security.protocol": "SASL_PLAINTEXT",
          "sasl.mechanism": "PLAIN",
          "sasl.username": "alice",
          "sasl.password": " pass with spaces ",
        },
        "config",
      ),
    ).toMatchObject({ "sasl.username": "alice", "sasl.password": " pass with spaces " });
  });

  it("names unknown properties and lists the supported ones", () => {
    expect(() =>
      validateClusterProperties({ "bootstrap.servers": "b:1", "client.id": "x" }, "api"),
    ).toThrow(
      /unsupported cluster property "client.id"; supported properties: bootstrap.servers, aws.msk.cluster.arn/,
    );
  });

  it("never echoes the value of a secret-like property", () => {
    try {
      validateClusterProperties(
        { "bootstrap.servers": "b:1", "ssl.key.password": "s3cr3t" },
        "config",
      );
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/"ssl.key.password"/);
      expect((error as Error).message).not.toMatch(/s3cr3t/);
    }
  });

  it.each([
    [{}, /need "bootstrap.servers" .* or "aws.msk.cluster.arn"/],
    [{ "bootstrap.servers": "" }, /at least one host:port/],
    [{ "bootstrap.servers": "PLAINTEXT://b:9092,SSL://c:9093" }, /brokers mix protocols/],
    [{ "bootstrap.servers": "kafka://b:9092" }, /unknown protocol prefix/],
    [
      { "bootstrap.servers": "SASL_SSL://b:9096", "security.protocol": "SSL" },
      /names protocol SASL_SSL:\/\/ but "security.protocol" is "SSL"/,
    ],
    [{ "bootstrap.servers": "b" }, /comma-separated list of host:port/],
    [{ "bootstrap.servers": "b:0" }, /host:port/],
    [{ "bootstrap.servers": "b:70000" }, /host:port/],
    [
      { "aws.msk.cluster.arn": "arn:aws:kafka:eu-west-1:1234:cluster/x/y" },
      /must be an MSK cluster ARN/,
    ],
    [
      { "aws.msk.cluster.arn": "arn:aws:sqs:eu-west-1:123456789012:queue" },
      /must be an MSK cluster ARN/,
    ],
    [{ "bootstrap.servers": "b:1", "security.protocol": "TLS" }, /must be one of PLAINTEXT, SSL/],
    [
      { "bootstrap.servers": "b:1", "sasl.mechanism": "GSSAPI", "security.protocol": "SASL_SSL" },
      /must be one of PLAIN, SCRAM-SHA-256/,
    ],
    [
      { "bootstrap.servers": "b:1", "security.protocol": "SSL", "sasl.mechanism": "PLAIN" },
      /needs "security.protocol" SASL_PLAINTEXT or SASL_SSL/,
    ],
    [{ "bootstrap.servers": "b:1", "security.protocol": "SASL_SSL" }, /needs "sasl.mechanism"/],
    [
      {
        "bootstrap.servers": "b:1",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
      },
      /needs credentials: set "aws.secrets.manager.arn"/,
    ],
    [
      { "bootstrap.servers": "b:1", "sasl.mechanism": "AWS_MSK_IAM" },
      /AWS_MSK_IAM needs "aws.msk.cluster.arn"/,
    ],
    [
      {
        "aws.msk.cluster.arn": MSK_ARN,
        "sasl.mechanism": "SCRAM-SHA-256",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
      /MSK event sources support "sasl.mechanism" SCRAM-SHA-512 or AWS_MSK_IAM/,
    ],
    [
      { "bootstrap.servers": "b:1", "aws.secrets.manager.arn": "not-an-arn" },
      /must be a Secrets Manager secret ARN/,
    ],
    [
      { "bootstrap.servers": "b:1", "aws.secrets.manager.arn": SECRET_ARN },
      /used for SASL PLAIN\/SCRAM credentials or/,
    ],
    [{ "bootstrap.servers": "b:1", "aws.vpc.subnets": "subnet-abc" }, /go together/],
    [
      { "bootstrap.servers": "b:1", "aws.vpc.subnets": "vpc-1", "aws.vpc.security.groups": "sg-1" },
      /invalid id "vpc-1"/,
    ],
    [
      {
        "bootstrap.servers": "b:1",
        "aws.vpc.subnets": "subnet-1",
        "aws.vpc.security.groups": "sg-1,sg-2,sg-3,sg-4,sg-5,sg-6",
      },
      /1 to 5 comma-separated ids/,
    ],
    [
      {
        "aws.msk.cluster.arn": MSK_ARN,
        "aws.vpc.subnets": "subnet-1",
        "aws.vpc.security.groups": "sg-1",
      },
      /apply to self-managed clusters/,
    ],
    [{ "bootstrap.servers": ["b:1"] }, /must be a string, a number or a boolean/],
  ])("rejects %j", (properties, message) => {
    expect(() => validateClusterProperties(properties, "api")).toThrow(ValidationError);
    expect(() => validateClusterProperties(properties, "api")).toThrow(message);
  });

  it("accepts an SSL client certificate by secret reference", () => {
    expect(
      validateClusterProperties(
        {
          "bootstrap.servers": "b:9094",
          "security.protocol": "SSL",
          "aws.secrets.manager.arn": SECRET_ARN,
        },
        "api",
      ),
    ).toMatchObject({ "aws.secrets.manager.arn": SECRET_ARN });
  });
});

describe("config file clusters", () => {
  it("converts the reference doc's entries", () => {
    const document = {
      ingress: {
        "kafka-clusters": [
          { name: "my-cluster", brokers: ["PLAINTEXT://broker:9092"] },
          {
            name: "my-cluster-2",
            brokers: ["PLAINTEXT://localhost:9093"],
            "sasl.username": "me",
            "sasl.password": "pass",
          },
        ],
      },
    };
    expect(clustersFromConfigFile(document)).toEqual([
      {
        name: "my-cluster",
        properties: { "bootstrap.servers": "broker:9092", "security.protocol": "PLAINTEXT" },
        origin: "config",
      },
      {
        name: "my-cluster-2",
        properties: {
          "bootstrap.servers": "localhost:9093",
          "security.protocol": "PLAINTEXT",
          "sasl.username": "me",
          "sasl.password": "pass",
        },
        origin: "config",
      },
    ]);
  });

  it("keeps an explicit security.protocol and accepts brokers without a scheme", () => {
    expect(
      clusterFromConfigEntry({
        name: "c",
        brokers: ["SASL_SSL://a:9096", "b:9096"],
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
      }).properties,
    ).toEqual({
      "bootstrap.servers": "a:9096,b:9096",
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.username": "u",
      "sasl.password": "p",
    });
    expect(clusterFromConfigEntry({ name: "c", brokers: ["b:9092"] }).properties).toEqual({
      "bootstrap.servers": "b:9092",
    });
  });

  it("refuses brokers whose prefix contradicts an explicit security.protocol", () => {
    expect(() =>
      clusterFromConfigEntry({
        name: "c",
        brokers: ["PLAINTEXT://a:9092"],
        "security.protocol": "SSL",
      }),
    ).toThrow(
      `ingress.kafka-clusters entry: cluster "c": property "bootstrap.servers" names protocol PLAINTEXT:// but "security.protocol" is "SSL"; drop the prefix or make them agree`,
    );
  });

  it("has no clusters without the section", () => {
    expect(clustersFromConfigFile({})).toEqual([]);
    expect(clustersFromConfigFile({ ingress: {} })).toEqual([]);
  });

  it.each([
    [
      { ingress: { "kafka-clusters": [{ brokers: ["b:1"] }] } },
      /ingress.kafka-clusters\[0\]: "name" must be/,
    ],
    [
      { ingress: { "kafka-clusters": [{ name: "c" }] } },
      /cluster "c": cluster properties need "bootstrap.servers"/,
    ],
    [
      { ingress: { "kafka-clusters": [{ name: "c", brokers: [] }] } },
      /"brokers" must be a non-empty list/,
    ],
    [
      { ingress: { "kafka-clusters": [{ name: "c", brokers: ["PLAINTEXT://a:1", "SSL://b:2"] }] } },
      /mix protocols/,
    ],
    [
      {
        ingress: {
          "kafka-clusters": [{ name: "c", brokers: ["a:1"], "bootstrap.servers": "b:1" }],
        },
      },
      /either "brokers" or "bootstrap.servers"/,
    ],
    [
      {
        ingress: {
          "kafka-clusters": [
            { name: "c", brokers: ["a:1"] },
            { name: "c", brokers: ["b:1"] },
          ],
        },
      },
      /declared twice/,
    ],
    [{ ingress: { "kafka-clusters": { name: "c" } } }, /must be an array of tables/],
    [
      { ingress: { "kafka-clusters": [{ name: "c", brokers: ["a:1"], "fetch.max.bytes": 5 }] } },
      /unsupported cluster property "fetch.max.bytes"/,
    ],
  ])("rejects %j", (document, message) => {
    expect(() => clustersFromConfigFile(document)).toThrow(ValidationError);
    expect(() => clustersFromConfigFile(document)).toThrow(message);
  });

  it("does not echo clear passwords in config errors", () => {
    try {
      clustersFromConfigFile({
        ingress: {
          "kafka-clusters": [
            {
              name: "c",
              brokers: ["a:1"],
              "sasl.password": "topsecret",
              "sasl.mechanism": "AWS_MSK_IAM",
            },
          ],
        },
      });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain("topsecret");
    }
  });
});

describe("redaction", () => {
  it("classifies secret-like keys", () => {
    for (const key of [
      "sasl.password",
      "sasl.username",
      "ssl.key.password",
      "ssl.key",
      "oauth.token",
      "client.secret",
    ]) {
      expect(isSecretProperty(key), key).toBe(true);
    }
    for (const key of [
      "aws.secrets.manager.arn",
      "bootstrap.servers",
      "sasl.mechanism",
      "security.protocol",
    ]) {
      expect(isSecretProperty(key), key).toBe(false);
    }
  });

  it("redacts every key Restate 1.7 redacts, whatever its case", () => {
    for (const key of [
      "SASL.PASSWORD",
      "ssl.keystore.password",
      "ssl.key.passphrase",
      "my.client.secret",
      "sasl.jaas.config",
      "sasl.oauthbearer.config",
      "sasl.oauthbearer.token.endpoint.url",
      "ssl.key.location",
      "ssl.key.pem",
      "ssl.keystore.location",
      "ssl.truststore.location",
      "sasl.oauthbearer.assertion.private.key.file",
    ]) {
      expect(isSecretProperty(key), key).toBe(true);
    }
    expect(redactProperties({ "ssl.key.pem": "-----BEGIN", "client.id": "x" })).toEqual({
      "ssl.key.pem": REDACTED,
      "client.id": "x",
    });
    expect(REDACTED).toBe("***");
  });

  it("replaces secret values and keeps the rest", () => {
    const cluster = {
      name: "c",
      origin: "config" as const,
      properties: {
        "bootstrap.servers": "b:1",
        "sasl.username": "alice",
        "sasl.password": "hunter2",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
    };
    const shown = redactCluster(cluster);
    expect(shown).toEqual({
      name: "c",
      origin: "config",
      properties: {
        "bootstrap.servers": "b:1",
        "sasl.username": "***",
        "sasl.password": "***",
        "aws.secrets.manager.arn": SECRET_ARN,
      },
    });
    expect(JSON.stringify(shown)).not.toMatch(/hunter2|alice/);
    expect(cluster.properties["sasl.password"]).toBe("hunter2");
  });
});

describe("keepRedactedValues (PATCH bodies)", () => {
  const stored = { "bootstrap.servers": "b:1", "sasl.username": "alice", "sasl.password": "pw" };

  it("puts the stored value back for a secret-like key sent as ***", () => {
    expect(
      keepRedactedValues(
        { "bootstrap.servers": "c:2", "sasl.username": "***", "sasl.password": "new-pw" },
        stored,
      ),
    ).toEqual({ "bootstrap.servers": "c:2", "sasl.username": "alice", "sasl.password": "new-pw" });
  });

  it("leaves *** on other keys as it is, and refuses it for a secret the cluster does not hold", () => {
    expect(keepRedactedValues({ "bootstrap.servers": "***" }, stored)).toEqual({
      "bootstrap.servers": "***",
    });
    expect(() => keepRedactedValues({ "ssl.key.pem": "***" }, stored)).toThrow(
      `property "ssl.key.pem" is "***", the marker for a value the API does not show, but the cluster has no value for it to keep`,
    );
  });
});
