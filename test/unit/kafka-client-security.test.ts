// Cluster properties (librdkafka names, as in [[ingress.kafka-clusters]]) → @platformatic/kafka
// TLS/SASL settings, and what the local event source shows when it cannot honour them.
import { describe, expect, it } from "vitest";
import { clustersFromConfigFile } from "../../src/core/cluster-properties.ts";
import { KafkaConfigError } from "../../src/core/errors.ts";
import { startLocalEventSource } from "../../src/local/kafka/event-source.ts";
import { clientSecurityOptions, type OpenFeed } from "../../src/local/kafka/platformatic-client.ts";

const BROKERS = { "bootstrap.servers": "127.0.0.1:9092" };

const failure = (properties: Record<string, string>): string => {
  try {
    clientSecurityOptions(properties);
  } catch (error) {
    expect(error).toBeInstanceOf(KafkaConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a KafkaConfigError");
};

describe("clientSecurityOptions", () => {
  it("PLAINTEXT (or nothing) needs neither TLS nor SASL; unused credentials are ignored", () => {
    expect(clientSecurityOptions(BROKERS)).toEqual({});
    expect(clientSecurityOptions({ ...BROKERS, "security.protocol": "plaintext" })).toEqual({});
    // The reference doc's example: credentials beside PLAINTEXT brokers, unused as in librdkafka.
    expect(
      clientSecurityOptions({
        ...BROKERS,
        "security.protocol": "PLAINTEXT",
        "sasl.username": "me",
        "sasl.password": "pass",
      }),
    ).toEqual({});
  });

  it("SSL turns on TLS with SNI", () => {
    expect(clientSecurityOptions({ ...BROKERS, "security.protocol": "SSL" })).toEqual({
      tls: {},
      tlsServerName: true,
    });
  });

  it.each([
    ["PLAIN", "SASL_PLAINTEXT", false],
    ["SCRAM-SHA-256", "SASL_SSL", true],
    ["scram-sha-512", "sasl_ssl", true],
  ] as const)("SASL %s over %s", (mechanism, protocol, tls) => {
    expect(
      clientSecurityOptions({
        ...BROKERS,
        "security.protocol": protocol,
        "sasl.mechanism": mechanism,
        "sasl.username": "me",
        "sasl.password": "p@ss word",
      }),
    ).toEqual({
      ...(tls ? { tls: {}, tlsServerName: true } : {}),
      sasl: { mechanism: mechanism.toUpperCase(), username: "me", password: "p@ss word" },
    });
  });

  it("accepts librdkafka's plural sasl.mechanisms", () => {
    expect(
      clientSecurityOptions({
        ...BROKERS,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "p",
      }).sasl?.mechanism,
    ).toBe("PLAIN");
  });

  it("refuses what the local client cannot do, naming the property and never a secret", () => {
    const sasl = (mechanism: string, extra: Record<string, string> = {}) =>
      failure({
        ...BROKERS,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        ...extra,
      });
    expect(sasl("AWS_MSK_IAM")).toBe(
      '"sasl.mechanism" "AWS_MSK_IAM" is not supported by the local event source: IAM authentication works only for the event source mapping on AWS; locally, use a listener with SCRAM or PLAIN',
    );
    expect(sasl("GSSAPI", { "sasl.username": "u", "sasl.password": "hunter2" })).toBe(
      '"sasl.mechanism" "GSSAPI" is not supported by the local event source: the local event source supports PLAIN, SCRAM-SHA-256, SCRAM-SHA-512',
    );
    expect(sasl("OAUTHBEARER")).toMatch(/"OAUTHBEARER" is not supported/);
    expect(sasl("SCRAM-SHA-512", { "sasl.username": "u" })).toBe(
      '"sasl.mechanism" SCRAM-SHA-512 needs "sasl.username" and "sasl.password" in the config file',
    );
    expect(
      sasl("SCRAM-SHA-512", {
        "aws.secrets.manager.arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k",
      }),
    ).toMatch(/does not read "aws.secrets.manager.arn"/);
    expect(failure({ ...BROKERS, "security.protocol": "SASL_SSL" })).toBe(
      '"security.protocol" SASL_SSL needs "sasl.mechanism"',
    );
    expect(failure({ ...BROKERS, "security.protocol": "SSL", "sasl.mechanism": "PLAIN" })).toMatch(
      /needs "security.protocol" SASL_PLAINTEXT or SASL_SSL, not SSL/,
    );
    expect(failure({ ...BROKERS, "security.protocol": "QUIC" })).toMatch(
      /"security.protocol" "QUIC" is not supported/,
    );
    for (const message of [sasl("GSSAPI", { "sasl.username": "u", "sasl.password": "hunter2" })]) {
      expect(message).not.toContain("hunter2");
    }
  });

  it("maps a config-file cluster (brokers with SASL_SSL://) as the local stack reads it", () => {
    const [cluster] = clustersFromConfigFile({
      ingress: {
        "kafka-clusters": [
          {
            name: "secure",
            brokers: ["SASL_SSL://broker-1:9096", "SASL_SSL://broker-2:9096"],
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": "me",
            "sasl.password": "pass",
          },
        ],
      },
    });
    expect(clientSecurityOptions(cluster?.properties ?? {})).toEqual({
      tls: {},
      tlsServerName: true,
      sasl: { mechanism: "SCRAM-SHA-256", username: "me", password: "pass" },
    });
  });
});

describe("local event source with unsupported cluster settings", () => {
  it("reports state failed with the reason and never tries to connect", async () => {
    let opens = 0;
    const openFeed: OpenFeed = async () => {
      opens++;
      throw new Error("must not be called");
    };
    const logs: string[] = [];
    const source = startLocalEventSource({
      subscription: { id: "sub_iam", topic: "t", options: {} },
      cluster: {
        name: "msk",
        properties: {
          ...BROKERS,
          "security.protocol": "SASL_SSL",
          "sasl.mechanism": "AWS_MSK_IAM",
        },
      },
      invoke: async () => ({}),
      log: (line) => logs.push(line),
      openFeed,
      retry: { initialMs: 5, maxMs: 10 },
    });
    await new Promise((r) => setTimeout(r, 50));
    const status = source.status();
    expect(status.state).toBe("failed");
    expect(status.lastError?.message).toBe(
      'cluster msk: "sasl.mechanism" "AWS_MSK_IAM" is not supported by the local event source: IAM authentication works only for the event source mapping on AWS; locally, use a listener with SCRAM or PLAIN',
    );
    expect(opens).toBe(0);
    expect(logs.some((l) => l.includes('"level":"error"') && l.includes("AWS_MSK_IAM"))).toBe(true);
    await source.stop();
    expect(source.status().state).toBe("stopped");
  });
});
