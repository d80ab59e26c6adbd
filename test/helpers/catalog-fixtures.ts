// Catalog entries for tests: the demo cluster, a subscription and a service with overridable
// fields, and the consumer function ARN whose alias names the subscription.
import type { KafkaCluster, ServiceDefinition, Subscription } from "../../src/core/model.ts";
import { CLUSTER_ARN } from "./kafka-events.ts";

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
