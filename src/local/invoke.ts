// `npm run invoke -- <event.json> [--subscription <id>]`: delivers a Kafka event through the
// consumer handler against the running local stack's store, like `sam local invoke -e`.
// The handler's JSON response is the last line of stdout; logs go to stderr.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { DynamoAdminStore } from "../adapters/dynamo/admin-store.ts";
import { consumerConfig } from "../config.ts";
import { errorText } from "../core/errors.ts";
import { createConsumerHandler, reliabilityStores } from "../wiring/consumer.ts";
import { localInvocationContext } from "./lambda-context.ts";
import { localSecretResolver } from "./local-secrets.ts";
import { localDynamoDbClient } from "./stack.ts";
import { readStackInfo } from "./stack-file.ts";

const usage = `Usage: npm run --silent invoke -- <event.json> [--subscription <id>] [--data-dir .data] [--timeout-seconds 300]

Runs the consumer handler on a Kafka event (MSK or self-managed shape) against the running
local stack. Without --subscription the subscription is found by the event's cluster and topic.
Prints the handler's response as JSON; exits non-zero with the error on stderr if it throws.`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      subscription: { type: "string" },
      "data-dir": { type: "string", default: ".data" },
      "timeout-seconds": { type: "string", default: "300" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    (values.help ? console.log : console.error)(usage);
    return values.help ? 0 : 2;
  }
  const eventPath = positionals[0] as string;
  const timeoutMs = Number(values["timeout-seconds"]) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(
      `--timeout-seconds must be a positive number, got ${values["timeout-seconds"]}`,
    );
  }
  let event: unknown;
  try {
    event = JSON.parse(await readFile(eventPath, "utf8"));
  } catch (error) {
    throw new Error(`Cannot read event ${eventPath}: ${(error as Error).message}`);
  }

  const stack = await readStackInfo(values["data-dir"]);
  const client = localDynamoDbClient(stack.dynamodbEndpoint, stack.dynamodbAccessKeyId);
  const handler = createConsumerHandler({
    catalog: new DynamoAdminStore(client, stack.tableName),
    config: consumerConfig(process.env),
    reliability: reliabilityStores(client, stack.tableName),
    secrets: localSecretResolver(process.env),
    log: (line: string) => console.error(line),
  });
  try {
    const response = await handler(event, localInvocationContext(values.subscription, timeoutMs));
    console.log(JSON.stringify(response ?? null));
    return 0;
  } finally {
    client.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(errorText(error));
    process.exit(1);
  },
);
