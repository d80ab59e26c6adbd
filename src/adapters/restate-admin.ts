// Reads a Restate admin API (`GET /services`, `GET /version`) for `POST /services/import`.
// The admin URL comes from an API caller, so this is a server-side request forgery surface: only
// http/https URLs without credentials, GET only, no redirects followed, a timeout and a cap on
// the response size, and errors that say what went wrong (status, timeout, refused) without
// echoing what the remote server answered.

import { RestateAdminError } from "../core/errors.ts";
import type { RestateAdminReader } from "../core/restate-import.ts";

export interface RestateAdminClientOptions {
  /** Per request (default 5 s). */
  readonly timeoutMs?: number;
  /** Largest response accepted (default 4 MiB). */
  readonly maxResponseBytes?: number;
  /** Test seam. */
  readonly fetch?: typeof fetch;
}

/** Checks that `url` is an absolute http(s) URL without credentials; returns it without trailing '/'. */
export function restateAdminBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RestateAdminError(`Restate admin URL is not an absolute URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new RestateAdminError(`Restate admin URL must be http:// or https://`);
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new RestateAdminError(
      `Restate admin URL must not carry credentials, a query or a fragment`,
    );
  }
  return parsed.href.replace(/\/+$/, "");
}

const causeOf = (error: unknown): string => {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === "string") return cause.code;
  return "connection failed";
};

async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > max) throw new Error("too large");
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new Error("too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function createRestateAdminClient(
  options: RestateAdminClientOptions = {},
): RestateAdminReader {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxResponseBytes ?? 4 * 1024 * 1024;
  const doFetch = options.fetch ?? fetch;

  async function getJson(adminUrl: string, path: string): Promise<unknown> {
    const url = `${restateAdminBase(adminUrl)}${path}`;
    const what = `GET ${url}`;
    let response: Response;
    try {
      response = await doFetch(url, {
        method: "GET",
        headers: { accept: "application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw new RestateAdminError(`${what}: no answer within ${timeoutMs} ms`);
      }
      throw new RestateAdminError(
        `${what}: cannot reach the Restate admin API (${causeOf(error)})`,
      );
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => {});
      throw new RestateAdminError(
        `${what}: answered a redirect (${response.status}); not followed`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new RestateAdminError(
        `${what}: answered ${response.status}; is this a Restate admin API (port 9070 by default)?`,
      );
    }
    let text: string;
    try {
      text = await readCapped(response, maxBytes);
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw new RestateAdminError(`${what}: no complete answer within ${timeoutMs} ms`);
      }
      throw new RestateAdminError(`${what}: the answer is larger than ${maxBytes} bytes`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new RestateAdminError(
        `${what}: the answer is not JSON; is this a Restate admin API (port 9070 by default)?`,
      );
    }
  }

  return {
    listServices: (adminUrl) => getJson(adminUrl, "/services"),
    async ingressEndpoint(adminUrl) {
      const version = (await getJson(adminUrl, "/version")) as { ingress_endpoint?: unknown };
      const endpoint = version?.ingress_endpoint;
      return typeof endpoint === "string" && endpoint.length > 0 ? endpoint : undefined;
    },
  };
}
