// What the admin API is built from and speaks: a request in, a response out, and the ports and
// settings it is given (the wiring supplies them: AWS adapters, or the local stack's own).
import type { EndpointAllowList } from "../../core/endpoint-policy.ts";
import type { KafkaSecretBindingReader } from "../../core/kafka-secret-binding.ts";
import type { AdminStore, ClusterCredentialVault, FeedControl } from "../../core/ports.ts";
import type { DeadLetterStore, ProgressStore } from "../../core/reliability-ports.ts";
import type { LetterBatchDeliveryFactory } from "../../core/replay.ts";
import type { RestateAdminReader } from "../../core/restate-import.ts";
import type { SinkTokenCheck } from "../../core/secrets.ts";

export interface AdminRequest {
  readonly method: string;
  /** e.g. `/subscriptions/sub_123`; a trailing slash is ignored, segments are URL-decoded. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body (UTF-8 text), undefined when there is none. */
  readonly body: string | undefined;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON text, or empty for 202 on DELETE. */
  readonly body: string;
}

export type AdminLog = (entry: Record<string, unknown>) => void;

export interface AdminApiDeps {
  readonly store: AdminStore;
  readonly feeds: FeedControl;
  /** Larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Subscription ids; defaults to Restate's format: `sub_1`, then 22 base62 digits of a random
   * 128-bit value. */
  readonly newId?: (() => string) | undefined;
  readonly now?: (() => Date) | undefined;
  /** Structured error log; defaults to one JSON line on stderr. */
  readonly log?: AdminLog | undefined;
  /** Reads Restate admin APIs for `POST /services/import`; without it the import answers 501. */
  readonly restateAdmin?: RestateAdminReader | undefined;
  /** Dead letters of the consumer: without it the dead-letter routes answer 501. */
  readonly deadLetters?: DeadLetterStore | undefined;
  /** Delivery progress of the consumer, cleared when a subscription is deleted. */
  readonly progress?: ProgressStore | undefined;
  /** Delivers replayed letters of a subscription; without it replay answers 501. */
  readonly replayDelivery?: LetterBatchDeliveryFactory | undefined;
  /**
   * Time a replay or discard request may spend before it stops starting new work and answers
   * with what remains (call again): REPLAY_BUDGET_MS, inside API Gateway's 30 s.
   */
  readonly replayBudgetMs: number;
  /**
   * How long a DELETE waits, once the feed is removed, before it looks for dead letters: a
   * consumer invocation that checked the subscription just before it was marked deleting may
   * still be committing. 0 where removing the feed waits for its invocations (the local stack).
   */
  readonly deleteSettleMs?: number | undefined;
  /**
   * Hosts service endpoints (and Restate admin URLs) may name, besides the always-refused
   * link-local and metadata addresses (core/endpoint-policy.ts); undefined: any other host.
   */
  readonly endpointAllow?: EndpointAllowList | undefined;
  /**
   * Whether a service's bearer token may go to its endpoint (the secret's `endpoints`), asked
   * when a service with `auth` is registered or changed: on AWS through the consumer function,
   * locally from LOCAL_SECRETS. Without it, such services are refused.
   */
  readonly sinkTokenCheck?: SinkTokenCheck | undefined;
  /**
   * Which brokers a cluster's `aws.secrets.manager.arn` is bound to (the secret's tags), read
   * when a cluster naming one is registered and when a subscription on it is created. Without
   * it, such clusters are refused.
   */
  readonly kafkaSecretBindings?: KafkaSecretBindingReader | undefined;
  /**
   * Keeps clear SASL credentials given with a cluster (`sasl.username` / `sasl.password`) outside
   * the catalog: a Secrets Manager secret per cluster on AWS, a private file locally. Without it,
   * such clusters are refused.
   */
  readonly credentialVault?: ClusterCredentialVault | undefined;
  /**
   * The destinations `lambda.on.failure.destination` may name besides `kafka://<topic>` (those
   * the deployment's consumer role may send to). Undefined: any.
   */
  readonly onFailureDestinations?: readonly string[] | undefined;
  /**
   * The MSK topic ARNs `kafka://<topic>` destinations of MSK subscriptions may stand for (the
   * consumer role writes them with IAM). Undefined: any.
   */
  readonly onFailureKafkaTopicArns?: readonly string[] | undefined;
}

export interface AdminApi {
  handle(request: AdminRequest): Promise<AdminResponse>;
}
