// Helpers for admin API tests: a recording FeedControl and request shortcuts.
import type { AdminApi, AdminResponse } from "../../src/app/admin-api.ts";
import type { FeedRef, KafkaCluster, Subscription } from "../../src/core/model.ts";
import type { AdminStore, FeedControl } from "../../src/core/ports.ts";

export class FakeFeedControl implements FeedControl {
  readonly created: Array<{ subscription: Subscription; cluster: KafkaCluster }> = [];
  readonly removed: Array<{ subscription: Subscription; feed: FeedRef }> = [];
  failCreate: Error | undefined;
  failRemove: Error | undefined;
  #counter = 0;

  async create(subscription: Subscription, cluster: KafkaCluster): Promise<FeedRef> {
    if (this.failCreate) throw this.failCreate;
    this.created.push({ subscription, cluster });
    this.#counter += 1;
    return {
      kind: "aws",
      eventSourceMappingUuid: `esm-${this.#counter}`,
      functionAliasArn: `arn:aws:lambda:eu-west-1:123456789012:function:consumer:${subscription.id}`,
    };
  }

  /** Runs while a feed is being removed (e.g. an invocation still in flight). */
  duringRemove: ((subscription: Subscription) => Promise<void>) | undefined;

  async remove(subscription: Subscription, feed: FeedRef): Promise<void> {
    if (this.failRemove) throw this.failRemove;
    await this.duringRemove?.(subscription);
    this.removed.push({ subscription, feed });
  }

  readonly paused: Array<{ subscription: Subscription; feed: FeedRef }> = [];
  readonly resumed: Array<{ subscription: Subscription; feed: FeedRef; cluster: KafkaCluster }> =
    [];
  failPause: Error | undefined;

  async pause(subscription: Subscription, feed: FeedRef): Promise<void> {
    if (this.failPause) throw this.failPause;
    this.paused.push({ subscription, feed });
  }

  async resume(subscription: Subscription, feed: FeedRef, cluster: KafkaCluster): Promise<void> {
    if (this.failPause) throw this.failPause;
    this.resumed.push({ subscription, feed, cluster });
  }
}

export interface Call {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Parsed JSON body, or undefined when empty. */
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies freely
  json: any;
}

export async function call(
  api: AdminApi,
  method: string,
  path: string,
  body?: unknown,
  query: Record<string, string> = {},
): Promise<Call> {
  const response: AdminResponse = await api.handle({
    method,
    path,
    query,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { ...response, json: response.body ? JSON.parse(response.body) : undefined };
}

const STORE_METHODS = [
  "getSubscription",
  "listSubscriptions",
  "getService",
  "getCluster",
  "listClusters",
  "createCluster",
  "upsertConfigCluster",
  "replaceCluster",
  "deleteCluster",
  "createService",
  "listServices",
  "deleteService",
  "createSubscription",
  "updateSubscription",
  "setSubscriptionStatus",
  "deleteSubscription",
] as const;

/** A store that delegates to `store` except for the overridden methods (failure injection). */
export function storeWith(store: AdminStore, overrides: Partial<AdminStore>): AdminStore {
  const delegate: Record<string, unknown> = {};
  for (const method of STORE_METHODS) {
    delegate[method] = overrides[method] ?? store[method].bind(store);
  }
  return delegate as unknown as AdminStore;
}
