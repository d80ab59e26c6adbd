// Dead-letter handlers of a subscription: list its dead letters and parked keys, and replay or
// discard them (a parked key, one letter, or all) within a time budget per request.

import { discardBodySchema, parseBody, replayBodySchema } from "../../core/admin-schemas.ts";
import type { DeadLetter, DeadLetterRef, ParkedKey } from "../../core/dead-letters.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../core/errors.ts";
import type { Subscription } from "../../core/model.ts";
import type { DeadLetterStore } from "../../core/reliability-ports.ts";
import { quote } from "../../core/uris.ts";
import type { AdminRequest, AdminResponse } from "../admin-api.ts";
import {
  discardParkedKey,
  type ReplayDelivery,
  type ReplayResult,
  replayLetters,
  replayParkedKey,
} from "../dead-letter-replay.ts";
import type { AdminContext } from "./context.ts";
import { HttpError, json, type Routes, readJson } from "./router.ts";
import { getSubscription } from "./subscriptions.ts";

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

function pageOptions(
  limit: string | undefined,
  cursor: string | undefined,
): { limit?: number; cursor?: string } {
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
  return {
    ...(n === undefined ? {} : { limit: n }),
    ...(cursor === undefined ? {} : { cursor }),
  };
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
      throw new HttpError(501, "dead letters are not available in this deployment");
    }
    return deadLetters;
  }

  async function deliveryFor(subscription: Subscription): Promise<ReplayDelivery> {
    if (!deps.replayDelivery) {
      throw new HttpError(501, "replaying dead letters is not available in this deployment");
    }
    try {
      return await deps.replayDelivery(subscription);
    } catch (error) {
      if (error instanceof NotFoundError) throw new ConflictError(error.message);
      throw error;
    }
  }

  async function countLetters(letters: DeadLetterStore, id: string, parkedKey?: string) {
    let count = 0;
    let cursor: string | undefined;
    do {
      const page = await letters.list(id, {
        limit: 1000,
        ...(parkedKey === undefined ? {} : { parkedKey }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      count += page.items.length;
      cursor = page.cursor;
    } while (cursor !== undefined);
    return count;
  }

  /** The letters of a parked key, or 404 when the key is neither parked nor holds letters. */
  async function knownKey(letters: DeadLetterStore, id: string, keyId: string): Promise<void> {
    if ((await letters.getParkedKey(id, keyId)) !== undefined) return;
    if ((await countLetters(letters, id, keyId)) > 0) return;
    throw new NotFoundError(`subscription ${quote(id)} has no parked key ${quote(keyId)}`);
  }

  async function listDeadLetters(request: AdminRequest, id: string): Promise<AdminResponse> {
    const letters = requireDeadLetters();
    const subscription = await getSubscription(store, id);
    const { limit, cursor, partition } = request.query;
    const page = await letters.list(id, {
      ...pageOptions(limit, cursor),
      ...(partition === undefined ? {} : { partitionId: partitionId(subscription, partition) }),
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
      keys.push(parkedKeyView(key, await countLetters(letters, id, key.id)));
    }
    return json(200, {
      parked_keys: keys,
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    });
  }

  interface Tally {
    processed: number;
    failed: number;
    remaining: number;
    failures: Array<Record<string, unknown>>;
    unparked: string[];
    stillParked: string[];
    incomplete: boolean;
  }

  const MAX_FAILURES_SHOWN = 50;

  function addResult(tally: Tally, keyId: string | undefined, result: ReplayResult): void {
    tally.processed += result.delivered + result.discarded;
    if (keyId !== undefined) (result.unparked ? tally.unparked : tally.stillParked).push(keyId);
    if (result.stoppedAt) tally.failed++;
    if (result.stoppedAt && tally.failures.length < MAX_FAILURES_SHOWN) {
      tally.failures.push({
        ...(keyId === undefined ? {} : { key_id: keyId }),
        partition: result.stoppedAt.ref.partitionId,
        offset: result.stoppedAt.ref.offset,
        reason: result.stoppedAt.reason,
      });
    }
  }

  /** Every letter of the subscription, in (partition, offset) order. */
  async function allLetters(letters: DeadLetterStore, id: string): Promise<DeadLetter[]> {
    const all: DeadLetter[] = [];
    let cursor: string | undefined;
    do {
      const page = await letters.list(id, {
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      all.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }

  async function allParkedKeys(letters: DeadLetterStore, id: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await letters.listParkedKeys(id, {
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      ids.push(...page.items.map((k) => k.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return ids;
  }

  /**
   * Replays (deliver) or discards (no deliver) one target: a parked key, one letter, or all.
   * For all: every parked key (each in offset order), then the letters behind no key.
   */
  async function drain(
    letters: DeadLetterStore,
    subscription: Subscription,
    target: { keyId?: string; ref?: DeadLetterRef; all?: true },
    deliver: ReplayDelivery | undefined,
  ): Promise<Tally> {
    const id = subscription.id;
    const tally: Tally = {
      processed: 0,
      failed: 0,
      remaining: 0,
      failures: [],
      unparked: [],
      stillParked: [],
      incomplete: false,
    };
    const deadline = Date.now() + (deps.replayBudgetMs ?? 20_000);
    const runKey = async (keyId: string) =>
      addResult(
        tally,
        keyId,
        deliver
          ? await replayParkedKey(letters, id, keyId, deliver)
          : await discardParkedKey(letters, id, keyId),
      );

    if (target.keyId !== undefined) {
      await knownKey(letters, id, target.keyId);
      await runKey(target.keyId);
      tally.remaining = await countLetters(letters, id, target.keyId);
      return tally;
    }

    if (target.ref !== undefined) {
      const letter = await letters.get(id, target.ref);
      if (!letter) {
        throw new NotFoundError(
          `subscription ${quote(id)} has no dead letter at ${target.ref.partitionId} offset ${target.ref.offset}`,
        );
      }
      if (deliver) {
        addResult(tally, undefined, await replayLetters(letters, id, [target.ref], deliver));
      } else {
        await letters.remove(id, [letter]);
        tally.processed = 1;
        if (letter.parksKey !== undefined) await unparkIfEmpty(letters, id, letter.parksKey, tally);
      }
      // What is left of the target: the letter itself if it failed, or its key's letters.
      tally.remaining =
        letter.parksKey === undefined
          ? (await letters.get(id, target.ref))
            ? 1
            : 0
          : await countLetters(letters, id, letter.parksKey);
      return tally;
    }

    // all
    const keys = new Set(await allParkedKeys(letters, id));
    const snapshot = await allLetters(letters, id);
    for (const letter of snapshot) if (letter.parksKey !== undefined) keys.add(letter.parksKey);
    for (const keyId of keys) {
      if (Date.now() >= deadline) {
        tally.incomplete = true;
        break;
      }
      await runKey(keyId);
    }
    const free = snapshot.filter((l) => l.parksKey === undefined);
    for (const letter of free) {
      if (Date.now() >= deadline) {
        tally.incomplete = true;
        break;
      }
      const ref = { partitionId: letter.partitionId, offset: letter.offset };
      if (deliver) addResult(tally, undefined, await replayLetters(letters, id, [ref], deliver));
      else {
        await letters.remove(id, [letter]);
        tally.processed++;
      }
    }
    tally.remaining = await countLetters(letters, id);
    return tally;
  }

  /** After a single letter behind a key is discarded: unpark the key if nothing is left. */
  async function unparkIfEmpty(letters: DeadLetterStore, id: string, keyId: string, tally: Tally) {
    const parked = await letters.getParkedKey(id, keyId);
    if (!parked || (await countLetters(letters, id, keyId)) > 0) return;
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
    const letters = requireDeadLetters();
    const subscription = await getSubscription(store, id);
    const body = replay
      ? parseBody(replayBodySchema, readJson(request), "replay request")
      : parseBody(discardBodySchema, readJson(request), "discard request");
    const deliver = replay ? await deliveryFor(subscription) : undefined;
    const target =
      body.key_id !== undefined
        ? { keyId: body.key_id }
        : body.all === true
          ? { all: true as const }
          : {
              ref: {
                partitionId: partitionId(subscription, body.partition ?? ""),
                offset: Number(body.offset),
              },
            };
    const tally = await drain(letters, subscription, target, deliver);
    return json(200, {
      [replay ? "replayed" : "discarded"]: tally.processed,
      ...(replay ? { failed: tally.failed } : {}),
      remaining: tally.remaining,
      unparked_keys: tally.unparked,
      ...(tally.stillParked.length > 0 ? { still_parked_keys: tally.stillParked } : {}),
      ...(replay ? { failures: tally.failures } : {}),
      ...(tally.incomplete
        ? { incomplete: true, message: "stopped at the time budget of one request: call again" }
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
