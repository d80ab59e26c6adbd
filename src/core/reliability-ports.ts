// Ports for redelivery without duplicates (ProgressStore) and dead letters (DeadLetterStore).
// Errors: ConflictError on an optimistic-version mismatch, DependencyError when storage fails
// (throttling included).
import type { DeadLetter, DeadLetterRef, ParkedKey } from "./dead-letters.ts";
import type { PartitionProgress } from "./progress.ts";

export interface ProgressStore {
  /** The stored states of these partitions (absent ones are not in the map). Consistent reads. */
  load(
    subscriptionId: string,
    partitionIds: readonly string[],
  ): Promise<Map<string, PartitionProgress>>;
  /**
   * Writes `progress` (whose `version` is the new one) if the stored version is `expectedVersion`,
   * or if nothing is stored when `expectedVersion` is undefined. Throws ConflictError otherwise.
   */
  save(
    subscriptionId: string,
    progress: PartitionProgress,
    expectedVersion: number | undefined,
  ): Promise<void>;
  /** Deletes the state if its version is `expectedVersion` (nothing stored: success); else
   * ConflictError. */
  remove(subscriptionId: string, partitionId: string, expectedVersion: number): Promise<void>;
  /** Deletes every state of the subscription (when the subscription is deleted). */
  clear(subscriptionId: string): Promise<void>;
}

export interface DeadLetterPage {
  /** In (partition id, offset) order. */
  readonly items: DeadLetter[];
  /** Pass back to get the next page; absent on the last one. */
  readonly cursor?: string;
}

export interface ListDeadLettersOptions {
  readonly limit?: number | undefined;
  readonly cursor?: string | undefined;
  /** Start after this letter (instead of `cursor`), e.g. where an earlier walk stopped. */
  readonly startAfter?: DeadLetterRef | undefined;
  /** Only this partition (`<topic>-<partition>`). */
  readonly partitionId?: string | undefined;
  /** Only the letters parked on this key (`parkedKeyId`), i.e. what must be replayed before it
   * can be unparked. */
  readonly parkedKey?: string | undefined;
}

export interface DeadLetterStore {
  /**
   * Stores the letters (one per subscription, partition and offset: a letter already stored is
   * kept as it is, with its first failure), then marks every key named by a letter's `parksKey`
   * parked, bumping its version. Throws DependencyError; on failure some letters may be stored —
   * call again.
   */
  park(letters: readonly DeadLetter[]): Promise<void>;
  list(subscriptionId: string, options?: ListDeadLettersOptions): Promise<DeadLetterPage>;
  /**
   * How many letters `list` would return with these filters (`limit`, `cursor` and `startAfter`
   * aside), counting no further than `upTo` when given; reads no letter's content.
   */
  count(
    subscriptionId: string,
    options?: Pick<ListDeadLettersOptions, "partitionId" | "parkedKey"> & {
      upTo?: number | undefined;
    },
  ): Promise<number>;
  get(subscriptionId: string, ref: DeadLetterRef): Promise<DeadLetter | undefined>;
  /**
   * `list` and `get` return a large letter as a stub (`spilled`, value left out); this reads it
   * whole. Returns any other letter as it is. Throws DependencyError, or an Error when its chunks
   * are missing.
   */
  whole(letter: DeadLetter): Promise<DeadLetter>;
  /** Removes letters (replayed or discarded), and the chunks of those given as spilled stubs
   * (pass the letters as listed). Missing ones are ignored. */
  remove(
    subscriptionId: string,
    refs: ReadonlyArray<DeadLetterRef & Pick<DeadLetter, "spilled">>,
  ): Promise<void>;
  /** Ids (`parkedKeyId`) of the parked keys of these partitions. */
  parkedKeys(subscriptionId: string, partitionIds: readonly string[]): Promise<Set<string>>;
  /** In id order; `startAfter`: the keys after this id (instead of `cursor`). */
  listParkedKeys(
    subscriptionId: string,
    options?: {
      limit?: number | undefined;
      cursor?: string | undefined;
      startAfter?: string | undefined;
    },
  ): Promise<{ items: ParkedKey[]; cursor?: string }>;
  getParkedKey(subscriptionId: string, id: string): Promise<ParkedKey | undefined>;
  /**
   * Unparks a key if no letter was parked behind it since its `version` was read; ConflictError
   * otherwise (replay the new letters, then try again). Unparking a key that is not parked
   * succeeds.
   */
  unpark(subscriptionId: string, id: string, expectedVersion: number): Promise<void>;
  /** Deletes every letter and parked key of the subscription. */
  clear(subscriptionId: string): Promise<void>;
}
