// An in-memory dynalite per test file, and a fresh table per test.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoAdminStore,
  type DynamoAdminStoreOptions,
} from "../../src/adapters/dynamo/admin-store.ts";
import { ensureTable } from "../../src/adapters/dynamo/ensure-table.ts";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "../../src/local/embedded-dynamodb.ts";

export interface TestDynamo {
  readonly db: EmbeddedDynamoDb;
  readonly client: DynamoDBClient;
  /**
   * Another client of the same store whose calls fail with what `fault` returns (undefined: the
   * call goes through), for throttling and crash tests. Destroy it after use.
   */
  faultyClient(fault: () => Error | undefined, maxAttempts?: number): DynamoDBClient;
  /** A store over a new, empty table. */
  freshStore(options?: DynamoAdminStoreOptions): Promise<DynamoAdminStore>;
  /** A new, empty table (for the dead-letter and progress stores too). */
  freshTable(): Promise<string>;
  close(): Promise<void>;
}

let tableCounter = 0;

export async function startTestDynamo(): Promise<TestDynamo> {
  const db = await startEmbeddedDynamoDb();
  const newClient = (maxAttempts: number) =>
    new DynamoDBClient({
      endpoint: db.endpoint,
      region: "local",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts,
    });
  const client = newClient(1);
  const faultyClient = (fault: () => Error | undefined, maxAttempts = 1): DynamoDBClient => {
    const faulty = newClient(maxAttempts);
    faulty.middlewareStack.add(
      (next) => async (args) => {
        const error = fault();
        if (error) throw error;
        return next(args);
      },
      { step: "finalizeRequest", name: "injectFault", priority: "low" },
    );
    return faulty;
  };
  const freshTable = async (): Promise<string> => {
    tableCounter += 1;
    const table = `admin-test-${process.pid}-${tableCounter}`;
    await ensureTable(client, table, { pollMs: 10 });
    return table;
  };
  return {
    db,
    client,
    faultyClient,
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
