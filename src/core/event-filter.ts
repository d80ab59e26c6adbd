// Lambda event filtering for Kafka records (`FilterCriteria`), as the event source mapping applies
// it and the local event source emulates it: a record is delivered when any pattern matches its
// `value` — a JSON value's fields, or a plain string. Patterns are validated up front with clear
// messages. The grammar is the documented one: nested objects, and at the leaves arrays of
// matchers — literals (string, number, null), `prefix`, `suffix`, `equals-ignore-case`,
// `anything-but`, `numeric` comparisons, `exists` — and `$or` lists of sub-patterns.
import { ValidationError } from "./errors.ts";

/** A validated pattern: the JSON object the mapping receives as a filter's `Pattern`. */
export type FilterPattern = Readonly<Record<string, unknown>>;

/** Filters per event source mapping (AWS's default quota). */
export const MAX_FILTERS = 5;
/** Characters of one pattern's JSON (AWS's limit on `Pattern`). */
export const MAX_PATTERN_CHARS = 4096;

const NUMERIC_OPERATORS = new Set(["=", "<", "<=", ">", ">="]);

type Scalar = string | number | null;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === "string" || typeof value === "number";
}

function fail(where: string, message: string): never {
  throw new ValidationError(`filter pattern ${where}: ${message}`);
}

function checkNumeric(where: string, spec: unknown): void {
  if (!Array.isArray(spec) || spec.length === 0 || spec.length > 4 || spec.length % 2 !== 0) {
    fail(where, `"numeric" takes one or two comparisons, like ["=", 100] or [">", 0, "<=", 5]`);
  }
  for (let i = 0; i < spec.length; i += 2) {
    const operator = spec[i];
    if (typeof operator !== "string" || !NUMERIC_OPERATORS.has(operator)) {
      fail(where, `"numeric" operators are =, <, <=, >, >=`);
    }
    if (typeof spec[i + 1] !== "number" || !Number.isFinite(spec[i + 1])) {
      fail(where, `"numeric" compares with numbers`);
    }
  }
}

function checkMatcher(where: string, matcher: unknown): void {
  if (isScalar(matcher)) return;
  if (!isPlainObject(matcher)) fail(where, "a matcher is a string, a number, null or an object");
  const keys = Object.keys(matcher);
  if (keys.length !== 1) fail(where, "a matcher object has exactly one operator");
  const [operator] = keys as [string];
  const operand = matcher[operator];
  switch (operator) {
    case "prefix":
    case "suffix":
    case "equals-ignore-case":
      if (typeof operand !== "string") fail(where, `"${operator}" takes a string`);
      return;
    case "exists":
      if (typeof operand !== "boolean") fail(where, `"exists" takes true or false`);
      return;
    case "numeric":
      checkNumeric(where, operand);
      return;
    case "anything-but": {
      if (isScalar(operand)) return;
      if (Array.isArray(operand)) {
        if (operand.length === 0 || !operand.every(isScalar)) {
          fail(where, `"anything-but" takes a value, a list of values or {"prefix": "..."}`);
        }
        return;
      }
      if (isPlainObject(operand) && Object.keys(operand).length === 1) {
        const inner = Object.keys(operand)[0] as string;
        if ((inner === "prefix" || inner === "suffix") && typeof operand[inner] === "string")
          return;
      }
      fail(where, `"anything-but" takes a value, a list of values or {"prefix": "..."}`);
      break;
    }
    default:
      fail(where, `unknown operator "${operator}"`);
  }
}

function checkPattern(where: string, pattern: unknown, depth: number): void {
  if (!isPlainObject(pattern) || Object.keys(pattern).length === 0) {
    fail(where, "must be a non-empty object");
  }
  if (depth > 32) fail(where, "is nested too deeply");
  for (const [key, spec] of Object.entries(pattern)) {
    const at = `${where}.${key}`;
    if (key === "$or") {
      if (!Array.isArray(spec) || spec.length < 2)
        fail(at, `"$or" takes a list of two or more patterns`);
      for (const [i, sub] of spec.entries()) checkPattern(`${at}[${i}]`, sub, depth + 1);
    } else if (Array.isArray(spec)) {
      if (spec.length === 0) fail(at, "a list of matchers must not be empty");
      for (const matcher of spec) checkMatcher(at, matcher);
    } else if (isPlainObject(spec)) {
      checkPattern(at, spec, depth + 1);
    } else {
      fail(at, "must be a list of matchers or a nested object");
    }
  }
}

/**
 * Validates a filter option's text: one pattern object, or a list of up to five. Each must
 * filter on `value` only (what Kafka event source mappings support). Returns the patterns.
 */
export function parseFilterPatterns(text: string): FilterPattern[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError(
      `option "lambda.filter.patterns" must be JSON: a pattern like {"value": {"type": ["order"]}} or a list of them`,
    );
  }
  const patterns = Array.isArray(parsed) ? parsed : [parsed];
  if (patterns.length === 0 || patterns.length > MAX_FILTERS) {
    throw new ValidationError(
      `option "lambda.filter.patterns" takes 1 to ${MAX_FILTERS} patterns, got ${patterns.length}`,
    );
  }
  patterns.forEach((pattern, i) => {
    const where = patterns.length > 1 ? `[${i}]` : "";
    checkPattern(where || "(root)", pattern, 0);
    const keys = Object.keys(pattern as object);
    if (keys.some((key) => key !== "value")) {
      fail(where || "(root)", `Kafka records are filtered on "value" only, like {"value": {...}}`);
    }
    if (JSON.stringify(pattern).length > MAX_PATTERN_CHARS) {
      fail(where || "(root)", `is longer than ${MAX_PATTERN_CHARS} characters`);
    }
  });
  return patterns as FilterPattern[];
}

// ---- matching ----------------------------------------------------------------------------------

const ABSENT = Symbol("absent");
type Field = unknown | typeof ABSENT;

function numericMatches(spec: readonly unknown[], value: number): boolean {
  for (let i = 0; i < spec.length; i += 2) {
    const bound = spec[i + 1] as number;
    const ok =
      spec[i] === "="
        ? value === bound
        : spec[i] === "<"
          ? value < bound
          : spec[i] === "<="
            ? value <= bound
            : spec[i] === ">"
              ? value > bound
              : value >= bound;
    if (!ok) return false;
  }
  return true;
}

/** One matcher against one scalar of the record (arrays are matched element by element). */
function scalarMatches(matcher: unknown, value: unknown): boolean {
  if (isScalar(matcher)) return matcher === value;
  const [operator, operand] = Object.entries(matcher as Record<string, unknown>)[0] as [
    string,
    unknown,
  ];
  switch (operator) {
    case "prefix":
      return typeof value === "string" && value.startsWith(operand as string);
    case "suffix":
      return typeof value === "string" && value.endsWith(operand as string);
    case "equals-ignore-case":
      return typeof value === "string" && value.toLowerCase() === (operand as string).toLowerCase();
    case "numeric":
      return typeof value === "number" && numericMatches(operand as unknown[], value);
    case "anything-but": {
      if (isPlainObject(operand)) {
        const [inner, text] = Object.entries(operand)[0] as [string, string];
        if (typeof value !== "string") return true;
        return inner === "prefix" ? !value.startsWith(text) : !value.endsWith(text);
      }
      const excluded = Array.isArray(operand) ? operand : [operand];
      return !excluded.includes(value as Scalar);
    }
    default:
      return false;
  }
}

function leafMatches(matchers: readonly unknown[], field: Field): boolean {
  return matchers.some((matcher) => {
    if (isPlainObject(matcher) && "exists" in matcher) {
      return matcher.exists === (field !== ABSENT);
    }
    if (field === ABSENT) return false;
    const values = Array.isArray(field) ? field : [field];
    return values.some((value) => scalarMatches(matcher, value));
  });
}

function patternMatches(pattern: Readonly<Record<string, unknown>>, target: Field): boolean {
  for (const [key, spec] of Object.entries(pattern)) {
    if (key === "$or") {
      if (!(spec as Array<Record<string, unknown>>).some((sub) => patternMatches(sub, target))) {
        return false;
      }
      continue;
    }
    const field: Field = isPlainObject(target) && Object.hasOwn(target, key) ? target[key] : ABSENT;
    const ok = Array.isArray(spec)
      ? leafMatches(spec, field)
      : patternMatches(spec as Record<string, unknown>, field);
    if (!ok) return false;
  }
  return true;
}

/** What a record's value is to filters: its JSON, or the plain string when it is not JSON. */
export function filterableValue(bytes: Uint8Array | null): unknown {
  if (bytes === null) return ABSENT;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Whether any of `patterns` lets the record with this value through. */
export function recordPasses(
  patterns: readonly FilterPattern[],
  value: Uint8Array | null,
): boolean {
  const record = { value: filterableValue(value) };
  const target = record.value === ABSENT ? {} : record;
  return patterns.some((pattern) => patternMatches(pattern, target));
}
