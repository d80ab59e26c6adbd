// Small text conversions shared by the validators: comma-separated lists and the scalar values
// (string, number, boolean) that configuration maps hold as strings.
import { ValidationError } from "./errors.ts";

/** The entries of a comma-separated list, each trimmed, empty ones dropped. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

/**
 * A string, finite number or boolean as the text a configuration value holds. Throws
 * ValidationError for anything else, naming the value by `subject` (`option "group.id"`).
 */
export function scalarText(value: unknown, subject: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new ValidationError(`${subject} must be a string, a number or a boolean`);
}
