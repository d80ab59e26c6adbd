// Which subscription a batch is for, and the service and handler its records go to: by the alias
// the function was invoked through (one per subscription's event source mapping), else — where
// bare invocations are allowed — by the event's cluster and topic.
import { bootstrapServerList, PROP_MSK_CLUSTER_ARN } from "../core/cluster-properties.ts";
import { SubscriptionResolutionError } from "../core/errors.ts";
import type { DecodedEvent, EventSourceInfo } from "../core/event.ts";
import type { HandlerSpec, KafkaCluster, ServiceDefinition, Subscription } from "../core/model.ts";
import type { CatalogReader } from "../core/ports.ts";

const SUBSCRIPTION_ID = /^sub_[0-9A-Za-z]+$/;

/** `arn:aws:lambda:<region>:<account>:function:<name>:<sub_id>` → `sub_id`, else undefined. */
export function subscriptionIdFromArn(arn: string): string | undefined {
  const parts = arn.split(":");
  if (parts.length !== 8 || parts[0] !== "arn" || parts[5] !== "function") return undefined;
  const qualifier = parts[7];
  return qualifier !== undefined && SUBSCRIPTION_ID.test(qualifier) ? qualifier : undefined;
}

/** `PLAINTEXT://Broker-1:9092` → `broker-1:9092`. */
function normalizeServer(server: string): string {
  return server
    .trim()
    .replace(/^[a-z0-9_]+:\/\//i, "")
    .toLowerCase();
}

/** Does this cluster's configuration describe the event's source? */
export function clusterMatchesSource(cluster: KafkaCluster, source: EventSourceInfo): boolean {
  const arn = cluster.properties[PROP_MSK_CLUSTER_ARN];
  if (source.clusterArn !== undefined && arn !== undefined && arn === source.clusterArn)
    return true;
  const eventServers = new Set(source.bootstrapServers.map(normalizeServer));
  return bootstrapServerList(cluster.properties).some((s) => eventServers.has(normalizeServer(s)));
}

/** Where a batch goes. */
export interface BatchTarget {
  readonly subscription: Subscription;
  readonly service: ServiceDefinition;
  readonly handler: HandlerSpec;
}

export interface ResolutionOptions {
  /**
   * Refuse batches that do not come through a subscription's alias (on AWS every event source
   * mapping the admin creates invokes one): a batch sent to the bare function — by anyone allowed
   * to invoke it — is not taken for a subscription's by its cluster and topic.
   */
  readonly requireAlias?: boolean;
}

/** Throws SubscriptionResolutionError (terminal until the catalog or the mapping is fixed). */
export type ResolveTarget = (
  event: DecodedEvent,
  invokedFunctionArn: string,
) => Promise<BatchTarget>;

const describe = (s: Subscription) => `${s.id} (${s.source} → ${s.sink})`;

export function createTargetResolver(
  catalog: CatalogReader,
  options: ResolutionOptions = {},
): ResolveTarget {
  async function byAlias(id: string, event: DecodedEvent): Promise<Subscription> {
    const subscription = await catalog.getSubscription(id);
    if (subscription === undefined) {
      throw new SubscriptionResolutionError(
        `Subscription ${id} (the alias this function was invoked through) does not exist; ` +
          "delete its event source mapping or recreate the subscription",
      );
    }
    const arn = event.source.clusterArn;
    if (arn !== undefined) {
      const cluster = await catalog.getCluster(subscription.cluster);
      const expected = cluster?.properties[PROP_MSK_CLUSTER_ARN];
      if (expected !== undefined && expected !== arn) {
        throw new SubscriptionResolutionError(
          `Subscription ${id} reads cluster ${subscription.cluster} (${expected}) but the event ` +
            `comes from ${arn}`,
        );
      }
    }
    return subscription;
  }

  async function bySource(event: DecodedEvent, arn: string): Promise<Subscription> {
    const topics = [...new Set(event.partitions.map((p) => p.topic))];
    const clusters = (await catalog.listClusters()).filter((c) =>
      clusterMatchesSource(c, event.source),
    );
    const names = new Set(clusters.map((c) => c.name));
    const candidates = (await catalog.listSubscriptions()).filter(
      (s) => names.has(s.cluster) && topics.includes(s.topic),
    );
    if (candidates.length === 1 && candidates[0] !== undefined) return candidates[0];
    const from = event.source.clusterArn ?? event.source.bootstrapServers.join(",");
    throw new SubscriptionResolutionError(
      `Cannot tell which subscription this event is for: ${arn} is not invoked through a ` +
        `subscription alias; clusters matching ${from}: [${[...names].join(", ")}]; ` +
        `subscriptions on them for topic ${topics.join(", ")}: ` +
        `[${candidates.map(describe).join(", ")}]` +
        (candidates.length > 1 ? " — invoke the function through the subscription's alias" : ""),
    );
  }

  return async (event, invokedFunctionArn) => {
    const id = subscriptionIdFromArn(invokedFunctionArn);
    if (id === undefined && options.requireAlias) {
      throw new SubscriptionResolutionError(
        `${invokedFunctionArn} was invoked without a subscription alias: batches are ` +
          "taken only through the event source mappings of subscriptions (one alias each)",
      );
    }
    const subscription =
      id !== undefined ? await byAlias(id, event) : await bySource(event, invokedFunctionArn);
    const strangers = event.partitions.filter((p) => p.topic !== subscription.topic);
    if (strangers.length > 0) {
      throw new SubscriptionResolutionError(
        `Subscription ${subscription.id} reads topic ${subscription.topic} but the event holds ` +
          `partitions ${strangers.map((p) => p.id).join(", ")}`,
      );
    }
    const service = await catalog.getService(subscription.service);
    if (service === undefined) {
      throw new SubscriptionResolutionError(
        `Service ${subscription.service} of subscription ${subscription.id} is not registered`,
      );
    }
    const handler = service.handlers[subscription.handler];
    if (handler === undefined) {
      throw new SubscriptionResolutionError(
        `Service ${service.name} has no handler ${subscription.handler} ` +
          `(subscription ${subscription.id}); handlers: ${Object.keys(service.handlers).join(", ")}`,
      );
    }
    return { subscription, service, handler };
  };
}
