// The admin API as a transport-independent application: a request in, a JSON response out.
// Routes: /subscriptions (and per subscription /pause, /resume, /dead-letters[/replay|/discard],
// /parked-keys), /kafka-clusters, /services. Errors map to status codes in one place
// (`toResponse`); 5xx bodies never carry details, which go to the log instead.
import { randomBytes } from "node:crypto";
import { createRestateAdminClient, RestateAdminError } from "../adapters/restate-admin.ts";
import {
  clusterBodySchema,
  discardBodySchema,
  parseBody,
  replayBodySchema,
  serviceBodySchema,
  serviceFromBody,
  subscriptionBodySchema,
} from "../core/admin-schemas.ts";
import { redactCluster, validateClusterProperties } from "../core/cluster-properties.ts";
import type { DeadLetter, DeadLetterRef, ParkedKey } from "../core/dead-letters.ts";
import { type EndpointAllowList, refusedEndpoint } from "../core/endpoint-policy.ts";
import {
  AlreadyExistsError,
  ConflictError,
  DependencyError,
  NotFoundError,
  ValidationError,
} from "../core/errors.ts";
import type { FeedRef, KafkaCluster, ServiceDefinition, Subscription } from "../core/model.ts";
import type { AdminStore, FeedControl } from "../core/ports.ts";
import type { DeadLetterStore, ProgressStore } from "../core/reliability-ports.ts";
import {
  importBodySchema,
  type RestateAdminReader,
  type SkippedService,
  servicesFromRestate,
} from "../core/restate-import.ts";
import { normaliseSubscriptionOptions } from "../core/subscription-options.ts";
import { parseSink, parseSource, quote } from "../core/uris.ts";
import {
  discardParkedKey,
  type ReplayDelivery,
  type ReplayResult,
  replayLetters,
  replayParkedKey,
} from "./dead-letter-replay.ts";

export interface AdminRequest {
  readonly method: string;
  /** e.g. `/subscriptions/sub_123`; a trailing slash is ignored, segments are URL-decoded. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body (UTF-8 text), undefined when there is none. */
  readonly body: string | undefined;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON text, or empty for 202 on DELETE. */
  readonly body: string;
}

export type AdminLog = (entry: Record<string, unknown>) => void;

export interface AdminApiDeps {
  readonly store: AdminStore;
  readonly feeds: FeedControl;
  /** Larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Subscription ids; defaults to `sub_` + 22 random base62 characters. */
  readonly newId?: () => string;
  readonly now?: () => Date;
  /** Structured error log; defaults to one JSON line on stderr. */
  readonly log?: AdminLog;
  /** Reads Restate admin APIs for `POST /services/import`; default: over HTTP(S). */
  readonly restateAdmin?: RestateAdminReader;
  /** Dead letters of the consumer: without it the dead-letter routes answer 501. */
  readonly deadLetters?: DeadLetterStore;
  /** Delivery progress of the consumer, cleared when a subscription is deleted. */
  readonly progress?: ProgressStore;
  /** Delivers replayed letters of a subscription; without it replay answers 501. */
  readonly replayDelivery?: (subscription: Subscription) => Promise<ReplayDelivery>;
  /**
   * Time a replay or discard request may spend before it stops starting new work and answers
   * with what remains (call again). Default 20 s, inside API Gateway's 30 s.
   */
  readonly replayBudgetMs?: number;
  /**
   * Hosts service endpoints (and Restate admin URLs) may name, besides the always-refused
   * link-local and metadata addresses (core/endpoint-policy.ts); undefined: any other host.
   */
  readonly endpointAllow?: EndpointAllowList;
}

export interface AdminApi {
  handle(request: AdminRequest): Promise<AdminResponse>;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `sub_` + 22 base62 characters from the CSPRNG (~131 bits), without modulo bias. */
export function newSubscriptionId(): string {
  let out = "sub_";
  while (out.length < 26) {
    for (const byte of randomBytes(32)) {
      if (byte < 248 && out.length < 26) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** An error that already carries its HTTP status and a message safe to return. */
class HttpError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const JSON_HEADERS = { "content-type": "application/json" };

const json = (
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): AdminResponse => ({
  status,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(value),
});

const accepted = (): AdminResponse => ({ status: 202, headers: {}, body: "" });

const defaultLog: AdminLog = (entry) => console.error(JSON.stringify(entry));

function errorDetail(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { error: error.name, detail: error.message, stack: error.stack };
  }
  return { error: String(error) };
}

/** How the API shows a subscription. */
export function subscriptionView(subscription: Subscription): Record<string, unknown> {
  return {
    id: subscription.id,
    source: subscription.source,
    sink: subscription.sink,
    options: subscription.options,
    status: subscription.status,
    createdAt: subscription.createdAt,
    ...(subscription.feed ? { feed: subscription.feed } : {}),
  };
}

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

/** A boolean query flag: absent or "false" → false, "true" → true, anything else 400. */
function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new ValidationError(`query parameter "${name}" must be true or false`);
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

/** Long request paths are cut in messages. */
const shorten = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

const list = (names: readonly string[]): string =>
  names.length === 0 ? "none" : names.map((n) => quote(n)).join(", ");

type Handler = (request: AdminRequest, params: readonly string[]) => Promise<AdminResponse>;
type Routes = Record<string, Partial<Record<string, Handler>>>;

export function createAdminApi(deps: AdminApiDeps): AdminApi {
  const { store, feeds, deadLetters, progress } = deps;
  const newId = deps.newId ?? newSubscriptionId;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? defaultLog;
  const restateAdmin = deps.restateAdmin ?? createRestateAdminClient();

  function readJson(request: AdminRequest): unknown {
    const body = request.body;
    if (body === undefined || body.trim() === "") {
      throw new HttpError(400, "request body is required (a JSON object)");
    }
    let pollution = false;
    let parsed: unknown;
    try {
      // A "__proto__" member would be dropped silently by the schemas (or worse, by code that
      // copies objects): refuse it outright.
      parsed = JSON.parse(body, (key, value: unknown) => {
        if (key === "__proto__") pollution = true;
        return value;
      });
    } catch {
      throw new HttpError(400, "request body is not valid JSON");
    }
    if (pollution) {
      throw new HttpError(400, 'request body must not contain a field named "__proto__"');
    }
    return parsed;
  }

  /** Runs a clean-up step; a failure is logged (the operator must finish it) and swallowed. */
  async function cleanUp(
    step: string,
    context: Record<string, unknown>,
    action: () => Promise<unknown>,
  ) {
    try {
      await action();
    } catch (error) {
      if (error instanceof NotFoundError) return;
      log({
        level: "error",
        msg: `admin: clean-up failed: ${step}`,
        ...context,
        ...errorDetail(error),
      });
    }
  }

  async function usersOf(field: "cluster" | "service", name: string): Promise<string[]> {
    try {
      const all = await store.listSubscriptions();
      return all.filter((s) => s[field] === name).map((s) => s.id);
    } catch {
      return [];
    }
  }

  // ---- subscriptions -----------------------------------------------------------------------

  async function createSubscription(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(subscriptionBodySchema, readJson(request), "subscription");
    const source = parseSource(body.source);
    const sink = parseSink(body.sink);
    const options = normaliseSubscriptionOptions(body.options);

    const cluster = await store.getCluster(source.cluster);
    if (!cluster) {
      const names = (await store.listClusters()).map((c) => c.name);
      throw new ValidationError(
        `unknown Kafka cluster ${quote(source.cluster)} in source; available clusters: ${list(names)}`,
      );
    }
    const service = await store.getService(sink.service);
    if (!service) {
      const names = (await store.listServices()).map((s) => s.name);
      throw new ValidationError(
        `unknown service ${quote(sink.service)} in sink; registered services: ${list(names)}`,
      );
    }
    if (!Object.hasOwn(service.handlers, sink.handler)) {
      throw new ValidationError(
        `service ${quote(service.name)} has no handler ${quote(sink.handler)}; its handlers: ${list(Object.keys(service.handlers))}`,
      );
    }

    const subscription: Subscription = {
      id: newId(),
      source: body.source,
      sink: body.sink,
      options,
      cluster: source.cluster,
      topic: source.topic,
      service: sink.service,
      handler: sink.handler,
      status: "provisioning",
      createdAt: now().toISOString(),
    };
    try {
      await store.createSubscription(subscription);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        const existing = (await store.listSubscriptions().catch(() => [])).find(
          (s) => s.source === subscription.source && s.sink === subscription.sink,
        );
        throw new ConflictError(
          `a subscription from ${subscription.source} to ${subscription.sink} already exists${existing ? ` (${existing.id})` : ""}`,
        );
      }
      if (error instanceof NotFoundError)
        throw new ValidationError(`${error.message} (removed meanwhile)`);
      throw error;
    }

    const context = { subscription: subscription.id };
    let feed: FeedRef;
    try {
      feed = await feeds.create(subscription, cluster);
    } catch (error) {
      await cleanUp("delete subscription", context, () =>
        store.deleteSubscription(subscription.id),
      );
      if (error instanceof ValidationError) throw error;
      log({
        level: "error",
        msg: "admin: creating the feed failed",
        ...context,
        ...errorDetail(error),
      });
      throw new HttpError(
        502,
        "could not create the event source mapping for this subscription; nothing was created, try again",
      );
    }

    const active: Subscription = { ...subscription, status: "active", feed };
    try {
      await store.updateSubscription(active);
    } catch (error) {
      log({
        level: "error",
        msg: "admin: storing the feed failed",
        ...context,
        ...errorDetail(error),
      });
      await cleanUp("remove feed", { ...context, feed }, () => feeds.remove(subscription, feed));
      await cleanUp("delete subscription", context, () =>
        store.deleteSubscription(subscription.id),
      );
      throw new HttpError(502, "could not store the subscription; nothing was created, try again");
    }
    return json(201, subscriptionView(active), { location: `subscriptions/${active.id}` });
  }

  async function listSubscriptions(request: AdminRequest): Promise<AdminResponse> {
    const { source, sink } = request.query;
    const all = await store.listSubscriptions();
    const matching = all.filter(
      (s) =>
        (source === undefined || s.source === source) && (sink === undefined || s.sink === sink),
    );
    return json(200, { subscriptions: matching.map(subscriptionView) });
  }

  async function getSubscription(id: string): Promise<Subscription> {
    const subscription = await store.getSubscription(id);
    if (!subscription) throw new NotFoundError(`subscription ${quote(id)} not found`);
    return subscription;
  }

  async function deleteSubscription(request: AdminRequest, id: string): Promise<AdminResponse> {
    const force = flag(request.query.force, "force");
    const subscription = await getSubscription(id);
    // Dead letters are records nobody has handled yet: deleting them takes an explicit ?force.
    if (deadLetters && !force) {
      const letters = await deadLetters.list(id, { limit: 1 });
      const keys = await deadLetters.listParkedKeys(id, { limit: 1 });
      if (letters.items.length > 0 || letters.cursor !== undefined || keys.items.length > 0) {
        throw new ConflictError(
          `subscription ${quote(id)} has dead letters; replay or discard them first (POST subscriptions/${id}/dead-letters/replay or /discard), or delete with ?force=true to drop them`,
        );
      }
    }
    const deleting: Subscription = { ...subscription, status: "deleting" };
    await store.updateSubscription(deleting);
    if (subscription.feed) {
      try {
        await feeds.remove(subscription, subscription.feed);
      } catch (error) {
        log({
          level: "error",
          msg: "admin: removing the feed failed",
          subscription: id,
          ...errorDetail(error),
        });
        throw new HttpError(
          502,
          "could not remove the event source mapping; the subscription stays in status deleting, retry the DELETE",
        );
      }
    }
    // After the feed is gone nothing writes progress or dead letters for it any more.
    try {
      await progress?.clear(id);
      await deadLetters?.clear(id);
    } catch (error) {
      log({
        level: "error",
        msg: "admin: clearing progress and dead letters failed",
        subscription: id,
        ...errorDetail(error),
      });
      throw new HttpError(
        502,
        "could not clear the subscription's progress and dead letters; the subscription stays in status deleting, retry the DELETE",
      );
    }
    try {
      await store.deleteSubscription(id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // a concurrent DELETE finished first
    }
    return accepted();
  }

  // ---- pause / resume ----------------------------------------------------------------------

  async function setPaused(id: string, paused: boolean): Promise<AdminResponse> {
    const subscription = await getSubscription(id);
    if (subscription.status !== "active" && subscription.status !== "paused") {
      throw new ConflictError(
        `subscription ${quote(id)} is ${subscription.status}; only active or paused subscriptions can be paused or resumed`,
      );
    }
    // The feed first: the stored status never claims a state the feed is not in. Repeating a
    // pause or resume repeats the (idempotent) feed call, which also repairs a feed changed
    // behind our back.
    if (subscription.feed) {
      try {
        if (paused) await feeds.pause(subscription, subscription.feed);
        else {
          const cluster = await store.getCluster(subscription.cluster);
          if (!cluster) {
            throw new ConflictError(`Kafka cluster ${quote(subscription.cluster)} is gone`);
          }
          await feeds.resume(subscription, subscription.feed, cluster);
        }
      } catch (error) {
        // A DELETE that removed the feed meanwhile explains the failure better.
        const now = await store.getSubscription(id).catch(() => subscription);
        if (!now) throw new NotFoundError(`subscription ${quote(id)} not found`);
        if (now.status === "deleting") {
          throw new ConflictError(`subscription ${quote(id)} is being deleted`);
        }
        throw error;
      }
    }
    const updated = await store.setSubscriptionStatus(id, paused ? "paused" : "active", [
      "active",
      "paused",
    ]);
    return json(200, subscriptionView(updated));
  }

  // ---- dead letters ------------------------------------------------------------------------

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
    const subscription = await getSubscription(id);
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
    await getSubscription(id);
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
        await letters.remove(id, [target.ref]);
        tally.processed = 1;
        if (letter.parksKey !== undefined) await unparkIfEmpty(letters, id, letter.parksKey, tally);
      }
      tally.remaining =
        letter.parksKey === undefined ? 0 : await countLetters(letters, id, letter.parksKey);
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
        await letters.remove(id, [ref]);
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
    const subscription = await getSubscription(id);
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

  // ---- clusters ----------------------------------------------------------------------------

  async function createCluster(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(clusterBodySchema, readJson(request), "Kafka cluster");
    const cluster: KafkaCluster = {
      name: body.name,
      properties: validateClusterProperties(body.properties, "api"),
      origin: "api",
    };
    try {
      await store.createCluster(cluster);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        throw new AlreadyExistsError(`Kafka cluster ${quote(cluster.name)} already exists`);
      }
      throw error;
    }
    return json(201, redactCluster(cluster), {
      location: `kafka-clusters/${encodeURIComponent(cluster.name)}`,
    });
  }

  async function getCluster(name: string): Promise<KafkaCluster> {
    const cluster = await store.getCluster(name);
    if (!cluster) throw new NotFoundError(`Kafka cluster ${quote(name)} not found`);
    return cluster;
  }

  async function deleteCluster(name: string): Promise<AdminResponse> {
    const cluster = await getCluster(name);
    if (cluster.origin === "config") {
      throw new ConflictError(
        `Kafka cluster ${quote(name)} is declared in the config file; remove it there`,
      );
    }
    try {
      await store.deleteCluster(name);
    } catch (error) {
      if (error instanceof ConflictError) {
        const users = await usersOf("cluster", name);
        throw new ConflictError(
          `Kafka cluster ${quote(name)} is used by subscriptions${users.length ? ` ${users.join(", ")}` : ""}; delete them first`,
        );
      }
      throw error;
    }
    return accepted();
  }

  // ---- services ----------------------------------------------------------------------------

  /** Refuses endpoints the policy does not allow (400 naming the field). */
  function checkEndpoint(what: string, field: string, url: string): void {
    const why = refusedEndpoint(url, deps.endpointAllow);
    if (why !== undefined) throw new ValidationError(`invalid ${what}: ${field} ${why}`);
  }

  async function createService(request: AdminRequest): Promise<AdminResponse> {
    const service = serviceFromBody(parseBody(serviceBodySchema, readJson(request), "service"));
    checkEndpoint("service", "endpoint", service.endpoint);
    try {
      await store.createService(service);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        throw new AlreadyExistsError(`service ${quote(service.name)} already exists`);
      }
      throw error;
    }
    return json(201, service, { location: `services/${encodeURIComponent(service.name)}` });
  }

  /**
   * `POST /services/import`: registers the services a Restate admin API lists, with the given
   * ingress as endpoint. Names already registered are skipped, never overwritten.
   */
  async function importServices(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(importBodySchema, readJson(request), "import");
    checkEndpoint("import", "admin_url", body.admin_url);
    if (body.ingress_url !== undefined) checkEndpoint("import", "ingress_url", body.ingress_url);
    let listing: unknown;
    let ingressUrl = body.ingress_url;
    try {
      listing = await restateAdmin.listServices(body.admin_url);
      ingressUrl ??= await restateAdmin.ingressEndpoint(body.admin_url);
    } catch (error) {
      if (error instanceof RestateAdminError) throw new HttpError(502, error.message);
      throw error;
    }
    if (ingressUrl === undefined) {
      throw new ValidationError(
        `"ingress_url" is required: the Restate admin API does not report its ingress endpoint`,
      );
    }
    checkEndpoint("import", "the ingress endpoint the Restate admin API reports", ingressUrl);
    let plan: ReturnType<typeof servicesFromRestate>;
    try {
      plan = servicesFromRestate(listing, {
        ingressUrl,
        ...(body.invocation ? { invocation: body.invocation } : {}),
        ...(body.services ? { only: body.services } : {}),
      });
    } catch (error) {
      if (error instanceof ValidationError) throw new HttpError(502, error.message);
      throw error;
    }
    const imported: ServiceDefinition[] = [];
    const skipped: SkippedService[] = [...plan.skipped];
    for (const service of plan.services) {
      try {
        await store.createService(service);
        imported.push(service);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
        skipped.push({ name: service.name, reason: "already registered (not overwritten)" });
      }
    }
    return json(imported.length > 0 ? 201 : 200, { imported, skipped });
  }

  async function getService(name: string): Promise<ServiceDefinition> {
    const service = await store.getService(name);
    if (!service) throw new NotFoundError(`service ${quote(name)} not found`);
    return service;
  }

  async function deleteService(name: string): Promise<AdminResponse> {
    await getService(name);
    try {
      await store.deleteService(name);
    } catch (error) {
      if (error instanceof ConflictError) {
        const users = await usersOf("service", name);
        throw new ConflictError(
          `service ${quote(name)} is used by subscriptions${users.length ? ` ${users.join(", ")}` : ""}; delete them first`,
        );
      }
      throw error;
    }
    return accepted();
  }

  // ---- routing -----------------------------------------------------------------------------

  const routes: Routes = {
    subscriptions: {
      GET: (request) => listSubscriptions(request),
      POST: (request) => createSubscription(request),
    },
    "subscriptions/:id": {
      GET: async (_r, [id = ""]) => {
        const subscription = await getSubscription(id);
        const feedStatus = await feeds.status?.(subscription);
        return json(200, {
          ...subscriptionView(subscription),
          ...(feedStatus ? { feedStatus } : {}),
        });
      },
      DELETE: (request, [id = ""]) => deleteSubscription(request, id),
    },
    "subscriptions/:id/pause": { POST: (_r, [id = ""]) => setPaused(id, true) },
    "subscriptions/:id/resume": { POST: (_r, [id = ""]) => setPaused(id, false) },
    "subscriptions/:id/dead-letters": { GET: (request, [id = ""]) => listDeadLetters(request, id) },
    "subscriptions/:id/dead-letters/replay": {
      POST: (request, [id = ""]) => replayOrDiscard(request, id, true),
    },
    "subscriptions/:id/dead-letters/discard": {
      POST: (request, [id = ""]) => replayOrDiscard(request, id, false),
    },
    "subscriptions/:id/parked-keys": { GET: (request, [id = ""]) => listParkedKeys(request, id) },
    "kafka-clusters": {
      GET: async () => json(200, { clusters: (await store.listClusters()).map(redactCluster) }),
      POST: (request) => createCluster(request),
    },
    "kafka-clusters/:name": {
      GET: async (_r, [name = ""]) => json(200, redactCluster(await getCluster(name))),
      DELETE: (_r, [name = ""]) => deleteCluster(name),
    },
    services: {
      GET: async () => json(200, { services: await store.listServices() }),
      POST: (request) => createService(request),
    },
    "services/:name": {
      GET: async (_r, [name = ""]) => json(200, await getService(name)),
      DELETE: (_r, [name = ""]) => deleteService(name),
      // `/services/import` is an action; GET and DELETE still reach a service named "import".
      POST: async (request, [name = ""]) => {
        if (name === "import") return importServices(request);
        throw new HttpError(405, "method POST is not allowed here; allowed: GET, DELETE", {
          allow: "GET, DELETE",
        });
      },
    },
  };

  function route(path: string): { pattern: string; params: string[] } {
    const raw = path.split("?")[0] ?? "";
    const segments = raw.split("/").filter((segment, index, all) => {
      // drop the leading empty segment and one trailing slash
      if (index === 0 && segment === "") return false;
      return !(index === all.length - 1 && segment === "");
    });
    let decoded: string[];
    try {
      decoded = segments.map((segment) => decodeURIComponent(segment));
    } catch {
      throw new HttpError(400, "request path is not valid URL encoding");
    }
    const [collection, item, ...extra] = decoded;
    if (
      collection === undefined ||
      item === "" ||
      !Object.hasOwn(routes, collection) ||
      extra.some((segment) => segment === "" || segment.includes("/"))
    ) {
      throw new HttpError(404, `no route for ${quote(shorten(raw))}`);
    }
    if (item === undefined) return { pattern: collection, params: [] };
    // Segments become DynamoDB keys: lone surrogates cannot be encoded, and no name or id is
    // longer than a sort key may be (1,024 bytes), so neither can name anything that exists.
    if (/\p{Surrogate}/u.test(item)) {
      throw new HttpError(400, "request path is not valid URL encoding");
    }
    if (Buffer.byteLength(item, "utf8") > 1024) {
      throw new NotFoundError(`${quote(shorten(item))} not found`);
    }
    const base = `${collection}/:${collection === "subscriptions" ? "id" : "name"}`;
    const pattern = extra.length === 0 ? base : `${base}/${extra.join("/")}`;
    if (!Object.hasOwn(routes, pattern))
      throw new HttpError(404, `no route for ${quote(shorten(raw))}`);
    return { pattern, params: [item] };
  }

  function toResponse(error: unknown, request: AdminRequest): AdminResponse {
    if (error instanceof HttpError)
      return json(error.status, { message: error.message }, error.headers);
    if (error instanceof ValidationError) return json(400, { message: error.message });
    if (error instanceof NotFoundError) return json(404, { message: error.message });
    if (error instanceof AlreadyExistsError || error instanceof ConflictError) {
      return json(409, { message: error.message });
    }
    const where = { method: request.method, path: request.path };
    if (error instanceof DependencyError) {
      log({ level: "error", msg: "admin: dependency failed", ...where, ...errorDetail(error) });
      return json(502, { message: "a dependency failed; try again later" });
    }
    log({ level: "error", msg: "admin: internal error", ...where, ...errorDetail(error) });
    return json(500, { message: "internal error" });
  }

  async function handle(request: AdminRequest): Promise<AdminResponse> {
    try {
      const { pattern, params } = route(request.path);
      const methods = routes[pattern] ?? {};
      const method = request.method.toUpperCase();
      const handler = methods[method];
      if (!handler) {
        const allow = Object.keys(methods).join(", ");
        throw new HttpError(405, `method ${method} is not allowed here; allowed: ${allow}`, {
          allow,
        });
      }
      if (
        request.body !== undefined &&
        Buffer.byteLength(request.body, "utf8") > deps.maxBodyBytes
      ) {
        throw new HttpError(413, `request body is larger than ${deps.maxBodyBytes} bytes`);
      }
      return await handler(request, params);
    } catch (error) {
      return toResponse(error, request);
    }
  }

  return { handle };
}
