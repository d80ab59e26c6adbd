import { describe, expect, it } from "vitest";
import {
  attemptTimeout,
  backoffDelay,
  classifyStatus,
  DEFAULT_BACKOFF,
  detailExcerpt,
  isUnavailableStatus,
  MAX_DETAIL_CHARS,
  parseRetryAfter,
  type RetryPolicy,
} from "../../src/core/retry.ts";

const reasonOf = (result: ReturnType<typeof classifyStatus>) =>
  "reason" in result ? result.reason : undefined;

const policy: RetryPolicy = { ...DEFAULT_BACKOFF, maxAttempts: 4, requestTimeoutMs: 10_000 };

describe("classifyStatus", () => {
  it.each([200, 201, 202, 204, 299])("%i is success", (status) => {
    expect(classifyStatus(status)).toEqual({ kind: "success", status });
  });

  it.each([408, 429, 500, 502, 503, 504, 599])("%i is retryable", (status) => {
    expect(classifyStatus(status, "busy")).toEqual({
      kind: "retryable",
      status,
      reason: `HTTP ${status}: busy`,
    });
  });

  it.each([100, 301, 302, 307, 400, 401, 403, 404, 409, 413, 422, 431, 600])(
    "%i is terminal",
    (status) => {
      expect(classifyStatus(status).kind).toBe("terminal");
    },
  );

  it("carries Retry-After on retryable answers", () => {
    expect(classifyStatus(429, "", 1500)).toEqual({
      kind: "retryable",
      status: 429,
      reason: "HTTP 429",
      retryAfterMs: 1500,
    });
  });
});

describe("detailExcerpt (the sink's answer in a reason)", () => {
  it("replaces control, format and line-separator characters and folds whitespace", () => {
    expect(
      detailExcerpt(' {"a":\r\n\t1}\u0000\u001b[31mred\u007f\u0085\u200b\u202eevil\u2028x '),
    ).toBe('{"a": 1} [31mred evil x');
    expect(reasonOf(classifyStatus(400, 'forged\n{"level":"info","msg":"ok"}'))).toBe(
      'HTTP 400: forged {"level":"info","msg":"ok"}',
    );
  });

  it("keeps at most 200 characters (code points, never half a surrogate pair), marking the cut", () => {
    expect(MAX_DETAIL_CHARS).toBe(200);
    expect(detailExcerpt("x".repeat(200))).toBe("x".repeat(200));
    expect(detailExcerpt("😀".repeat(300))).toBe(`${"😀".repeat(200)}…`);
    expect(reasonOf(classifyStatus(500, "y".repeat(10_000)))).toBe(`HTTP 500: ${"y".repeat(200)}…`);
    expect(reasonOf(classifyStatus(500, " \r\n "))).toBe("HTTP 500");
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("2", now)).toBe(2000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  });
  it("ignores absent or garbage values", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-1", now)).toBeUndefined();
  });
});

describe("backoffDelay (full jitter)", () => {
  it("is uniform in [0, min(cap, base·2^(n-1))]", () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, top))).toEqual([
      99, 199, 399, 799, 1599, 1999,
    ]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
  });

  it("honours a short Retry-After as given and refuses a long one", () => {
    expect(backoffDelay(1, policy, () => 0, 1200)).toBe(1200);
    expect(backoffDelay(1, policy, () => 0, policy.maxRetryAfterMs)).toBe(policy.maxRetryAfterMs);
    expect(backoffDelay(1, policy, () => 0, policy.maxRetryAfterMs + 1)).toBeUndefined();
  });
});

describe("attemptTimeout", () => {
  it("clips the request timeout to the deadline", () => {
    expect(attemptTimeout(0, 60_000, policy)).toBe(10_000);
    expect(attemptTimeout(55_000, 60_000, policy)).toBe(5_000);
  });
  it("starts no attempt with less than minAttemptMs left", () => {
    expect(attemptTimeout(60_000 - policy.minAttemptMs, 60_000, policy)).toBe(policy.minAttemptMs);
    expect(attemptTimeout(60_000 - policy.minAttemptMs + 1, 60_000, policy)).toBeUndefined();
    expect(attemptTimeout(70_000, 60_000, policy)).toBeUndefined();
  });
});

describe("isUnavailableStatus", () => {
  it("no answer, 408, 429, 502, 503 and 504 say the sink is unavailable; a handler's 500 does not", () => {
    for (const status of [undefined, 408, 429, 502, 503, 504]) {
      expect(isUnavailableStatus(status)).toBe(true);
    }
    for (const status of [200, 400, 401, 500, 501, 505])
      expect(isUnavailableStatus(status)).toBe(false);
  });
});
