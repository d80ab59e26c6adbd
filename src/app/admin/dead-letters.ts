// Dead-letter handlers of a subscription: list its dead letters and parked keys, and replay or
// discard them (a parked key, one letter, or all) within one time budget per request, answering
// with what remains and, for all, a cursor to go on from.

import { discardBodySchema, parseBody, replayBodySchema } from "../../core/admin-schemas.ts";
import type { DeadLetter, DeadLetterRef, ParkedKey } from "../../core/dead-letters.ts";
import {
  ConflictError,
  NotFoundError,
  NotSupportedError,
  ValidationError,
} from "../../core/errors.ts";
import type { Subscription } from "../../core/model.ts";
import type { DeadLetterStore } from "../../core/reliability-ports.ts";
import {
  type AllCursor,
  decodeAllCursor,
  encodeAllCursor,
  type LetterBatchDelivery,
} from "../../core/replay.ts";
import { quote } from "../../core/uris.ts";
import {
  type DrainRun,
  type DrainTally,
  drainAll,
  drainKey,
  newDrainTally,
  replayLetter,
} from "../dead-letter-drain.ts";
import type { AdminContext } from "./context.ts";
import { json, type Routes, readJson } from "./router.ts";
import { getSubscription } from "./subscriptions.ts";
import type { AdminRequest, AdminResponse } from "./types.ts";

/** How the API shows a dead letter: as stored (key, value and header values in base64). */
export function deadLetterView(letter: DeadLetter): Record<string, unknown> {
  const { subscriptionId: _subscription, headers, ...rest } = letter;
  return { ...rest, headers: headers.map(([name, value]) => ({ name, value })) };
}

export function parkedKeyView(key: ParkedKey, letters: number): Record<string, unknown> {
  return {
    id: key.id,
    partitionId: key.partitionId,
    key: key.key,
    parkedAt: key.parkedAt,
    letters,
  };
}

const MAX_PAGE = 1000;
/** `remaining` counts letters up to this many. */
const MAX_COUNTED = 10_000;

function pageOptions(
  limit: string | undefined,
  cursor: string | undefined,
): { limit: number | undefined; cursor: string | undefined } {
  let n: number | undefined;
  if (limit !== undefined) {
    n = /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
    if (!(n >= 1 && n <= MAX_PAGE)) {
      throw new ValidationError(
        `query parameter "limit" must be a whole number from 1 to ${MAX_PAGE}`,
      );
    }
  }
  if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) {
    throw new ValidationError(`query parameter "cursor" is not a cursor this API returned`);
  }
  return { limit: n, cursor };
}

const PARTITION_ID = /^[A-Za-z0-9._-]{1,249}-\d{1,10}$/;

/** A partition number (of the subscription's topic) or a partition id, as a partition id. */
function partitionId(subscription: Subscription, partition: string | number): string {
  const text = String(partition);
  if (/^\d{1,10}$/.test(text)) return `${subscription.topic}-${Number(text)}`;
  if (PARTITION_ID.test(text)) return text;
  throw new ValidationError(
    `"partition" must be a partition number or a partition id like ${subscription.topic}-0`,
  );
}

export function deadLetterRoutes(ctx: AdminContext): Routes {
  const { deps } = ctx;
  const { store, deadLetters } = deps;

  function requireDeadLetters(): DeadLetterStore {
    if (!deadLetters) {
      throw new NotSupportedError("dead letters are not available in this deployment");
    }
    return deadLetters;
  }

  async function deliveryFor(subscription: Subscription): Promise<LetterBatchDelivery> {
    if (!deps.replayDelivery) {
      throw new NotSupportedError("replaying dead letters is not available in this deployment");
    }
    try {
      return await deps.replayDelivery(subscription);
    } catch (error) {
      if (error instanceof NotFoundError) throw new ConflictError(error.message);
      throw error;
    }
  }

  /** The letters of a parked key, or 404 when the key is neither parked nor holds letters. */
  async function knownKey(letters: DeadLetterStore, id: string, keyId: string): Promise<void> {
    if ((await letters.getParkedKey(id, keyId)) !== undefined) return;
    if ((await letters.count(id, { parkedKey: keyId, upTo: 1 })) > 0) return;
    throw new NotFoundError(`subscription ${quote(id)} has no parked key ${quote(keyId)}`);
  }

  async function listDeadLetters(request: AdminRequest, id: string): Promise<AdminResponse> {
    const letters = requireDeadLetters();
    const subscription = await getSubscription(store, id);
    const { limit, cursor, partition } = request.query;
    const page = await letters.list(id, {
      ...pageOptions(limit, cursor),
      partitionId: partition === undefined ? undefined : partitionId(subscription, partition),
    });
    return json(200, {
      dead_letters: page.items.map(deadLetterView),
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    });
  }

  async function listParkedKeys(request: AdminRequest, id: string): Promise<AdminResponse> {
    const letters = requireDeadLetters();
    await getSubscription(store, id);
    const page = await letters.listParkedKeys(
      id,
      pageOptions(request.query.limit, request.query.cursor),
    );
    const keys = [];
    for (const key of page.items) {
      keys.push(parkedKeyView(key, await letters.count(id, { parkedKey: key.id })));
    }
    return json(200, {
      parked_keys: keys,
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    });
  }

  /**
   * Replays (deliver) or discards (no deliver) one target within the request's time budget: a
   * parked key, one letter, or all (from `cursor` on). Returns what it did, and for all where to
   * go on when the budget ran out.
   */
  async function drain(
    letters: DeadLetterStore,
    subscription: Subscription,
    target: { keyId?: string; ref?: DeadLetterRef; all?: { from?: AllCursor } },
    deliver: LetterBatchDelivery | undefined,
    deadline: number,
  ): Promise<{ tally: DrainTally; remaining: number; next?: AllCursor }> {
    const id = subscription.id;
    const run: DrainRun = {
      store: letters,
      subscriptionId: id,
      deliver,
      deadline,
      now: Date.now,
      tally: newDrainTally(),
    };
    const { tally } = run;

    if (target.keyId !== undefined) {
      await knownKey(letters, id, target.keyId);
      await drainKey(run, target.keyId);
      return { tally, remaining: await countRemaining(letters, id, target.keyId) };
    }

    if (target.ref !== undefined) {
      const letter = await letters.get(id, target.ref);
      if (!letter) {
        throw new NotFoundError(
          `subscription ${quote(id)} has no dead letter at ${target.ref.partitionId} offset ${target.ref.offset}`,
        );
      }
      if (deliver) await replayLetter(run, letter);
      else {
        await letters.remove(id, [letter]);
        tally.discarded = 1;
        if (letter.parksKey !== undefined) await unparkIfEmpty(letters, id, letter.parksKey, tally);
      }
      // What is left of the target: the letter itself if it failed, or its key's letters.
      const remaining =
        letter.parksKey === undefined
          ? (await letters.get(id, target.ref))
            ? 1
            : 0
          : await countRemaining(letters, id, letter.parksKey);
      return { tally, remaining };
    }

    const next = await drainAll(run, target.all?.from);
    return {
      tally,
      remaining: await countRemaining(letters, id),
      ...(next === undefined ? {} : { next }),
    };
  }

  /** Letters left (of a key, or all), counted up to MAX_COUNTED. */
  function countRemaining(letters: DeadLetterStore, id: string, parkedKey?: string) {
    return letters.count(id, { upTo: MAX_COUNTED, parkedKey });
  }

  /** After a single letter behind a key is discarded: unpark the key if nothing is left. */
  async function unparkIfEmpty(
    letters: DeadLetterStore,
    id: string,
    keyId: string,
    tally: DrainTally,
  ) {
    const parked = await letters.getParkedKey(id, keyId);
    if (!parked || (await letters.count(id, { parkedKey: keyId, upTo: 1 })) > 0) return;
    try {
      await letters.unpark(id, keyId, parked.version);
      tally.unparked.push(keyId);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // a letter was parked meanwhile
    }
  }

  async function replayOrDiscard(
    request: AdminRequest,
    id: string,
    replay: boolean,
  ): Promise<AdminResponse> {
    const deadline = Date.now() + deps.replayBudgetMs;
    const letters = requireDeadLetters();
    const subscription = await getSubscription(store, id);
    const body = replay
      ? parseBody(replayBodySchema, readJson(request), "replay request")
      : parseBody(discardBodySchema, readJson(request), "discard request");
    const from = body.cursor === undefined ? undefined : decodeAllCursor(body.cursor);
    const deliver = replay ? await deliveryFor(subscription) : undefined;
    const target =
      body.key_id !== undefined
        ? { keyId: body.key_id }
        : body.all === true
          ? { all: from === undefined ? {} : { from } }
          : {
              ref: {
                partitionId: partitionId(subscription, body.partition ?? ""),
                offset: Number(body.offset),
                variant: body.variant,
              },
            };
    const { tally, remaining, next } = await drain(
      letters,
      subscription,
      target,
      deliver,
      deadline,
    );
    return json(200, {
      [replay ? "replayed" : "discarded"]: replay ? tally.delivered : tally.discarded,
      ...(replay ? { failed: tally.failed } : {}),
      remaining,
      unparked_keys: tally.unparked,
      ...(tally.stillParked.length > 0 ? { still_parked_keys: tally.stillParked } : {}),
      ...(replay
        ? {
            failures: tally.failures.map((f) => ({
              ...(f.keyId === undefined ? {} : { key_id: f.keyId }),
              partition: f.ref.partitionId,
              offset: f.ref.offset,
              reason: f.reason,
            })),
          }
        : {}),
      ...(tally.deferred
        ? next === undefined
          ? {
              incomplete: true,
              message: "stopped at the time budget of one request: send the same request again",
            }
          : {
              incomplete: true,
              cursor: encodeAllCursor(next),
              message:
                'stopped at the time budget of one request: send {"all": true, "cursor": ...} with this cursor',
            }
        : {}),
    });
  }

  return {
    "subscriptions/:id/dead-letters": { GET: (request, [id = ""]) => listDeadLetters(request, id) },
    "subscriptions/:id/dead-letters/replay": {
      POST: (request, [id = ""]) => replayOrDiscard(request, id, true),
    },
    "subscriptions/:id/dead-letters/discard": {
      POST: (request, [id = ""]) => replayOrDiscard(request, id, false),
    },
    "subscriptions/:id/parked-keys": { GET: (request, [id = ""]) => listParkedKeys(request, id) },
  };
}
