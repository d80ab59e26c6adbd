// Who runs each row: the consumer as it ships ("ours") and the bare-undici baselines, over the
// processes and clients a benchmark run shares (the rig).
import { DeleteTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Agent } from "undici";
import { ensureTable } from "../src/adapters/dynamo/ensure-table.ts";
import type { HttpSink } from "../src/adapters/http-sink.ts";
import type { DeliveryMode } from "../src/core/plan.ts";
import {
  benchConsumer,
  CONSUMER_CONFIG,
  type ConsumerHandler,
  invocationContext,
  sinkTarget,
} from "./consumer.ts";
import {
  type MskEvent,
  type Prepared,
  partitionSerial,
  prepare,
  referenceLanes,
  type SinkProcess,
  sequentialLoop,
} from "./lib.ts";
import type { ContenderName } from "./results.ts";

/** Keyed and ordered: a virtual object's exclusive handler. */
export const VIRTUAL_OBJECT: DeliveryMode = { keyed: true, ordered: true, input: "json" };
/** Unkeyed and unordered: a service. */
export const SERVICE: DeliveryMode = { keyed: false, ordered: false, input: "json" };

/** Concurrency of the consumer and of the reference. */
export const CONCURRENCY = CONSUMER_CONFIG.MAX_CONCURRENCY;

/** The DynamoDB the consumer's stores use, with a new table per run. */
export interface BenchStore {
  readonly client: DynamoDBClient;
  freshTable(): Promise<string>;
}

export function benchStore(endpoint: string): BenchStore {
  const client = new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  let count = 0;
  let previous: string | undefined;
  return {
    client,
    async freshTable() {
      if (previous !== undefined) {
        await client.send(new DeleteTableCommand({ TableName: previous }));
      }
      count += 1;
      previous = `bench-${count}`;
      await ensureTable(client, previous, { pollMs: 5 });
      return previous;
    },
  };
}

/** The processes and clients every contender of a run shares. */
export interface Rig {
  readonly sink: SinkProcess;
  readonly sinkUrl: string;
  /** Where the store process (dynalite) listens. */
  readonly storeEndpoint: string;
  /** The baselines' undici agent. */
  readonly agent: Agent;
  readonly store: BenchStore;
  /** Our HTTP sink (one pool for the whole run, as in a warm Lambda container). */
  readonly deliver: HttpSink["deliver"];
}

export interface Contender {
  readonly name: ContenderName;
  /** Records this contender sends per run (checked against the sink's count). */
  readonly records: number;
  /** Measured time is multiplied by this (extrapolation from a subset; 1 = measured fully). */
  readonly scale: number;
  readonly run: () => Promise<void>;
  readonly warmUp: () => Promise<void>;
  /** Untimed, before every run and warm-up. */
  readonly reset?: () => Promise<void>;
  readonly note?: string;
}

interface Consumers {
  readonly ours: (event: MskEvent) => Promise<void>;
  /** A fresh progress table: the same event replayed must not count as a redelivery. */
  readonly reset: () => Promise<void>;
}

/** What ships: the consumer with the undici sink and the DynamoDB progress / dead-letter stores. */
function consumerFor(rig: Rig, mode: DeliveryMode): Consumers {
  const { store, deliver } = rig;
  let handler: ConsumerHandler | undefined;
  return {
    reset: async () => {
      handler = benchConsumer({
        sinkUrl: rig.sinkUrl,
        keyed: mode.keyed,
        deliver,
        store: { client: store.client, table: await store.freshTable() },
      });
    },
    ours: async (event) => {
      if (handler === undefined) throw new Error("reset() first");
      const response = await handler(event, invocationContext);
      if (response !== undefined) throw new Error("batch not fully delivered");
    },
  };
}

export function contenders(
  rig: Rig,
  mode: DeliveryMode,
  event: MskEvent,
  warmEvent: MskEvent,
  which: readonly ContenderName[],
): Contender[] {
  const { agent } = rig;
  const prepared: Prepared = prepare(event, mode, sinkTarget(rig.sinkUrl));
  const warm: Prepared = prepare(warmEvent, mode, sinkTarget(rig.sinkUrl));
  const oursContender = (): Contender => {
    const { ours, reset } = consumerFor(rig, mode);
    return {
      name: "ours",
      records: prepared.all.length,
      scale: 1,
      run: () => ours(event),
      warmUp: () => ours(warmEvent),
      reset,
    };
  };
  const all: Record<Exclude<ContenderName, "ours">, Contender> = {
    reference: {
      name: "reference",
      records: prepared.all.length,
      scale: 1,
      run: () => referenceLanes(agent, prepared.lanes, CONCURRENCY),
      warmUp: () => referenceLanes(agent, warm.lanes, CONCURRENCY),
    },
    "partition-serial": {
      name: "partition-serial",
      records: prepared.all.length,
      scale: 1,
      run: () => partitionSerial(agent, prepared.byPartition),
      warmUp: () => partitionSerial(agent, warm.byPartition),
    },
    sequential: {
      name: "sequential",
      records: prepared.all.length,
      scale: 1,
      run: () => sequentialLoop(agent, prepared.all),
      warmUp: () => sequentialLoop(agent, warm.all.slice(0, 200)),
    },
  };
  return which.map((name) => (name === "ours" ? oursContender() : all[name]));
}

/** The sequential loop on the first `subset` records only, its time scaled to the full batch. */
export function extrapolatedSequential(
  rig: Rig,
  mode: DeliveryMode,
  event: MskEvent,
  subset: number,
): Contender {
  const { agent } = rig;
  const prepared = prepare(event, mode, sinkTarget(rig.sinkUrl));
  const requests = prepared.all.slice(0, subset);
  return {
    name: "sequential",
    records: requests.length,
    scale: prepared.all.length / requests.length,
    note: `measured on ${requests.length} records, extrapolated ×${prepared.all.length / requests.length}`,
    run: () => sequentialLoop(agent, requests),
    warmUp: () => sequentialLoop(agent, requests.slice(0, 200)),
  };
}
