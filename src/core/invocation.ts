// Builds the HTTP request that invokes the sink handler for one record (SPEC §4): the Restate
// ingress path scheme, Restate's Kafka metadata headers, an idempotency key, and the record's own
// Kafka headers forwarded under a reserved, collision-free prefix.
import { bytesToBase64, bytesToBase64UrlPadded } from "./encoding.ts";
import type { DecodedRecord, SchemaMetadata } from "./event.ts";
import type { InvocationMode, PayloadFormat, ServiceDefinition, Subscription } from "./model.ts";
import { fingerprintHex, recordFingerprint } from "./record-identity.ts";

/** Everything about the sink that is the same for every record of a batch. */
export interface SinkTarget {
  readonly subscriptionId: string;
  /** Base URL, may carry a path prefix (`https://gw.example.com/restate`). */
  readonly endpoint: string;
  readonly service: string;
  readonly handler: string;
  readonly keyed: boolean;
  readonly invocation: InvocationMode;
  readonly input: PayloadFormat;
  /** `authorization` header value (`Bearer <token>`) when the service declares `auth`. Never
   * logged: it lives only in requests. */
  readonly authorization?: string | undefined;
}

export interface SinkRequest {
  readonly method: "POST";
  /**
   * Origin (as URL parsing writes it) followed by the path exactly as it is to be sent: segments
   * are encoded, and `%2E` segments must not be normalised away (see pathSegment).
   */
  readonly url: string;
  /** Lower-case names. A name forwarded from repeated Kafka headers maps to several values. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** Undefined for a tombstone (no body, no content-type). */
  readonly body: Uint8Array | undefined;
}

/**
 * Record headers are forwarded as:
 * - `kafka.header.<name>: <value>` when the value is printable ASCII (0x20–0x7E) without leading or
 *   trailing space — what survives every HTTP stack unchanged;
 * - `kafka.header-b64.<name>: <base64 of the value bytes>` otherwise (binary, control characters,
 *   non-ASCII UTF-8: HTTP header values are not UTF-8-safe, Node sends them as latin1).
 * `<name>` is the Kafka header name lower-cased (HTTP names are case-insensitive) with every
 * character that is not an RFC 9110 token character, and `%` itself, percent-encoded as UTF-8
 * (`%xx`, lower-case hex, as receivers see names lower-cased): the HTTP name is always a valid
 * token and percent-decodes back to the lower-cased Kafka name.
 * A header name repeated in the record becomes a repeated HTTP header line, in record order.
 * Our own headers (`kafka.topic`, `kafka.key`, ...) never start with `kafka.header.` or
 * `kafka.header-b64.`, so forwarded headers cannot collide with them.
 */
export const FORWARDED_HEADER_PREFIX = "kafka.header.";
export const FORWARDED_HEADER_B64_PREFIX = "kafka.header-b64.";

/**
 * The idempotency key: `<subscription id>/<topic>/<partition>/<offset>/<fingerprint>`, the
 * fingerprint (record-identity.ts) as eight hex digits. Deterministic, so every redelivery of a
 * record (retry in the invocation, batch retried by the ESM, a dead-letter replay) carries the same
 * key and a Restate ingress runs the handler once; a different record at a reused offset (topic
 * recreated, consumer group reset) gets another key, so it is not dropped as a duplicate.
 * Subscription ids and Kafka topic names (`[a-zA-Z0-9._-]`, at most 249 chars) are printable ASCII,
 * so the key is a valid header value, never empty and at most ~310 bytes. Restate scopes
 * idempotency keys per target (service, handler, object key), which only narrows collisions
 * further.
 */
export function idempotencyKey(subscriptionId: string, record: DecodedRecord): string {
  // Taken from the value (`idempotency.key.pointer`): the same business id is one invocation,
  // whatever offset carries it. Percent-encoded, so that any text is a valid header value.
  const routed = record.routed?.idempotencyKey;
  if (routed !== undefined) return `${subscriptionId}/${encodeURIComponent(routed)}`;
  const fingerprint = fingerprintHex(recordFingerprint(record));
  return `${subscriptionId}/${record.topic}/${record.partition}/${record.offset}/${fingerprint}`;
}

const TOKEN_CHAR = /[!#$&'*+\-.^_`|~0-9a-z]/;
const utf8Encoder = new TextEncoder();

/** Lower-cased Kafka header name made into an HTTP token by percent-encoding (see above). */
export function headerNameToken(name: string): string {
  const lower = name.toLowerCase();
  if (/^[!#$&'*+\-.^_`|~0-9a-z]*$/.test(lower)) return lower;
  let out = "";
  for (const ch of lower) {
    if (TOKEN_CHAR.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of utf8Encoder.encode(ch)) {
      out += `%${byte.toString(16).padStart(2, "0")}`;
    }
  }
  return out;
}

function isPlainHeaderValue(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (n > 0 && (bytes[0] === 0x20 || bytes[n - 1] === 0x20)) return false;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b < 0x20 || b > 0x7e) return false;
  }
  return true;
}

/**
 * Most bytes the forwarded Kafka headers may take in a request (names + values + 4 bytes of
 * `: ` and CRLF per line, as sent on HTTP/1.1). 8 KiB leaves room for our own headers under the
 * 16 KiB total header size that Node's HTTP server (and many proxies) accept by default: a larger
 * header block would be answered 431 and the record would fail for good.
 */
export const MAX_FORWARDED_HEADER_BYTES = 8 * 1024;
/** Set to `true` when forwarded Kafka headers were dropped to stay within the cap. */
export const HEADERS_TRUNCATED_HEADER = "kafka.headers-truncated";

/**
 * The header entries forwarding a record's own Kafka headers, in record order, as long as they fit
 * in `maxBytes`: from the first one that does not fit, it and all later ones are dropped (a
 * prefix, so a repeated name never loses a middle value) and `truncated` is true.
 */
export function forwardedHeaders(
  headers: ReadonlyArray<readonly [string, Uint8Array]>,
  maxBytes: number = Number.POSITIVE_INFINITY,
): { entries: Array<[string, string]>; truncated: boolean } {
  const entries: Array<[string, string]> = [];
  let used = 0;
  for (const [name, value] of headers) {
    const token = headerNameToken(name);
    const entry: [string, string] = isPlainHeaderValue(value)
      ? [FORWARDED_HEADER_PREFIX + token, Buffer.from(value).toString("latin1")]
      : [FORWARDED_HEADER_B64_PREFIX + token, bytesToBase64(value)];
    // Names are tokens and values latin1 / base64: one byte per character.
    used += entry[0].length + entry[1].length + 4;
    if (used > maxBytes) return { entries, truncated: true };
    entries.push(entry);
  }
  return { entries, truncated: false };
}

/** W3C Trace Context `traceparent`: version, trace id, parent id, flags (lower-case hex). */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** `tracestate`: list members of printable ASCII, at most 512 characters (W3C Trace Context). */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/**
 * The record's trace context as the HTTP headers of the same names, so that Restate (and any
 * OpenTelemetry-aware endpoint) continues the producer's trace: the first `traceparent` Kafka
 * header that is a valid W3C value, and with it the first valid `tracestate`. Names match
 * case-insensitively; invalid values are left to the `kafka.header.*` copies only.
 */
export function traceContextHeaders(headers: ReadonlyArray<readonly [string, Uint8Array]>): {
  traceparent?: string;
  tracestate?: string;
} {
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  for (const [name, bytes] of headers) {
    const lower = name.toLowerCase();
    if (lower !== "traceparent" && lower !== "tracestate") continue;
    const value = Buffer.from(bytes).toString("latin1").trim();
    if (lower === "traceparent" && traceparent === undefined && TRACEPARENT.test(value)) {
      traceparent = value;
    } else if (lower === "tracestate" && tracestate === undefined && TRACESTATE.test(value)) {
      tracestate = value;
    }
  }
  if (traceparent === undefined) return {};
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

function trimTrailingSlashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x2f) end--;
  return s.slice(0, end);
}

/**
 * One path segment: percent-encoded as `encodeURIComponent` does, and `.` / `..` (which it leaves
 * alone) as `%2E` / `%2E%2E`. Otherwise URL parsers and proxies remove them as dot-segments
 * (RFC 3986 §5.2.4): key `..` of object `Obj` would reach `/add` instead of `/Obj/../add`, and
 * leave the endpoint's path prefix. Restate decodes `%2E` back to `.`, so the object key is the
 * record key. Only these two segments are dot-segments; other dots stay as they are.
 */
export function pathSegment(text: string): string {
  if (text === ".") return "%2E";
  if (text === "..") return "%2E%2E";
  return encodeURIComponent(text);
}

/** Bytes the object key takes in the request path (what MAX_KEY_URL_BYTES limits). */
export const objectKeyPathBytes = (key: string): number => pathSegment(key).length;

/**
 * The endpoint as origin + path prefix (no trailing `/`), written the way URL parsing writes it.
 * The request URL is this text followed by encoded segments, so the HTTP sink can send the path
 * as written: parsing the whole URL again would turn `%2E` segments back into dot-segments.
 */
function canonicalBase(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.origin}${trimTrailingSlashes(url.pathname)}`;
  } catch {
    return trimTrailingSlashes(endpoint); // stored endpoints parse; the sink refuses the rest
  }
}

/** Where a subscription's records go: its service's endpoint and handler, as `mode` delivers. */
export function sinkTarget(
  subscription: Pick<Subscription, "id" | "handler">,
  service: ServiceDefinition,
  /** `deliveryMode(...)` of core/plan.ts (which builds on this module, so not imported here). */
  mode: { readonly keyed: boolean; readonly input: PayloadFormat },
  authorization?: string,
): SinkTarget {
  return {
    authorization,
    subscriptionId: subscription.id,
    endpoint: service.endpoint,
    service: service.name,
    handler: subscription.handler,
    keyed: mode.keyed,
    invocation: service.invocation,
    input: mode.input,
  };
}

/** Printable ASCII without spaces: what a schema id or format may be to become a header value. */
const HEADER_TOKEN_VALUE = /^[\x21-\x7e]{1,256}$/;

/**
 * `kafka.<part>.schema.id` and `kafka.<part>.schema.format` for a part the event source decoded
 * with a schema registry (the writer schema's id and `AVRO` / `PROTOBUF` / `JSON`).
 */
function addSchemaHeaders(
  headers: Record<string, string | string[]>,
  part: "key" | "value",
  schema: SchemaMetadata,
): void {
  if (schema.schemaId !== undefined && HEADER_TOKEN_VALUE.test(schema.schemaId)) {
    headers[`kafka.${part}.schema.id`] = schema.schemaId;
  }
  if (schema.dataFormat !== undefined && HEADER_TOKEN_VALUE.test(schema.dataFormat)) {
    headers[`kafka.${part}.schema.format`] = schema.dataFormat;
  }
}

/** Precomputes what is common to every request of a batch; `build` is then cheap per record. */
export function createRequestBuilder(
  target: SinkTarget,
  options: { readonly maxForwardedHeaderBytes?: number } = {},
): (record: DecodedRecord, objectKey?: string) => SinkRequest {
  const maxForwardedHeaderBytes = options.maxForwardedHeaderBytes ?? MAX_FORWARDED_HEADER_BYTES;
  const base = `${canonicalBase(target.endpoint)}/${pathSegment(target.service)}/`;
  const suffix = `${pathSegment(target.handler)}${target.invocation === "send" ? "/send" : ""}`;
  const contentType = target.input === "json" ? "application/json" : "application/octet-stream";

  return (record, objectKey) => {
    if (target.keyed && objectKey === undefined) {
      throw new Error("a keyed sink needs an object key"); // planBatch never lets this happen
    }
    const url = target.keyed ? `${base}${pathSegment(objectKey ?? "")}/${suffix}` : base + suffix;
    const headers: Record<string, string | string[]> = {
      "restate.subscription.id": target.subscriptionId,
      "kafka.topic": record.topic,
      "kafka.partition": String(record.partition),
      "kafka.offset": String(record.offset),
      "kafka.timestamp": String(record.timestamp),
      "idempotency-key": idempotencyKey(target.subscriptionId, record),
    };
    if (record.key !== null) headers["kafka.key"] = bytesToBase64UrlPadded(record.key);
    if (record.keySchema) addSchemaHeaders(headers, "key", record.keySchema);
    if (record.valueSchema) addSchemaHeaders(headers, "value", record.valueSchema);
    if (record.value !== null) headers["content-type"] = contentType;
    if (target.authorization !== undefined) headers.authorization = target.authorization;
    if (record.headers.length === 0)
      return { method: "POST", url, headers, body: record.value ?? undefined };
    Object.assign(headers, traceContextHeaders(record.headers));
    const forwarded = forwardedHeaders(record.headers, maxForwardedHeaderBytes);
    if (forwarded.truncated) headers[HEADERS_TRUNCATED_HEADER] = "true";
    for (const [name, value] of forwarded.entries) {
      const existing = headers[name];
      if (existing === undefined) headers[name] = value;
      else if (Array.isArray(existing)) existing.push(value);
      else headers[name] = [existing, value];
    }
    return { method: "POST", url, headers, body: record.value ?? undefined };
  };
}
