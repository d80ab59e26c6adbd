// Which service endpoints requests may go to (the consumer and replays send requests to them, so
// an endpoint is a server-side request target). Pure: URL text or an address in, a reason out.
//
// Always refused: link-local addresses (169.254.0.0/16, fe80::/10) — which hold the cloud
// metadata services at 169.254.169.254 — AWS's IPv6 metadata range fd00:ec2::/32, the unspecified
// addresses (0.0.0.0/8, ::), which reach this host, and those addresses embedded in IPv6 forms
// (IPv4-mapped, -compatible and -translated, NAT64 64:ff9b::/96 and 64:ff9b:1::/48), plus
// metadata host names. With an allow-list (`SERVICE_ENDPOINT_ALLOW`), only hosts matching one of
// its patterns pass.
//
// Two moments use it: the admin API checks an endpoint as written when it is registered
// (refusedEndpoint), and the HTTP sink checks the host against the allow-list as configured now
// and every address it actually connects to (refusedHost, refusedAddress), which is what catches
// names that resolve to a refused address (`169.254.169.254.nip.io`, DNS rebinding).
import { ValidationError } from "./errors.ts";
import { splitList } from "./text.ts";

export interface HostPattern {
  /** Lower-case host without a trailing dot; IPv6 in brackets as URL.hostname gives it. */
  readonly host: string;
  /** `*.example.com`: any name below example.com (not example.com itself). `*`: any host. */
  readonly wildcard: boolean;
  /** Required port, or undefined for any port. */
  readonly port?: number | undefined;
}

export type EndpointAllowList = readonly HostPattern[];

/** Names of cloud metadata services (GCP, and AWS's `instance-data` in EC2's DNS). */
const REFUSED_NAMES = new Set([
  "metadata.google.internal",
  "metadata.goog",
  "metadata",
  "instance-data",
]);

const normaliseHost = (host: string): string => host.toLowerCase().replace(/\.+$/, "");

/**
 * Parses a comma-separated list of host patterns: `host`, `host:port`, `*.domain`,
 * `*.domain:port`, `[ipv6]`, `[ipv6]:port`, `*`. Throws ValidationError naming a bad entry.
 */
export function parseEndpointAllowList(text: string): EndpointAllowList {
  const patterns: HostPattern[] = [];
  for (const entry of splitList(text)) {
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
      port,
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

/** The 8 groups of an IPv6 address, with or without brackets, compressed or not. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  if (!text.includes(":")) return undefined;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded dotted IPv4 tail (URL rewrites it to hex, node:net does not).
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

// Reasons are phrases that follow "is".
function refusedV4(o: readonly number[]): string | undefined {
  if (isLinkLocalV4(o)) {
    return "a link-local address (169.254.0.0/16, where cloud metadata services live)";
  }
  if (o[0] === 0) return "an unspecified address (0.0.0.0/8, which reaches this host)";
  return undefined;
}

/** Bytes 0..15 of an address given as 8 groups. */
const bytesOf = (g: readonly number[]): number[] => g.flatMap((x) => [x >> 8, x & 0xff]);

/**
 * IPv4 addresses an IPv6 address may stand for. `local`: forms this host's kernel dials as IPv4
 * itself — IPv4-mapped (::ffff:a.b.c.d), -compatible (::a.b.c.d) and -translated
 * (::ffff:0:a.b.c.d). Otherwise NAT64, which a translator on the way turns into IPv4: the
 * well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48, whose operators may use any
 * RFC 6052 prefix length from /48 on, so each possible position is a candidate.
 */
function embeddedV4(g: readonly number[]): { v4: number[]; local: boolean }[] {
  const b = bytesOf(g);
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const tail = b.slice(12, 16);
  if (zero(0, 5) && g[5] === 0xffff) return [{ v4: tail, local: true }];
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return [{ v4: tail, local: true }];
  // IPv4-compatible, but not ::1 (loopback) and the rest of ::/104, which embed no address.
  if (zero(0, 6) && tail[0] !== 0) return [{ v4: tail, local: true }];
  if (g[0] !== 0x64 || g[1] !== 0xff9b) return [];
  if (zero(2, 6)) return [{ v4: tail, local: false }];
  if (g[2] !== 1) return [];
  // RFC 6052 §2.2: the IPv4 bits skip byte 8 (the "u" octet).
  return [
    [b[6], b[7], b[9], b[10]], // /48
    [b[7], b[9], b[10], b[11]], // /56
    [b[9], b[10], b[11], b[12]], // /64
    tail, // /96
  ].map((o) => ({ v4: o.map((x) => x ?? 0), local: false }));
}

/** Why an IPv6 address (as 8 groups) is refused, or undefined. */
function refusedV6(g: readonly number[]): string | undefined {
  if (g.every((x) => x === 0)) return "the unspecified address (::, which reaches this host)";
  if (((g[0] ?? 0) & 0xffc0) === 0xfe80) return "a link-local IPv6 address (fe80::/10)";
  if (g[0] === 0xfd00 && g[1] === 0x0ec2) return "in AWS's instance metadata range (fd00:ec2::/32)";
  for (const { v4, local } of embeddedV4(g)) {
    // Through NAT64 an unspecified address reaches no host (translators drop 0.0.0.0/8).
    const why = local || isLinkLocalV4(v4) ? refusedV4(v4) : undefined;
    if (why !== undefined) return `an IPv6 form of ${v4.join(".")}, ${why}`;
  }
  return undefined;
}

/**
 * Why a connection to this IP address is refused (a phrase to follow "is", such as "a link-local
 * address (...)"), or undefined when it is not, or when `address` is not an IP address. IPv4
 * dotted, IPv6 with or without brackets, as node:net and URL.hostname write them.
 */
export function refusedAddress(address: string): string | undefined {
  const v4 = ipv4Octets(address);
  if (v4) return refusedV4(v4);
  const g = ipv6Groups(address);
  return g ? refusedV6(g) : undefined;
}

/**
 * A link-local address or 0.0.0.0 spelled into a name, as wildcard DNS services resolve them
 * (`169.254.169.254.nip.io`, `app-169-254-169-254.sslip.io`); the rest of 0.0.0.0/8 would also
 * match version-like names. Not every such name can be spotted (hex forms, private zones): the
 * sink's connect-time check is what stops them.
 */
function namedAddress(host: string): string | undefined {
  const spelled = /(?:^|[.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?=$|[.-])/g;
  for (let m = spelled.exec(host); m !== null; m = spelled.exec(host)) {
    spelled.lastIndex = m.index + 1; // overlapping: "1.169.254.169.254" holds two candidates
    const address = m.slice(1, 5).join(".");
    const o = ipv4Octets(address);
    const why = o && (isLinkLocalV4(o) || address === "0.0.0.0") ? refusedV4(o) : undefined;
    if (why !== undefined) return `a name for ${address}, ${why}`;
  }
  return undefined;
}

const isMetadataName = (host: string): boolean =>
  REFUSED_NAMES.has(host) || /^instance-data\.[a-z0-9.-]*internal$/.test(host);

const defaultPort = (protocol: string): number => (protocol === "https:" ? 443 : 80);

function matches(pattern: HostPattern, host: string, port: number): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  if (pattern.wildcard) {
    return pattern.host === "" || host.endsWith(`.${pattern.host}`);
  }
  return host === pattern.host;
}

/**
 * Why a connection to `host` (a name or an address, IPv6 with or without brackets) on `port` is
 * refused by the refused names or the allow-list, as a phrase to follow "is"; undefined when it may
 * go ahead (the addresses it connects to still need refusedAddress).
 */
export function refusedHost(
  host: string,
  port: number,
  allow: EndpointAllowList | undefined,
): string | undefined {
  let name = normaliseHost(host);
  if (name.includes(":") && !name.startsWith("[")) name = `[${name}]`;
  if (isMetadataName(name)) return "a cloud metadata service";
  if (allow === undefined || allow.some((pattern) => matches(pattern, name, port))) {
    return undefined;
  }
  return "not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)";
}

/**
 * Why the endpoint URL is refused (a phrase to follow the field name), or undefined when it is
 * acceptable. A URL that does not parse is left to the schema (undefined here). Checks the name
 * as written; where it resolves to is checked when the sink connects.
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
  const port = url.port === "" ? defaultPort(url.protocol) : Number(url.port);
  const why = refusedAddress(host) ?? namedAddress(host) ?? refusedHost(host, port, allow);
  return why === undefined ? undefined : `is ${why}`;
}
