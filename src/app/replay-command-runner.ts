// The consumer's side of a replay: it receives one record of a dead letter from the admin function
// (see core/replay-command.ts), looks the subscription and its service up in its own catalog and
// delivers the record as a replay (the consumer's request builder, sink and bearer tokens).
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { type Logger, logJson } from "../core/outcome.ts";
import type { CatalogReader } from "../core/ports.ts";
import { decodeReplayCommand, type ReplayReply } from "../core/replay-command.ts";
import type { ReplayDeliveries } from "./replay-delivery.ts";

export interface ReplayCommandDeps {
  readonly catalog: Pick<CatalogReader, "getSubscription">;
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
    if (command.record === undefined) return { ok: true };
    const outcome = await deliver(command.record);
    const { topic, partition, offset } = command.record;
    logJson(deps.log, {
      level: outcome.ok ? "info" : "warn",
      msg: outcome.ok ? "dead letter replayed" : "dead letter replay failed",
      subscription: subscription.id,
      record: `${topic}-${partition}@${offset}`,
      ...(outcome.ok ? {} : { reason: outcome.reason }),
    });
    return outcome;
  };
}
