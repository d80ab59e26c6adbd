import { describe, expect, it } from "vitest";
import {
  ConflictError,
  DependencyError,
  errorMessage,
  isRetryable,
  NotFoundError,
  SecretUnavailableError,
  ValidationError,
} from "../../src/core/errors.ts";
import { exponentialDelays, listedDelays, retrying } from "../../src/core/retry.ts";

function recorder() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("the error vocabulary", () => {
  it("says which errors are worth another try", () => {
    expect(isRetryable(new DependencyError("throttled"))).toBe(true);
    expect(isRetryable(new ConflictError("changed meanwhile"))).toBe(true);
    expect(isRetryable(new SecretUnavailableError("arn", "not readable"))).toBe(true);
    expect(isRetryable(new ValidationError("bad"))).toBe(false);
    expect(isRetryable(new NotFoundError("gone"))).toBe(false);
    expect(isRetryable(new TypeError("a bug"))).toBe(false);
    expect(isRetryable("a string")).toBe(false);
  });

  it("extracts a message from anything thrown", () => {
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage(42)).toBe("42");
  });
});

describe("retrying", () => {
  it("retries retryable errors with the given delays until the action succeeds", async () => {
    const { waits, sleep } = recorder();
    const seen: number[] = [];
    const result = await retrying(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new DependencyError("busy");
        return "done";
      },
      { maxAttempts: 5, delayMs: exponentialDelays({ baseMs: 50, maxMs: 1_000 }), sleep },
    );
    expect(result).toBe("done");
    expect(seen).toEqual([1, 2, 3]);
    expect(waits).toEqual([50, 100]);
  });

  it("throws a terminal error at once", async () => {
    const { waits, sleep } = recorder();
    const error = new ValidationError("never");
    await expect(
      retrying(
        async () => {
          throw error;
        },
        { maxAttempts: 5, delayMs: () => 10, sleep },
      ),
    ).rejects.toBe(error);
    expect(waits).toEqual([]);
  });

  it("gives up with the last error when attempts, delays or the deadline run out", async () => {
    const failing = async (attempt: number): Promise<never> => {
      throw new DependencyError(`attempt ${attempt}`);
    };
    const attempts = recorder();
    await expect(
      retrying(failing, { maxAttempts: 3, delayMs: () => 1, sleep: attempts.sleep }),
    ).rejects.toThrow("attempt 3");
    expect(attempts.waits).toEqual([1, 1]);

    const listed = recorder();
    await expect(
      retrying(failing, { maxAttempts: 9, delayMs: listedDelays([5, 7]), sleep: listed.sleep }),
    ).rejects.toThrow("attempt 3");
    expect(listed.waits).toEqual([5, 7]);

    let clock = 1_000;
    const deadline = recorder();
    await expect(
      retrying(failing, {
        maxAttempts: 9,
        delayMs: () => 400,
        deadlineMs: 1_900,
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
          await deadline.sleep(ms);
        },
      }),
    ).rejects.toThrow("attempt 3");
    expect(deadline.waits).toEqual([400, 400]);
  });

  it("takes its own idea of what is retryable, and reports each retry", async () => {
    const { sleep } = recorder();
    const retries: string[] = [];
    let calls = 0;
    await retrying(
      async () => {
        calls++;
        if (calls === 1) throw new TypeError("flaky");
      },
      {
        maxAttempts: 2,
        delayMs: () => 0,
        sleep,
        isRetryable: (e) => e instanceof TypeError,
        onRetry: (e, retry, delay) => retries.push(`${errorMessage(e)} ${retry} ${delay}`),
      },
    );
    expect(retries).toEqual(["flaky 1 0"]);
  });

  it("jitters below the doubling ceiling when given a random source", () => {
    const delays = exponentialDelays({ baseMs: 100, maxMs: 300, random: () => 0.5 });
    expect([1, 2, 3, 4].map(delays)).toEqual([50, 100, 150, 150]);
  });
});
