// Routing from the payload: when the Kafka key is not the right one, a keyed sink's object key —
// and, for any sink, the idempotency key — can come from the record's JSON value, named by an
// RFC 6901 JSON pointer (`object.key.pointer: /customer/id`). A routed object key is the key for
// everything the Kafka key would be: the request path, the lanes that keep order, and the keys
// that park behind a dead letter. A record where a pointer finds no string or number is terminal
// with a reason that names the pointer.
import { ValidationError } from "./errors.ts";
import type { DecodedEvent, DecodedRecord } from "./event.ts";
import { quote } from "./uris.ts";

export const OPTION_OBJECT_KEY_POINTER = "object.key.pointer";
export const OPTION_IDEMPOTENCY_KEY_POINTER = "idempotency.key.pointer";
export const ROUTING_OPTIONS: readonly string[] = [
  OPTION_OBJECT_KEY_POINTER,
  OPTION_IDEMPOTENCY_KEY_POINTER,
];

/** Longest idempotency key taken from a value: keys are headers, and Restate stores them. */
export const MAX_ROUTED_IDEMPOTENCY_KEY_CHARS = 256;

/** Where a record's keys come from, as parsed pointers (reference tokens). */
export interface Routing {
  readonly objectKey?: readonly string[];
  readonly idempotencyKey?: readonly string[];
  /** The option texts, for reasons. */
  readonly texts: { readonly objectKey?: string; readonly idempotencyKey?: string };
}

/** The reference tokens of an RFC 6901 pointer; ValidationError when it is not one. */
export function parsePointer(option: string, text: string): string[] {
  if (!text.startsWith("/") || text.length > 1024 || /~[^01]|~$/.test(text)) {
    throw new ValidationError(
      `option ${quote(option)} must be a JSON pointer into the record's value, like "/customer/id" (RFC 6901: "~1" for '/', "~0" for '~'), got ${quote(text)}`,
    );
  }
  return text
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The normal form of a routing option, or undefined when `key` is not one. */
export function normaliseRoutingOption(key: string, value: string): string | undefined {
  if (!ROUTING_OPTIONS.includes(key)) return undefined;
  parsePointer(key, value);
  return value;
}

export function routingOf(options: Readonly<Record<string, string>>): Routing | undefined {
  const objectKey = options[OPTION_OBJECT_KEY_POINTER];
  const idempotencyKey = options[OPTION_IDEMPOTENCY_KEY_POINTER];
  if (objectKey === undefined && idempotencyKey === undefined) return undefined;
  return {
    ...(objectKey !== undefined
      ? { objectKey: parsePointer(OPTION_OBJECT_KEY_POINTER, objectKey) }
      : {}),
    ...(idempotencyKey !== undefined
      ? { idempotencyKey: parsePointer(OPTION_IDEMPOTENCY_KEY_POINTER, idempotencyKey) }
      : {}),
    texts: {
      ...(objectKey !== undefined ? { objectKey } : {}),
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    },
  };
}

/**
 * Whether the options' routing fits the sink: an object key only for keyed sinks, and pointers
 * only into JSON values.
 */
export function checkRouting(
  options: Readonly<Record<string, string>>,
  sink: { readonly keyed: boolean; readonly input: "json" | "binary"; readonly name: string },
): void {
  const routing = routingOf(options);
  if (!routing) return;
  if (routing.objectKey && !sink.keyed) {
    throw new ValidationError(
      `option "object.key.pointer" is for virtual objects and workflows; ${sink.name} is a service, which takes no key`,
    );
  }
  if (sink.input !== "json") {
    throw new ValidationError(
      `options "object.key.pointer" and "idempotency.key.pointer" read the record's JSON value; ${sink.name} takes raw bytes ("input": "binary")`,
    );
  }
}

function resolve(value: unknown, tokens: readonly string[]): unknown {
  let current: unknown = value;
  for (const token of tokens) {
    if (Array.isArray(current) && /^(0|[1-9]\d*)$/.test(token)) current = current[Number(token)];
    else if (typeof current === "object" && current !== null && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else return undefined;
  }
  return current;
}

function keyText(found: unknown): string | undefined {
  if (typeof found === "string") return found;
  if (typeof found === "number" && Number.isFinite(found)) return String(found);
  return undefined;
}

const describe = (found: unknown): string =>
  found === undefined
    ? "nothing"
    : found === null
      ? "null"
      : Array.isArray(found)
        ? "an array"
        : typeof found === "object"
          ? "an object"
          : typeof found === "boolean"
            ? "a boolean"
            : "an unusable number";

/** The keys `routing` finds in one record's value (parsed once for both pointers). */
export function routeRecord(record: DecodedRecord, routing: Routing): DecodedRecord {
  if (record.decodeError !== undefined) return record;
  let value: unknown;
  try {
    value =
      record.value === null
        ? undefined
        : JSON.parse(
            Buffer.from(
              record.value.buffer,
              record.value.byteOffset,
              record.value.byteLength,
            ).toString("utf8"),
          );
  } catch {
    value = undefined;
  }
  const keys: { objectKey?: string; idempotencyKey?: string; failure?: string } = {};
  const take = (tokens: readonly string[], text: string, what: "objectKey" | "idempotencyKey") => {
    const found = resolve(value, tokens);
    const key = keyText(found);
    if (key === undefined || key.length === 0) {
      keys.failure ??= `${what === "objectKey" ? "object.key.pointer" : "idempotency.key.pointer"} ${quote(text)} finds ${key === "" ? "an empty string" : describe(found)} in the value (it needs a string or a number)`;
      return;
    }
    if (what === "idempotencyKey" && key.length > MAX_ROUTED_IDEMPOTENCY_KEY_CHARS) {
      keys.failure ??= `idempotency.key.pointer ${quote(text)} finds ${key.length} characters; the limit is ${MAX_ROUTED_IDEMPOTENCY_KEY_CHARS}`;
      return;
    }
    keys[what] = key;
  };
  if (routing.objectKey) take(routing.objectKey, routing.texts.objectKey ?? "", "objectKey");
  if (routing.idempotencyKey) {
    take(routing.idempotencyKey, routing.texts.idempotencyKey ?? "", "idempotencyKey");
  }
  return { ...record, routed: keys };
}

/** Every record of the event routed. */
export function routeEvent(event: DecodedEvent, routing: Routing): DecodedEvent {
  return {
    ...event,
    partitions: event.partitions.map((partition) => ({
      ...partition,
      records: partition.records.map((record) => routeRecord(record, routing)),
    })),
  };
}

const utf8 = new TextEncoder();

/**
 * The bytes that key a record's lane and its parked key: the routed object key when routing set
 * one, else the Kafka key.
 */
export function laneKeyBytes(record: DecodedRecord): Uint8Array | null {
  const routed = record.routed?.objectKey;
  return routed !== undefined ? utf8.encode(routed) : record.key;
}
