// AdminStore over one DynamoDB table. Items: pk = entity kind, sk = name or id, `doc` = the
// entity as JSON, `refs` = how many subscriptions use a cluster or service. No transactions
// (dynalite has none): multi-item writes are ordered conditional steps, undone on failure.
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  AlreadyExistsError,
  ConflictError,
  DependencyError,
  NotFoundError,
} from "../core/errors.ts";
import type {
  KafkaCluster,
  ServiceDefinition,
  Subscription,
  SubscriptionStatus,
} from "../core/model.ts";
import type { AdminStore } from "../core/ports.ts";
import { consumerGroupId } from "../core/subscription-options.ts";

type Kind = "cluster" | "service" | "subscription" | "subscription-pair" | "consumer-group";
type Item = Record<string, AttributeValue>;

const key = (kind: Kind, sk: string): Item => ({ pk: { S: kind }, sk: { S: sk } });
const pairKey = (source: string, sink: string): string => `${source} ${sink}`;
/** One subscription per consumer group of a cluster: two would split the topic's partitions. */
const groupKey = (subscription: Subscription): string =>
  `${subscription.cluster} ${consumerGroupId(subscription.id, subscription.options)}`;

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException"
  );
}

function dependency(operation: string, error: unknown): DependencyError {
  const name = (error as { name?: unknown } | null)?.name;
  const message = (error as { message?: unknown } | null)?.message;
  return new DependencyError(
    `DynamoDB ${operation} failed: ${String(name ?? "Error")}: ${String(message ?? error)}`,
    { cause: error },
  );
}

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
    try {
      const out = await this.#client.send(
        new GetItemCommand({ TableName: this.#table, Key: key(kind, sk), ConsistentRead: true }),
      );
      const doc = out.Item?.doc?.S;
      return doc === undefined ? undefined : (JSON.parse(doc) as T);
    } catch (error) {
      throw dependency(`GetItem ${kind}`, error);
    }
  }

  async #list<T>(kind: Kind): Promise<T[]> {
    const result: T[] = [];
    let start: Item | undefined;
    try {
      do {
        const out = await this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": { S: kind } },
            ConsistentRead: true,
            ...(this.#pageSize ? { Limit: this.#pageSize } : {}),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of out.Items ?? []) {
          const doc = item.doc?.S;
          if (doc !== undefined) result.push(JSON.parse(doc) as T);
        }
        start = out.LastEvaluatedKey;
      } while (start);
    } catch (error) {
      throw dependency(`Query ${kind}`, error);
    }
    return result;
  }

  /** Conditional put of a new item; false when it exists already. */
  async #putNew(kind: Kind, sk: string, attributes: Item): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { ...key(kind, sk), ...attributes },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependency(`PutItem ${kind}`, error);
    }
  }

  /** Adds `delta` to `refs` of an existing item; false when the item does not exist. */
  async #addRef(kind: "cluster" | "service", name: string, delta: 1 | -1): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(kind, name),
          UpdateExpression: "ADD refs :delta",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":delta": { N: String(delta) } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependency(`UpdateItem ${kind} refs`, error);
    }
  }

  /** Deletes a cluster or service unless referenced. */
  async #deleteUnreferenced(kind: "cluster" | "service", name: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key(kind, name),
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(refs) OR refs <= :zero)",
          ExpressionAttributeValues: { ":zero": { N: "0" } },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw dependency(`DeleteItem ${kind}`, error);
      const exists = (await this.#get(kind, name)) !== undefined;
      if (!exists) throw new NotFoundError(`${kind} "${name}" not found`);
      throw new ConflictError(`${kind} "${name}" is used by subscriptions`);
    }
  }

  async #delete(
    kind: Kind,
    sk: string,
    condition?: { expression: string; values: Item },
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key(kind, sk),
          ConditionExpression: condition?.expression ?? "attribute_exists(pk)",
          ...(condition ? { ExpressionAttributeValues: condition.values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw dependency(`DeleteItem ${kind}`, error);
    }
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
    const created = await this.#putNew("cluster", cluster.name, {
      doc: { S: JSON.stringify(cluster) },
    });
    if (!created) throw new AlreadyExistsError(`cluster "${cluster.name}" already exists`);
  }

  async upsertConfigCluster(cluster: KafkaCluster): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("cluster", cluster.name),
          UpdateExpression: "SET doc = :doc",
          ExpressionAttributeValues: {
            ":doc": { S: JSON.stringify({ ...cluster, origin: "config" }) },
          },
        }),
      );
    } catch (error) {
      throw dependency("UpdateItem cluster", error);
    }
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
    const created = await this.#putNew("service", service.name, {
      doc: { S: JSON.stringify(service) },
    });
    if (!created) throw new AlreadyExistsError(`service "${service.name}" already exists`);
  }

  async replaceService(expected: ServiceDefinition, next: ServiceDefinition): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("service", expected.name),
          UpdateExpression: "SET doc = :next",
          ConditionExpression: "doc = :expected",
          ExpressionAttributeValues: {
            ":next": { S: JSON.stringify(next) },
            ":expected": { S: JSON.stringify(expected) },
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw dependency("UpdateItem service", error);
      if ((await this.getService(expected.name)) === undefined) {
        throw new NotFoundError(`service "${expected.name}" not found`);
      }
      throw new ConflictError(`service "${expected.name}" changed meanwhile; read it and retry`);
    }
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
      if (!(await this.#putNew("subscription-pair", pair, { id: { S: id } }))) {
        throw new AlreadyExistsError(`a subscription from ${source} to ${sink} already exists`);
      }
      undo.push([
        "delete subscription pair",
        () =>
          this.#delete("subscription-pair", pair, {
            expression: "id = :id",
            values: { ":id": { S: id } },
          }),
      ]);

      const group = groupKey(subscription);
      if (!(await this.#putNew("consumer-group", group, { doc: { S: JSON.stringify({ id }) } }))) {
        const owner = await this.#get<{ id?: string }>("consumer-group", group);
        if (owner?.id === id) throw new AlreadyExistsError(`subscription "${id}" already exists`);
        throw new ConflictError(
          `consumer group "${consumerGroupId(id, subscription.options)}" of cluster "${cluster}" is already used by subscription ${owner?.id ?? "(being removed)"}; two subscriptions in one group would each miss records: set another "group.id"`,
        );
      }
      undo.push(["release consumer group", () => this.#releaseGroup(subscription)]);

      if (!(await this.#putNew("subscription", id, { doc: { S: JSON.stringify(subscription) } }))) {
        throw new AlreadyExistsError(`subscription "${id}" already exists`);
      }
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
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key("subscription", subscription.id),
          UpdateExpression: "SET doc = :doc",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":doc": { S: JSON.stringify(updated) } },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new NotFoundError(`subscription "${subscription.id}" not found`);
      }
      throw dependency("UpdateItem subscription", error);
    }
  }

  async setSubscriptionStatus(
    id: string,
    status: SubscriptionStatus,
    from: readonly SubscriptionStatus[],
  ): Promise<Subscription> {
    // Compare-and-set on the whole stored document: a write in between (a DELETE marking the
    // subscription deleting, or removing it) fails the condition, and the new state is checked
    // again instead of being overwritten.
    for (let attempt = 0; attempt < 5; attempt++) {
      let raw: string | undefined;
      try {
        const out = await this.#client.send(
          new GetItemCommand({
            TableName: this.#table,
            Key: key("subscription", id),
            ConsistentRead: true,
          }),
        );
        raw = out.Item?.doc?.S;
      } catch (error) {
        throw dependency("GetItem subscription", error);
      }
      if (raw === undefined) throw new NotFoundError(`subscription "${id}" not found`);
      const current = JSON.parse(raw) as Subscription;
      if (!from.includes(current.status)) {
        throw new ConflictError(`subscription "${id}" is ${current.status}`);
      }
      if (current.status === status) return current;
      const updated: Subscription = { ...current, status };
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: key("subscription", id),
            UpdateExpression: "SET doc = :doc",
            ConditionExpression: "doc = :previous",
            ExpressionAttributeValues: {
              ":doc": { S: JSON.stringify(updated) },
              ":previous": { S: raw },
            },
          }),
        );
        return updated;
      } catch (error) {
        if (!isConditionFailure(error)) throw dependency("UpdateItem subscription status", error);
      }
    }
    throw new ConflictError(`subscription "${id}" keeps changing; try again`);
  }

  async deleteSubscription(id: string): Promise<void> {
    const existing = await this.getSubscription(id);
    if (!existing) throw new NotFoundError(`subscription "${id}" not found`);
    // Deleting the subscription item first makes concurrent deletes release references once.
    if (!(await this.#delete("subscription", id))) {
      throw new NotFoundError(`subscription "${id}" not found`);
    }
    await this.#undo("delete subscription pair", () =>
      this.#delete("subscription-pair", pairKey(existing.source, existing.sink), {
        expression: "id = :id",
        values: { ":id": { S: id } },
      }),
    );
    await this.#undo("release consumer group", () => this.#releaseGroup(existing));
    await this.#undo("release cluster ref", () => this.#addRef("cluster", existing.cluster, -1));
    await this.#undo("release service ref", () => this.#addRef("service", existing.service, -1));
  }

  #releaseGroup(subscription: Subscription): Promise<boolean> {
    return this.#delete("consumer-group", groupKey(subscription), {
      expression: "contains(doc, :id)",
      values: { ":id": { S: JSON.stringify({ id: subscription.id }) } },
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Creates the table if it does not exist (on-demand billing, `pk`/`sk` string keys) and waits
 * until it is ACTIVE.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const status = async (): Promise<string | undefined> => {
    try {
      const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
      return out.Table?.TableStatus ?? "UNKNOWN";
    } catch (error) {
      if (
        error instanceof ResourceNotFoundException ||
        (error as { name?: unknown } | null)?.name === "ResourceNotFoundException"
      ) {
        return undefined;
      }
      throw dependency("DescribeTable", error);
    }
  };
  if ((await status()) === undefined) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: "pk", AttributeType: "S" },
            { AttributeName: "sk", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
        }),
      );
    } catch (error) {
      // Someone else created it meanwhile: fine, wait for it below.
      if ((error as { name?: unknown } | null)?.name !== "ResourceInUseException") {
        throw dependency("CreateTable", error);
      }
    }
  }
  for (;;) {
    const current = await status();
    if (current === "ACTIVE") return;
    if (Date.now() > deadline) {
      throw new DependencyError(
        `DynamoDB table ${tableName} is not ACTIVE (status ${current ?? "missing"})`,
      );
    }
    await sleep(options.pollMs ?? 250);
  }
}
