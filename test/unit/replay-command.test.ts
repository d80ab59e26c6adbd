// The admin → consumer replay payload: a batch of letter names (never their bytes) with its time
// budget survives the trip, anything else is refused with a message, an event source mapping's
// event is never taken for a command, and replies carry one result per letter.
import { describe, expect, it } from "vitest";
import { InvalidCommandError } from "../../src/core/errors.ts";
import { REPLAY_BATCH_SIZE } from "../../src/core/replay.ts";
import {
  decodeReplayCommand,
  decodeReplayCommandReply,
  encodeReplayCommand,
  isReplayCommand,
  REPLAY_COMMAND,
} from "../../src/core/replay-command.ts";
import { loadEvent } from "../helpers/kafka-events.ts";

describe("replay command", () => {
  it("names letters (never carries their bytes) and round-trips through JSON", () => {
    const command = {
      subscriptionId: "sub_1",
      letters: [
        { partitionId: "orders-3", offset: 1_234_567 },
        { partitionId: "orders-3", offset: 1_234_570 },
      ],
      ordered: true,
      budgetMs: 19_000,
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
    const base = { command: REPLAY_COMMAND, subscriptionId: "s" };
    expect(bad({ command: REPLAY_COMMAND })).toThrow(InvalidCommandError);
    expect(bad({ command: REPLAY_COMMAND })).toThrow(/subscriptionId/);
    expect(bad({ ...base, letters: [{ partitionId: "t-0", offset: -1 }] })).toThrow(
      /letters\.0\.offset/,
    );
    expect(bad({ ...base, letters: [] })).toThrow(/letters/);
    const many = Array.from({ length: REPLAY_BATCH_SIZE + 1 }, (_, offset) => ({
      partitionId: "t-0",
      offset,
    }));
    expect(bad({ ...base, letters: many })).toThrow(/letters/);
    expect(bad({ ...base, requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
    expect(bad({ ...base, requestTimeoutMs: 3_600_000 })).toThrow(/requestTimeoutMs/);
    expect(bad({ ...base, budgetMs: 0 })).toThrow(/budgetMs/);
    expect(bad({ ...base, budgetMs: 3_600_000 })).toThrow(/budgetMs/);
    // The single-letter form of earlier versions is refused, never read as a mere check.
    expect(bad({ ...base, letter: { partitionId: "t-0", offset: 1 } })).toThrow(/letter/);
  });

  it("reads the replies and refuses anything else", () => {
    expect(decodeReplayCommandReply({ ok: true })).toEqual({ ok: true });
    const results = [
      { partitionId: "t-0", offset: 1, outcome: "delivered" },
      { partitionId: "t-0", offset: 2, outcome: "failed", reason: "HTTP 503" },
      { partitionId: "t-0", offset: 3, outcome: "skipped" },
      { partitionId: "t-0", offset: 4, outcome: "deferred" },
      { partitionId: "t-0", offset: 5, outcome: "gone" },
    ];
    expect(decodeReplayCommandReply({ results })).toEqual({ results });
    expect(decodeReplayCommandReply({ refused: "conflict", message: "m" })).toEqual({
      refused: "conflict",
      message: "m",
    });
    expect(() => decodeReplayCommandReply(null)).toThrow(InvalidCommandError);
    expect(() => decodeReplayCommandReply({ ok: false, reason: "HTTP 503" })).toThrow(
      InvalidCommandError,
    );
    expect(() =>
      decodeReplayCommandReply({ results: [{ partitionId: "t-0", offset: 1, outcome: "failed" }] }),
    ).toThrow(InvalidCommandError);
    expect(() => decodeReplayCommandReply({ batchItemFailures: [] })).toThrow(InvalidCommandError);
  });
});
