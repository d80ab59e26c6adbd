// `npm start`: the local stack on 127.0.0.1:9070 with state under ./.data
import { parseArgs } from "node:util";
import { errorMessage } from "../core/errors.ts";
import { splitList } from "../core/text.ts";
import { startLocalStack } from "./stack.ts";

const usage = `Usage: npm start -- [--config-file restate.toml] [--data-dir .data] [--port 9070] [--host 127.0.0.1] [--allow-host name] [--in-memory] [--no-kafka]

Serves the admin API (/subscriptions, /kafka-clusters, /services) with an embedded
DynamoDB-compatible store. Kafka clusters may be declared in a config file of the
[[ingress.kafka-clusters]] form. Each subscription consumes its topic from the cluster's
bootstrap.servers (its own consumer group, like an event source mapping) and invokes the
consumer handler with batches; --no-kafka turns that off. Replay fixture events with
\`npm run invoke -- <event.json>\`.

The admin API takes JSON bodies only (content-type application/json) and refuses requests whose
Host is not one of its addresses (127.0.0.1, localhost, [::1], --host; with --host 0.0.0.0 the
machine's addresses) or that come from another web origin. --allow-host adds a name it may be
reached by (repeatable, or comma-separated).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "config-file": { type: "string" },
      "data-dir": { type: "string", default: ".data" },
      port: { type: "string", default: process.env.PORT ?? "9070" },
      host: { type: "string", default: "127.0.0.1" },
      "allow-host": { type: "string", multiple: true, default: [] },
      "in-memory": { type: "boolean", default: false },
      "no-kafka": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a port number, got ${values.port}`);
  }
  const stack = await startLocalStack({
    dataDir: values["in-memory"] ? undefined : values["data-dir"],
    configFile: values["config-file"],
    host: values.host,
    port,
    allowedHosts: values["allow-host"].flatMap(splitList),
    consumeKafka: !values["no-kafka"],
  });
  console.log(
    JSON.stringify({
      level: "info",
      msg: "local stack ready",
      adminUrl: stack.adminUrl,
      dataDir: values["in-memory"] ? null : values["data-dir"],
    }),
  );
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(JSON.stringify({ level: "info", msg: "shutting down", signal }));
    stack.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
