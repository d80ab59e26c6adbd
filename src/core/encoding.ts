// Base64 in its uses: record bytes as the event source carries them, the record key as Restate's
// Kafka ingress sends it (URL-safe alphabet, padded), strict decoding of untrusted input, and
// opaque JSON tokens (page cursors) in base64url.

// With the length a multiple of 4, "alphabet, then at most two '='" is exactly canonical base64
// structure. A flat character-class loop: the grouped form `(?:[...]{4})*` keeps one backtracking
// frame per quad and overflows the stack on values of a few MB (RangeError, failing the batch).
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 of `bytes`, read in place (no copy of the underlying buffer). */
export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * URL-safe base64 with `=` padding (RFC 4648 §5 alphabet, padded as §4): how Restate's own Kafka
 * ingress writes `kafka.key`, so a handler decodes the key the same way whichever feeds it.
 */
export function bytesToBase64UrlPadded(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replaceAll("+", "-").replaceAll("/", "_");
}

/** The bytes of base64 we wrote ourselves (lenient: characters outside the alphabet are skipped). */
export function base64ToBytes(text: string): Buffer {
  return Buffer.from(text, "base64");
}

/** Strict base64 (standard alphabet, canonical padding); `undefined` when not valid. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return Buffer.from(text, "base64");
}

/** The UTF-8 text that `text` is the base64 of. */
export function base64ToUtf8(text: string): string {
  return Buffer.from(text, "base64").toString("utf8");
}

/** An opaque token carrying `value`: its JSON in base64url (safe in a query string). */
export function encodeJsonToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** What `encodeJsonToken` carried; throws SyntaxError when `token` holds no JSON. */
export function decodeJsonToken(token: string): unknown {
  return JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
}
