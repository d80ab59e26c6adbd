// The consumer's side of a token check (core/token-check-command.ts): read the secret afresh and
// say whether its token may go to the endpoint, or why not, never anything of the value.

import { SecretUnavailableError } from "../core/errors.ts";
import { type SecretResolver, sinkTokenCheck } from "../core/secrets.ts";
import { decodeTokenCheckCommand, type TokenCheckReply } from "../core/token-check-command.ts";

/** Runs one token check. Throws InvalidCommandError for a payload it cannot read. */
export function createTokenCheckRunner(
  secrets: SecretResolver | undefined,
): (payload: unknown) => Promise<TokenCheckReply> {
  const check = secrets ? sinkTokenCheck(secrets) : undefined;
  return async (payload) => {
    const { secretRef, endpoint } = decodeTokenCheckCommand(payload);
    if (secrets === undefined || check === undefined) {
      return {
        bound: false,
        unreadable: `secret ${secretRef} cannot be read: no secret resolver here`,
      };
    }
    // A binding just changed by the secret's owner is seen now, not after the cache time.
    secrets.forget?.(secretRef);
    try {
      const refusal = await check(secretRef, endpoint);
      return refusal === undefined ? { bound: true } : { bound: false, refusal };
    } catch (error) {
      if (error instanceof SecretUnavailableError)
        return { bound: false, unreadable: error.message };
      throw error;
    }
  };
}
