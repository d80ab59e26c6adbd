// The consumer's side of a replay: the admin function names one dead letter (see
// core/replay-command.ts); the consumer reads the subscription, its service and the letter from
// its own stores and delivers it as a replay (the consumer's request builder, sink and tokens).
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { type Logger, logJson } from "../core/outcome.ts";
import type { CatalogReader } from "../core/ports.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";
import { decodeReplayCommand, type ReplayReply } from "../core/replay-command.ts";
import type { ReplayDeliveries } from "./replay-delivery.ts";

export interface ReplayCommandDeps {
  readonly catalog: Pick<CatalogReader, "getSubscription">;
  /** Where the letters are; without it, commands naming a letter are refused. */
  readonly deadLetters: Pick<DeadLetterStore, "get"> | undefined;
  /** Replay deliveries whose attempts take at most `requestTimeoutMs` (default: the consumer's). */
  readonly replays: (requestTimeoutMs?: number) => Pick<ReplayDeliveries, "forSubscription">;
  readonly log: Logger;
}

/** Runs one replay command. Throws InvalidReplayCommandError for a payload it cannot read. */
export function createReplayCommandRunner(
  deps: ReplayCommandDeps,
): (payload: unknown) => Promise<ReplayReply> {
  return async (payload) => {
    const command = decodeReplayCommand(payload);
    if (command.letter !== undefined && deps.deadLetters === undefined) {
      return { refused: "conflict", message: "this consumer has no dead-letter store" };
    }
    const subscription = await deps.catalog.getSubscription(command.subscriptionId);
    if (subscription === undefined) {
      return { refused: "not_found", message: `subscription ${command.subscriptionId} not found` };
    }
    let deliver: Awaited<ReturnType<ReplayDeliveries["forSubscription"]>>;
    try {
      deliver = await deps.replays(command.requestTimeoutMs).forSubscription(subscription);
    } catch (error) {
      if (error instanceof NotFoundError) return { refused: "not_found", message: error.message };
      if (error instanceof ConflictError) return { refused: "conflict", message: error.message };
      throw error;
    }
    if (command.letter === undefined || deps.deadLetters === undefined) return { ok: true };
    const { partitionId, offset } = command.letter;
    const letter = await deps.deadLetters.get(subscription.id, command.letter);
    const outcome =
      letter === undefined
        ? { ok: false as const, reason: `dead letter ${partitionId}@${offset} no longer exists` }
        : await deliver(letter);
    logJson(deps.log, {
      level: outcome.ok ? "info" : "warn",
      msg: outcome.ok ? "dead letter replayed" : "dead letter replay failed",
      subscription: subscription.id,
      letter: `${partitionId}@${offset}`,
      ...(outcome.ok ? {} : { reason: outcome.reason }),
    });
    return outcome;
  };
}
