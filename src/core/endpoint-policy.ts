// Which service endpoints the admin API accepts (the consumer and the admin Lambda send requests
// to them, so an endpoint is a server-side request target). Pure: URL text in, a reason out.
//
// Always refused: link-local addresses (169.254.0.0/16, fe80::/10, also when embedded in an
// IPv4-mapped or NAT64 IPv6 address) — which hold the cloud metadata services at 169.254.169.254
// — AWS's IPv6 metadata range fd00:ec2::/32 (fd00:ec2::254) and metadata.google.internal.
// With an allow-list (`SERVICE_ENDPOINT_ALLOW`), only hosts matching one of its patterns pass.
//
// Out of scope: DNS. A name is checked as written, not as resolved, so a name that resolves to a
// refused address (or DNS rebinding) is not caught here; use the allow-list and network egress
// rules for that.
import { ValidationError } from "./errors.ts";

export interface HostPattern {
  /** Lower-case host without a trailing dot; IPv6 in brackets as URL.hostname gives it. */
  readonly host: string;
  /** `*.example.com`: any name below example.com (not example.com itself). `*`: any host. */
  readonly wildcard: boolean;
  /** Required port, or undefined for any port. */
  readonly port?: number;
}

export type EndpointAllowList = readonly HostPattern[];

const REFUSED_NAMES = new Set(["metadata.google.internal"]);

const normaliseHost = (host: string): string => host.toLowerCase().replace(/\.+$/, "");

/**
 * Parses a comma-separated list of host patterns: `host`, `host:port`, `*.domain`,
 * `*.domain:port`, `[ipv6]`, `[ipv6]:port`, `*`. Throws ValidationError naming a bad entry.
 */
export function parseEndpointAllowList(text: string): EndpointAllowList {
  const patterns: HostPattern[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const bad = () =>
      new ValidationError(
        `bad host pattern ${JSON.stringify(entry)}: use host, host:port, *.domain or [ipv6]:port`,
      );
    if (entry === "*") {
      patterns.push({ host: "", wildcard: true });
      continue;
    }
    const wildcard = entry.startsWith("*.");
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(
      wildcard ? entry.slice(2) : entry,
    );
    if (!match?.[1] || (wildcard && match[1].startsWith("["))) throw bad();
    let url: URL;
    try {
      url = new URL(`http://${match[1]}`); // normalises IPv4 and IPv6 forms as endpoints are
    } catch {
      throw bad();
    }
    const port = match[2] === undefined ? undefined : Number(match[2]);
    if (port !== undefined && (port < 1 || port > 65_535)) throw bad();
    if (normaliseHost(url.hostname) === "") throw bad();
    patterns.push({
      host: normaliseHost(url.hostname),
      wildcard,
      ...(port === undefined ? {} : { port }),
    });
  }
  return patterns;
}

// ---- addresses --------------------------------------------------------------------------------

function ipv4Octets(host: string): number[] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!match) return undefined;
  const octets = match.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The 8 groups of an IPv6 address as URL.hostname writes it (`[...]`, compressed, lower-case). */
function ipv6Groups(hostname: string): number[] | undefined {
  if (!hostname.startsWith("[") || !hostname.endsWith("]")) return undefined;
  let text = hostname.slice(1, -1);
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded dotted IPv4 tail (URL normally rewrites it to hex, but be lenient).
  const dotted = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted?.[1] !== undefined && dotted[2] !== undefined) {
    const o = ipv4Octets(dotted[2]);
    if (!o) return undefined;
    text = `${dotted[1]}${((o[0] ?? 0) * 256 + (o[1] ?? 0)).toString(16)}:${((o[2] ?? 0) * 256 + (o[3] ?? 0)).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] | undefined => {
    if (part === undefined || part === "") return [];
    const groups = part.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN));
    return groups.some(Number.isNaN) ? undefined : groups;
  };
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...Array<number>(missing).fill(0), ...tail];
}

const isLinkLocalV4 = (o: readonly number[]): boolean => o[0] === 169 && o[1] === 254;

/** Why an address host is refused, or undefined. */
function refusedAddress(hostname: string): string | undefined {
  const v4 = ipv4Octets(hostname);
  if (v4) {
    return isLinkLocalV4(v4)
      ? "is a link-local address (169.254.0.0/16, where cloud metadata services live)"
      : undefined;
  }
  const g = ipv6Groups(hostname);
  if (!g) return undefined;
  if (((g[0] ?? 0) & 0xffc0) === 0xfe80) return "is a link-local IPv6 address (fe80::/10)";
  if (g[0] === 0xfd00 && g[1] === 0x0ec2) {
    return "is in AWS's instance metadata range (fd00:ec2::/32)";
  }
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
  const mapped = g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (mapped || nat64) {
    const embedded = [(g[6] ?? 0) >> 8, (g[6] ?? 0) & 0xff, (g[7] ?? 0) >> 8, (g[7] ?? 0) & 0xff];
    if (isLinkLocalV4(embedded)) {
      return "embeds a link-local IPv4 address (169.254.0.0/16, where cloud metadata services live)";
    }
  }
  return undefined;
}

const defaultPort = (protocol: string): number => (protocol === "https:" ? 443 : 80);

function matches(pattern: HostPattern, host: string, port: number): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  if (pattern.wildcard) {
    return pattern.host === "" || host.endsWith(`.${pattern.host}`);
  }
  return host === pattern.host;
}

/**
 * Why the endpoint URL is refused (a phrase to follow the field name), or undefined when it is
 * acceptable. A URL that does not parse is left to the schema (undefined here).
 */
export function refusedEndpoint(
  endpoint: string,
  allow: EndpointAllowList | undefined,
): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  const host = normaliseHost(url.hostname);
  if (REFUSED_NAMES.has(host)) return "is a cloud metadata service";
  const address = refusedAddress(host);
  if (address !== undefined) return address;
  if (allow === undefined) return undefined;
  const port = url.port === "" ? defaultPort(url.protocol) : Number(url.port);
  if (allow.some((pattern) => matches(pattern, host, port))) return undefined;
  return "is not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)";
}
