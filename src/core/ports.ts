// Interfaces the core and the handlers depend on; adapters implement them.
import type {
  FeedRef,
  KafkaCluster,
  ServiceDefinition,
  Subscription,
  SubscriptionStatus,
} from "./model.ts";

/** What the consumer reads. */
export interface CatalogReader {
  getSubscription(id: string): Promise<Subscription | undefined>;
  listSubscriptions(): Promise<Subscription[]>;
  getService(name: string): Promise<ServiceDefinition | undefined>;
  getCluster(name: string): Promise<KafkaCluster | undefined>;
  listClusters(): Promise<KafkaCluster[]>;
}

/**
 * Admin storage. Writes are conditional so that concurrent requests cannot create duplicates or
 * lose updates. Errors: AlreadyExistsError, NotFoundError, ConflictError, DependencyError.
 */
export interface AdminStore extends CatalogReader {
  /** Throws AlreadyExistsError when a cluster of that name exists. */
  createCluster(cluster: KafkaCluster): Promise<void>;
  /** Creates or replaces the properties of a config-declared cluster, keeping its references. */
  upsertConfigCluster(cluster: KafkaCluster): Promise<void>;
  /**
   * Replaces a cluster that is still `expected` (as read) and that no subscription references:
   * NotFoundError when it is gone, ConflictError when it changed meanwhile or is in use (an
   * event source mapping made from the old properties would go on reading with them).
   */
  replaceCluster(expected: KafkaCluster, next: KafkaCluster): Promise<void>;
  /** Throws NotFoundError, or ConflictError while a subscription references it. */
  deleteCluster(name: string): Promise<void>;

  createService(service: ServiceDefinition): Promise<void>;
  /**
   * Replaces a service's definition if it is still `expected` (as read): NotFoundError when it is
   * gone, ConflictError when it changed meanwhile.
   */
  replaceService(expected: ServiceDefinition, next: ServiceDefinition): Promise<void>;
  listServices(): Promise<ServiceDefinition[]>;
  /** Throws NotFoundError, or ConflictError while a subscription references it. */
  deleteService(name: string): Promise<void>;

  /**
   * Stores a new subscription and takes a reference on its cluster and service, failing with
   * NotFoundError if either vanished meanwhile, AlreadyExistsError if the id or the same
   * (source, sink) pair exists already.
   */
  createSubscription(subscription: Subscription): Promise<void>;
  /** Replaces status and feed of an existing subscription. Throws NotFoundError. */
  updateSubscription(subscription: Subscription): Promise<void>;
  /**
   * Sets the status of a subscription whose status is one of `from`, as a conditional write (a
   * concurrent change in between is re-read and checked again, never overwritten). Returns the
   * updated subscription. Throws NotFoundError, or ConflictError when the status is not in `from`.
   */
  setSubscriptionStatus(
    id: string,
    status: SubscriptionStatus,
    from: readonly SubscriptionStatus[],
  ): Promise<Subscription>;
  /** Removes the subscription and releases its references. Throws NotFoundError. */
  deleteSubscription(id: string): Promise<void>;
}

/** Creates and removes what feeds a subscription (the AWS event source mapping, or a local one). */
export interface FeedControl {
  create(subscription: Subscription, cluster: KafkaCluster): Promise<FeedRef>;
  /** Idempotent: removing what is already gone succeeds. */
  remove(subscription: Subscription, feed: FeedRef): Promise<void>;
  /**
   * Stops feeding the subscription, keeping its position (the ESM disabled; the local source
   * stopped after committing what was delivered). Idempotent. Throws ConflictError when the feed
   * is busy (e.g. an ESM still Updating) and cannot be changed now.
   */
  pause(subscription: Subscription, feed: FeedRef): Promise<void>;
  /** Feeds a paused subscription again from where it stopped. Idempotent; errors as `pause`. */
  resume(subscription: Subscription, feed: FeedRef, cluster: KafkaCluster): Promise<void>;
  /** How the feed is doing (state, lag), where the implementation can tell cheaply. */
  status?(subscription: Subscription): Promise<Record<string, unknown> | undefined>;
}

/** Clear SASL credentials of a Kafka cluster (`sasl.username`, `sasl.password`). */
export interface SaslCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Keeps the clear SASL credentials a cluster was registered with through the API outside the
 * catalog: on AWS a Secrets Manager secret created for it, locally a private file. Errors never
 * contain the credentials. DependencyError when the vault cannot be reached or refuses.
 */
export interface ClusterCredentialVault {
  /**
   * Keeps the credentials of a new cluster (given without them); returns the properties that
   * reference them, to store with the cluster instead (`aws.secrets.manager.arn` on AWS; none
   * locally, where they are found by the cluster's name).
   */
  put(cluster: KafkaCluster, credentials: SaslCredentials): Promise<Record<string, string>>;
  /** Replaces the credentials kept for a stored cluster (and, on AWS, the brokers they are bound to). */
  replace(cluster: KafkaCluster, credentials: SaslCredentials): Promise<void>;
  /** Forgets the credentials kept for a cluster, if this vault holds any; idempotent. */
  remove(cluster: KafkaCluster): Promise<void>;
  /** Whether `secretRef` names credentials this vault created (callers may not reference them). */
  owns(secretRef: string): boolean;
}
