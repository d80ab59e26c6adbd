// Shared DynamoDB error translation and batch helpers for the reliability adapters.
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  type KeysAndAttributes,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { DependencyError } from "../core/errors.ts";

export type Item = Record<string, AttributeValue>;

export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException"
  );
}

const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "LimitExceededException",
]);

export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(String((error as { name?: unknown } | null)?.name));
}

export function dependency(operation: string, error: unknown): DependencyError {
  const name = (error as { name?: unknown } | null)?.name;
  const message = (error as { message?: unknown } | null)?.message;
  const throttled = isThrottling(error) ? " (throttled)" : "";
  return new DependencyError(
    `DynamoDB ${operation} failed${throttled}: ${String(name ?? "Error")}: ${String(message ?? error)}`,
    { cause: error },
  );
}

export interface BatchRetry {
  /** Rounds for unprocessed keys / items before giving up (default 8). */
  readonly maxRounds?: number;
  /** Base delay, doubled each round (default 25 ms, capped at 1 s). */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** BatchGetItem in chunks of 100 keys, retrying UnprocessedKeys with backoff. */
export async function batchGet(
  client: DynamoDBClient,
  table: string,
  keys: readonly Item[],
  retry: BatchRetry = {},
): Promise<Item[]> {
  const rounds = retry.maxRounds ?? 8;
  const sleep = retry.sleep ?? defaultSleep;
  const found: Item[] = [];
  for (const chunk of chunks(keys, 100)) {
    let request: Record<string, KeysAndAttributes> | undefined = {
      [table]: { Keys: chunk, ConsistentRead: true },
    };
    for (let round = 0; request !== undefined; round++) {
      if (round > 0) {
        if (round > rounds) {
          throw new DependencyError(
            `DynamoDB BatchGetItem left keys unprocessed after ${rounds} retries (throttled)`,
          );
        }
        await sleep(Math.min(1000, (retry.baseDelayMs ?? 25) * 2 ** (round - 1)));
      }
      let out: BatchGetItemCommandOutput;
      try {
        out = await client.send(new BatchGetItemCommand({ RequestItems: request }));
      } catch (error) {
        throw dependency("BatchGetItem", error);
      }
      found.push(...(out.Responses?.[table] ?? []));
      const unprocessed = out.UnprocessedKeys?.[table];
      request =
        unprocessed?.Keys !== undefined && unprocessed.Keys.length > 0
          ? { [table]: unprocessed }
          : undefined;
    }
  }
  return found;
}

/** BatchWriteItem in chunks of 25 requests, retrying UnprocessedItems with backoff. */
export async function batchWrite(
  client: DynamoDBClient,
  table: string,
  requests: readonly WriteRequest[],
  retry: BatchRetry = {},
): Promise<void> {
  const rounds = retry.maxRounds ?? 8;
  const sleep = retry.sleep ?? defaultSleep;
  for (const chunk of chunks(requests, 25)) {
    let pending: WriteRequest[] | undefined = chunk;
    for (let round = 0; pending !== undefined; round++) {
      if (round > 0) {
        if (round > rounds) {
          throw new DependencyError(
            `DynamoDB BatchWriteItem left items unprocessed after ${rounds} retries (throttled)`,
          );
        }
        await sleep(Math.min(1000, (retry.baseDelayMs ?? 25) * 2 ** (round - 1)));
      }
      let out: BatchWriteItemCommandOutput;
      try {
        out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      } catch (error) {
        throw dependency("BatchWriteItem", error);
      }
      const unprocessed: WriteRequest[] | undefined = out.UnprocessedItems?.[table];
      pending = unprocessed !== undefined && unprocessed.length > 0 ? unprocessed : undefined;
    }
  }
}
