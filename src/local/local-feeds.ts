// The local stack's stand-in for AWS event source mappings: it records that a subscription is fed
// locally. Events reach the consumer through `npm run invoke` against the same store.
import type { FeedRef, KafkaCluster, Subscription } from "../core/model.ts";
import type { FeedControl } from "../core/ports.ts";

export class LocalFeedControl implements FeedControl {
  readonly #log: (line: string) => void;

  constructor(log: (line: string) => void = (line) => console.log(line)) {
    this.#log = log;
  }

  async create(subscription: Subscription, cluster: KafkaCluster): Promise<FeedRef> {
    this.#log(
      JSON.stringify({
        level: "info",
        msg: "local mapping registered",
        subscription: subscription.id,
        cluster: cluster.name,
        topic: subscription.topic,
      }),
    );
    return { kind: "local" };
  }

  async remove(subscription: Subscription): Promise<void> {
    this.#log(
      JSON.stringify({
        level: "info",
        msg: "local mapping removed",
        subscription: subscription.id,
      }),
    );
  }
}
