// The vocabulary shared by the admin API, the consumer and the local stack.

export type ServiceType = "service" | "virtual_object" | "workflow";
export type InvocationMode = "call" | "send";
export type PayloadFormat = "json" | "binary";

export interface HandlerSpec {
  /** Shared handlers of objects/workflows run concurrently per key; exclusive ones in key order. */
  readonly shared: boolean;
  readonly input: PayloadFormat;
}

export interface ServiceDefinition {
  readonly name: string;
  readonly type: ServiceType;
  /** Base URL of the ingress, e.g. `http://localhost:8080` (a Restate ingress or any HTTP service). */
  readonly endpoint: string;
  readonly invocation: InvocationMode;
  readonly handlers: Readonly<Record<string, HandlerSpec>>;
  /** How requests to the endpoint authenticate; absent: no `authorization` header. */
  readonly auth?: ServiceAuth;
}

/** Credentials only by reference: the token itself lives in AWS Secrets Manager (or, on the
 * local stack, in LOCAL_SECRETS) and is never stored, returned or logged. */
export interface ServiceAuth {
  /** ARN of the secret whose value is the bearer token (a string, or JSON `{"token": "..."}`). */
  readonly bearer_token_secret: string;
}

export type ClusterOrigin = "api" | "config";

export interface KafkaCluster {
  readonly name: string;
  /** Kafka client properties (`bootstrap.servers`, `security.protocol`, ...). May hold clear
   * credentials only when declared in a local config file; the API never returns them. */
  readonly properties: Readonly<Record<string, string>>;
  readonly origin: ClusterOrigin;
  /** ISO 8601, when registered through the API; clusters from the config file have none. */
  readonly createdAt?: string | undefined;
}

/** `paused`: the feed is disabled (the ESM `Enabled: false`, or the local source stopped). */
export type SubscriptionStatus = "provisioning" | "active" | "paused" | "deleting";

/** What feeds a subscription: an AWS event source mapping (plus its alias) or a local mapping. */
export type FeedRef =
  | {
      readonly kind: "aws";
      readonly eventSourceMappingUuid: string;
      readonly functionAliasArn: string;
    }
  | { readonly kind: "local" };

export interface Subscription {
  readonly id: string;
  /** `kafka://<cluster>/<topic>` */
  readonly source: string;
  /** `service://<Service>/<handler>` */
  readonly sink: string;
  readonly options: Readonly<Record<string, string>>;
  readonly cluster: string;
  readonly topic: string;
  readonly service: string;
  readonly handler: string;
  readonly status: SubscriptionStatus;
  readonly feed?: FeedRef;
  /** ISO-8601 */
  readonly createdAt: string;
}
