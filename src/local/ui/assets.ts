// The dashboard's files (index.html, app.js, style.css in this folder), as the admin server
// serves them under /ui: read once, with headers that keep the page to its own origin (no inline
// script, no framing by other sites, API calls to the same origin only).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface UiAsset {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const FILES: Record<string, { file: string; type: string }> = {
  "/ui": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/ui/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

let loaded: Map<string, string> | undefined;
const content = (file: string): string => {
  loaded ??= new Map(
    [...new Set(Object.values(FILES).map((f) => f.file))].map((name) => [
      name,
      readFileSync(join(import.meta.dirname, name), "utf8"),
    ]),
  );
  return loaded.get(file) ?? "";
};

const error = (status: number, message: string, extra: Record<string, string> = {}): UiAsset => ({
  status,
  headers: { "content-type": "application/json", ...extra },
  body: JSON.stringify({ message, restate_code: null }),
});

/** The answer for a request under /ui (GET or HEAD only), or undefined for any other path. */
export function uiAsset(method: string, pathname: string): UiAsset | undefined {
  if (pathname !== "/ui" && !pathname.startsWith("/ui/")) return undefined;
  const entry = FILES[pathname];
  if (!entry) return error(404, `no such page: ${pathname}`);
  if (method !== "GET" && method !== "HEAD") {
    return error(405, `${method} is not allowed on ${pathname}`, { allow: "GET, HEAD" });
  }
  return {
    status: 200,
    headers: { "content-type": entry.type, ...SECURITY_HEADERS },
    body: content(entry.file),
  };
}
