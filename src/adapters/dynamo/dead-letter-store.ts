// DeadLetterStore over the single table.
// - letter:     pk = `dead-letter#<subscription id>`, sk = `<topic>-<partition>#<offset, 20 digits>`
//               (so a Query lists a partition's letters in offset order), `#<fingerprint>` appended
//               for a letter parked at an offset that already holds another record's letter (a
//               reused offset: its `variant`), `doc` = the letter as
//               JSON (a stub when it is too large for one item, see spillLetter), `kind`,
//               `parkedAt`, and `parksKey` when it parks its key (a filter for "this key's letters").
// - chunk:      pk = `dead-letter#<subscription id>#spill`,
//               sk = `<partition>#<offset>#<spill id>#<chunk, 4 digits>`, `data` (binary): the whole
//               letter's JSON in pieces, for letters over ~300 KB; the spill id (a hash of the
//               content, named in the stub) keeps chunks of another write apart. Written before the
//               letter item, removed after it (computed from the stub).
// - parked key: pk = `parked-key#<subscription id>`, sk = parkedKeyId (`<partition id>#<key>`),
//               `partitionId`, `keyB64` (when known), `parkedAt`, `version` (bumped by every letter
//               parked behind it; unparking is conditional on it).
// No transactions (dynalite has none): letters are written before their keys are marked parked,
// and the consumer saves its progress only after both.
import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  type DeadLetter,
  type DeadLetterRef,
  MAX_LISTED_KEY_B64,
  type ParkedKey,
  partitionOfParkedKey,
  spillLetter,
  unspillLetter,
} from "../../core/dead-letters.ts";
import { decodeJsonToken, encodeJsonToken } from "../../core/encoding.ts";
import { ConflictError, ValidationError } from "../../core/errors.ts";
import type {
  DeadLetterPage,
  DeadLetterStore,
  ListDeadLettersOptions,
} from "../../core/reliability-ports.ts";
import {
  type BatchRetry,
  batchWrite,
  calling,
  conditionally,
  deleteItemsOf,
  docOf,
  fromItem,
  getItem,
  type Item,
  queryPages,
  toItem,
  type Written,
} from "./calls.ts";

export const deadLetterPk = (subscriptionId: string): string => `dead-letter#${subscriptionId}`;
export const parkedKeyPk = (subscriptionId: string): string => `parked-key#${subscriptionId}`;
const offsetSk = (ref: DeadLetterRef): string =>
  `${ref.partitionId}#${String(ref.offset).padStart(20, "0")}`;
export const deadLetterSk = (ref: DeadLetterRef): string =>
  ref.variant === undefined ? offsetSk(ref) : `${offsetSk(ref)}#${ref.variant}`;
const spillPk = (subscriptionId: string): string => `${deadLetterPk(subscriptionId)}#spill`;
type Spilled = NonNullable<DeadLetter["spilled"]>;
/** Keys of a spilled letter's chunks, in order. */
const chunkKeys = (
  subscriptionId: string,
  ref: DeadLetterRef,
  spilled: Spilled,
): Array<{ pk: string; sk: string }> =>
  Array.from({ length: spilled.chunks }, (_, index) => ({
    pk: spillPk(subscriptionId),
    sk: `${offsetSk(ref)}#${spilled.id}#${String(index).padStart(4, "0")}`,
  }));

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;
/** Parallel UpdateItem calls when marking keys parked. */
const KEY_CONCURRENCY = 16;

/** The cursor naming the sort key a page ended at; undefined after the last page. */
function encodeCursor(sk: unknown): string | undefined {
  return typeof sk !== "string" ? undefined : encodeJsonToken({ sk });
}

const endOf = (lastKey: Item | undefined): string | undefined =>
  lastKey === undefined ? undefined : encodeCursor(fromItem(lastKey).sk);

/** `prefix`: the sort-key prefix of the query; a cursor outside it is invalid (DynamoDB would
 * refuse the start key with a ValidationException). */
function decodeCursor(pk: string, cursor: string | undefined, prefix = ""): Item | undefined {
  if (cursor === undefined) return undefined;
  try {
    const { sk } = decodeJsonToken(cursor) as { sk?: unknown };
    if (
      typeof sk === "string" &&
      sk.length > prefix.length &&
      !/\p{Surrogate}/u.test(sk) &&
      Buffer.byteLength(sk, "utf8") <= 1024 &&
      sk.startsWith(prefix)
    ) {
      return toItem({ pk, sk });
    }
  } catch {
    // fall through
  }
  throw new ValidationError("invalid cursor");
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1) throw new ValidationError("limit must be 1 or more");
  return Math.min(limit, MAX_PAGE);
}

/** The key condition and filter selecting a subscription's letters (of a partition, of a key). */
function letterQuery(
  pk: string,
  partitionId: string | undefined,
  parkedKey: string | undefined,
): Pick<
  QueryCommandInput,
  "KeyConditionExpression" | "FilterExpression" | "ExpressionAttributeValues"
> {
  return {
    KeyConditionExpression:
      partitionId === undefined ? "pk = :pk" : "pk = :pk AND begins_with(sk, :prefix)",
    ...(parkedKey === undefined ? {} : { FilterExpression: "parksKey = :parked" }),
    ExpressionAttributeValues: toItem({
      ":pk": pk,
      ":prefix": partitionId === undefined ? undefined : `${partitionId}#`,
      ":parked": parkedKey,
    }),
  };
}

function toParkedKey(subscriptionId: string, item: Item): ParkedKey | undefined {
  const { sk: id, partitionId, keyB64, version, parkedAt } = fromItem(item);
  if (typeof id !== "string") return undefined;
  return {
    subscriptionId,
    id,
    partitionId: typeof partitionId === "string" ? partitionId : partitionOfParkedKey(id),
    key: typeof keyB64 === "string" ? keyB64 : null,
    version: Number(version ?? 0),
    parkedAt: Number(parkedAt ?? 0),
  };
}

async function inParallel<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class DynamoDeadLetterStore implements DeadLetterStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #retry: BatchRetry;

  constructor(client: DynamoDBClient, tableName: string, retry: BatchRetry = {}) {
    this.#client = client;
    this.#table = tableName;
    this.#retry = retry;
  }

  async park(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    // Last write wins within one call (the same coordinates twice would be rejected in a batch).
    const unique = new Map<string, DeadLetter>();
    for (const letter of letters) {
      unique.set(`${letter.subscriptionId}\u0000${deadLetterSk(letter)}`, letter);
    }
    const stored = [...unique.values()].map((letter) => ({ letter, ...spillLetter(letter) }));
    // Chunks first: a letter item never exists without the chunks its stub names.
    await batchWrite(
      this.#client,
      this.#table,
      stored.flatMap(({ letter, stub, chunks }) =>
        stub.spilled === undefined
          ? []
          : chunkKeys(letter.subscriptionId, letter, stub.spilled).map((key, index) => ({
              PutRequest: { Item: toItem({ ...key, data: chunks[index] }) },
            })),
      ),
      this.#retry,
    );
    // A letter already stored stays as it is (conditional put): a batch sent again (after an
    // offset reset, or once its progress was cleared) would otherwise overwrite the first failure
    // with a "parked-behind" copy of itself. Its key is still marked parked below. Another record
    // at the same offset (offsets reused) is kept beside it, as a variant.
    await inParallel(stored, KEY_CONCURRENCY, async ({ letter, stub }) => {
      const put = await this.#putNew(letter, stub);
      if (put.written) return;
      const existing = docOf<DeadLetter>(put.current);
      if (
        letter.fingerprint === undefined ||
        existing?.fingerprint === undefined ||
        existing.fingerprint === letter.fingerprint
      ) {
        return;
      }
      await this.#putNew(letter, { ...stub, variant: letter.fingerprint });
    });

    const keys = new Map<
      string,
      { subscriptionId: string; id: string; count: number; key: string | null; at: number }
    >();
    for (const letter of unique.values()) {
      if (letter.parksKey === undefined) continue;
      const id = `${letter.subscriptionId}\u0000${letter.parksKey}`;
      const entry = keys.get(id);
      // A huge key is left out of the parked-key item (which must stay small); its id names it.
      const listedKey =
        letter.key !== null && letter.key.length <= MAX_LISTED_KEY_B64 ? letter.key : null;
      if (entry === undefined) {
        keys.set(id, {
          subscriptionId: letter.subscriptionId,
          id: letter.parksKey,
          count: 1,
          key: listedKey,
          at: letter.parkedAt,
        });
      } else {
        entry.count++;
        entry.key ??= listedKey;
      }
    }
    await inParallel([...keys.values()], KEY_CONCURRENCY, async (k) => {
      await calling("UpdateItem parked key", () =>
        this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: toItem({ pk: parkedKeyPk(k.subscriptionId), sk: k.id }),
            UpdateExpression:
              "SET partitionId = :partition, parkedAt = if_not_exists(parkedAt, :at)" +
              (k.key === null ? "" : ", keyB64 = :key") +
              " ADD #version :count",
            ExpressionAttributeNames: { "#version": "version" },
            ExpressionAttributeValues: toItem({
              ":partition": partitionOfParkedKey(k.id),
              ":at": k.at,
              ":count": k.count,
              ":key": k.key ?? undefined,
            }),
          }),
        ),
      );
    });
  }

  /** Puts the letter item unless its key exists; when it did, not written and the item found. */
  #putNew(letter: DeadLetter, stub: DeadLetter): Promise<Written<unknown>> {
    return conditionally("PutItem dead letter", () =>
      this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: toItem({
            pk: deadLetterPk(letter.subscriptionId),
            sk: deadLetterSk({ ...letter, ...(stub.variant ? { variant: stub.variant } : {}) }),
            doc: JSON.stringify(stub),
            kind: letter.kind,
            parkedAt: letter.parkedAt,
            parksKey: letter.parksKey,
          }),
          ConditionExpression: "attribute_not_exists(pk)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
  }

  /** One page of a strongly consistent Query. */
  #queryPage(input: Omit<QueryCommandInput, "TableName">, operation: string) {
    return calling(operation, () =>
      this.#client.send(
        new QueryCommand({ TableName: this.#table, ConsistentRead: true, ...input }),
      ),
    );
  }

  /** Every page of a strongly consistent Query. */
  #queryAll(input: Omit<QueryCommandInput, "TableName">, operation: string) {
    return queryPages(
      this.#client,
      { TableName: this.#table, ConsistentRead: true, ...input },
      operation,
    );
  }

  async list(
    subscriptionId: string,
    options: ListDeadLettersOptions = {},
  ): Promise<DeadLetterPage> {
    const pk = deadLetterPk(subscriptionId);
    const partitionId =
      options.partitionId ??
      (options.parkedKey === undefined ? undefined : partitionOfParkedKey(options.parkedKey));
    const prefix = partitionId === undefined ? "" : `${partitionId}#`;
    const start =
      options.startAfter === undefined
        ? decodeCursor(pk, options.cursor, prefix)
        : decodeCursor(pk, encodeCursor(deadLetterSk(options.startAfter)), prefix);
    const out = await this.#queryPage(
      {
        ...letterQuery(pk, partitionId, options.parkedKey),
        Limit: pageLimit(options.limit),
        ...(start ? { ExclusiveStartKey: start } : {}),
      },
      "Query dead letters",
    );
    const items = (out.Items ?? []).flatMap((item) => docOf<DeadLetter>(item) ?? []);
    const cursor = endOf(out.LastEvaluatedKey);
    return cursor === undefined ? { items } : { items, cursor };
  }

  async count(
    subscriptionId: string,
    options: Pick<ListDeadLettersOptions, "partitionId" | "parkedKey"> & { upTo?: number } = {},
  ): Promise<number> {
    const pk = deadLetterPk(subscriptionId);
    const partitionId =
      options.partitionId ??
      (options.parkedKey === undefined ? undefined : partitionOfParkedKey(options.parkedKey));
    let count = 0;
    const pages = this.#queryAll(
      { ...letterQuery(pk, partitionId, options.parkedKey), Select: "COUNT" },
      "Query dead letters",
    );
    for await (const page of pages) {
      count += page.Count ?? 0;
      if (options.upTo !== undefined && count >= options.upTo) break;
    }
    return options.upTo === undefined ? count : Math.min(count, options.upTo);
  }

  async get(subscriptionId: string, ref: DeadLetterRef): Promise<DeadLetter | undefined> {
    const key = toItem({ pk: deadLetterPk(subscriptionId), sk: deadLetterSk(ref) });
    return docOf<DeadLetter>(await getItem(this.#client, this.#table, key, "GetItem dead letter"));
  }

  async whole(letter: DeadLetter): Promise<DeadLetter> {
    if (letter.spilled === undefined) return letter;
    const chunks: Uint8Array[] = [];
    const pages = this.#queryAll(
      {
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: toItem({
          ":pk": spillPk(letter.subscriptionId),
          ":prefix": `${offsetSk(letter)}#${letter.spilled.id}#`,
        }),
      },
      "Query dead letter chunks",
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const { data } = fromItem(item);
        if (data instanceof Uint8Array) chunks.push(data);
      }
    }
    return unspillLetter(letter, chunks);
  }

  async remove(
    subscriptionId: string,
    refs: ReadonlyArray<DeadLetterRef & Pick<DeadLetter, "spilled">>,
  ): Promise<void> {
    const sks = [...new Set(refs.map(deadLetterSk))];
    await batchWrite(
      this.#client,
      this.#table,
      sks.map((sk) => ({
        DeleteRequest: { Key: toItem({ pk: deadLetterPk(subscriptionId), sk }) },
      })),
      this.#retry,
    );
    // Then the chunks of spilled ones, by their computed keys.
    await batchWrite(
      this.#client,
      this.#table,
      refs.flatMap((ref) =>
        ref.spilled === undefined
          ? []
          : chunkKeys(subscriptionId, ref, ref.spilled).map((key) => ({
              DeleteRequest: { Key: toItem(key) },
            })),
      ),
      this.#retry,
    );
  }

  /** Deletes every item of `pk`, page by page. */
  #deleteAll(pk: string): Promise<void> {
    return deleteItemsOf(
      this.#client,
      { table: this.#table, pk, consistentRead: true, operation: "Query dead letters" },
      this.#retry,
    );
  }

  async parkedKeys(subscriptionId: string, partitionIds: readonly string[]): Promise<Set<string>> {
    const result = new Set<string>();
    await Promise.all(
      [...new Set(partitionIds)].map(async (partitionId) => {
        const pages = this.#queryAll(
          {
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues: toItem({
              ":pk": parkedKeyPk(subscriptionId),
              ":prefix": `${partitionId}#`,
            }),
            ProjectionExpression: "sk",
          },
          "Query parked keys",
        );
        for await (const page of pages) {
          for (const item of page.Items ?? []) {
            const { sk } = fromItem(item);
            if (typeof sk === "string" && sk !== "") result.add(sk);
          }
        }
      }),
    );
    return result;
  }

  async listParkedKeys(
    subscriptionId: string,
    options: { limit?: number; cursor?: string; startAfter?: string } = {},
  ): Promise<{ items: ParkedKey[]; cursor?: string }> {
    const pk = parkedKeyPk(subscriptionId);
    const start = decodeCursor(
      pk,
      options.startAfter === undefined ? options.cursor : encodeCursor(options.startAfter),
    );
    const out = await this.#queryPage(
      {
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: toItem({ ":pk": pk }),
        Limit: pageLimit(options.limit),
        ...(start ? { ExclusiveStartKey: start } : {}),
      },
      "Query parked keys",
    );
    const items = (out.Items ?? []).flatMap((item) => toParkedKey(subscriptionId, item) ?? []);
    const cursor = endOf(out.LastEvaluatedKey);
    return cursor === undefined ? { items } : { items, cursor };
  }

  async getParkedKey(subscriptionId: string, id: string): Promise<ParkedKey | undefined> {
    const key = toItem({ pk: parkedKeyPk(subscriptionId), sk: id });
    const item = await getItem(this.#client, this.#table, key, "GetItem parked key");
    return item === undefined ? undefined : toParkedKey(subscriptionId, item);
  }

  async unpark(subscriptionId: string, id: string, expectedVersion: number): Promise<void> {
    const write = await conditionally("DeleteItem parked key", () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: toItem({ pk: parkedKeyPk(subscriptionId), sk: id }),
          ConditionExpression: "attribute_not_exists(pk) OR #version = :expected",
          ExpressionAttributeNames: { "#version": "version" },
          ExpressionAttributeValues: toItem({ ":expected": expectedVersion }),
        }),
      ),
    );
    if (!write.written) {
      throw new ConflictError(
        `key ${id} of ${subscriptionId} had letters parked behind it meanwhile (expected version ${expectedVersion})`,
      );
    }
  }

  async clear(subscriptionId: string): Promise<void> {
    for (const pk of [
      deadLetterPk(subscriptionId),
      spillPk(subscriptionId),
      parkedKeyPk(subscriptionId),
    ]) {
      await this.#deleteAll(pk);
    }
  }
}
