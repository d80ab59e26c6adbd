// Replaying or discarding a subscription's dead letters for one admin request, page by page and
// in batches, within one deadline; memory holds one page of letters at a time.
import { type DeadLetter, type DeadLetterRef, letterRef } from "../core/dead-letters.ts";
import { ConflictError } from "../core/errors.ts";
import { chunks } from "../core/lists.ts";
import type { DeadLetterStore } from "../core/reliability-ports.ts";
import {
  type AllCursor,
  type LetterBatchDelivery,
  MIN_REPLAY_START_MS,
  REPLAY_BATCH_SIZE,
  REPLAY_PAGE_SIZE,
} from "../core/replay.ts";

/** A letter that could not be replayed, and why. */
export interface DrainFailure {
  readonly keyId?: string;
  readonly ref: DeadLetterRef;
  readonly reason: string;
}

/** What one replay or discard request did. */
export interface DrainTally {
  delivered: number;
  discarded: number;
  failed: number;
  /** The first MAX_FAILURES_KEPT failures. */
  readonly failures: DrainFailure[];
  readonly unparked: string[];
  readonly stillParked: string[];
  /** Stopped at the deadline with work left: call again. */
  deferred: boolean;
}

const MAX_FAILURES_KEPT = 50;

export const newDrainTally = (): DrainTally => ({
  delivered: 0,
  discarded: 0,
  failed: 0,
  failures: [],
  unparked: [],
  stillParked: [],
  deferred: false,
});

/** One request's replay (with `deliver`) or discard (without). */
export interface DrainRun {
  readonly store: DeadLetterStore;
  readonly subscriptionId: string;
  readonly deliver: LetterBatchDelivery | undefined;
  /** Epoch ms (of `now`): nothing starts that could not finish before it. */
  readonly deadline: number;
  readonly now: () => number;
  readonly tally: DrainTally;
}

const timeUp = (run: DrainRun): boolean => run.deadline - run.now() < MIN_REPLAY_START_MS;

/**
 * Delivers (or discards) a batch and removes what got through. Returns the index of the first
 * letter left for a later call because the deadline came (undefined: none), and whether one
 * failed.
 */
async function settle(
  run: DrainRun,
  letters: readonly DeadLetter[],
  ordered: boolean,
  keyId?: string,
): Promise<{ readonly deferredAt?: number; readonly failed: boolean }> {
  if (letters.length === 0) return { failed: false };
  if (run.deliver === undefined) {
    await run.store.remove(run.subscriptionId, letters);
    run.tally.discarded += letters.length;
    return { failed: false };
  }
  if (timeUp(run)) {
    run.tally.deferred = true;
    return { deferredAt: 0, failed: false };
  }
  const outcomes = await run.deliver(letters, { ordered, deadline: run.deadline });
  const delivered = letters.filter((_, index) => outcomes[index]?.outcome === "delivered");
  if (delivered.length > 0) await run.store.remove(run.subscriptionId, delivered);
  run.tally.delivered += delivered.length;
  let deferredAt: number | undefined;
  let failed = false;
  letters.forEach((letter, index) => {
    const outcome = outcomes[index] ?? { outcome: "deferred" };
    if (outcome.outcome === "deferred") deferredAt ??= index;
    if (outcome.outcome !== "failed") return;
    failed = true;
    run.tally.failed++;
    if (run.tally.failures.length < MAX_FAILURES_KEPT) {
      run.tally.failures.push({
        ...(keyId === undefined ? {} : { keyId }),
        ref: letterRef(letter),
        reason: outcome.reason,
      });
    }
  });
  if (deferredAt !== undefined) run.tally.deferred = true;
  return deferredAt === undefined ? { failed } : { deferredAt, failed };
}

/**
 * Replays (or discards) a parked key's letters in offset order, in rounds: each takes what is
 * parked behind the key now, then unparks it conditionally on its version, so that if the
 * consumer parked more letters meanwhile another round takes them: per-key order holds, a key
 * that keeps parking still drains, and the key then flows normally again. Stops at the first
 * failure (the key stays parked), or at the deadline.
 */
export async function drainKey(
  run: DrainRun,
  keyId: string,
): Promise<"unparked" | "failed" | "deferred"> {
  const end = await drainRounds(run, keyId);
  (end === "unparked" ? run.tally.unparked : run.tally.stillParked).push(keyId);
  return end;
}

async function drainRounds(
  run: DrainRun,
  keyId: string,
): Promise<"unparked" | "failed" | "deferred"> {
  const { store, subscriptionId } = run;
  for (;;) {
    if (timeUp(run)) {
      run.tally.deferred = true;
      return "deferred";
    }
    const parked = await store.getParkedKey(subscriptionId, keyId);
    let cursor: string | undefined;
    do {
      if (timeUp(run)) {
        run.tally.deferred = true;
        return "deferred";
      }
      const page = await store.list(subscriptionId, {
        parkedKey: keyId,
        limit: REPLAY_PAGE_SIZE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const batch of chunks(page.items, REPLAY_BATCH_SIZE)) {
        const result = await settle(run, batch, true, keyId);
        if (result.deferredAt !== undefined) return "deferred";
        if (result.failed) return "failed";
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    if (parked !== undefined) {
      try {
        await store.unpark(subscriptionId, keyId, parked.version);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        continue; // more letters were parked behind the key meanwhile: another round
      }
    }
    return "unparked";
  }
}

/**
 * Replays one letter that parks no key (a terminal one, or one exhausted under key policy
 * `skip`). Letters behind a parked key are refused: replay their key instead.
 */
export async function replayLetter(run: DrainRun, letter: DeadLetter): Promise<void> {
  if (letter.parksKey !== undefined) {
    run.tally.failed++;
    run.tally.failures.push({
      ref: letterRef(letter),
      reason: `the letter is behind parked key ${letter.parksKey}: replay the key`,
    });
    return;
  }
  await settle(run, [letter], false);
}

/**
 * Replays (or discards) every letter, from `from` on: each parked key (in id order, each in
 * offset order), then the letters behind no parked key, in batches. Returns where to go on when
 * the deadline stopped it, undefined when it got to the end.
 */
export async function drainAll(
  run: DrainRun,
  from: AllCursor = { phase: "keys" },
): Promise<AllCursor | undefined> {
  const { store, subscriptionId } = run;
  if (from.phase === "keys") {
    let afterKey = from.afterKey;
    for (;;) {
      if (timeUp(run)) {
        run.tally.deferred = true;
        return afterKey === undefined ? { phase: "keys" } : { phase: "keys", afterKey };
      }
      const page = await store.listParkedKeys(subscriptionId, {
        limit: REPLAY_PAGE_SIZE,
        ...(afterKey === undefined ? {} : { startAfter: afterKey }),
      });
      for (const key of page.items) {
        if ((await drainKey(run, key.id)) === "deferred") {
          return afterKey === undefined ? { phase: "keys" } : { phase: "keys", afterKey };
        }
        afterKey = key.id;
      }
      if (page.cursor === undefined || page.items.length === 0) break;
    }
  }

  let afterLetter = from.phase === "letters" ? from.afterLetter : undefined;
  const here = (): AllCursor =>
    afterLetter === undefined ? { phase: "letters" } : { phase: "letters", afterLetter };
  // Keys met in this walk: parked ones were handled above (one parked since is left for the next
  // call), ones without a parked-key item are drained when their first letter comes.
  const keysSeen = new Set<string>();
  let free: DeadLetter[] = [];
  const flush = async (): Promise<boolean> => {
    const batch = free;
    free = [];
    const { deferredAt } = await settle(run, batch, false);
    if (deferredAt !== undefined) {
      const before = batch[deferredAt - 1];
      if (before !== undefined) afterLetter = letterRef(before);
      return false;
    }
    const last = batch.at(-1);
    if (last !== undefined) afterLetter = letterRef(last);
    return true;
  };
  for (;;) {
    if (timeUp(run)) {
      run.tally.deferred = true;
      return here();
    }
    const page = await store.list(subscriptionId, {
      limit: REPLAY_PAGE_SIZE,
      ...(afterLetter === undefined ? {} : { startAfter: afterLetter }),
    });
    for (const letter of page.items) {
      const keyId = letter.parksKey;
      if (keyId === undefined) {
        free.push(letter);
        if (free.length >= REPLAY_BATCH_SIZE && !(await flush())) return here();
        continue;
      }
      if (!(await flush())) return here();
      if (!keysSeen.has(keyId)) {
        keysSeen.add(keyId);
        const parked = await store.getParkedKey(subscriptionId, keyId);
        if (parked === undefined && (await drainKey(run, keyId)) === "deferred") {
          keysSeen.delete(keyId);
          return here();
        }
      }
      afterLetter = letterRef(letter);
    }
    if (!(await flush())) return here();
    if (page.cursor === undefined || page.items.length === 0) return undefined;
  }
}
