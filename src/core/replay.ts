// The pure parts of a dead-letter replay: what became of each letter, the loop that delivers a
// batch of them within one deadline (per-key order, stopping at the first failure), the ports a
// batch is delivered through, and the cursor a replay of all letters goes on from.
import type { DeadLetter, DeadLetterRef } from "./dead-letters.ts";
import { decodeJsonToken, encodeJsonToken } from "./encoding.ts";
import { ValidationError } from "./errors.ts";
import type { Subscription } from "./model.ts";

/** Letters named in one replay batch (one Invoke of the consumer function on AWS). */
export const REPLAY_BATCH_SIZE = 25;
/** Letters or parked keys read per store page while replaying or discarding. */
export const REPLAY_PAGE_SIZE = 100;
/** No delivery attempt (or batch) starts with less than this left before the deadline. */
export const MIN_REPLAY_START_MS = 250;

/**
 * What became of one letter of a batch:
 * - delivered: the sink took it (remove the letter);
 * - failed: it cannot be delivered now (terminal, or retryable attempts failed), with why;
 * - deferred: the deadline came first (not attempted, or its first attempt was cut short): it
 *   stays, and a later replay takes it;
 * - skipped: not attempted because an earlier letter of its key failed (per-key order);
 * - gone: no longer stored (replayed or discarded meanwhile).
 */
export type LetterOutcome =
  | { readonly outcome: "delivered" }
  | { readonly outcome: "failed"; readonly reason: string }
  | { readonly outcome: "deferred" }
  | { readonly outcome: "skipped" }
  | { readonly outcome: "gone" };

/** How one batch of letters is delivered. */
export interface LetterBatchOptions {
  /** Letters of one key: stop at the first failure (the rest are `skipped`). */
  readonly ordered: boolean;
  /** Epoch ms (of `now`) by which the batch must be done. */
  readonly deadline: number;
}

/**
 * Delivers `items` one after another, in the order given: once the deadline is too near to start
 * another, the rest are `deferred`; with `ordered`, the ones after a failure are `skipped`.
 * Returns one outcome per item, in order.
 */
export async function deliverInOrder<T>(
  items: readonly T[],
  deliverOne: (item: T) => Promise<LetterOutcome>,
  options: LetterBatchOptions & { readonly now: () => number },
): Promise<LetterOutcome[]> {
  const outcomes: LetterOutcome[] = [];
  let rest: LetterOutcome | undefined;
  for (const item of items) {
    if (rest === undefined && options.deadline - options.now() < MIN_REPLAY_START_MS) {
      rest = { outcome: "deferred" };
    }
    if (rest !== undefined) {
      outcomes.push(rest);
      continue;
    }
    const outcome = await deliverOne(item);
    outcomes.push(outcome);
    if (outcome.outcome === "deferred") rest = outcome;
    else if (outcome.outcome === "failed" && options.ordered) rest = { outcome: "skipped" };
  }
  return outcomes;
}

/**
 * The port a replay delivers through: delivers a batch of letters in order within
 * `options.deadline` (letters may be `spilled` stubs: the delivery reads them whole); one outcome
 * per letter, in order.
 */
export type LetterBatchDelivery = (
  letters: readonly DeadLetter[],
  options: LetterBatchOptions,
) => Promise<readonly LetterOutcome[]>;

/**
 * Opens the batch delivery for one subscription's letters (through the consumer function on AWS,
 * through the consumer's sink locally). Throws NotFoundError when its service is gone, or
 * ConflictError when it cannot be delivered to.
 */
export type LetterBatchDeliveryFactory = (
  subscription: Subscription,
) => Promise<LetterBatchDelivery>;

/** Where a replay (or discard) of all letters goes on: after this parked key, or this letter. */
export type AllCursor =
  | { readonly phase: "keys"; readonly afterKey?: string }
  | { readonly phase: "letters"; readonly afterLetter?: DeadLetterRef };

const KEY_ID = /^[A-Za-z0-9._-]{1,249}-\d{1,10}#(?:[A-Za-z0-9+/]+={0,2}|sha256:[0-9a-f]{64})$/;
const PARTITION_ID = /^[A-Za-z0-9._-]{1,249}-\d{1,10}$/;
const VARIANT = /^[0-9a-f]{8}$/;

export function encodeAllCursor(cursor: AllCursor): string {
  const wire =
    cursor.phase === "keys"
      ? { k: cursor.afterKey ?? "" }
      : {
          l: cursor.afterLetter
            ? [
                cursor.afterLetter.partitionId,
                cursor.afterLetter.offset,
                ...(cursor.afterLetter.variant === undefined ? [] : [cursor.afterLetter.variant]),
              ]
            : [],
        };
  return encodeJsonToken(wire);
}

/** Reads a cursor a caller sent back (untrusted). Throws ValidationError for anything else. */
export function decodeAllCursor(text: string): AllCursor {
  const invalid = () =>
    new ValidationError(`"cursor" is not a cursor this API returned for a replay of all letters`);
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(text)) throw invalid();
  let wire: unknown;
  try {
    wire = decodeJsonToken(text);
  } catch {
    throw invalid();
  }
  if (typeof wire !== "object" || wire === null || Array.isArray(wire)) throw invalid();
  const fields = Object.keys(wire);
  if (fields.length !== 1) throw invalid();
  const { k, l } = wire as { k?: unknown; l?: unknown };
  if (typeof k === "string") {
    if (k === "") return { phase: "keys" };
    if (k.length <= 1024 && KEY_ID.test(k)) return { phase: "keys", afterKey: k };
    throw invalid();
  }
  if (Array.isArray(l)) {
    if (l.length === 0) return { phase: "letters" };
    const [partitionId, offset, variant] = l as unknown[];
    if (
      (l.length === 2 ||
        (l.length === 3 && typeof variant === "string" && VARIANT.test(variant))) &&
      typeof partitionId === "string" &&
      PARTITION_ID.test(partitionId) &&
      Number.isSafeInteger(offset) &&
      (offset as number) >= 0
    ) {
      const at = { partitionId, offset: offset as number };
      return {
        phase: "letters",
        afterLetter: typeof variant === "string" ? { ...at, variant } : at,
      };
    }
  }
  throw invalid();
}
