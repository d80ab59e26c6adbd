// The consumer as every benchmark program runs it: the one subscription, service and cluster of
// the benchmark in an in-memory catalog, and the consumer handler built over them. The only
// module of the benchmark that reaches into the consumer's wiring.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { consumerConfig } from "../src/config.ts";
import type { SinkRequest } from "../src/core/invocation.ts";
import type { KafkaCluster, ServiceDefinition, Subscription } from "../src/core/model.ts";
import type { Deliver } from "../src/core/retry.ts";
import { memoryCatalog } from "../src/local/memory-catalog.ts";
import {
  type ConsumerHandler,
  createConsumerHandler,
  reliabilityStores,
} from "../src/wiring/consumer.ts";
import { BENCH_CLUSTER_ARN, type SinkTargetSpec } from "./lib.ts";

/** The consumer's own defaults (MAX_CONCURRENCY 128, ...): we bench what ships. */
export const CONSUMER_CONFIG = consumerConfig({});

const SUBSCRIPTION_ID = "sub_0123456789abcdefABCDEF";
const SERVICE = "Orders";
const HANDLER = "process";

const cluster: KafkaCluster = {
  name: "demo",
  properties: { "aws.msk.cluster.arn": BENCH_CLUSTER_ARN },
  origin: "api",
};

const subscription: Subscription = {
  id: SUBSCRIPTION_ID,
  source: "kafka://demo/orders",
  sink: `service://${SERVICE}/${HANDLER}`,
  options: {},
  cluster: "demo",
  topic: "orders",
  service: SERVICE,
  handler: HANDLER,
  status: "active",
  createdAt: "2026-01-01T00:00:00.000Z",
};

const serviceAt = (endpoint: string, type: ServiceDefinition["type"]): ServiceDefinition => ({
  name: SERVICE,
  type,
  endpoint,
  invocation: "call",
  handlers: { [HANDLER]: { shared: false, input: "json" } },
});

/** The invocation context of the function alias that names the subscription. */
export const invocationContext = {
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:kafka-ingress-consumer:${SUBSCRIPTION_ID}`,
  getRemainingTimeInMillis: () => 840_000,
};

/** What the baselines send to: the same target the consumer's requests go to. */
export const sinkTarget = (sinkUrl: string): SinkTargetSpec => ({
  subscriptionId: SUBSCRIPTION_ID,
  endpoint: sinkUrl,
  service: SERVICE,
  handler: HANDLER,
  invocation: "call",
});

export type { ConsumerHandler };

export interface BenchConsumerOptions {
  readonly sinkUrl: string;
  /** A virtual object (keyed, ordered) or a service (unordered); default virtual object. */
  readonly keyed?: boolean;
  /** The sink client; default the consumer's own (undici) sink. */
  readonly deliver?: Deliver<SinkRequest>;
  /** DynamoDB progress and dead-letter stores in this table; default none. */
  readonly store?: { readonly client: DynamoDBClient; readonly table: string };
}

/** The consumer handler over the benchmark's catalog, logging nothing. */
export function benchConsumer(options: BenchConsumerOptions): ConsumerHandler {
  return createConsumerHandler({
    catalog: memoryCatalog({
      subscriptions: [subscription],
      services: [
        serviceAt(options.sinkUrl, options.keyed === false ? "service" : "virtual_object"),
      ],
      clusters: [cluster],
    }),
    config: CONSUMER_CONFIG,
    deliver: options.deliver,
    reliability: options.store && reliabilityStores(options.store.client, options.store.table),
    log: () => {},
  });
}
