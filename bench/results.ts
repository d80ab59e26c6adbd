// What a benchmark run measured, as results.json stores it and the report and chart read it.
import type { ColdStart } from "../infra/cold-start.ts";

export type ContenderName = "ours" | "reference" | "partition-serial" | "sequential";

export interface ContenderResult {
  readonly name: ContenderName;
  readonly runs: number;
  readonly records: number;
  readonly scale: number;
  readonly note?: string;
  readonly spansMs: number[];
  readonly medianSpanMs: number;
  readonly medianBoundMs: number;
  readonly medianEfficiency: number;
  readonly medianMeanLatencyMs: number;
  readonly peakRss: number;
  readonly maxInFlight: number;
}

/** One row of the table: a workload shape, every contender measured on it. */
export interface RowResult {
  readonly id: string;
  readonly title: string;
  readonly records: number;
  readonly latency: string;
  readonly ordered: boolean;
  /** Parallel Consumer README figure, ms. */
  readonly parallelConsumerMs?: number;
  readonly contenders: Partial<Record<ContenderName, ContenderResult>>;
}

/** Workload 4: one ~6 MB batch in a fresh process per run. */
export interface MemoryResult {
  readonly eventBytes: number;
  readonly records: number;
  readonly runs: number;
  readonly medianSpanMs: number;
  readonly medianRssBefore: number;
  readonly medianPeakRss: number;
  readonly medianPeakHeapUsed: number;
  readonly medianHeapUsedBefore: number;
  readonly medianPeakExternal: number;
}

/** Workload 5: one function's bundle. */
export interface BundleResult {
  readonly entry: string;
  readonly bytes: number;
  readonly runs: number;
  readonly medianImportMs: number;
  readonly medianProcessMs: number;
  /** Under AWS's runtime emulator and client (infra/cold-start.ts), when they are installed. */
  readonly emulator?: ColdStart;
}

/** Everything the report is made from. */
export interface Measured {
  readonly rows: RowResult[];
  readonly memory?: MemoryResult;
  readonly bundles?: BundleResult[];
  readonly endToEnd?: E2eResult;
  readonly elapsedSeconds: number;
}

/**
 * Workload 6's contenders: Restate's own Kafka ingress, our stack with `call` and with `send`, and
 * the floor of any HTTP feed: our requests for the same records, built ahead and sent by bare undici
 * from the bench process to Restate's ingress with `send` (no Kafka, no store).
 */
export type E2eContender = "restate-ingress" | "ours-call" | "ours-send" | "http-send";
export type E2eProcess = "restate-server" | "sdk-endpoint" | "our-stack" | "kafka-broker";

/** One contender's run, from subscription creation until Restate holds every record. */
export interface E2eRun {
  readonly spanMs: number;
  readonly recordsPerSecond: number;
  /** Subscription creation → the handler's first execution. */
  readonly firstRecordMs: number;
  /** CPU (user + system) each process spent over the span, per record. */
  readonly cpuMsPerRecord: Record<E2eProcess, number>;
  /** Entries in the objects' state (records + duplicates). */
  readonly total: number;
  readonly missing: number;
  readonly duplicates: number;
  /** Consecutive entries of a key whose offset (or seq) did not increase. */
  readonly orderViolations: number;
  /** CPU the rest of the machine used meanwhile (not these processes nor the bench), in cores. */
  readonly otherCores?: number;
  /** http-send only: CPU of the bench process (the bare feed), per record. */
  readonly feederCpuMsPerRecord?: number;
  /** Ours only: from the stack's `batch processed` lines. */
  readonly batches?: {
    readonly count: number;
    readonly meanRecords: number;
    readonly meanLanes: number;
    readonly p50SpanMs: number;
    readonly p90SpanMs: number;
  };
}

export interface E2eContenderResult {
  readonly name: E2eContender;
  readonly runs: E2eRun[];
  readonly medianRecordsPerSecond: number;
  readonly medianSpanMs: number;
  readonly medianFirstRecordMs: number;
  readonly medianCpuMsPerRecord: Record<E2eProcess, number>;
  /** Every run: no record missing, none twice, offsets increasing per key. */
  readonly correct: boolean;
  readonly batches?: {
    readonly meanRecords: number;
    readonly meanLanes: number;
    readonly p50SpanMs: number;
    readonly p90SpanMs: number;
  };
}

/** Workload 6: end to end through a real Kafka broker and a real Restate server. */
export interface E2eResult {
  readonly records: number;
  readonly partitions: number;
  readonly keys: number;
  readonly runs: number;
  /** Share of the machine's CPU time busy (any process) while contenders ran, median. */
  readonly medianMachineBusy: number;
  /** When it was measured (ISO), for reports that merge it with other workloads' results. */
  readonly measuredAt: string;
  /** Node version of the run (the other workloads may come from another run, see --update). */
  readonly node: string;
  readonly contenders: E2eContenderResult[];
}
