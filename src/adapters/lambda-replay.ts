// Replay delivery through the consumer function (AWS): the admin function invokes it
// synchronously, naming one dead letter at a time (core/replay-command.ts). The consumer may read the sink
// tokens the admin role is denied, so replays to services with `auth` work, and the admin still
// never holds a token.
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from "@aws-sdk/client-lambda";
import type { ReplayDelivery } from "../app/dead-letter-replay.ts";
import type { ReplayDeliveries } from "../app/replay-delivery.ts";
import { ConflictError, DependencyError, NotFoundError } from "../core/errors.ts";
import type { Subscription } from "../core/model.ts";
import {
  decodeReplayReply,
  encodeReplayCommand,
  type ReplayCommand,
  type ReplayReply,
} from "../core/replay-command.ts";

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

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

export class ConsumerFunctionReplay implements ReplayDeliveries {
  readonly #lambda: LambdaClient;
  readonly #functionName: string;
  readonly #requestTimeoutMs: number | undefined;

  /**
   * `functionName`: name or ARN of the consumer function (CONSUMER_FUNCTION_NAME);
   * `requestTimeoutMs`: time one delivery attempt may take there (REPLAY_REQUEST_TIMEOUT_MS).
   */
  constructor(lambda: LambdaClient, functionName: string, requestTimeoutMs?: number) {
    this.#lambda = lambda;
    this.#functionName = functionName;
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  /**
   * Asks the consumer whether the subscription's service can be delivered to (NotFoundError or
   * ConflictError when not, as a direct replay would), then delivers each record through it.
   */
  async forSubscription(subscription: Subscription): Promise<ReplayDelivery> {
    const check = await this.#invoke({ subscriptionId: subscription.id });
    if ("refused" in check) {
      throw check.refused === "not_found"
        ? new NotFoundError(check.message)
        : new ConflictError(check.message);
    }
    return async (letter) => {
      let reply: ReplayReply;
      const ref = { partitionId: letter.partitionId, offset: letter.offset };
      try {
        reply = await this.#invoke({ subscriptionId: subscription.id, letter: ref });
      } catch (error) {
        // The letter stays; the replay stops here and says why.
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
      return "refused" in reply ? { ok: false, reason: reply.message } : reply;
    };
  }

  async close(): Promise<void> {}

  async #invoke(command: ReplayCommand): Promise<ReplayReply> {
    let output: InvokeCommandOutput;
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
      );
    } catch (error) {
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
      return decodeReplayReply(JSON.parse(text));
    } catch (error) {
      throw new DependencyError(
        `the consumer function answered the replay with something else: ${errorText(error)}`,
      );
    }
  }
}
