// The payload the admin function sends the consumer function to ask whether a sink secret's
// token may go to an endpoint, and the reply. On AWS only the consumer may read sink secrets, so
// the admin checks a service's `auth` against the secret's bound endpoints through it when the
// service is registered or changed; the reply says bound or why not, never anything of the value.
import * as z from "zod/mini";
import { InvalidCommandError } from "./errors.ts";
import { SECRET_ARN_PATTERN } from "./secrets.ts";
import { describeIssues } from "./zod-messages.ts";

/** Marks the payload; an event source mapping's event never has this field. */
export const TOKEN_CHECK_COMMAND = "kafka-ingress.check-sink-token";

export interface TokenCheckCommand {
  readonly secretRef: string;
  readonly endpoint: string;
}

/** `refusal`: the token may not go there (the rule, in words); `unreadable`: the secret cannot
 * be read or holds no usable token. */
export type TokenCheckReply =
  | { readonly bound: true }
  | { readonly bound: false; readonly refusal: string }
  | { readonly bound: false; readonly unreadable: string };

const wireCommand = z.object({
  command: z.literal(TOKEN_CHECK_COMMAND),
  secretRef: z.string().check(z.regex(SECRET_ARN_PATTERN)),
  endpoint: z.url({ protocol: /^https?$/ }),
});

const wireReply = z.union([
  z.object({ bound: z.literal(true) }),
  z.object({ bound: z.literal(false), refusal: z.string() }),
  z.object({ bound: z.literal(false), unreadable: z.string() }),
]);

export function isTokenCheckCommand(payload: unknown): boolean {
  return (
    typeof payload === "object" &&
    payload !== null &&
    (payload as { command?: unknown }).command === TOKEN_CHECK_COMMAND
  );
}

export const encodeTokenCheckCommand = (command: TokenCheckCommand): Record<string, unknown> => ({
  command: TOKEN_CHECK_COMMAND,
  secretRef: command.secretRef,
  endpoint: command.endpoint,
});

export function decodeTokenCheckCommand(payload: unknown): TokenCheckCommand {
  const parsed = wireCommand.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidCommandError(
      `invalid token check: ${describeIssues(parsed.error, "(payload)")}`,
    );
  }
  return { secretRef: parsed.data.secretRef, endpoint: parsed.data.endpoint };
}

export function decodeTokenCheckReply(payload: unknown): TokenCheckReply {
  const parsed = wireReply.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidCommandError(
      `invalid token check reply: ${describeIssues(parsed.error, "(payload)")}`,
    );
  }
  return parsed.data;
}
