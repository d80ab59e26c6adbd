// Subscription handlers: create (with its feed, undone on failure), list (filtered by exact
// source and sink), show, delete (feed, progress and dead letters first; also used by a forced
// cluster delete) and pause / resume. Shown as Restate shows them: options with the `group.id`
// and `client.id` Restate fills in, secret-like values as `***`.
import { parseBody, subscriptionBodySchema } from "../../core/admin-schemas.ts";
import { PROP_MSK_CLUSTER_ARN, redactProperties } from "../../core/cluster-properties.ts";
import {
  AlreadyExistsError,
  ConflictError,
  DependencyFailedError,
  NotFoundError,
  ValidationError,
} from "../../core/errors.ts";
import { checkConsumptionMode, checkOnFailureDestination } from "../../core/mapping-options.ts";
import type { FeedRef, Subscription } from "../../core/model.ts";
import { deliveryMode } from "../../core/plan.ts";
import type { AdminStore } from "../../core/ports.ts";
import { checkRouting } from "../../core/routing.ts";
import { registryDecoding } from "../../core/schema-registry.ts";
import { displayedOptions, normaliseSubscriptionOptions } from "../../core/subscription-options.ts";
import { invalidSubscription, parseSink, parseSource, quote } from "../../core/uris.ts";
import { type AdminContext, checkKafkaSecretBinding } from "./context.ts";
import { accepted, errorDetail, json, type Routes, readJson } from "./router.ts";
import type { AdminRequest, AdminResponse } from "./types.ts";

/** How the API shows a subscription. */
export function subscriptionView(subscription: Subscription): Record<string, unknown> {
  return {
    id: subscription.id,
    source: subscription.source,
    sink: subscription.sink,
    // As Restate shows them: with the consumer group the subscription reads with, Restate's
    // client.id, and secret-like values as `***`.
    options: redactProperties(displayedOptions(subscription.id, subscription.options)),
    status: subscription.status,
    createdAt: subscription.createdAt,
    ...(subscription.feed ? { feed: subscription.feed } : {}),
  };
}

/** A boolean query flag: absent or "false" → false, "true" → true, anything else 400. */
export function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new ValidationError(`query parameter "${name}" must be true or false`);
}

const list = (names: readonly string[]): string =>
  names.length === 0 ? "none" : names.map((n) => quote(n)).join(", ");

export async function getSubscription(store: AdminStore, id: string): Promise<Subscription> {
  const subscription = await store.getSubscription(id);
  if (!subscription) throw new NotFoundError(`subscription ${quote(id)} not found`);
  return subscription;
}

/** What deleting a subscription takes, for `DELETE /subscriptions/{id}` and a forced cluster
 * delete: `hasDeadLetters` (letters or parked keys), `remove` (refused, 409, while it holds dead
 * letters unless `force`). */
export function subscriptionRemover(ctx: AdminContext): {
  hasDeadLetters(id: string): Promise<boolean>;
  remove(id: string, force: boolean): Promise<void>;
} {
  const { log } = ctx;
  const { store, feeds, deadLetters, progress } = ctx.deps;

  /** Whether the subscription has dead letters or parked keys. */
  async function hasDeadLetters(id: string): Promise<boolean> {
    if (!deadLetters) return false;
    const letters = await deadLetters.list(id, { limit: 1 });
    const keys = await deadLetters.listParkedKeys(id, { limit: 1 });
    return letters.items.length > 0 || letters.cursor !== undefined || keys.items.length > 0;
  }

  const lettersFirst = (id: string) =>
    `replay or discard them first (POST subscriptions/${id}/dead-letters/replay or /discard), or delete with ?force=true to drop them`;

  // Order matters: the status says "deleting" first, and the consumer writes nothing for a
  // subscription being deleted; then the feed goes, in-flight commits settle, and only then are
  // dead letters looked for, so a letter parked at any point before the end is seen.
  async function remove(id: string, force: boolean): Promise<void> {
    const subscription = await getSubscription(store, id);
    // Dead letters are records nobody has handled yet: deleting them takes an explicit ?force.
    if (!force && (await hasDeadLetters(id))) {
      throw new ConflictError(`subscription ${quote(id)} has dead letters; ${lettersFirst(id)}`);
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
        throw new DependencyFailedError(
          "could not remove the event source mapping; the subscription stays in status deleting, retry the DELETE",
        );
      }
    }
    const settleMs = ctx.deps.deleteSettleMs ?? 0;
    if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    if (!force && (await hasDeadLetters(id))) {
      throw new ConflictError(
        `subscription ${quote(id)} had records dead-lettered while it was being deleted; its event source mapping is removed and it stays in status deleting: ${lettersFirst(id)}, then DELETE again`,
      );
    }
    // Nothing writes progress or dead letters for it any more.
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
      throw new DependencyFailedError(
        "could not clear the subscription's progress and dead letters; the subscription stays in status deleting, retry the DELETE",
      );
    }
    try {
      await store.deleteSubscription(id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // a concurrent DELETE finished first
    }
  }

  return { hasDeadLetters, remove };
}

export function subscriptionRoutes(ctx: AdminContext): Routes {
  const { newId, now, log } = ctx;
  const { store, feeds } = ctx.deps;

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

  async function createSubscription(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(subscriptionBodySchema, readJson(request), "subscription");
    const source = parseSource(body.source);
    const sink = parseSink(body.sink);
    const options = normaliseSubscriptionOptions(body.options ?? undefined);

    const cluster = await store.getCluster(source.cluster);
    if (!cluster) {
      const names = (await store.listClusters()).map((c) => c.name);
      // Restate's wording (its list is Rust's debug form of the names), then where to add one.
      throw new ValidationError(
        `Kafka cluster '${source.cluster}' not found. Available clusters: [${names.map((n) => JSON.stringify(n)).join(", ")}]. Register it with POST /kafka-clusters or in the config file`,
      );
    }
    const service = await store.getService(sink.service);
    if (!service) {
      const names = (await store.listServices()).map((s) => s.name);
      throw invalidSubscription(
        `unknown service ${quote(sink.service)} in sink; registered services: ${list(names)}`,
      );
    }
    if (!Object.hasOwn(service.handlers, sink.handler)) {
      throw invalidSubscription(
        `service ${quote(service.name)} has no handler ${quote(sink.handler)}; its handlers: ${list(Object.keys(service.handlers))}`,
      );
    }
    // Again here, not only when the cluster was registered: the event source mapping created
    // now is what hands the credentials to the brokers, and the binding may have changed since.
    await checkKafkaSecretBinding(ctx, cluster);
    registryDecoding(cluster.name, cluster.properties, options);
    const handler = service.handlers[sink.handler];
    if (handler !== undefined) {
      const mode = deliveryMode(service.type, handler);
      checkRouting(options, { keyed: mode.keyed, input: mode.input, name: body.sink });
    }
    checkOnFailureDestination(options, {
      arns: ctx.deps.onFailureDestinations,
      kafkaTopicArns: ctx.deps.onFailureKafkaTopicArns,
      mskClusterArn: cluster.properties[PROP_MSK_CLUSTER_ARN],
    });
    checkConsumptionMode(options, {
      msk: cluster.properties[PROP_MSK_CLUSTER_ARN] !== undefined,
      ordered: handler !== undefined && deliveryMode(service.type, handler).ordered,
      sink: body.sink,
    });

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
    // The subscription now holds a reference on the cluster, so the cluster cannot change any
    // more (PATCH refuses clusters in use); one that changed since it was read is read again.
    const current = await store.getCluster(source.cluster).catch(() => undefined);
    if (JSON.stringify(current) !== JSON.stringify(cluster)) {
      await cleanUp("delete subscription", context, () =>
        store.deleteSubscription(subscription.id),
      );
      throw new ConflictError(
        `Kafka cluster ${quote(source.cluster)} changed while the subscription was being created; nothing was created, try again`,
      );
    }
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
      throw new DependencyFailedError(
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
      throw new DependencyFailedError(
        "could not store the subscription; nothing was created, try again",
      );
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

  const remover = subscriptionRemover(ctx);
  async function deleteSubscription(request: AdminRequest, id: string): Promise<AdminResponse> {
    await remover.remove(id, flag(request.query.force, "force"));
    return accepted();
  }

  // ---- pause / resume ----------------------------------------------------------------------

  async function setPaused(id: string, paused: boolean): Promise<AdminResponse> {
    const subscription = await getSubscription(store, id);
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

  return {
    subscriptions: {
      GET: (request) => listSubscriptions(request),
      POST: (request) => createSubscription(request),
    },
    "subscriptions/:id": {
      GET: async (_r, [id = ""]) => {
        const subscription = await getSubscription(store, id);
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
  };
}
