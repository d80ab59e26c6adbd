// How zod's validation issues read in our errors. zod/mini (used for its tree-shakable API, which
// keeps the consumer bundle small) carries no messages of its own: load the English ones once, so
// that errors say "expected number, received string" rather than "Invalid input". Only the
// English locale is imported, not the whole set.
import { config, type core } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

/** An issue's path as JavaScript would write it after `root`: `event.records["t-0"][3].key`. */
export function issuePath(path: ReadonlyArray<PropertyKey>, root = ""): string {
  let out = root;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_$][\w$]*$/.test(part)) {
      out += out ? `.${part}` : part;
    } else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

/** Every issue as `<dotted.path>: <message>`, joined by "; "; `whole` names an issue of the input itself. */
export function describeIssues(error: core.$ZodError, whole: string): string {
  return error.issues.map((i) => `${i.path.join(".") || whole}: ${i.message}`).join("; ");
}
