// The HTTP client that delivers records to the sink: one reused undici Agent (keep-alive pool per
// origin, sized for the consumer's concurrency, redirects never followed, every connection checked
// against the endpoint policy by endpoint-guard.ts) and a `deliver` that turns every response and
// every undici / socket error into the core's DeliveryResult.
import type { IncomingHttpHeaders } from "node:http";
import type { LookupFunction } from "node:net";
import type { Dispatcher } from "undici";
import errors from "undici/lib/core/errors.js";
// The Agent and the error classes straight from their modules: the package index would bundle
// all of undici (fetch, WebSocket, caches...) into the consumer (see undici-modules.d.ts).
import Agent from "undici/lib/dispatcher/agent.js";
import type { EndpointAllowList } from "../core/endpoint-policy.ts";
import { errorMessage, errorName } from "../core/errors.ts";
import type { SinkRequest } from "../core/invocation.ts";
import {
  type AttemptOptions,
  classifyStatus,
  type DeliveryResult,
  parseRetryAfter,
} from "../core/retry.ts";
import { guardedConnector } from "./endpoint-guard.ts";

export interface HttpSinkOptions {
  /** Connections per origin: the number of lanes in flight (MAX_CONCURRENCY). */
  readonly connections: number;
  /** Headers and body timeouts of the agent (REQUEST_TIMEOUT_MS); attempts also carry a signal. */
  readonly requestTimeoutMs: number;
  /** How long an idle connection is kept (default 10 s). */
  readonly keepAliveTimeoutMs?: number | undefined;
  /** SERVICE_ENDPOINT_ALLOW, checked against the host of every connection the sink opens. */
  readonly endpointAllow?: EndpointAllowList | undefined;
  /** Name resolution for connections (default `dns.lookup`); a test seam. */
  readonly lookup?: LookupFunction | undefined;
  readonly now?: (() => number) | undefined;
}

export interface HttpSink {
  readonly deliver: (request: SinkRequest, options: AttemptOptions) => Promise<DeliveryResult>;
  readonly close: () => Promise<void>;
}

/** How much of an error response is read for its detail (classifyStatus keeps an excerpt). */
const ERROR_DETAIL_BYTES = 1024;
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

/**
 * Errors in the request we built, and endpoints the policy refuses: retrying cannot help. A name
 * that resolves to a refused address, or a host the allow-list no longer names, stays refused
 * until an operator changes the service or the list; retrying would only hold the record's lane
 * (and every later record of its key) for the whole retry budget. Terminal, it is dead-lettered
 * with the reason at once and can be replayed once the endpoint is fixed.
 */
const TERMINAL_CODES = new Set([
  "UND_ERR_INVALID_ARG",
  "UND_ERR_NOT_SUPPORTED",
  "ERR_INVALID_URL",
  "ERR_ENDPOINT_REFUSED",
]);

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
  if (errorName(err) === "TimeoutError") {
    return { kind: "retryable", reason: `timeout after ${timeoutMs ?? "?"} ms` };
  }
  const code = errorCode(err);
  const message = errorMessage(err);
  const reason = code ? `${code}: ${message}` : message || "unknown error";
  if (code !== undefined && TERMINAL_CODES.has(code)) return { kind: "terminal", reason };
  // Unknown errors are retried too: at-least-once beats dropping a record on a surprise.
  if (code !== undefined && RETRYABLE_CODES.has(code)) return { kind: "retryable", reason };
  return { kind: "retryable", reason: `unexpected error: ${reason}` };
}

const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

const timeoutError = () =>
  new DOMException("The operation was aborted due to timeout", "TimeoutError");

/** Why the sink stopped reading a response body it had read enough of. */
const enoughRead = () => new Error("response body beyond the drain limit");

/**
 * One attempt, driven through undici's dispatcher API (no response stream, no AbortSignal: the
 * per-record overhead `request()` adds is most of this client's CPU time at 10,000 records a
 * batch). It behaves as `request()` + `body.dump({limit})` / reading the error detail did:
 * - 2xx: success once the body has been drained (up to DRAIN_LIMIT_BYTES, beyond which the
 *   connection is closed), even if the body breaks off;
 * - other statuses: classified with up to ERROR_DETAIL_BYTES of the body as detail (and
 *   Retry-After); a body that breaks off keeps the classification of its status;
 * - an error before the status line: classifyError;
 * - the whole attempt (queueing, connect, request, headers, body) is bounded by one timer: when
 *   it fires the request is aborted with a TimeoutError and the attempt settles.
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #resolve: ((result: DeliveryResult) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #timedOut = false;
  #status = 0;
  #retryAfter: string | undefined;
  #kept: Uint8Array[] | undefined;
  #keptBytes = 0;
  #total = 0;

  constructor(timeoutMs: number, now: () => number, resolve: (result: DeliveryResult) => void) {
    this.#timeoutMs = timeoutMs;
    this.#now = now;
    this.#resolve = resolve;
    this.#timer = setTimeout(Attempt.#onTimeout, timeoutMs, this);
  }

  static #onTimeout(attempt: Attempt): void {
    attempt.#timer = undefined;
    attempt.#timedOut = true;
    const controller = attempt.#controller;
    // Not on a connection yet (queued or connecting): settle now; onRequestStart aborts it.
    if (controller === undefined) attempt.#failed(timeoutError());
    else controller.abort(timeoutError());
  }

  #settle(result: DeliveryResult): void {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    resolve(result);
  }

  #failed(err: unknown): void {
    const status = this.#status;
    if (status === 0) {
      this.#settle(classifyError(err, this.#timeoutMs));
    } else if (status >= 200 && status < 300) {
      // The status line arrived but the body broke off: the sink accepted the record.
      this.#settle({ kind: "success", status });
    } else {
      const cause = classifyError(err, this.#timeoutMs);
      this.#settle(
        classifyStatus(status, `(body unreadable: ${"reason" in cause ? cause.reason : ""})`),
      );
    }
  }

  #finish(): void {
    const status = this.#status;
    if (status >= 200 && status < 300) {
      this.#settle({ kind: "success", status });
      return;
    }
    const detail = Buffer.concat(this.#kept ?? []).toString("utf8");
    this.#settle(classifyStatus(status, detail, parseRetryAfter(this.#retryAfter, this.#now())));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#timedOut) controller.abort(timeoutError());
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // informational: the final response follows
    this.#status = statusCode;
    if (statusCode >= 300) {
      this.#kept = [];
      this.#retryAfter = headerValue(headers["retry-after"]);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#kept !== undefined && this.#keptBytes < ERROR_DETAIL_BYTES) {
      const slice = chunk.subarray(0, ERROR_DETAIL_BYTES - this.#keptBytes);
      this.#kept.push(slice);
      this.#keptBytes += slice.length;
    }
    this.#total += chunk.length;
    if (this.#total > DRAIN_LIMIT_BYTES) {
      // Enough: close the connection rather than drain an unbounded body.
      this.#finish();
      controller.abort(enoughRead());
    }
  }

  onResponseEnd(): void {
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.#failed(err);
  }
}

export function createHttpSink(options: HttpSinkOptions): HttpSink {
  const now = options.now ?? Date.now;
  const agent = new Agent({
    connections: options.connections,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
    headersTimeout: options.requestTimeoutMs,
    bodyTimeout: options.requestTimeoutMs,
    connect: guardedConnector({
      timeoutMs: Math.min(options.requestTimeoutMs, 10_000),
      allow: options.endpointAllow,
      lookup: options.lookup,
    }),
  });

  const deliver = (req: SinkRequest, attempt: AttemptOptions): Promise<DeliveryResult> =>
    new Promise<DeliveryResult>((resolve) => {
      const handler = new Attempt(attempt.timeoutMs, now, resolve);
      let origin: string;
      let path: string;
      try {
        // As undici's request() does: an invalid URL or a non-HTTP protocol is a terminal error.
        const url = new URL(req.url);
        if (url.protocol !== "http:" && url.protocol !== "https:") {
          throw new errors.InvalidArgumentError(
            "Invalid URL protocol: the URL must start with `http:` or `https:`.",
          );
        }
        origin = url.origin;
        // The path as built (SinkRequest.url): URL parsing would turn `%2E` segments back into
        // dot-segments and drop them. Other URLs (not from the builder) go as URL parses them.
        path =
          req.url.startsWith(origin) && req.url.charCodeAt(origin.length) === 0x2f
            ? req.url.slice(origin.length)
            : `${url.pathname}${url.search}`;
      } catch (err) {
        handler.onResponseError(null, err as Error);
        return;
      }
      agent.dispatch(
        { origin, path, method: req.method, headers: req.headers, body: req.body ?? null },
        handler,
      );
    });

  return { deliver, close: () => agent.close() };
}
