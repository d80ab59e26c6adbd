// The only file that knows the Kafka client (@platformatic/kafka). It turns a consumer group
// member into the small interface the local event source needs: a record feed (starting at the
// group's committed offsets, else at `auto.offset.reset`), flow control, explicit commits and
// offsets for the status.
import {
  Consumer,
  type ConsumerOptions,
  type Message,
  type MessagesStream,
} from "@platformatic/kafka";
import type { SourceRecord } from "./batching.ts";

export interface KafkaConnection {
  /** `host:port` entries. */
  readonly bootstrapServers: readonly string[];
  /** librdkafka-style cluster properties (`security.protocol`, `sasl.*`); optional. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface FeedHandlers {
  onRecord(record: SourceRecord): void;
  /** The member's partitions after a (re)join. */
  onAssigned(partitions: readonly number[]): void;
  /** The feed broke (broker gone, group error...): the caller closes it and starts a new one. */
  onError(error: Error): void;
}

export interface RecordFeed {
  pause(): void;
  resume(): void;
  /** Commits `offset` (= next offset to consume) per partition for the group. */
  commit(offsets: ReadonlyArray<{ partition: number; offset: number }>): Promise<void>;
  /** Log end offsets per partition. */
  highWatermarks(): Promise<Map<number, number>>;
  /** The group's committed offsets (partitions without a commit are left out). */
  committedOffsets(partitions: readonly number[]): Promise<Map<number, number>>;
  close(): Promise<void>;
}

export interface FeedOptions {
  readonly connection: KafkaConnection;
  readonly topic: string;
  readonly groupId: string;
  readonly startFrom: "earliest" | "latest";
  readonly clientId?: string;
}

export type OpenFeed = (options: FeedOptions, handlers: FeedHandlers) => Promise<RecordFeed>;

function securityOptions(
  properties: Readonly<Record<string, string>>,
): Partial<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>> {
  const protocol = (properties["security.protocol"] ?? "PLAINTEXT").toUpperCase();
  const out: Record<string, unknown> = {};
  if (protocol === "SSL" || protocol === "SASL_SSL") out.tls = {};
  if (protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL") {
    out.sasl = {
      mechanism: (
        properties["sasl.mechanism"] ??
        properties["sasl.mechanisms"] ??
        "PLAIN"
      ).toUpperCase(),
      username: properties["sasl.username"],
      password: properties["sasl.password"],
    };
  }
  return out as Partial<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>>;
}

function toSourceRecord(message: Message<Buffer, Buffer, Buffer, Buffer>): SourceRecord {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: "CREATE_TIME",
    key: message.key ?? null,
    value: message.value ?? null,
    headers: message.headerEntries.map(([name, value]) => [
      Buffer.isBuffer(name) ? name.toString("utf8") : String(name),
      value ?? null,
    ]),
  };
}

/** Opens a group member on @platformatic/kafka and starts feeding records. */
export const openPlatformaticFeed: OpenFeed = async (options, handlers) => {
  const { connection, topic, groupId, startFrom } = options;
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: options.clientId ?? `local-esm-${groupId}`,
    groupId,
    bootstrapBrokers: [...connection.bootstrapServers],
    autocommit: false,
    // A restarted local stack should get its partitions back quickly.
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1_000,
    maxWaitTime: 500,
    connectTimeout: 5_000,
    retries: 2,
    retryDelay: 500,
    ...securityOptions(connection.properties ?? {}),
  });
  let closed = false;
  const fail = (error: unknown) => {
    if (!closed) handlers.onError(error instanceof Error ? error : new Error(String(error)));
  };
  consumer.on("error", fail);
  consumer.on("consumer:heartbeat:error", (payload) => fail(payload.error));
  consumer.on("consumer:group:join", (payload) => {
    const partitions = (payload.assignments ?? consumer.assignments ?? [])
      .filter((a) => a.topic === topic)
      .flatMap((a) => a.partitions);
    handlers.onAssigned(partitions);
  });

  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
  try {
    stream = await consumer.consume({
      topics: [topic],
      mode: "committed",
      fallbackMode: startFrom,
      autocommit: false,
    });
  } catch (error) {
    closed = true;
    await consumer.close(true).catch(() => {});
    throw error;
  }
  stream.on("data", (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
    if (!closed) handlers.onRecord(toSourceRecord(message));
  });
  stream.on("error", fail);
  stream.on("close", () => {
    if (!closed) fail(new Error("the Kafka message stream closed unexpectedly"));
  });

  return {
    pause: () => {
      stream.pause();
    },
    resume: () => {
      stream.resume();
    },
    async commit(offsets) {
      if (offsets.length === 0) return;
      await consumer.commit({
        offsets: offsets.map(({ partition, offset }) => ({
          topic,
          partition,
          offset: BigInt(offset),
          leaderEpoch: -1,
        })),
      });
    },
    async highWatermarks() {
      const offsets = await consumer.listOffsets({ topics: [topic] });
      const out = new Map<number, number>();
      (offsets.get(topic) ?? []).forEach((offset, partition) => {
        out.set(partition, Number(offset));
      });
      return out;
    },
    async committedOffsets(partitions) {
      const out = new Map<number, number>();
      if (partitions.length === 0) return out;
      const commits = await consumer.listCommittedOffsets({
        topics: [{ topic, partitions: [...partitions] }],
      });
      (commits.get(topic) ?? []).forEach((offset, partition) => {
        if (offset >= 0n) out.set(partition, Number(offset));
      });
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      await stream.close().catch(() => {});
      await consumer.close().catch(async () => {
        await consumer.close(true).catch(() => {});
      });
    },
  };
};
