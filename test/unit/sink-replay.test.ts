// Per-letter retries of a replay through a scripted sink: how many attempts a retryable or
// terminal failure gets, the doubling waits between them, and a deadline that leaves no room for
// the next attempt, which fails the letter (or defers it when nothing was attempted).
import { describe, expect, it } from "vitest";
import { createSinkReplay } from "../../src/app/sink-replay.ts";
import type { DeadLetter } from "../../src/core/dead-letters.ts";
import type { DeliveryResult } from "../../src/core/retry.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import { service, subscription } from "../helpers/catalog-fixtures.ts";
import { exhaustedLetter } from "../helpers/letters.ts";

const letter = exhaustedLetter('{"n":7}');

/** A replay whose sink answers `answers` in turn (the last one from then on), noting when. */
function scripted(
  answers: readonly DeliveryResult[],
  options: { maxAttempts?: number; retryDelayMs?: number } = {},
) {
  const attemptsAt: number[] = [];
  const replay = createSinkReplay({
    catalog: memoryCatalog({ services: [service()] }),
    deadLetters: { whole: async (l: DeadLetter) => l },
    requestTimeoutMs: 1_000,
    retryDelayMs: options.retryDelayMs ?? 5,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    sink: {
      deliver: async () => {
        attemptsAt.push(Date.now());
        const answer = answers[Math.min(attemptsAt.length, answers.length) - 1];
        if (answer === undefined) throw new Error("no answer scripted");
        return answer;
      },
      close: async () => {},
    },
  });
  return { replay, attemptsAt };
}

const unavailable: DeliveryResult = { kind: "retryable", reason: "HTTP 503", status: 503 };

describe("sink replay of one letter", () => {
  it("retries a retryable failure up to maxAttempts, then fails with the last reason", async () => {
    const { replay, attemptsAt } = scripted([unavailable], { maxAttempts: 3, retryDelayMs: 20 });
    const deliver = await replay.letterDelivery(subscription());
    expect(await deliver(letter, Date.now() + 60_000)).toEqual({
      outcome: "failed",
      reason: "HTTP 503",
    });
    expect(attemptsAt).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = attemptsAt;
    // Waits of 20 ms, then 40 ms (timers may fire a millisecond early).
    expect(second - first).toBeGreaterThanOrEqual(19);
    expect(third - second).toBeGreaterThanOrEqual(39);
  });

  it("delivers once a retry gets through", async () => {
    const { replay, attemptsAt } = scripted([unavailable, { kind: "success", status: 202 }]);
    const deliver = await replay.letterDelivery(subscription());
    expect(await deliver(letter, Date.now() + 60_000)).toEqual({ outcome: "delivered" });
    expect(attemptsAt).toHaveLength(2);
  });

  it("does not retry a terminal failure", async () => {
    const { replay, attemptsAt } = scripted([
      { kind: "terminal", reason: "HTTP 400: bad", status: 400 },
    ]);
    const deliver = await replay.letterDelivery(subscription());
    expect(await deliver(letter, Date.now() + 60_000)).toEqual({
      outcome: "failed",
      reason: "HTTP 400: bad",
    });
    expect(attemptsAt).toHaveLength(1);
  });

  it("fails a letter whose retry would not leave time for an attempt after its wait", async () => {
    const { replay, attemptsAt } = scripted([unavailable], { maxAttempts: 5, retryDelayMs: 400 });
    const deliver = await replay.letterDelivery(subscription());
    // 400 ms of wait plus the 250 ms an attempt needs do not fit in 500 ms.
    expect(await deliver(letter, Date.now() + 500)).toEqual({
      outcome: "failed",
      reason: "HTTP 503 (then the replay ran out of time)",
    });
    expect(attemptsAt).toHaveLength(1);
  });

  it("defers a letter when no attempt can start before the deadline", async () => {
    const { replay, attemptsAt } = scripted([unavailable]);
    const deliver = await replay.letterDelivery(subscription());
    expect(await deliver(letter, Date.now() + 100)).toEqual({ outcome: "deferred" });
    expect(attemptsAt).toHaveLength(0);
  });
});
