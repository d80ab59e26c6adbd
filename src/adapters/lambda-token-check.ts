// The admin's SinkTokenCheck on AWS: the admin role may not read sink secrets, so it asks the
// consumer function (synchronously, core/token-check-command.ts), which may, whether a service's
// token may go to its endpoint. The reply carries the rule, never anything of the value.
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from "@aws-sdk/client-lambda";
import { DependencyError, errorText, SecretUnavailableError } from "../core/errors.ts";
import type { SinkTokenCheck } from "../core/secrets.ts";
import {
  decodeTokenCheckReply,
  encodeTokenCheckCommand,
  type TokenCheckReply,
} from "../core/token-check-command.ts";
import { functionErrorMessage } from "./lambda-replay.ts";

/** `functionName`: name or ARN of the consumer function (CONSUMER_FUNCTION_NAME). */
export function consumerFunctionTokenCheck(
  lambda: LambdaClient,
  functionName: string,
): SinkTokenCheck {
  return async (secretRef, endpoint) => {
    let output: InvokeCommandOutput;
    try {
      output = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: "RequestResponse",
          Payload: new TextEncoder().encode(
            JSON.stringify(encodeTokenCheckCommand({ secretRef, endpoint })),
          ),
        }),
      );
    } catch (error) {
      throw new DependencyError(
        `cannot invoke the consumer function to check a token binding: ${errorText(error)}`,
        { cause: error },
      );
    }
    const text = output.Payload ? new TextDecoder().decode(output.Payload) : "";
    if (output.FunctionError) {
      throw new DependencyError(
        `the consumer function failed the token check (${output.FunctionError}): ${functionErrorMessage(text)}`,
      );
    }
    let reply: TokenCheckReply;
    try {
      reply = decodeTokenCheckReply(JSON.parse(text));
    } catch (error) {
      throw new DependencyError(
        `the consumer function answered the token check with something else: ${errorText(error)}`,
      );
    }
    if (reply.bound) return undefined;
    if ("unreadable" in reply) throw new SecretUnavailableError(secretRef, reply.unreadable);
    return reply.refusal;
  };
}
