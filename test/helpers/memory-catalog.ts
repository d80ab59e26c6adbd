// A CatalogReader over plain arrays, counting reads (for cache tests).
import type { KafkaCluster, ServiceDefinition, Subscription } from "../../src/core/model.ts";
import type { CatalogReader } from "../../src/core/ports.ts";
import { CLUSTER_ARN } from "./kafka-events.ts";

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

export const SUB_ID = "sub_0123456789abcdefABCDEF";
export const functionArn = (qualifier?: string) =>
  `arn:aws:lambda:us-east-1:123456789012:function:kafka-ingress-consumer${qualifier ? `:${qualifier}` : ""}`;

export const demoCluster: KafkaCluster = {
  name: "demo",
  properties: { "aws.msk.cluster.arn": CLUSTER_ARN },
  origin: "api",
};

export function subscription(overrides: Partial<Subscription> = {}): Subscription {
  const cluster = overrides.cluster ?? "demo";
  const topic = overrides.topic ?? "orders";
  const service = overrides.service ?? "Orders";
  const handler = overrides.handler ?? "process";
  return {
    id: SUB_ID,
    source: `kafka://${cluster}/${topic}`,
    sink: `service://${service}/${handler}`,
    options: {},
    cluster,
    topic,
    service,
    handler,
    status: "active",
    createdAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

export function service(overrides: Partial<ServiceDefinition> = {}): ServiceDefinition {
  return {
    name: "Orders",
    type: "virtual_object",
    endpoint: "http://127.0.0.1:9",
    invocation: "call",
    handlers: { process: { shared: false, input: "json" } },
    ...overrides,
  };
}
