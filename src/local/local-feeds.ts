// The local stack's stand-in for AWS event source mappings: for each subscription whose cluster
// has `bootstrap.servers`, a local event source consumes the topic and invokes the consumer
// handler with batches in the ESM's shape. Without a reachable broker the source keeps retrying
// and says so in its status; `npm run invoke` can still replay fixture events.

import type { FeedRef, KafkaCluster, Subscription } from "../core/model.ts";
import type { FeedControl } from "../core/ports.ts";
import type { ClusterCredentials } from "./config-file.ts";
import type { EsmKafkaEvent } from "./kafka/batching.ts";
import {
  type LocalEventSource,
  type LocalEventSourceOptions,
  startLocalEventSource,
} from "./kafka/event-source.ts";

export interface LocalFeedOptions {
  /** Runs the consumer handler on a batch for a subscription; a throw fails the batch. */
  readonly invoke: (subscription: Subscription, event: EsmKafkaEvent) => Promise<unknown>;
  readonly log: (line: string) => void;
  /** False: register mappings without consuming Kafka (events arrive only through invoke). */
  readonly consumeKafka?: boolean | undefined;
  /**
   * Clear credentials of config-file clusters, held in memory only: the store has the clusters
   * without them, and they are added back here, for the Kafka client alone.
   */
  readonly clusterCredentials?: ClusterCredentials;
  /** Clear credentials of clusters registered through the API (kept in the data dir). */
  readonly apiCredentials?: {
    get(clusterName: string): Readonly<Record<string, string>> | undefined;
  };
  /** Test seam. */
  readonly startSource?: (options: LocalEventSourceOptions) => LocalEventSource;
}

export class LocalFeedControl implements FeedControl {
  readonly #options: LocalFeedOptions;
  readonly #sources = new Map<string, LocalEventSource>();

  constructor(options: LocalFeedOptions) {
    this.#options = options;
  }

  async create(subscription: Subscription, cluster: KafkaCluster): Promise<FeedRef> {
    this.start(subscription, cluster);
    return { kind: "local" };
  }

  /** Starts consuming for a stored subscription (also used when the stack restarts). */
  start(subscription: Subscription, cluster: KafkaCluster): void {
    const consuming =
      this.#options.consumeKafka !== false && !!cluster.properties["bootstrap.servers"];
    this.#log("info", "local mapping registered", subscription, {
      cluster: cluster.name,
      topic: subscription.topic,
      consuming,
    });
    if (!consuming || this.#sources.has(subscription.id)) return;
    const start = this.#options.startSource ?? startLocalEventSource;
    const credentials =
      cluster.origin === "config"
        ? this.#options.clusterCredentials?.get(cluster.name)
        : this.#options.apiCredentials?.get(cluster.name);
    this.#sources.set(
      subscription.id,
      start({
        subscription,
        cluster: credentials
          ? { ...cluster, properties: { ...cluster.properties, ...credentials } }
          : cluster,
        invoke: (event) => this.#options.invoke(subscription, event),
        log: this.#options.log,
      }),
    );
  }

  /** Stops the source (it commits what was delivered first); `resume` starts it again there. */
  async pause(subscription: Subscription): Promise<void> {
    const source = this.#sources.get(subscription.id);
    this.#sources.delete(subscription.id);
    await source?.stop();
    this.#log("info", "local mapping paused", subscription);
  }

  async resume(subscription: Subscription, _feed: FeedRef, cluster: KafkaCluster): Promise<void> {
    this.start(subscription, cluster);
  }

  async remove(subscription: Subscription): Promise<void> {
    const source = this.#sources.get(subscription.id);
    this.#sources.delete(subscription.id);
    await source?.stop();
    this.#log("info", "local mapping removed", subscription);
  }

  async status(subscription: Subscription): Promise<Record<string, unknown> | undefined> {
    const source = this.#sources.get(subscription.id);
    if (source) return { ...source.status() };
    return subscription.status === "paused" ? { state: "paused" } : undefined;
  }

  /** Stops every source, committing what was delivered. */
  async close(): Promise<void> {
    const sources = [...this.#sources.values()];
    this.#sources.clear();
    await Promise.all(sources.map((source) => source.stop()));
  }

  #log(
    level: string,
    msg: string,
    subscription: Subscription,
    extra: Record<string, unknown> = {},
  ) {
    this.#options.log(JSON.stringify({ level, msg, subscription: subscription.id, ...extra }));
  }
}
