// Which admin requests may be read at all, as pure checks on their headers: JSON bodies only
// (browsers send text/plain, form and multipart bodies to any site without asking) and, for the
// local API, only requests that name it by its own address from no foreign web origin.
import { quote } from "./uris.ts";

/**
 * `application/json` or `application/<x>+json`, with any parameters; a `charset`, when given,
 * must be UTF-8 (bodies are decoded as UTF-8).
 */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [type = "", ...parameters] = value.split(";");
  const media = type.trim().toLowerCase();
  if (media !== "application/json" && !/^application\/[a-z0-9.!#$&^_-]+\+json$/.test(media)) {
    return false;
  }
  return parameters.every((parameter) => {
    const [name = "", ...rest] = parameter.split("=");
    if (name.trim().toLowerCase() !== "charset") return true;
    const charset = rest
      .join("=")
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .toLowerCase();
    return charset === "utf-8" || charset === "utf8";
  });
}

/** The names a local API answers to, and its port. Names are lower case, IPv6 in brackets. */
export interface LocalAddressPolicy {
  readonly port: number;
  readonly names: ReadonlySet<string>;
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/** `::1` → `[::1]`; names and IPv4 addresses lower-cased as they are. */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  return lower.includes(":") && !lower.startsWith("[") ? `[${lower}]` : lower;
}

export const isWildcardHost = (host: string): boolean => WILDCARD_HOSTS.has(hostName(host));

/**
 * The names requests may give the API: the loopback names, the address it listens on (for a
 * wildcard address, `machineAddresses` instead: the machine's own interface addresses) and the
 * names explicitly allowed.
 */
export function localAddressNames(
  listenHost: string,
  allowed: readonly string[],
  machineAddresses: readonly string[],
): Set<string> {
  const listen = isWildcardHost(listenHost) ? machineAddresses : [listenHost];
  return new Set([...LOOPBACK_NAMES, ...listen, ...allowed].map(hostName));
}

/** `name[:port]` or `[v6][:port]` as (name, port); undefined when it is neither. */
function parseHostHeader(value: string): { name: string; port: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!match?.[1]) return undefined;
  return { name: hostName(match[1]), port: match[2] === undefined ? 80 : Number(match[2]) };
}

function describe(policy: LocalAddressPolicy): string {
  return [...policy.names].map((name) => `${name}:${policy.port}`).join(", ");
}

/**
 * Why a request to the local API must be refused (a 403 message), or undefined when it may go
 * on. `Host` must name the API (a rebinding DNS name does not); an `Origin` must be the API's
 * own (`http://<name>:<port>`); a browser's `Sec-Fetch-Site` must say the request is not from
 * another site. Clients outside browsers (curl, the Restate CLI, fetch in Node) send no
 * `Origin` and pass.
 */
export function refuseForeignRequest(
  headers: {
    readonly host?: string | undefined;
    readonly origin?: string | undefined;
    readonly "sec-fetch-site"?: string | undefined;
  },
  policy: LocalAddressPolicy,
): string | undefined {
  const host = headers.host === undefined ? undefined : parseHostHeader(headers.host);
  if (host === undefined || host.port !== policy.port || !policy.names.has(host.name)) {
    const given = headers.host === undefined ? "no Host header" : `Host ${quote(headers.host)}`;
    return (
      `${given} does not name this API (${describe(policy)}); ` +
      "to reach it by another name, start the stack with --allow-host <name>"
    );
  }
  if (headers.origin !== undefined && !isOwnOrigin(headers.origin, policy)) {
    return `cross-origin requests are refused (Origin ${quote(headers.origin)})`;
  }
  const site = headers["sec-fetch-site"]?.trim().toLowerCase();
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return `cross-site requests are refused (Sec-Fetch-Site ${quote(site)})`;
  }
  return undefined;
}

function isOwnOrigin(origin: string, policy: LocalAddressPolicy): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed pages, file://) and anything malformed
  }
  const port = url.port === "" ? 80 : Number(url.port);
  return (
    url.protocol === "http:" &&
    url.origin === origin.trim().toLowerCase().replace(/:80$/, "") &&
    port === policy.port &&
    policy.names.has(hostName(url.hostname))
  );
}
