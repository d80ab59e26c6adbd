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
  readonly elapsedSeconds: number;
}
