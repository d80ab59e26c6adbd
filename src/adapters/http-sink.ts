// The HTTP client that delivers records to the sink: one reused undici Agent (keep-alive pool per
// origin, sized for the consumer's concurrency, redirects never followed) and a `deliver` that
// turns every response and every undici / socket error into the core's DeliveryResult.
import { Agent, request } from "undici";
import type { SinkRequest } from "../core/invocation.ts";
import {
  type AttemptOptions,
  classifyStatus,
  type DeliveryResult,
  parseRetryAfter,
} from "../core/retry.ts";

export interface HttpSinkOptions {
  /** Connections per origin: the number of lanes in flight (MAX_CONCURRENCY). */
  readonly connections: number;
  /** Headers and body timeouts of the agent (REQUEST_TIMEOUT_MS); attempts also carry a signal. */
  readonly requestTimeoutMs: number;
  /** How long an idle connection is kept (default 10 s). */
  readonly keepAliveTimeoutMs?: number;
  readonly now?: () => number;
}

export interface HttpSink {
  readonly deliver: (request: SinkRequest, options: AttemptOptions) => Promise<DeliveryResult>;
  readonly close: () => Promise<void>;
}

/** How much of an error response is kept for the log line. */
const ERROR_DETAIL_BYTES = 4096;
/** How much of a response body is drained to keep the connection reusable; beyond it, close it. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/** Error codes after which a later attempt may succeed. */
const RETRYABLE_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "UND_ERR_ABORTED",
  "UND_ERR_INFO",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_HTTP_PARSER", // a broken or non-HTTP peer (e.g. a proxy restarting)
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Errors in the request we built: retrying cannot help. */
const TERMINAL_CODES = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED", "ERR_INVALID_URL"]);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string") return e.code;
  // Happy-eyeballs connects fail with an AggregateError; fetch-style errors wrap a cause.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = errorCode(inner);
      if (code !== undefined) return code;
    }
  }
  if (e.cause !== undefined && e.cause !== err) return errorCode(e.cause);
  return undefined;
}

/** Maps a thrown error of one attempt to a DeliveryResult. */
export function classifyError(err: unknown, timeoutMs?: number): DeliveryResult {
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError") {
    return { kind: "retryable", reason: `timeout after ${timeoutMs ?? "?"} ms` };
  }
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const reason = code ? `${code}: ${message}` : message || "unknown error";
  if (code !== undefined && TERMINAL_CODES.has(code)) return { kind: "terminal", reason };
  // Unknown errors are retried too: at-least-once beats dropping a record on a surprise.
  if (code !== undefined && RETRYABLE_CODES.has(code)) return { kind: "retryable", reason };
  return { kind: "retryable", reason: `unexpected error: ${reason}` };
}

type Body = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };

/** Reads up to ERROR_DETAIL_BYTES for the log, drains the rest up to DRAIN_LIMIT_BYTES. */
async function readDetail(body: Body): Promise<string> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let total = 0;
  for await (const chunk of body) {
    if (keptBytes < ERROR_DETAIL_BYTES) {
      const slice = chunk.subarray(0, ERROR_DETAIL_BYTES - keptBytes);
      kept.push(slice);
      keptBytes += slice.length;
    }
    total += chunk.length;
    if (total > DRAIN_LIMIT_BYTES) break; // leaving the loop destroys the body (and its socket)
  }
  return Buffer.concat(kept)
    .toString("utf8")
    .replace(/[\r\n\t]+/g, " ")
    .trim();
}

const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

export function createHttpSink(options: HttpSinkOptions): HttpSink {
  const now = options.now ?? Date.now;
  const agent = new Agent({
    connections: options.connections,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
    headersTimeout: options.requestTimeoutMs,
    bodyTimeout: options.requestTimeoutMs,
    connectTimeout: Math.min(options.requestTimeoutMs, 10_000),
  });

  const deliver = async (req: SinkRequest, attempt: AttemptOptions): Promise<DeliveryResult> => {
    const signal = AbortSignal.timeout(attempt.timeoutMs);
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
        dispatcher: agent,
      });
    } catch (err) {
      return classifyError(err, attempt.timeoutMs);
    }
    const { statusCode, headers, body } = response;
    try {
      if (statusCode >= 200 && statusCode < 300) {
        await body.dump({ limit: DRAIN_LIMIT_BYTES });
        return { kind: "success", status: statusCode };
      }
      const detail = await readDetail(body);
      const retryAfter = parseRetryAfter(headerValue(headers["retry-after"]), now());
      return classifyStatus(statusCode, detail, retryAfter);
    } catch (err) {
      // The status line arrived but the body broke off. A 2xx was accepted by the sink; anything
      // else keeps the classification of its status.
      if (statusCode >= 200 && statusCode < 300) return { kind: "success", status: statusCode };
      const cause = classifyError(err, attempt.timeoutMs);
      return classifyStatus(
        statusCode,
        `(body unreadable: ${"reason" in cause ? cause.reason : ""})`,
      );
    }
  };

  return { deliver, close: () => agent.close() };
}
