// ProgressStore over the single table: pk = `progress#<subscription id>`, sk = `<topic>-<partition>`,
// attributes `version` (N, optimistic concurrency), `settled` (S, delta-encoded ranges),
// `fingerprints` (S, base64: the records settled at those offsets), `failures`
// (S, compact JSON; absent when none), `updatedAt` (N, epoch ms). Encoding: core/progress-codec.ts;
// an item stays under DynamoDB's 400 KB (see MAX_ENCODED_BYTES and the codec's degradation).
import { DeleteItemCommand, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ConflictError, DependencyError, ProgressDecodeError } from "../../core/errors.ts";
import { type Logger, logJson } from "../../core/outcome.ts";
import type { PartitionProgress } from "../../core/progress.ts";
import { decodeProgress, encodeProgress } from "../../core/progress-codec.ts";
import type { ProgressStore } from "../../core/reliability-ports.ts";
import {
  type BatchRetry,
  batchGet,
  conditionally,
  deleteItemsOf,
  fromItem,
  type Item,
  toItem,
} from "./calls.ts";

/** Budget for the encoded strings: 400 KB less room for keys and attribute names. */
export const MAX_ENCODED_BYTES = 380_000;

export const progressPk = (subscriptionId: string): string => `progress#${subscriptionId}`;

const text = (value: unknown): string | undefined =>
  typeof value === "string" ? value : undefined;

export interface DynamoProgressStoreOptions extends BatchRetry {
  /** Told when a state had to drop error texts or failure history to fit an item. */
  readonly log?: Logger;
  readonly maxEncodedBytes?: number;
  readonly now?: () => number;
}

export class DynamoProgressStore implements ProgressStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #options: DynamoProgressStoreOptions;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoProgressStoreOptions = {}) {
    this.#client = client;
    this.#table = tableName;
    this.#options = options;
  }

  #key(subscriptionId: string, partitionId: string): Item {
    return toItem({ pk: progressPk(subscriptionId), sk: partitionId });
  }

  async load(
    subscriptionId: string,
    partitionIds: readonly string[],
  ): Promise<Map<string, PartitionProgress>> {
    const unique = [...new Set(partitionIds)];
    const result = new Map<string, PartitionProgress>();
    if (unique.length === 0) return result;
    const items = await batchGet(
      this.#client,
      this.#table,
      unique.map((id) => this.#key(subscriptionId, id)),
      this.#options,
    );
    for (const item of items) {
      const { sk, version, settled, fingerprints, failures } = fromItem(item);
      const partitionId = text(sk);
      if (partitionId === undefined || !Number.isSafeInteger(version)) continue;
      try {
        result.set(
          partitionId,
          decodeProgress(
            partitionId,
            version as number,
            text(settled),
            text(fingerprints),
            text(failures),
          ),
        );
      } catch (error) {
        if (error instanceof ProgressDecodeError) {
          throw new DependencyError(
            `progress of ${subscriptionId} ${partitionId} is unreadable: ${error.message}`,
            { cause: error },
          );
        }
        throw error;
      }
    }
    return result;
  }

  async save(
    subscriptionId: string,
    progress: PartitionProgress,
    expectedVersion: number | undefined,
  ): Promise<void> {
    const encoded = encodeProgress(progress, this.#options.maxEncodedBytes ?? MAX_ENCODED_BYTES);
    if (encoded.degraded !== undefined && this.#options.log) {
      logJson(this.#options.log, {
        level: "warn",
        msg: "progress state too large: degraded to fit one item",
        subscription: subscriptionId,
        partition: progress.partitionId,
        dropped: encoded.degraded,
      });
    }
    // Nothing settled is stored as no `settled` and no `fingerprints`, not as empty strings.
    const nothingSettled = encoded.settled === "";
    const item = toItem({
      pk: progressPk(subscriptionId),
      sk: progress.partitionId,
      version: progress.version,
      updatedAt: (this.#options.now ?? Date.now)(),
      settled: nothingSettled ? undefined : encoded.settled,
      fingerprints: nothingSettled ? undefined : encoded.fingerprints,
      failures: encoded.failures,
    });
    const write = await conditionally("PutItem progress", () =>
      this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: item,
          ...(expectedVersion === undefined
            ? { ConditionExpression: "attribute_not_exists(pk)" }
            : {
                ConditionExpression: "#version = :expected",
                ExpressionAttributeNames: { "#version": "version" },
                ExpressionAttributeValues: toItem({ ":expected": expectedVersion }),
              }),
        }),
      ),
    );
    if (!write.written) {
      throw new ConflictError(
        `progress of ${subscriptionId} ${progress.partitionId} changed meanwhile ` +
          `(expected ${expectedVersion === undefined ? "none" : `version ${expectedVersion}`})`,
      );
    }
  }

  async remove(
    subscriptionId: string,
    partitionId: string,
    expectedVersion: number,
  ): Promise<void> {
    const write = await conditionally("DeleteItem progress", () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: this.#key(subscriptionId, partitionId),
          ConditionExpression: "attribute_not_exists(pk) OR #version = :expected",
          ExpressionAttributeNames: { "#version": "version" },
          ExpressionAttributeValues: toItem({ ":expected": expectedVersion }),
        }),
      ),
    );
    if (!write.written) {
      throw new ConflictError(
        `progress of ${subscriptionId} ${partitionId} changed meanwhile (expected version ${expectedVersion})`,
      );
    }
  }

  async clear(subscriptionId: string): Promise<void> {
    await deleteItemsOf(
      this.#client,
      {
        table: this.#table,
        pk: progressPk(subscriptionId),
        consistentRead: false,
        operation: "Query progress",
      },
      this.#options,
    );
  }
}
