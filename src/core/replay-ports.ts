// The ports a dead-letter replay delivers through: a batch delivery for one subscription, and
// where the admin API gets one (the consumer function on AWS, the replay deliveries locally).
import type { DeadLetter } from "./dead-letters.ts";
import type { Subscription } from "./model.ts";
import type { BatchOptions, LetterOutcome } from "./replay-batch.ts";

/**
 * Delivers a batch of letters in order within `options.deadline` (letters may be `spilled` stubs:
 * the delivery reads them whole); one outcome per letter, in order.
 */
export type ReplayDelivery = (
  letters: readonly DeadLetter[],
  options: BatchOptions,
) => Promise<readonly LetterOutcome[]>;

/**
 * The delivery for one subscription's letters. Throws NotFoundError when its service is gone, or
 * ConflictError when it cannot be delivered to.
 */
export type ReplayDeliveryFor = (subscription: Subscription) => Promise<ReplayDelivery>;
