// Replaying dead letters through the consumer function on AWS: the admin function invokes it
// synchronously with a replay command (core/replay-command.ts) per batch of letters.
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from "@aws-sdk/client-lambda";
import {
  ConflictError,
  DependencyError,
  errorMessage,
  errorText,
  NotFoundError,
} from "../core/errors.ts";
import type { Subscription } from "../core/model.ts";
import {
  type LetterBatchDelivery,
  type LetterOutcome,
  MIN_REPLAY_START_MS,
} from "../core/replay.ts";
import {
  decodeReplayCommandReply,
  encodeReplayCommand,
  MAX_REPLAY_BUDGET_MS,
  type ReplayCommand,
  type ReplayCommandReply,
} from "../core/replay-command.ts";

/**
 * How long the admin waits for a command past the time the command may take (a cold start, the
 * Invoke itself); then it gives up on the answer and its letters count as not replayed.
 */
export const INVOKE_GRACE_MS = 5_000;
/** Longest wait for the check that starts a replay. */
const CHECK_TIMEOUT_MS = 10_000;
const TIMED_OUT = Symbol("timed out");

/** The error message a failed function returns (`{"errorType", "errorMessage", ...}`). */
export function functionErrorMessage(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") {
      return typeof parsed.errorType === "string"
        ? `${parsed.errorType}: ${parsed.errorMessage}`
        : parsed.errorMessage;
    }
  } catch {
    // not JSON: fall through
  }
  return payload.slice(0, 500);
}

/**
 * The consumer may read the sink tokens the admin role is denied, so replays to services with
 * `auth` work, and the admin still never holds a token.
 */
export class ConsumerFunctionReplay {
  readonly #lambda: LambdaClient;
  readonly #functionName: string;
  readonly #requestTimeoutMs: number | undefined;
  readonly #now: () => number;

  /**
   * `functionName`: name or ARN of the consumer function (CONSUMER_FUNCTION_NAME);
   * `requestTimeoutMs`: time one delivery attempt may take there (REPLAY_REQUEST_TIMEOUT_MS).
   */
  constructor(
    lambda: LambdaClient,
    functionName: string,
    requestTimeoutMs?: number,
    now: () => number = Date.now,
  ) {
    this.#lambda = lambda;
    this.#functionName = functionName;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#now = now;
  }

  /**
   * Asks the consumer whether the subscription's service can be delivered to (NotFoundError or
   * ConflictError when not, as a direct replay would), then delivers each batch through it.
   */
  async forSubscription(subscription: Subscription): Promise<LetterBatchDelivery> {
    const check = await this.#invoke({ subscriptionId: subscription.id }, CHECK_TIMEOUT_MS);
    if (check === TIMED_OUT) {
      throw new DependencyError(
        `the consumer function did not answer the replay check within ${CHECK_TIMEOUT_MS} ms`,
      );
    }
    if ("refused" in check) {
      throw check.refused === "not_found"
        ? new NotFoundError(check.message)
        : new ConflictError(check.message);
    }
    return async (letters, { ordered, deadline }) => {
      const left = Math.min(MAX_REPLAY_BUDGET_MS, Math.floor(deadline - this.#now()));
      const all = (outcome: LetterOutcome) => letters.map(() => outcome);
      if (letters.length === 0) return [];
      if (left < MIN_REPLAY_START_MS) return all({ outcome: "deferred" });
      // The letters stay where the batch could not be run; the replay stops there and says why.
      const failedAll = (reason: string): LetterOutcome[] =>
        ordered
          ? letters.map((_, index) =>
              index === 0 ? { outcome: "failed", reason } : { outcome: "skipped" },
            )
          : all({ outcome: "failed", reason });
      const refs = letters.map(({ partitionId, offset }) => ({ partitionId, offset }));
      let reply: ReplayCommandReply | typeof TIMED_OUT;
      try {
        reply = await this.#invoke(
          { subscriptionId: subscription.id, letters: refs, ordered, budgetMs: left },
          left + INVOKE_GRACE_MS,
        );
      } catch (error) {
        return failedAll(errorMessage(error));
      }
      if (reply === TIMED_OUT) return all({ outcome: "deferred" });
      if ("refused" in reply) return failedAll(reply.message);
      if (!("results" in reply)) {
        return failedAll("the consumer function answered the replay without results");
      }
      const { results } = reply;
      const matches =
        results.length === refs.length &&
        results.every(
          (r, index) =>
            r.partitionId === refs[index]?.partitionId && r.offset === refs[index]?.offset,
        );
      if (!matches) {
        return failedAll("the consumer function answered the replay for other letters");
      }
      return results.map(
        (r): LetterOutcome =>
          r.outcome === "failed" ? { outcome: "failed", reason: r.reason } : { outcome: r.outcome },
      );
    };
  }

  async close(): Promise<void> {}

  /** The consumer's reply, or TIMED_OUT when it did not come within `timeoutMs`. */
  async #invoke(
    command: ReplayCommand,
    timeoutMs: number,
  ): Promise<ReplayCommandReply | typeof TIMED_OUT> {
    let output: InvokeCommandOutput;
    const abort = AbortSignal.timeout(timeoutMs);
    try {
      output = await this.#lambda.send(
        new InvokeCommand({
          FunctionName: this.#functionName,
          InvocationType: "RequestResponse",
          Payload: new TextEncoder().encode(
            JSON.stringify(
              encodeReplayCommand(
                this.#requestTimeoutMs === undefined
                  ? command
                  : { ...command, requestTimeoutMs: this.#requestTimeoutMs },
              ),
            ),
          ),
        }),
        { abortSignal: abort },
      );
    } catch (error) {
      if (abort.aborted) return TIMED_OUT;
      throw new DependencyError(
        `cannot invoke the consumer function for the replay: ${errorText(error)}`,
        { cause: error },
      );
    }
    const text = output.Payload ? new TextDecoder().decode(output.Payload) : "";
    if (output.FunctionError) {
      throw new DependencyError(
        `the consumer function failed the replay (${output.FunctionError}): ${functionErrorMessage(text)}`,
      );
    }
    try {
      return decodeReplayCommandReply(JSON.parse(text));
    } catch (error) {
      throw new DependencyError(
        `the consumer function answered the replay with something else: ${errorText(error)}`,
      );
    }
  }
}
