// The reason a Kafka feed fails, as the status shows it: built from the client's real error
// classes nested the way the client nests them (an operation's error over per-broker errors).
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  UserError,
} from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { describeKafkaError, isMissingTopicError } from "../../src/local/kafka/kafka-errors.ts";

const wrapped = (operation: string, ...errors: Error[]) =>
  new MultipleErrors(`${operation} failed.`, errors);

describe("describeKafkaError", () => {
  it("a rejected SASL login says authentication failed, with what the broker said", () => {
    const error = wrapped(
      "joinGroup",
      wrapped(
        "findGroupCoordinator",
        new ProtocolError(
          "SASL_AUTHENTICATION_FAILED",
          "Authentication failed: Invalid username or password",
        ),
      ),
    );
    const text = describeKafkaError(error);
    expect(text).toMatch(/^authentication failed: check sasl\.\* of the cluster/);
    expect(text).toContain("Invalid username or password");
  });

  it("a failed SCRAM exchange (the client's own AuthenticationError) too", () => {
    const error = wrapped(
      "metadata",
      new AuthenticationError("SASL authentication failed.", {
        cause: new Error("Invalid server signature."),
      }),
    );
    expect(describeKafkaError(error)).toMatch(/^authentication failed: .*SASL authentication/);
  });

  it("a missing ACL says not authorized", () => {
    const error = wrapped("joinGroup", new ProtocolError("GROUP_AUTHORIZATION_FAILED"));
    expect(describeKafkaError(error)).toMatch(/^not authorized: check the broker's ACLs/);
  });

  it("a broker that refuses connections says it cannot be reached", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    const error = wrapped(
      "metadata",
      new NetworkError("Connection to 127.0.0.1:1 failed.", { cause: refused }),
    );
    expect(describeKafkaError(error)).toBe(
      "cannot reach the broker: connect ECONNREFUSED 127.0.0.1:1",
    );
  });

  it("a topic that does not exist yet is named as such (and retried soon)", () => {
    const fromMetadata = wrapped("metadata", new UserError("Unknown topic tally-in."));
    expect(describeKafkaError(fromMetadata)).toBe(
      "the topic does not exist (yet): Unknown topic tally-in.",
    );
    expect(isMissingTopicError(fromMetadata)).toBe(true);
    expect(
      isMissingTopicError(wrapped("fetch", new ProtocolError("UNKNOWN_TOPIC_OR_PARTITION"))),
    ).toBe(true);
    expect(isMissingTopicError(wrapped("fetch", new ProtocolError("NOT_LEADER_OR_FOLLOWER")))).toBe(
      false,
    );
  });

  it("otherwise the operation and its deepest reason", () => {
    const error = wrapped("fetch", new ProtocolError("NOT_LEADER_OR_FOLLOWER", "moved"));
    const text = describeKafkaError(error);
    expect(text).toMatch(/^fetch failed\.: /);
    expect(text).toContain("(broker: moved)");
    expect(describeKafkaError(new Error("plain"))).toBe("plain");
    expect(describeKafkaError("text")).toBe("text");
  });

  it("survives cycles and huge trees", () => {
    const a = new Error("a") as Error & { cause?: unknown };
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(describeKafkaError(a)).toBe("a: b");
    const wide = new MultipleErrors(
      "wide",
      Array.from({ length: 10_000 }, (_, i) => new Error(`e${i}`)),
    );
    expect(describeKafkaError(wide)).toMatch(/^wide: e\d+$/);
  });
});
