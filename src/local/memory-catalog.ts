// A CatalogReader over plain arrays: the consumer run against a fixed catalog, without DynamoDB
// (the benchmark, tests). Every read hands out a copy and is counted, so a cache in front of it
// can be checked.
import type { KafkaCluster, ServiceDefinition, Subscription } from "../core/model.ts";
import type { CatalogReader } from "../core/ports.ts";

export interface MemoryCatalog extends CatalogReader {
  readonly subscriptions: Subscription[];
  readonly services: ServiceDefinition[];
  readonly clusters: KafkaCluster[];
  readonly reads: { count: number };
}

export function memoryCatalog(init: {
  subscriptions?: Subscription[];
  services?: ServiceDefinition[];
  clusters?: KafkaCluster[];
}): MemoryCatalog {
  const subscriptions = init.subscriptions ?? [];
  const services = init.services ?? [];
  const clusters = init.clusters ?? [];
  const reads = { count: 0 };
  const read = <T>(value: T): Promise<T> => {
    reads.count++;
    return Promise.resolve(structuredClone(value));
  };
  return {
    subscriptions,
    services,
    clusters,
    reads,
    getSubscription: (id) => read(subscriptions.find((s) => s.id === id)),
    listSubscriptions: () => read(subscriptions),
    getService: (name) => read(services.find((s) => s.name === name)),
    getCluster: (name) => read(clusters.find((c) => c.name === name)),
    listClusters: () => read(clusters),
  };
}
