// Lambda entry point of the consumer, invoked by the Kafka event source mapping and by the admin
// function. Thin: build the consumer function once per container (cold start, wiring/consumer.ts),
// tell a token check or a replay command from a batch, and hand the event to its runner.
import type { InvocationContext } from "../app/consumer.ts";
import { consumerConfig } from "../config.ts";
import type { BatchResponse } from "../core/outcome.ts";
import { isReplayCommand, type ReplayCommandReply } from "../core/replay-command.ts";
import { isTokenCheckCommand, type TokenCheckReply } from "../core/token-check-command.ts";
import { type ConsumerFunction, lambdaConsumerFunction } from "../wiring/consumer.ts";

let cold: ConsumerFunction | undefined;

/** The Lambda handler (`handlers/consumer.handler`): event source batches, replay commands and
 * token checks. */
export const handler = (
  event: unknown,
  context: InvocationContext,
): Promise<BatchResponse | ReplayCommandReply | TokenCheckReply | undefined> => {
  // `sam local invoke` runs the bare function with a fixture event: found by cluster and topic.
  cold ??= lambdaConsumerFunction(consumerConfig(), {
    requireAlias: process.env.AWS_SAM_LOCAL !== "true",
  });
  if (isTokenCheckCommand(event)) return cold.checkToken(event);
  return isReplayCommand(event) ? cold.replay(event, context) : cold.batch(event, context);
};
