// Replaying and discarding dead letters (for the admin API). A parked key is replayed in offset
// order; once every letter behind it is delivered (or discarded) it is unparked, conditionally on
// its version: if the consumer parked more letters behind it meanwhile, they are handled in the
// next round, so per-key order holds and the key then flows normally again.
import type { DeadLetter, DeadLetterRef } from "../core/dead-letters.ts";
import { ConflictError } from "../core/errors.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";

/** What became of one replayed record. */
export type ReplayOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Delivers one letter's record (with retries as the caller sees fit); `letter` may be a stub
 * (`spilled`): the delivery reads it whole. */
export type ReplayDelivery = (letter: DeadLetter) => Promise<ReplayOutcome>;

export interface ReplayResult {
  /** Letters delivered and removed. */
  readonly delivered: number;
  /** Letters removed without delivery (discard). */
  readonly discarded: number;
  /** True when the key is no longer parked. */
  readonly unparked: boolean;
  /** Where replay stopped, when it did: that letter and the ones after it stay parked. */
  readonly stoppedAt?: { readonly ref: DeadLetterRef; readonly reason: string };
}

const MAX_ROUNDS = 10;

async function lettersOfKey(
  store: DeadLetterStore,
  subscriptionId: string,
  keyId: string,
): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(subscriptionId, {
      parkedKey: keyId,
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    letters.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return letters.sort((a, b) => a.offset - b.offset);
}

async function drainKey(
  store: DeadLetterStore,
  subscriptionId: string,
  keyId: string,
  deliver: ReplayDelivery | undefined,
): Promise<ReplayResult> {
  let delivered = 0;
  let discarded = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const parked = await store.getParkedKey(subscriptionId, keyId);
    const letters = await lettersOfKey(store, subscriptionId, keyId);
    for (const letter of letters) {
      const ref = { partitionId: letter.partitionId, offset: letter.offset };
      if (deliver !== undefined) {
        const result = await deliver(letter);
        if (!result.ok) {
          return {
            delivered,
            discarded,
            unparked: false,
            stoppedAt: { ref, reason: result.reason },
          };
        }
      }
      await store.remove(subscriptionId, [letter]);
      if (deliver !== undefined) delivered++;
      else discarded++;
    }
    if (parked === undefined) return { delivered, discarded, unparked: true };
    try {
      await store.unpark(subscriptionId, keyId, parked.version);
      return { delivered, discarded, unparked: true };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // More letters were parked behind the key meanwhile: another round.
    }
  }
  return { delivered, discarded, unparked: false };
}

/** Delivers a parked key's letters in offset order, removing each once delivered, then unparks. */
export function replayParkedKey(
  store: DeadLetterStore,
  subscriptionId: string,
  keyId: string,
  deliver: ReplayDelivery,
): Promise<ReplayResult> {
  return drainKey(store, subscriptionId, keyId, deliver);
}

/** Removes a parked key's letters without delivering them, then unparks it. */
export function discardParkedKey(
  store: DeadLetterStore,
  subscriptionId: string,
  keyId: string,
): Promise<ReplayResult> {
  return drainKey(store, subscriptionId, keyId, undefined);
}

/**
 * Replays individual letters (terminal ones, or exhausted ones under key policy `skip`) in the
 * order given. Letters that park a key are refused: replay their key instead.
 */
export async function replayLetters(
  store: DeadLetterStore,
  subscriptionId: string,
  refs: readonly DeadLetterRef[],
  deliver: ReplayDelivery,
): Promise<ReplayResult> {
  let delivered = 0;
  for (const ref of refs) {
    const letter = await store.get(subscriptionId, ref);
    if (letter === undefined) continue;
    if (letter.parksKey !== undefined) {
      const reason = `the letter is behind parked key ${letter.parksKey}: replay the key`;
      return { delivered, discarded: 0, unparked: false, stoppedAt: { ref, reason } };
    }
    const result = await deliver(letter);
    if (!result.ok) {
      return {
        delivered,
        discarded: 0,
        unparked: false,
        stoppedAt: { ref, reason: result.reason },
      };
    }
    await store.remove(subscriptionId, [letter]);
    delivered++;
  }
  return { delivered, discarded: 0, unparked: false };
}
