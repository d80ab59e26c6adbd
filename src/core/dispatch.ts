// Runs the lanes of a plan: at most `maxConcurrency` lanes in flight, each delivering its records
// one after another with retries. A record still failing (retryable) stops its lane: the lane's
// later records are not attempted, so per-key order holds across invocations. A terminal failure
// is recorded and the lane goes on. Work is O(records): workers pull lanes from a shared index.
import { errorMessage } from "./errors.ts";
import type { RecordOutcome } from "./outcome.ts";
import type { Lane, PlannedRecord } from "./plan.ts";
import {
  type AttemptOptions,
  attemptTimeout,
  backoffDelay,
  type DeliveryResult,
  type RetryPolicy,
} from "./retry.ts";

export interface DispatchDeps<Request> {
  readonly buildRequest: (planned: PlannedRecord) => Request;
  readonly deliver: (request: Request, options: AttemptOptions) => Promise<DeliveryResult>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** Uniform in [0, 1), for backoff jitter. */
  readonly random: () => number;
  /** Told of each record's outcome as soon as it is known (for checkpoints). */
  readonly onOutcome?: (outcome: RecordOutcome) => void;
}

export interface DispatchOptions {
  /** Lanes in flight at once. */
  readonly maxConcurrency: number;
  readonly policy: RetryPolicy;
  /** Epoch ms after which no attempt may still run. */
  readonly deadlineMs: number;
}

export async function dispatchLanes<Request>(
  lanes: readonly Lane[],
  deps: DispatchDeps<Request>,
  options: DispatchOptions,
): Promise<RecordOutcome[]> {
  const { policy, deadlineMs } = options;
  const outcomes: RecordOutcome[] = [];

  const deliverRecord = async (planned: PlannedRecord): Promise<RecordOutcome> => {
    const { partitionId, record } = planned;
    let request: Request;
    try {
      request = deps.buildRequest(planned);
    } catch (err) {
      const reason = `cannot build request: ${errorMessage(err)}`;
      return { partitionId, record, status: "terminal", reason, attempts: 0 };
    }
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = attemptTimeout(deps.now(), deadlineMs, policy);
      if (timeoutMs === undefined) {
        return attempt === 1
          ? {
              partitionId,
              record,
              status: "not_attempted",
              reason: "deadline reached",
              attempts: 0,
            }
          : {
              partitionId,
              record,
              status: "failed",
              reason: "deadline reached",
              attempts: attempt - 1,
            };
      }
      let result: DeliveryResult;
      const attemptStartedAt = deps.now();
      try {
        result = await deps.deliver(request, { timeoutMs });
      } catch (err) {
        result = { kind: "retryable", reason: `delivery error: ${errorMessage(err)}` };
      }
      if (result.kind === "success") {
        return {
          partitionId,
          record,
          status: "delivered",
          attempts: attempt,
          httpStatus: result.status,
          latencyMs: deps.now() - attemptStartedAt,
        };
      }
      const base = { partitionId, record, attempts: attempt, httpStatus: result.status };
      if (result.kind === "terminal") return { ...base, status: "terminal", reason: result.reason };
      if (attempt >= policy.maxAttempts) {
        return {
          ...base,
          status: "failed",
          reason: `${result.reason} (after ${attempt} attempts)`,
        };
      }
      const delay = backoffDelay(attempt, policy, deps.random, result.retryAfterMs);
      if (delay === undefined) {
        const reason = `${result.reason} (Retry-After ${result.retryAfterMs} ms is beyond this invocation)`;
        return { ...base, status: "failed", reason };
      }
      if (deps.now() + delay + policy.minAttemptMs > deadlineMs) {
        return { ...base, status: "failed", reason: `${result.reason} (no time left to retry)` };
      }
      if (delay > 0) await deps.sleep(delay);
    }
  };

  const runLane = async (lane: Lane): Promise<void> => {
    for (let i = 0; i < lane.length; i++) {
      const outcome = await deliverRecord(lane[i] as PlannedRecord);
      outcomes.push(outcome);
      deps.onOutcome?.(outcome);
      if (outcome.status === "failed" || outcome.status === "not_attempted") {
        const reason = `held back: offset ${outcome.record.offset} of its lane was not delivered`;
        for (let j = i + 1; j < lane.length; j++) {
          const { partitionId, record } = lane[j] as PlannedRecord;
          outcomes.push({ partitionId, record, status: "not_attempted", reason, attempts: 0 });
        }
        return;
      }
    }
  };

  let nextLane = 0;
  const worker = async (): Promise<void> => {
    while (nextLane < lanes.length) {
      const lane = lanes[nextLane++] as Lane;
      await runLane(lane);
    }
  };
  const workers = Math.max(1, Math.min(options.maxConcurrency, lanes.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return outcomes;
}
