// The admin → consumer replay payload: records survive the trip byte for byte, anything else is
// refused with a message, and an event source mapping's event is never taken for a command.
import { describe, expect, it } from "vitest";
import type { DecodedRecord } from "../../src/core/event.ts";
import {
  decodeReplayCommand,
  decodeReplayReply,
  encodeReplayCommand,
  InvalidReplayCommandError,
  isReplayCommand,
  REPLAY_COMMAND,
} from "../../src/core/replay-command.ts";
import { loadEvent } from "../helpers/kafka-events.ts";

const record: DecodedRecord = {
  topic: "orders",
  partition: 3,
  offset: 1_234_567,
  timestamp: 1_700_000_000_123,
  timestampType: "LOG_APPEND_TIME",
  key: new Uint8Array([0xc3, 0x28, 0x00]), // not UTF-8: the bytes must come through as they are
  value: null,
  headers: [
    ["trace", new Uint8Array([1, 2, 3])],
    ["trace", new Uint8Array()],
  ],
};

describe("replay command", () => {
  it("round-trips a record through JSON, bytes, tombstone and repeated headers included", () => {
    const wire = JSON.parse(
      JSON.stringify(
        encodeReplayCommand({ subscriptionId: "sub_1", record, requestTimeoutMs: 500 }),
      ),
    );
    expect(wire.command).toBe(REPLAY_COMMAND);
    expect(isReplayCommand(wire)).toBe(true);
    expect(decodeReplayCommand(wire)).toEqual({
      subscriptionId: "sub_1",
      requestTimeoutMs: 500,
      record,
    });
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
      bad({ command: REPLAY_COMMAND, subscriptionId: "s", record: { ...record, offset: -1 } }),
    ).toThrow(/record\.offset/);
    expect(bad({ command: REPLAY_COMMAND, subscriptionId: "s", requestTimeoutMs: 0 })).toThrow(
      /requestTimeoutMs/,
    );
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
