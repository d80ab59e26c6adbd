// Provisions the one table every store shares (pk/sk string keys, on-demand billing) and waits
// until it is ACTIVE; for the local stack, tests and benchmarks.
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { DependencyError, errorName } from "../../core/errors.ts";
import { retrying, sleep } from "../../core/retry.ts";
import { storeError } from "./calls.ts";

/** The table's status, undefined when it does not exist. */
async function tableStatus(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table?.TableStatus ?? "UNKNOWN";
  } catch (error) {
    if (errorName(error) === "ResourceNotFoundException") return undefined;
    throw storeError("DescribeTable", error);
  }
}

async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      }),
    );
  } catch (error) {
    // Someone else created it meanwhile: fine, it is waited for like our own.
    if (errorName(error) !== "ResourceInUseException") throw storeError("CreateTable", error);
  }
}

/**
 * Creates the table if it does not exist and waits until it is ACTIVE, polling every `pollMs`
 * until `timeoutMs` has passed.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const pollMs = options.pollMs ?? 250;
  if ((await tableStatus(client, tableName)) === undefined) await createTable(client, tableName);
  let notActive: DependencyError | undefined;
  await retrying(
    async () => {
      const status = await tableStatus(client, tableName);
      if (status === "ACTIVE") return;
      notActive = new DependencyError(
        `DynamoDB table ${tableName} is not ACTIVE (status ${status ?? "missing"})`,
      );
      throw notActive;
    },
    {
      maxAttempts: Number.POSITIVE_INFINITY,
      delayMs: () => pollMs,
      // A poll may still start at the deadline itself.
      deadlineMs: deadline + pollMs,
      sleep,
      isRetryable: (error) => error === notActive,
    },
  );
}
