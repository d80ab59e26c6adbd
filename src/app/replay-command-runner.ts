// The consumer's side of a replay: the admin function names a batch of dead letters (see
// core/replay-command.ts); the consumer reads the subscription, its service and each letter from
// its own stores and delivers them in order as a replay (the consumer's request builder, sink and
// tokens), within the time the command carries, answering with one result per letter.
import type { DeadLetterRef } from "../core/dead-letters.ts";
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { type Logger, logJson } from "../core/outcome.ts";
import type { CatalogReader } from "../core/ports.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";
import { deliverInOrder } from "../core/replay-batch.ts";
import {
  DEFAULT_REPLAY_BUDGET_MS,
  decodeReplayCommand,
  type ReplayReply,
} from "../core/replay-command.ts";
import type { LetterDelivery, ReplayDeliveries } from "./replay-delivery.ts";

export interface ReplayCommandDeps {
  readonly catalog: Pick<CatalogReader, "getSubscription">;
  /** Where the letters are; without it, commands naming letters are refused. */
  readonly deadLetters: Pick<DeadLetterStore, "get"> | undefined;
  /** Replay deliveries whose attempts take at most `requestTimeoutMs` (default: the consumer's). */
  readonly replays: (requestTimeoutMs?: number) => Pick<ReplayDeliveries, "letterDelivery">;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * Runs one replay command; `remainingMs` is what the invocation may still take (the command's
 * budget is cut to it). Throws InvalidCommandError for a payload it cannot read.
 */
export function createReplayCommandRunner(
  deps: ReplayCommandDeps,
): (payload: unknown, remainingMs?: number) => Promise<ReplayReply> {
  const now = deps.now ?? Date.now;
  return async (payload, remainingMs) => {
    const startedAt = now();
    const command = decodeReplayCommand(payload);
    const store = deps.deadLetters;
    if (command.letters !== undefined && store === undefined) {
      return { refused: "conflict", message: "this consumer has no dead-letter store" };
    }
    const subscription = await deps.catalog.getSubscription(command.subscriptionId);
    if (subscription === undefined) {
      return { refused: "not_found", message: `subscription ${command.subscriptionId} not found` };
    }
    let deliver: LetterDelivery;
    try {
      deliver = await deps.replays(command.requestTimeoutMs).letterDelivery(subscription);
    } catch (error) {
      if (error instanceof NotFoundError) return { refused: "not_found", message: error.message };
      if (error instanceof ConflictError) return { refused: "conflict", message: error.message };
      throw error;
    }
    if (command.letters === undefined || store === undefined) return { ok: true };
    const budget = command.budgetMs ?? DEFAULT_REPLAY_BUDGET_MS;
    const deadline = startedAt + Math.min(budget, remainingMs ?? budget);
    const outcomes = await deliverInOrder(
      command.letters,
      async (ref: DeadLetterRef) => {
        const letter = await store.get(subscription.id, ref);
        return letter === undefined ? { outcome: "gone" } : deliver(letter, deadline);
      },
      { ordered: command.ordered ?? false, deadline, now },
    );
    const results = command.letters.map((ref, index) => ({
      partitionId: ref.partitionId,
      offset: ref.offset,
      ...(outcomes[index] ?? { outcome: "deferred" as const }),
    }));
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    const failures = results.flatMap((r) =>
      r.outcome === "failed" ? [`${r.partitionId}@${r.offset}: ${r.reason}`] : [],
    );
    logJson(deps.log, {
      level: failures.length > 0 ? "warn" : "info",
      msg: "dead letters replayed",
      subscription: subscription.id,
      delivered: count("delivered"),
      failed: failures.length,
      deferred: count("deferred"),
      ...(failures.length > 0 ? { failures: failures.slice(0, 5) } : {}),
    });
    return { results };
  };
}
