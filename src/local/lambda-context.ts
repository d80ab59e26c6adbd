// The Lambda context the local stack gives the consumer handler: the function ARN qualified by
// the subscription id (as the alias of an AWS event source mapping would be) and a deadline.
import type { InvocationContext } from "../app/consumer.ts";

export const LOCAL_CONSUMER_ARN =
  "arn:aws:lambda:local:000000000000:function:kafka-ingress-consumer";

/** The consumer function's timeout in the SAM template; local invocations get the same. */
export const LOCAL_CONSUMER_TIMEOUT_MS = 300_000;

export function localInvocationContext(
  subscriptionId: string | undefined,
  timeoutMs: number = LOCAL_CONSUMER_TIMEOUT_MS,
): InvocationContext {
  const deadline = Date.now() + timeoutMs;
  return {
    invokedFunctionArn: subscriptionId
      ? `${LOCAL_CONSUMER_ARN}:${subscriptionId}`
      : LOCAL_CONSUMER_ARN,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}
