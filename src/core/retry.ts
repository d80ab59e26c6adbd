// Classification of a delivery attempt and the retry policy within one invocation: exponential
// backoff with full jitter, a per-record attempt budget, and a deadline no attempt may cross;
// and `retrying`, the one loop every other retry in the product runs in.
import { isRetryable } from "./errors.ts";

export type DeliveryResult =
  | { readonly kind: "success"; readonly status: number }
  | {
      readonly kind: "retryable";
      readonly reason: string;
      readonly status?: number;
      /** Server-requested wait (Retry-After), in ms. */
      readonly retryAfterMs?: number;
    }
  | { readonly kind: "terminal"; readonly reason: string; readonly status?: number };

/** What the dispatcher hands the sink client for one attempt. */
export interface AttemptOptions {
  /** The attempt must settle within this time (already clipped to the invocation deadline). */
  readonly timeoutMs: number;
}

export type Deliver<Request> = (
  request: Request,
  options: AttemptOptions,
) => Promise<DeliveryResult>;

/** Most characters of a response body kept in a failure's reason (logs, dead letters). */
export const MAX_DETAIL_CHARS = 200;

/**
 * What the sink answered, fit for a log line or a dead letter's `reason`: control, format and
 * line-separator characters (CR, LF, ESC, bidi overrides, ...) become spaces, whitespace runs one
 * space, and at most MAX_DETAIL_CHARS characters are kept, `…` marking a cut. The text comes from
 * the sink, so nothing in it may forge log lines or hide itself from whoever reads the letter.
 */
export function detailExcerpt(text: string, maxChars: number = MAX_DETAIL_CHARS): string {
  const clean = text
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  const chars = Array.from(clean);
  return chars.length <= maxChars ? clean : `${chars.slice(0, maxChars).join("").trimEnd()}…`;
}

/**
 * 2xx → success (a Restate `/send` answers 202). 408, 429 and 5xx → retryable. Everything else —
 * other 4xx, and 1xx/3xx (redirects are not followed) — is terminal for the record. `detail` (the
 * answer's body) goes into the reason as detailExcerpt keeps it.
 */
export function classifyStatus(status: number, detail = "", retryAfterMs?: number): DeliveryResult {
  if (status >= 200 && status < 300) return { kind: "success", status };
  const excerpt = detailExcerpt(detail);
  const reason = `HTTP ${status}${excerpt ? `: ${excerpt}` : ""}`;
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
    return retryAfterMs === undefined
      ? { kind: "retryable", reason, status }
      : { kind: "retryable", reason, status, retryAfterMs };
  }
  return { kind: "terminal", reason, status };
}

/** Answers that say the sink (or the way to it) is unavailable, not that the record is bad. */
const UNAVAILABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/**
 * Whether a failed attempt says the sink is unavailable: no HTTP answer at all (`status`
 * undefined), 408, 429, 502, 503 or 504. A handler's own error (500, ...) is an answer about the
 * record, retryable as classifyStatus says but not a sign of an outage.
 */
export function isUnavailableStatus(status: number | undefined): boolean {
  return status === undefined || UNAVAILABLE_STATUSES.has(status);
}

/** `Retry-After` as delay-seconds or an HTTP date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined; // HTTP dates start with the day name
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export interface RetryPolicy {
  /** Attempts per record within one invocation, the first included. */
  readonly maxAttempts: number;
  /** Time one attempt may take (clipped to the deadline). */
  readonly requestTimeoutMs: number;
  /** Backoff before retry n (n ≥ 1) is uniform in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))]. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After up to this long is honoured as given; a longer one gives up for this invocation. */
  readonly maxRetryAfterMs: number;
  /** No attempt starts with less than this left before the deadline. */
  readonly minAttemptMs: number;
}

export const DEFAULT_BACKOFF = {
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  maxRetryAfterMs: 5_000,
  minAttemptMs: 250,
} as const;

/**
 * Delay before the retry that follows failed attempt number `attempt` (1-based), or undefined
 * when the server asked for a wait longer than the policy honours.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number,
  retryAfterMs?: number,
): number | undefined {
  if (retryAfterMs !== undefined) {
    return retryAfterMs <= policy.maxRetryAfterMs ? retryAfterMs : undefined;
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Timeout for an attempt starting at `nowMs`, or undefined if no attempt may start now. */
export function attemptTimeout(
  nowMs: number,
  deadlineMs: number,
  policy: RetryPolicy,
): number | undefined {
  const left = deadlineMs - nowMs;
  if (left < policy.minAttemptMs) return undefined;
  return Math.min(policy.requestTimeoutMs, left);
}

/** How `retrying` paces and bounds its attempts. */
export interface RetryLoop {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Wait before retry number `retry` (1-based); undefined gives up with the last error. */
  readonly delayMs: (retry: number, error: unknown) => number | undefined;
  /** No retry is started whose wait would end after this time (with `now`). */
  readonly deadlineMs?: number;
  readonly now?: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Which errors are worth another try; by default the vocabulary's (`isRetryable`). */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Called before each wait, for logs. */
  readonly onRetry?: (error: unknown, retry: number, delayMs: number) => void;
}

/**
 * Runs `action` until it succeeds, throws an error that is not worth another try, or the
 * attempts, the delays or the deadline run out; then the last error is thrown as it was.
 */
export async function retrying<T>(
  action: (attempt: number) => Promise<T>,
  loop: RetryLoop,
): Promise<T> {
  const worthRetrying = loop.isRetryable ?? isRetryable;
  for (let attempt = 1; ; attempt++) {
    try {
      return await action(attempt);
    } catch (error) {
      if (!worthRetrying(error) || attempt >= loop.maxAttempts) throw error;
      const delay = loop.delayMs(attempt, error);
      if (delay === undefined) throw error;
      const now = loop.now ?? Date.now;
      if (loop.deadlineMs !== undefined && now() + delay > loop.deadlineMs) throw error;
      loop.onRetry?.(error, attempt, delay);
      await loop.sleep(delay);
    }
  }
}

/** Delays that double from `baseMs` up to `maxMs`; with `random`, full jitter below that. */
export function exponentialDelays(options: {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly random?: () => number;
}): (retry: number) => number {
  return (retry) => {
    const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (retry - 1));
    return options.random ? Math.floor(options.random() * ceiling) : ceiling;
  };
}

/** The given delays in turn, then no more retries. */
export function listedDelays(delaysMs: readonly number[]): (retry: number) => number | undefined {
  return (retry) => delaysMs[retry - 1];
}

/** A real sleep, for the shell; the core takes sleep as a dependency. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
