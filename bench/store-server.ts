// The benchmark's DynamoDB: dynalite in memory, in its own process (forked by bench/run.ts) like
// the sink, so that the consumer's progress reads and writes cross a socket as they do on AWS and
// do not share the event loop with the client under test. Sends {type:"ready", port} once listening.
import { startEmbeddedDynamoDb } from "../src/local/embedded-dynamodb.ts";

const db = await startEmbeddedDynamoDb();
const port = Number(new URL(db.endpoint).port);
process.send?.({ type: "ready", port });
process.on("disconnect", () => {
  void db.close().finally(() => process.exit(0));
});
