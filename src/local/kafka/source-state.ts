// What the feed connection and the batch runner of one local event source share: its status
// (state, last error, failing batches), the stop signal every wait of either ends on, and the
// jittered backoff both retry with.

/** `failed`: the cluster's settings cannot work (see `lastError`); nothing is retried. */
export type EventSourceState = "starting" | "running" | "retrying" | "failed" | "stopped";

/** Backoff for failed batches and reconnects: `initialMs` doubling up to `maxMs`. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** The delay before retry `attempt` (1-based), ±20% jitter. */
export function backoffMs(attempt: number, retry: Backoff): number {
  const base = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export type Emit = (
  level: "info" | "warn" | "error",
  msg: string,
  extra?: Record<string, unknown>,
) => void;

export class SourceState {
  state: EventSourceState = "starting";
  lastError: { message: string; at: string } | undefined;
  /** Set when the cluster's settings cannot work: nothing is attempted. */
  configError: string | undefined;
  /** A feed is open and has not failed since. */
  feedHealthy = false;
  /** Opens attempted since the last one that succeeded. */
  feedAttempts = 0;
  /** Sequence numbers of the batches whose last invocation failed. */
  readonly failingBatches = new Set<number>();
  readonly #stop = new AbortController();

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Ends every pending `sleep` (it rejects) and makes the state `stopped` for good. */
  stop(): void {
    this.#stop.abort();
    this.state = "stopped";
  }

  recordError(message: string): void {
    this.lastError = { message, at: new Date().toISOString() };
  }

  refresh(): void {
    if (this.stopped) this.state = "stopped";
    else if (this.configError !== undefined) this.state = "failed";
    else if (!this.feedHealthy && this.feedAttempts === 0 && this.state === "starting") {
      this.state = "starting";
    } else {
      this.state = this.feedHealthy && this.failingBatches.size === 0 ? "running" : "retrying";
    }
  }

  /** Waits `ms`; rejects at once when the source stops meanwhile (or has stopped). */
  sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onStop = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onStop);
        resolve();
      }, ms);
      signal.addEventListener("abort", onStop, { once: true });
    });
  }
}
