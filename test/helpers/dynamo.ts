// An in-memory dynalite per test file, and a fresh table per test.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoAdminStore,
  type DynamoAdminStoreOptions,
  ensureTable,
} from "../../src/adapters/dynamo-store.ts";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "../../src/local/embedded-dynamodb.ts";

export interface TestDynamo {
  readonly db: EmbeddedDynamoDb;
  readonly client: DynamoDBClient;
  /** A store over a new, empty table. */
  freshStore(options?: DynamoAdminStoreOptions): Promise<DynamoAdminStore>;
  /** A new, empty table (for the dead-letter and progress stores too). */
  freshTable(): Promise<string>;
  close(): Promise<void>;
}

let tableCounter = 0;

export async function startTestDynamo(): Promise<TestDynamo> {
  const db = await startEmbeddedDynamoDb();
  const client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: "local",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  const freshTable = async (): Promise<string> => {
    tableCounter += 1;
    const table = `admin-test-${process.pid}-${tableCounter}`;
    await ensureTable(client, table, { pollMs: 10 });
    return table;
  };
  return {
    db,
    client,
    async freshStore(options) {
      return new DynamoAdminStore(client, await freshTable(), options);
    },
    freshTable,
    async close() {
      client.destroy();
      await db.close();
    },
  };
}
