import { errors } from "undici";
import { describe, expect, it } from "vitest";
import { classifyError } from "../../src/adapters/http-sink.ts";

const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("classifyError", () => {
  it.each([
    [new errors.ConnectTimeoutError(), "UND_ERR_CONNECT_TIMEOUT"],
    [new errors.HeadersTimeoutError(), "UND_ERR_HEADERS_TIMEOUT"],
    [new errors.BodyTimeoutError(), "UND_ERR_BODY_TIMEOUT"],
    [new errors.SocketError("other side closed"), "UND_ERR_SOCKET"],
    [withCode("ECONNREFUSED"), "ECONNREFUSED"],
    [withCode("ECONNRESET"), "ECONNRESET"],
    [withCode("ENOTFOUND"), "ENOTFOUND"],
  ])("%s is retryable with its code in the reason", (err, code) => {
    const result = classifyError(err);
    expect(result.kind).toBe("retryable");
    expect("reason" in result && result.reason).toContain(code);
  });

  it("reads codes inside AggregateError (happy eyeballs) and causes", () => {
    const aggregate = new AggregateError([withCode("ECONNREFUSED")], "connect failed");
    expect(classifyError(aggregate)).toMatchObject({
      kind: "retryable",
      reason: expect.stringContaining("ECONNREFUSED"),
    });
    const wrapped = new Error("fetch failed", { cause: withCode("ECONNRESET") });
    expect(classifyError(wrapped)).toMatchObject({
      kind: "retryable",
      reason: expect.stringContaining("ECONNRESET"),
    });
  });

  it("an AbortSignal timeout is a retryable timeout", () => {
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(classifyError(timeout, 250)).toEqual({
      kind: "retryable",
      reason: "timeout after 250 ms",
    });
  });

  it("errors in the request itself are terminal; unknown errors are retried", () => {
    expect(classifyError(new errors.InvalidArgumentError("invalid header")).kind).toBe("terminal");
    expect(classifyError(new Error("surprise"))).toEqual({
      kind: "retryable",
      reason: "unexpected error: surprise",
    });
  });
});
