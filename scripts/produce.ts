// `npm run produce -- --bootstrap-server 127.0.0.1:9092 [--topic tally-in] [--count 10] [--keys 3]`
// Produces JSON records `{"seq": n, "key": "k-<n mod keys>"}` keyed by `k-<n mod keys>` (seq
// starts at --from, default 0), creating the topic with --partitions (default 4) if it is missing,
// and prints what it sent (and the base offset per partition). `--value '<json>' --key <key>` produces one record as given.

import { parseArgs } from "node:util";
import { Admin, Producer } from "@platformatic/kafka";

const usage =
  "usage: npm run produce -- --bootstrap-server HOST:PORT [--topic T] [--count N] [--keys K] [--from N] [--partitions P] | [--key K --value JSON]";

const { values } = parseArgs({
  options: {
    "bootstrap-server": { type: "string", default: process.env.KAFKA_BOOTSTRAP ?? "" },
    topic: { type: "string", default: "tally-in" },
    count: { type: "string", default: "1" },
    keys: { type: "string", default: "3" },
    from: { type: "string", default: "0" },
    partitions: { type: "string", default: "4" },
    key: { type: "string" },
    value: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

const positive = (name: string, text: string, min: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
};

async function main(): Promise<void> {
  if (values.help) {
    console.log(usage);
    return;
  }
  const bootstrap = values["bootstrap-server"].replace(/^[A-Za-z_]+:\/\//, "");
  if (!bootstrap)
    throw new Error(`--bootstrap-server is required (or env KAFKA_BOOTSTRAP)\n${usage}`);
  const topic = values.topic;
  const count = positive("count", values.count, 1);
  const keys = positive("keys", values.keys, 1);
  const from = positive("from", values.from, 0);
  const partitions = positive("partitions", values.partitions, 1);

  const admin = new Admin({ clientId: "npm-run-produce", bootstrapBrokers: [bootstrap] });
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      console.error(`created topic ${topic} with ${partitions} partitions`);
    }
  } finally {
    await admin.close();
  }

  let messages: Array<{ topic: string; key: Buffer; value: Buffer }>;
  if (values.value !== undefined) {
    JSON.parse(values.value); // the subscribed handlers take JSON unless declared binary
    messages = [{ topic, key: Buffer.from(values.key ?? "k-0"), value: Buffer.from(values.value) }];
  } else {
    messages = Array.from({ length: count }, (_, i) => {
      const seq = from + i;
      const key = `k-${seq % keys}`;
      return { topic, key: Buffer.from(key), value: Buffer.from(JSON.stringify({ seq, key })) };
    });
  }
  const producer = new Producer({
    clientId: "npm-run-produce",
    bootstrapBrokers: [bootstrap],
    idempotent: true,
  });
  try {
    for (let i = 0; i < messages.length; i += 500) {
      const chunk = messages.slice(i, i + 500);
      const result = await producer.send({ messages: chunk });
      if (messages.length <= 20) {
        for (const m of chunk)
          console.log(JSON.stringify({ key: m.key.toString(), value: m.value.toString() }));
      }
      for (const o of result.offsets ?? []) {
        console.error(`${o.topic}-${o.partition}: base offset ${o.offset}`);
      }
    }
    console.error(`produced ${messages.length} record(s) to ${topic} on ${bootstrap}`);
  } finally {
    await producer.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
