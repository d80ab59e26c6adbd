// The DynamoDB calls every store here shares: the one mapping of SDK errors onto the product's
// error types, reads, conditional writes that report the item they found, paginated queries, and
// batch get/write in rounds until nothing is left unprocessed.
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  type KeysAndAttributes,
  paginateQuery,
  type QueryCommandInput,
  type QueryCommandOutput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { ConflictError, DependencyError, errorName, IngressError } from "../../core/errors.ts";
import { chunks } from "../../core/lists.ts";
import { exponentialDelays, retrying, sleep } from "../../core/retry.ts";

export type Item = Record<string, AttributeValue>;

/** Errors that say DynamoDB is over its (or the account's) capacity for now. */
const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "LimitExceededException",
]);

export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    errorName(error) === "ConditionalCheckFailedException"
  );
}

/**
 * What a failed DynamoDB call means for the product: a failed condition is a conflict, anything
 * else (throttling included, which the message names) a dependency failure worth another try.
 * The product's own errors pass through as they are.
 */
export function storeError(operation: string, error: unknown): IngressError {
  if (error instanceof IngressError) return error;
  if (isConditionFailure(error)) {
    return new ConflictError(`DynamoDB ${operation}: the item changed meanwhile`, { cause: error });
  }
  const name = errorName(error);
  const message = (error as { message?: unknown } | null)?.message;
  const throttled = THROTTLING.has(name) ? " (throttled)" : "";
  return new DependencyError(
    `DynamoDB ${operation} failed${throttled}: ${name}: ${String(message ?? error)}`,
    { cause: error },
  );
}

/** Runs one DynamoDB call, its failure mapped by storeError. */
export async function calling<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw storeError(operation, error);
  }
}

/** A conditional write done, or refused with the item as it is now (undefined: there is none). */
export type Written<T> =
  | { readonly written: true; readonly output: T }
  | { readonly written: false; readonly current: Item | undefined };

/**
 * Runs a conditional write; a failed condition is an answer, not an error. The write must ask
 * for `ReturnValuesOnConditionCheckFailure: "ALL_OLD"` for `current` to hold the item.
 */
export async function conditionally<T>(
  operation: string,
  write: () => Promise<T>,
): Promise<Written<T>> {
  try {
    return { written: true, output: await write() };
  } catch (error) {
    if (!isConditionFailure(error)) throw storeError(operation, error);
    return { written: false, current: (error as ConditionalCheckFailedException).Item };
  }
}

/** An item from its native fields; fields left undefined are left out. */
export function toItem(fields: Record<string, unknown>): Item {
  return marshall(fields, { removeUndefinedValues: true });
}

/** The native fields of an item. */
export function fromItem(item: Item): Record<string, unknown> {
  return unmarshall(item);
}

/** The entity an item keeps as JSON in its `doc` attribute; undefined without item or doc. */
export function docOf<T>(item: Item | undefined): T | undefined {
  if (item === undefined) return undefined;
  const { doc } = fromItem(item);
  return typeof doc === "string" ? (JSON.parse(doc) as T) : undefined;
}

/** A strongly consistent GetItem; undefined when there is no such item. */
export async function getItem(
  client: DynamoDBClient,
  table: string,
  key: Item,
  operation: string,
): Promise<Item | undefined> {
  const out = await calling(operation, () =>
    client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true })),
  );
  return out.Item;
}

/** Every page of a Query, `pageSize` items each at most (DynamoDB's own limit is 1 MB). */
export async function* queryPages(
  client: DynamoDBClient,
  input: QueryCommandInput,
  operation: string,
  pageSize?: number,
): AsyncGenerator<QueryCommandOutput> {
  try {
    yield* paginateQuery({ client, ...(pageSize === undefined ? {} : { pageSize }) }, input);
  } catch (error) {
    throw storeError(operation, error);
  }
}

export interface BatchRetry {
  /** Rounds for unprocessed keys / items before giving up (default 8). */
  readonly maxRounds?: number;
  /** Base delay, doubled each round (default 25 ms, capped at 1 s). */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `round` again, with backoff, for as long as it throws `unprocessed` (what DynamoDB left
 * over is retried) and the rounds last; a failed call ends the rounds at once.
 */
async function inRounds(
  operation: string,
  leftOver: string,
  retry: BatchRetry,
  round: (unprocessed: DependencyError) => Promise<void>,
): Promise<void> {
  const rounds = retry.maxRounds ?? 8;
  const unprocessed = new DependencyError(
    `DynamoDB ${operation} left ${leftOver} unprocessed after ${rounds} retries (throttled)`,
  );
  await retrying(() => round(unprocessed), {
    maxAttempts: rounds + 1,
    delayMs: exponentialDelays({ baseMs: retry.baseDelayMs ?? 25, maxMs: 1000 }),
    sleep: retry.sleep ?? sleep,
    isRetryable: (error) => error === unprocessed,
  });
}

/** BatchGetItem in chunks of 100 keys (strongly consistent), retrying UnprocessedKeys. */
export async function batchGet(
  client: DynamoDBClient,
  table: string,
  keys: readonly Item[],
  retry: BatchRetry = {},
): Promise<Item[]> {
  const found: Item[] = [];
  for (const chunk of chunks(keys, 100)) {
    let pending: KeysAndAttributes = { Keys: chunk, ConsistentRead: true };
    await inRounds("BatchGetItem", "keys", retry, async (unprocessed) => {
      const out = await calling("BatchGetItem", () =>
        client.send(new BatchGetItemCommand({ RequestItems: { [table]: pending } })),
      );
      found.push(...(out.Responses?.[table] ?? []));
      const left = out.UnprocessedKeys?.[table];
      if (left?.Keys !== undefined && left.Keys.length > 0) {
        pending = left;
        throw unprocessed;
      }
    });
  }
  return found;
}

/** BatchWriteItem in chunks of 25 requests, retrying UnprocessedItems. */
export async function batchWrite(
  client: DynamoDBClient,
  table: string,
  requests: readonly WriteRequest[],
  retry: BatchRetry = {},
): Promise<void> {
  for (const chunk of chunks(requests, 25)) {
    let pending: WriteRequest[] = chunk;
    await inRounds("BatchWriteItem", "items", retry, async (unprocessed) => {
      const out = await calling("BatchWriteItem", () =>
        client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } })),
      );
      const left = out.UnprocessedItems?.[table];
      if (left !== undefined && left.length > 0) {
        pending = left;
        throw unprocessed;
      }
    });
  }
}

/** What `deleteItemsOf` removes: every item under one partition key. */
export interface PartitionToDelete {
  readonly table: string;
  readonly pk: string;
  /** Read the keys with a strongly consistent query (sees writes just made). */
  readonly consistentRead: boolean;
  /** Names the query in errors ("Query progress"). */
  readonly operation: string;
}

/** Deletes every item under `partition.pk`, a page of keys at a time. */
export async function deleteItemsOf(
  client: DynamoDBClient,
  partition: PartitionToDelete,
  retry: BatchRetry = {},
): Promise<void> {
  const pages = queryPages(
    client,
    {
      TableName: partition.table,
      ConsistentRead: partition.consistentRead,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: toItem({ ":pk": partition.pk }),
      ProjectionExpression: "pk, sk",
    },
    partition.operation,
  );
  for await (const page of pages) {
    await batchWrite(
      client,
      partition.table,
      (page.Items ?? []).map((Key) => ({ DeleteRequest: { Key } })),
      retry,
    );
  }
}
