// The admin API as a transport-independent application: a request in, a JSON response out.
// Routes: /subscriptions (and per subscription /pause, /resume, /dead-letters[/replay|/discard],
// /parked-keys), /kafka-clusters, /services. Errors map to status codes in one place
// (`toResponse` in admin/router.ts); 5xx bodies never carry details, which go to the log instead.
// The handlers live in admin/: subscriptions, dead letters, clusters and services.
import { randomBytes } from "node:crypto";
import { createRestateAdminClient } from "../adapters/restate-admin.ts";
import type { EndpointAllowList } from "../core/endpoint-policy.ts";
import type { KafkaSecretBindingReader } from "../core/kafka-secret-binding.ts";
import type { Subscription } from "../core/model.ts";
import { consoleAt } from "../core/outcome.ts";
import type { AdminStore, FeedControl } from "../core/ports.ts";
import type { DeadLetterStore, ProgressStore } from "../core/reliability-ports.ts";
import type { RestateAdminReader } from "../core/restate-import.ts";
import type { SinkTokenCheck } from "../core/secrets.ts";
import { clusterRoutes } from "./admin/clusters.ts";
import type { AdminContext } from "./admin/context.ts";
import { deadLetterRoutes } from "./admin/dead-letters.ts";
import { createRouter } from "./admin/router.ts";
import { serviceRoutes } from "./admin/services.ts";
import { subscriptionRoutes } from "./admin/subscriptions.ts";
import type { ReplayDelivery } from "./dead-letter-replay.ts";

export { deadLetterView, parkedKeyView } from "./admin/dead-letters.ts";
export { subscriptionView } from "./admin/subscriptions.ts";

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
  /** Subscription ids; defaults to `sub_` + 22 random base62 characters. */
  readonly newId?: () => string;
  readonly now?: () => Date;
  /** Structured error log; defaults to one JSON line on stderr. */
  readonly log?: AdminLog;
  /** Reads Restate admin APIs for `POST /services/import`; default: over HTTP(S). */
  readonly restateAdmin?: RestateAdminReader;
  /** Dead letters of the consumer: without it the dead-letter routes answer 501. */
  readonly deadLetters?: DeadLetterStore;
  /** Delivery progress of the consumer, cleared when a subscription is deleted. */
  readonly progress?: ProgressStore;
  /** Delivers replayed letters of a subscription; without it replay answers 501. */
  readonly replayDelivery?: (subscription: Subscription) => Promise<ReplayDelivery>;
  /**
   * Time a replay or discard request may spend before it stops starting new work and answers
   * with what remains (call again). Default 20 s, inside API Gateway's 30 s.
   */
  readonly replayBudgetMs?: number;
  /**
   * How long a DELETE waits, once the feed is removed, before it looks for dead letters: a
   * consumer invocation that checked the subscription just before it was marked deleting may
   * still be committing. 0 where removing the feed waits for its invocations (the local stack).
   */
  readonly deleteSettleMs?: number;
  /**
   * Hosts service endpoints (and Restate admin URLs) may name, besides the always-refused
   * link-local and metadata addresses (core/endpoint-policy.ts); undefined: any other host.
   */
  readonly endpointAllow?: EndpointAllowList;
  /**
   * Whether a service's bearer token may go to its endpoint (the secret's `endpoints`), asked
   * when a service with `auth` is registered or changed: on AWS through the consumer function,
   * locally from LOCAL_SECRETS. Without it, such services are refused.
   */
  readonly sinkTokenCheck?: SinkTokenCheck;
  /**
   * Which brokers a cluster's `aws.secrets.manager.arn` is bound to (the secret's tags), read
   * when a cluster naming one is registered and when a subscription on it is created. Without
   * it, such clusters are refused.
   */
  readonly kafkaSecretBindings?: KafkaSecretBindingReader;
}

export interface AdminApi {
  handle(request: AdminRequest): Promise<AdminResponse>;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `sub_` + 22 base62 characters from the CSPRNG (~131 bits), without modulo bias. */
export function newSubscriptionId(): string {
  let out = "sub_";
  while (out.length < 26) {
    for (const byte of randomBytes(32)) {
      if (byte < 248 && out.length < 26) out += BASE62[byte % 62];
    }
  }
  return out;
}

const defaultLog: AdminLog = (entry) => consoleAt(String(entry.level))(JSON.stringify(entry));

export function createAdminApi(deps: AdminApiDeps): AdminApi {
  const ctx: AdminContext = {
    deps,
    newId: deps.newId ?? newSubscriptionId,
    now: deps.now ?? (() => new Date()),
    log: deps.log ?? defaultLog,
    restateAdmin: deps.restateAdmin ?? createRestateAdminClient(),
  };
  const handle = createRouter(
    {
      ...subscriptionRoutes(ctx),
      ...deadLetterRoutes(ctx),
      ...clusterRoutes(ctx),
      ...serviceRoutes(ctx),
    },
    ctx,
  );
  return { handle };
}
