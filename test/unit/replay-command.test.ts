// The admin → consumer replay payload: records survive the trip byte for byte, anything else is
// refused with a message, and an event source mapping's event is never taken for a command.
import { describe, expect, it } from "vitest";
import {
  decodeReplayCommand,
  decodeReplayReply,
  encodeReplayCommand,
  InvalidReplayCommandError,
  isReplayCommand,
  REPLAY_COMMAND,
} from "../../src/core/replay-command.ts";
import { loadEvent } from "../helpers/kafka-events.ts";

describe("replay command", () => {
  it("names a letter (never carries its bytes) and round-trips through JSON", () => {
    const command = {
      subscriptionId: "sub_1",
      letter: { partitionId: "orders-3", offset: 1_234_567 },
      requestTimeoutMs: 500,
    };
    const wire = JSON.parse(JSON.stringify(encodeReplayCommand(command)));
    expect(wire).toEqual({ command: REPLAY_COMMAND, ...command });
    expect(isReplayCommand(wire)).toBe(true);
    expect(decodeReplayCommand(wire)).toEqual(command);
    expect(decodeReplayCommand(encodeReplayCommand({ subscriptionId: "sub_1" }))).toEqual({
      subscriptionId: "sub_1",
    });
  });

  it("an event source mapping's event is not a command", () => {
    expect(isReplayCommand(loadEvent("msk-basic"))).toBe(false);
    expect(isReplayCommand(null)).toBe(false);
    expect(isReplayCommand("kafka-ingress.replay")).toBe(false);
  });

  it("refuses a malformed command, naming what is wrong", () => {
    const bad = (payload: unknown) => () => decodeReplayCommand(payload);
    expect(bad({ command: REPLAY_COMMAND })).toThrow(InvalidReplayCommandError);
    expect(bad({ command: REPLAY_COMMAND })).toThrow(/subscriptionId/);
    expect(
      bad({
        command: REPLAY_COMMAND,
        subscriptionId: "s",
        letter: { partitionId: "t-0", offset: -1 },
      }),
    ).toThrow(/letter\.offset/);
    expect(bad({ command: REPLAY_COMMAND, subscriptionId: "s", requestTimeoutMs: 0 })).toThrow(
      /requestTimeoutMs/,
    );
    expect(
      bad({ command: REPLAY_COMMAND, subscriptionId: "s", requestTimeoutMs: 3_600_000 }),
    ).toThrow(/requestTimeoutMs/);
  });

  it("reads the three replies and refuses anything else", () => {
    expect(decodeReplayReply({ ok: true })).toEqual({ ok: true });
    expect(decodeReplayReply({ ok: false, reason: "HTTP 503" })).toEqual({
      ok: false,
      reason: "HTTP 503",
    });
    expect(decodeReplayReply({ refused: "conflict", message: "m" })).toEqual({
      refused: "conflict",
      message: "m",
    });
    expect(() => decodeReplayReply(null)).toThrow(InvalidReplayCommandError);
    expect(() => decodeReplayReply({ batchItemFailures: [] })).toThrow(InvalidReplayCommandError);
  });
});
