// AdminStore over one DynamoDB table. Items: pk = entity kind, sk = name or id, `doc` = the
// entity as JSON, `refs` = how many subscriptions use a cluster or service. No transactions
// (dynalite has none): multi-item writes are ordered conditional steps, undone on failure.
import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../../core/errors.ts";
import type {
  KafkaCluster,
  ServiceDefinition,
  Subscription,
  SubscriptionStatus,
} from "../../core/model.ts";
import type { AdminStore } from "../../core/ports.ts";
import { retrying } from "../../core/retry.ts";
import { consumerGroupId } from "../../core/subscription-options.ts";
import {
  calling,
  conditionally,
  docOf,
  fromItem,
  getItem,
  type Item,
  queryPages,
  toItem,
  type Written,
} from "./calls.ts";

type Kind = "cluster" | "service" | "subscription" | "subscription-pair" | "consumer-group";

const key = (kind: Kind, sk: string): Item => toItem({ pk: kind, sk });
const pairKey = (source: string, sink: string): string => `${source} ${sink}`;
/** One subscription per consumer group of a cluster: two would split the topic's partitions. */
const groupKey = (subscription: Subscription): string =>
  `${subscription.cluster} ${consumerGroupId(subscription.id, subscription.options)}`;
/** Attempts at a status change that another write keeps getting ahead of. */
const STATUS_ATTEMPTS = 5;

function logUndoFailure(step: string, error: unknown): void {
  console.error(
    JSON.stringify({
      level: "error",
      msg: "admin store: undo step failed",
      step,
      error: String((error as Error | null)?.message ?? error),
    }),
  );
}

export interface DynamoAdminStoreOptions {
  /** Items per Query page (DynamoDB's own limit is 1 MB); lowered in tests to exercise paging. */
  readonly pageSize?: number;
}

export class DynamoAdminStore implements AdminStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #pageSize: number | undefined;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoAdminStoreOptions = {}) {
    this.#client = client;
    this.#table = tableName;
    this.#pageSize = options.pageSize;
  }

  // ---- generic helpers -------------------------------------------------------------------

  async #get<T>(kind: Kind, sk: string): Promise<T | undefined> {
    return docOf<T>(await getItem(this.#client, this.#table, key(kind, sk), `GetItem ${kind}`));
  }

  async #list<T>(kind: Kind): Promise<T[]> {
    const result: T[] = [];
    const pages = queryPages(
      this.#client,
      {
        TableName: this.#table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: toItem({ ":pk": kind }),
        ConsistentRead: true,
      },
      `Query ${kind}`,
      this.#pageSize,
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const doc = docOf<T>(item);
        if (doc !== undefined) result.push(doc);
      }
    }
    return result;
  }

  /** Conditional put of a new item; when it exists already, not written and the item found. */
  #putNew(kind: Kind, sk: string, attributes: Record<string, unknown>): Promise<Written<unknown>> {
    return conditionally(`PutItem ${kind}`, () =>
      this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: toItem({ pk: kind, sk, ...attributes }),
          ConditionExpression: "attribute_not_exists(pk)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
  }

  /** Adds `delta` to `refs` of an existing item; false when the item does not exist. */
  async #addRef(kind: "cluster" | "service", name: string, delta: 1 | -1): Promise<boolean> {
    const write = await conditionally(`UpdateItem ${kind} refs`, () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(kind, name),
          UpdateExpression: "ADD refs :delta",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: toItem({ ":delta": delta }),
        }),
      ),
    );
    return write.written;
  }

  /** Deletes a cluster or service unless referenced. */
  async #deleteUnreferenced(kind: "cluster" | "service", name: string): Promise<void> {
    const write = await conditionally(`DeleteItem ${kind}`, () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key(kind, name),
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(refs) OR refs <= :zero)",
          ExpressionAttributeValues: toItem({ ":zero": 0 }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
    if (write.written) return;
    if (write.current === undefined) throw new NotFoundError(`${kind} "${name}" not found`);
    throw new ConflictError(`${kind} "${name}" is used by subscriptions`);
  }

  async #delete(
    kind: Kind,
    sk: string,
    condition?: { expression: string; values: Record<string, unknown> },
  ): Promise<boolean> {
    const write = await conditionally(`DeleteItem ${kind}`, () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key(kind, sk),
          ConditionExpression: condition?.expression ?? "attribute_exists(pk)",
          ...(condition ? { ExpressionAttributeValues: toItem(condition.values) } : {}),
        }),
      ),
    );
    return write.written;
  }

  async #undo(step: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      logUndoFailure(step, error);
    }
  }

  // ---- clusters ----------------------------------------------------------------------------

  getCluster(name: string): Promise<KafkaCluster | undefined> {
    return this.#get<KafkaCluster>("cluster", name);
  }

  listClusters(): Promise<KafkaCluster[]> {
    return this.#list<KafkaCluster>("cluster");
  }

  async createCluster(cluster: KafkaCluster): Promise<void> {
    const put = await this.#putNew("cluster", cluster.name, { doc: JSON.stringify(cluster) });
    if (!put.written) throw new AlreadyExistsError(`cluster "${cluster.name}" already exists`);
  }

  async upsertConfigCluster(cluster: KafkaCluster): Promise<void> {
    await calling("UpdateItem cluster", () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("cluster", cluster.name),
          UpdateExpression: "SET doc = :doc",
          ExpressionAttributeValues: toItem({
            ":doc": JSON.stringify({ ...cluster, origin: "config" }),
          }),
        }),
      ),
    );
  }

  async replaceCluster(expected: KafkaCluster, next: KafkaCluster): Promise<void> {
    const write = await conditionally("UpdateItem cluster", () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("cluster", expected.name),
          UpdateExpression: "SET doc = :next",
          ConditionExpression: "doc = :expected AND (attribute_not_exists(refs) OR refs <= :zero)",
          ExpressionAttributeValues: toItem({
            ":next": JSON.stringify(next),
            ":expected": JSON.stringify(expected),
            ":zero": 0,
          }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
    if (write.written) return;
    const current = docOf<KafkaCluster>(write.current);
    if (current === undefined) throw new NotFoundError(`cluster "${expected.name}" not found`);
    if (JSON.stringify(current) === JSON.stringify(expected)) {
      throw new ConflictError(`cluster "${expected.name}" is used by subscriptions`);
    }
    throw new ConflictError(`cluster "${expected.name}" changed meanwhile; read it and retry`);
  }

  deleteCluster(name: string): Promise<void> {
    return this.#deleteUnreferenced("cluster", name);
  }

  // ---- services ----------------------------------------------------------------------------

  getService(name: string): Promise<ServiceDefinition | undefined> {
    return this.#get<ServiceDefinition>("service", name);
  }

  listServices(): Promise<ServiceDefinition[]> {
    return this.#list<ServiceDefinition>("service");
  }

  async createService(service: ServiceDefinition): Promise<void> {
    const put = await this.#putNew("service", service.name, { doc: JSON.stringify(service) });
    if (!put.written) throw new AlreadyExistsError(`service "${service.name}" already exists`);
  }

  async replaceService(expected: ServiceDefinition, next: ServiceDefinition): Promise<void> {
    const write = await conditionally("UpdateItem service", () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("service", expected.name),
          UpdateExpression: "SET doc = :next",
          ConditionExpression: "doc = :expected",
          ExpressionAttributeValues: toItem({
            ":next": JSON.stringify(next),
            ":expected": JSON.stringify(expected),
          }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
    if (write.written) return;
    if (docOf(write.current) === undefined) {
      throw new NotFoundError(`service "${expected.name}" not found`);
    }
    throw new ConflictError(`service "${expected.name}" changed meanwhile; read it and retry`);
  }

  deleteService(name: string): Promise<void> {
    return this.#deleteUnreferenced("service", name);
  }

  // ---- subscriptions -----------------------------------------------------------------------

  getSubscription(id: string): Promise<Subscription | undefined> {
    return this.#get<Subscription>("subscription", id);
  }

  listSubscriptions(): Promise<Subscription[]> {
    return this.#list<Subscription>("subscription");
  }

  async createSubscription(subscription: Subscription): Promise<void> {
    const { id, cluster, service, source, sink } = subscription;
    const undo: Array<[string, () => Promise<unknown>]> = [];
    const rollback = async () => {
      for (const [step, action] of undo.reverse()) await this.#undo(step, action);
    };
    try {
      if (!(await this.#addRef("cluster", cluster, 1))) {
        throw new NotFoundError(`cluster "${cluster}" not found`);
      }
      undo.push(["release cluster ref", () => this.#addRef("cluster", cluster, -1)]);

      if (!(await this.#addRef("service", service, 1))) {
        throw new NotFoundError(`service "${service}" not found`);
      }
      undo.push(["release service ref", () => this.#addRef("service", service, -1)]);

      const pair = pairKey(source, sink);
      if (!(await this.#putNew("subscription-pair", pair, { id })).written) {
        throw new AlreadyExistsError(`a subscription from ${source} to ${sink} already exists`);
      }
      undo.push([
        "delete subscription pair",
        () =>
          this.#delete("subscription-pair", pair, {
            expression: "id = :id",
            values: { ":id": id },
          }),
      ]);

      const group = groupKey(subscription);
      const claim = await this.#putNew("consumer-group", group, { doc: JSON.stringify({ id }) });
      if (!claim.written) {
        const owner = docOf<{ id?: string }>(claim.current);
        if (owner?.id === id) throw new AlreadyExistsError(`subscription "${id}" already exists`);
        throw new ConflictError(
          `consumer group "${consumerGroupId(id, subscription.options)}" of cluster "${cluster}" is already used by subscription ${owner?.id ?? "(being removed)"}; two subscriptions in one group would each miss records: set another "group.id"`,
        );
      }
      undo.push(["release consumer group", () => this.#releaseGroup(subscription)]);

      const put = await this.#putNew("subscription", id, { doc: JSON.stringify(subscription) });
      if (!put.written) throw new AlreadyExistsError(`subscription "${id}" already exists`);
    } catch (error) {
      await rollback();
      throw error;
    }
  }

  async updateSubscription(subscription: Subscription): Promise<void> {
    const existing = await this.getSubscription(subscription.id);
    if (!existing) throw new NotFoundError(`subscription "${subscription.id}" not found`);
    const { feed: _previousFeed, ...rest } = existing;
    const updated: Subscription = {
      ...rest,
      status: subscription.status,
      ...(subscription.feed ? { feed: subscription.feed } : {}),
    };
    const write = await conditionally("UpdateItem subscription", () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("subscription", subscription.id),
          UpdateExpression: "SET doc = :doc",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: toItem({ ":doc": JSON.stringify(updated) }),
        }),
      ),
    );
    if (!write.written) throw new NotFoundError(`subscription "${subscription.id}" not found`);
  }

  async setSubscriptionStatus(
    id: string,
    status: SubscriptionStatus,
    from: readonly SubscriptionStatus[],
  ): Promise<Subscription> {
    // Compare-and-set on the whole stored document: a write in between (a DELETE marking the
    // subscription deleting, or removing it) fails the condition, and the state the failed write
    // found is checked again instead of being overwritten. A lost race is retried at once.
    let stored = await getItem(
      this.#client,
      this.#table,
      key("subscription", id),
      "GetItem subscription",
    );
    const lostRace = new ConflictError(`subscription "${id}" keeps changing; try again`);
    return retrying(
      async () => {
        // The document as stored, character for character: the condition compares it.
        const raw = stored === undefined ? undefined : fromItem(stored).doc;
        if (typeof raw !== "string") throw new NotFoundError(`subscription "${id}" not found`);
        const current = JSON.parse(raw) as Subscription;
        if (!from.includes(current.status)) {
          throw new ConflictError(`subscription "${id}" is ${current.status}`);
        }
        if (current.status === status) return current;
        const updated: Subscription = { ...current, status };
        const write = await conditionally("UpdateItem subscription status", () =>
          this.#client.send(
            new UpdateItemCommand({
              TableName: this.#table,
              Key: key("subscription", id),
              UpdateExpression: "SET doc = :doc",
              ConditionExpression: "doc = :previous",
              ExpressionAttributeValues: toItem({
                ":doc": JSON.stringify(updated),
                ":previous": raw,
              }),
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            }),
          ),
        );
        if (write.written) return updated;
        stored = write.current;
        throw lostRace;
      },
      {
        maxAttempts: STATUS_ATTEMPTS,
        delayMs: () => 0,
        sleep: async () => {},
        isRetryable: (error) => error === lostRace,
      },
    );
  }

  async deleteSubscription(id: string): Promise<void> {
    // Deleting the subscription item first makes concurrent deletes release references once;
    // the deleted item tells what to release.
    const deleted = await conditionally("DeleteItem subscription", () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key("subscription", id),
          ConditionExpression: "attribute_exists(pk)",
          ReturnValues: "ALL_OLD",
        }),
      ),
    );
    const existing = deleted.written ? docOf<Subscription>(deleted.output.Attributes) : undefined;
    if (!existing) throw new NotFoundError(`subscription "${id}" not found`);
    await this.#undo("delete subscription pair", () =>
      this.#delete("subscription-pair", pairKey(existing.source, existing.sink), {
        expression: "id = :id",
        values: { ":id": id },
      }),
    );
    await this.#undo("release consumer group", () => this.#releaseGroup(existing));
    await this.#undo("release cluster ref", () => this.#addRef("cluster", existing.cluster, -1));
    await this.#undo("release service ref", () => this.#addRef("service", existing.service, -1));
  }

  #releaseGroup(subscription: Subscription): Promise<boolean> {
    return this.#delete("consumer-group", groupKey(subscription), {
      expression: "contains(doc, :id)",
      values: { ":id": JSON.stringify({ id: subscription.id }) },
    });
  }
}
