// The only file that knows the Kafka client (@platformatic/kafka). It turns a consumer group
// member into the small interface the local event source needs: a record feed (starting at the
// group's committed offsets, else at `auto.offset.reset`), flow control, explicit commits and
// offsets for the status.
import { Consumer, type Message, type MessagesStream } from "@platformatic/kafka";
import { KafkaConfigError, KafkaFeedError } from "../../core/errors.ts";
import type { SourceRecord } from "./batching.ts";
import { describeKafkaError, isMissingTopicError } from "./kafka-errors.ts";

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
  /** Log start offsets per partition (the earliest record still kept). */
  lowWatermarks(): Promise<Map<number, number>>;
  /** The group's committed offsets (partitions without a commit are left out). */
  committedOffsets(partitions: readonly number[]): Promise<Map<number, number>>;
  close(): Promise<void>;
}

export interface FeedOptions {
  readonly connection: KafkaConnection;
  readonly topic: string;
  readonly groupId: string;
  /** Where partitions without a committed offset start (`auto.offset.reset`, or a time). */
  readonly startFrom: StartFrom;
  readonly clientId?: string;
}

/** `lambda.starting.position.timestamp`: epoch milliseconds. */
export type StartFrom = "earliest" | "latest" | { readonly timestamp: number };

export type OpenFeed = (options: FeedOptions, handlers: FeedHandlers) => Promise<RecordFeed>;

/** ListOffsets timestamp asking for each partition's log start offset (Kafka protocol). */
const EARLIEST = -2n;

const feedError = (error: unknown) =>
  new KafkaFeedError(describeKafkaError(error), {
    cause: error,
    topicMissing: isMissingTopicError(error),
  });

/** What @platformatic/kafka takes for TLS and SASL. */
export interface ClientSecurityOptions {
  readonly tls?: Record<string, never>;
  /** SNI: the broker's host name, as librdkafka sends it. */
  readonly tlsServerName?: true;
  readonly sasl?: {
    readonly mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";
    readonly username: string;
    readonly password: string;
  };
}

const SASL_SUPPORTED = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
const PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;

/**
 * Maps librdkafka-style cluster properties to client settings: `security.protocol` SSL/SASL_SSL →
 * TLS with the system's CAs and SNI; SASL_PLAINTEXT/SASL_SSL → SASL with `sasl.mechanism` (or
 * librdkafka's `sasl.mechanisms`) PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 and the clear
 * `sasl.username` / `sasl.password` of the config file. Anything else — AWS_MSK_IAM, GSSAPI,
 * OAUTHBEARER, credentials only by Secrets Manager reference — throws KafkaConfigError naming the
 * property (never a secret's value). Without a SASL protocol, `sasl.username` / `sasl.password`
 * are unused, as in librdkafka.
 */
export function clientSecurityOptions(
  properties: Readonly<Record<string, string>>,
): ClientSecurityOptions {
  const rawProtocol = (properties["security.protocol"] ?? "PLAINTEXT").trim().toUpperCase();
  const protocol = PROTOCOLS.find((p) => p === rawProtocol);
  if (!protocol) {
    throw new KafkaConfigError(
      `"security.protocol" ${JSON.stringify(rawProtocol)} is not supported; use one of ${PROTOCOLS.join(", ")}`,
    );
  }
  const tls = protocol === "SSL" || protocol === "SASL_SSL";
  const saslOn = protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";
  const rawMechanism = properties["sasl.mechanism"] ?? properties["sasl.mechanisms"];
  const out: { -readonly [K in keyof ClientSecurityOptions]: ClientSecurityOptions[K] } = tls
    ? { tls: {}, tlsServerName: true }
    : {};
  if (!saslOn) {
    if (rawMechanism !== undefined) {
      throw new KafkaConfigError(
        `"sasl.mechanism" needs "security.protocol" SASL_PLAINTEXT or SASL_SSL, not ${protocol}`,
      );
    }
    return out;
  }
  if (rawMechanism === undefined) {
    throw new KafkaConfigError(`"security.protocol" ${protocol} needs "sasl.mechanism"`);
  }
  const upper = rawMechanism.trim().toUpperCase();
  const mechanism = SASL_SUPPORTED.find((m) => m === upper);
  if (!mechanism) {
    const hint =
      upper === "AWS_MSK_IAM"
        ? "IAM authentication works only for the event source mapping on AWS; locally, use a listener with SCRAM or PLAIN"
        : `the local event source supports ${SASL_SUPPORTED.join(", ")}`;
    throw new KafkaConfigError(
      `"sasl.mechanism" ${JSON.stringify(upper)} is not supported by the local event source: ${hint}`,
    );
  }
  const username = properties["sasl.username"];
  const password = properties["sasl.password"];
  if (!username || !password) {
    const byReference = properties["aws.secrets.manager.arn"] !== undefined;
    throw new KafkaConfigError(
      `"sasl.mechanism" ${mechanism} needs "sasl.username" and "sasl.password" in the config file${byReference ? ` (the local stack does not read "aws.secrets.manager.arn")` : ""}`,
    );
  }
  out.sasl = { mechanism, username, password };
  return out;
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

/** Per partition without a committed offset: the offset a start at `timestamp` begins from. */
async function timestampStarts(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  topic: string,
  start: { readonly timestamp: number },
): Promise<Map<number, number>> {
  const highs = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
  const atTime =
    (await consumer.listOffsets({ topics: [topic], timestamp: BigInt(start.timestamp) })).get(
      topic,
    ) ?? [];
  const partitions = highs.map((_, partition) => partition);
  const commits =
    (await consumer.listCommittedOffsets({ topics: [{ topic, partitions }] })).get(topic) ?? [];
  const starts = new Map<number, number>();
  for (const partition of partitions) {
    if ((commits[partition] ?? -1n) >= 0n) continue;
    const at = atTime[partition] ?? -1n;
    starts.set(partition, Number(at >= 0n ? at : (highs[partition] ?? 0n)));
  }
  return starts;
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
    ...clientSecurityOptions(connection.properties ?? {}),
  });
  let closed = false;
  const fail = (error: unknown) => {
    if (!closed) handlers.onError(feedError(error));
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
  // Starting at a time: partitions without a commit start at the first offset whose timestamp is
  // at or after it (Kafka's ListOffsets by time, as the event source mapping's AT_TIMESTAMP), or
  // at the end when there is none. They are read from the log start and what lies before that
  // offset is skipped, which leaves the group's commits exactly as a consumer starting there.
  let skipBelow = new Map<number, number>();
  try {
    if (typeof startFrom === "object")
      skipBelow = await timestampStarts(consumer, topic, startFrom);
    stream = await consumer.consume({
      topics: [topic],
      mode: "committed",
      fallbackMode: typeof startFrom === "object" ? "earliest" : startFrom,
      autocommit: false,
    });
  } catch (error) {
    closed = true;
    await consumer.close(true).catch(() => {});
    throw feedError(error);
  }
  stream.on("data", (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
    if (closed) return;
    const record = toSourceRecord(message);
    if (record.offset < (skipBelow.get(record.partition) ?? 0)) return;
    handlers.onRecord(record);
  });
  stream.on("error", fail);
  stream.on("close", () => {
    if (!closed) fail(new Error("the Kafka message stream closed unexpectedly"));
  });

  const partitionOffsets = async (timestamp?: bigint) => {
    const offsets = await consumer
      .listOffsets({ topics: [topic], ...(timestamp === undefined ? {} : { timestamp }) })
      .catch((error: unknown) => {
        throw feedError(error);
      });
    const out = new Map<number, number>();
    (offsets.get(topic) ?? []).forEach((offset, partition) => {
      out.set(partition, Number(offset));
    });
    return out;
  };

  return {
    pause: () => {
      stream.pause();
    },
    resume: () => {
      stream.resume();
    },
    async commit(offsets) {
      if (offsets.length === 0) return;
      await consumer
        .commit({
          offsets: offsets.map(({ partition, offset }) => ({
            topic,
            partition,
            offset: BigInt(offset),
            leaderEpoch: -1,
          })),
        })
        .catch((error: unknown) => {
          throw feedError(error);
        });
    },
    highWatermarks: () => partitionOffsets(),
    lowWatermarks: () => partitionOffsets(EARLIEST),
    async committedOffsets(partitions) {
      const out = new Map<number, number>();
      if (partitions.length === 0) return out;
      const commits = await consumer
        .listCommittedOffsets({ topics: [{ topic, partitions: [...partitions] }] })
        .catch((error: unknown) => {
          throw feedError(error);
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
