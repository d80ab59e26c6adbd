// Avro and Protobuf records in the Confluent wire format reach JSON handlers: a real Kafka, a real
// schema registry (Apicurio, Confluent-compatible API), a real restate-server with a Restate TS
// SDK endpoint, and the local stack decoding with the registry as the event source mapping does
// with a SchemaRegistryConfig. Keys are Avro-encoded for a virtual object: each object must see
// its JSON values in offset order; a record with a schema id the registry does not know is
// dead-lettered with SCHEMA_NOT_FOUND while the rest flows.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { Admin, Producer } from "@platformatic/kafka";
import * as restate from "@restatedev/restate-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningKafka, startKafka } from "../../infra/local/kafka.ts";
import {
  type RunningRestate,
  registerDeployment,
  startRestate,
} from "../../infra/local/restate.ts";
import {
  type RunningSchemaRegistry,
  startSchemaRegistry,
} from "../../infra/local/schema-registry.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { type SdkEndpoint, serveSdkEndpoint } from "../helpers/sdk-endpoint.ts";
import { waitUntil } from "../helpers/until.ts";

const AVRO_TOPIC = "readings-avro";
const PROTO_TOPIC = "readings-proto";
const KEYS = ["sensor-1", "sensor-2", "sensor-3"];
const PER_KEY = 20;
const until = waitUntil({ timeoutMs: 120_000, pollMs: 250 });

interface Seen {
  readonly body: unknown;
  readonly offset: number;
  readonly format: string | undefined;
  readonly schemaId: string | undefined;
  readonly keyFormat: string | undefined;
}

/** What each object saw, per object key, in the order its handler ran. */
const seen = { Readings: new Map<string, Seen[]>(), ReadingsP: new Map<string, Seen[]>() };

function readings(name: keyof typeof seen) {
  return restate.object({
    name,
    handlers: {
      record: async (ctx: restate.ObjectContext, body: unknown): Promise<void> => {
        const headers = ctx.request().headers;
        const list = seen[name].get(ctx.key) ?? [];
        list.push({
          body,
          offset: Number(headers.get("kafka.offset")),
          format: headers.get("kafka.value.schema.format"),
          schemaId: headers.get("kafka.value.schema.id"),
          keyFormat: headers.get("kafka.key.schema.format"),
        });
        seen[name].set(ctx.key, list);
      },
    },
  });
}

let kafka: RunningKafka | undefined;
let registry: RunningSchemaRegistry | undefined;
let restateServer: RunningRestate | undefined;
let endpoint: SdkEndpoint | undefined;
let stack: LocalStack | undefined;
let work = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "e2e-registry-"));
  [kafka, registry] = await Promise.all([startKafka(), startSchemaRegistry()]);
  const admin = new Admin({ clientId: "e2e-admin", bootstrapBrokers: [kafka.bootstrapServers] });
  await admin.createTopics({ topics: [AVRO_TOPIC, PROTO_TOPIC], partitions: 2, replicas: 1 });
  await admin.close();
  restateServer = await startRestate();
  endpoint = await serveSdkEndpoint([readings("Readings"), readings("ReadingsP")]);
  await registerDeployment(restateServer.adminUrl, endpoint.url);

  const configFile = join(work, "restate.toml");
  writeFileSync(
    configFile,
    [
      "[[ingress.kafka-clusters]]",
      `name = "my-cluster"`,
      `brokers = ["PLAINTEXT://${kafka.bootstrapServers}"]`,
      `"schema.registry.url" = "${registry.url}"`,
      "",
    ].join("\n"),
  );
  stack = await startLocalStack({
    dataDir: join(work, "data"),
    port: 0,
    configFile,
    log: () => {},
  });
});

afterAll(async () => {
  await stack?.close();
  await restateServer?.stop();
  await endpoint?.close();
  await registry?.stop();
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function api(
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies freely
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${stack?.adminUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

describe("schema registry records into JSON handlers", () => {
  it("Avro keys and values, Protobuf values: JSON per key in offset order; an unknown schema id is dead-lettered", async () => {
    const client = new SchemaRegistry({ host: registry?.url ?? "" });
    // A primitive Avro key schema, registered over the registry's REST API (the client library
    // registers named records only).
    const registered = await fetch(`${registry?.url}/subjects/${AVRO_TOPIC}-key/versions`, {
      method: "POST",
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ schema: JSON.stringify("string") }),
    });
    expect(registered.status).toBe(200);
    const keySchema = (await registered.json()) as { id: number };
    const valueSchema = await client.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: "record",
          name: "Reading",
          namespace: "demo",
          fields: [
            { name: "seq", type: "int" },
            { name: "sensor", type: "string" },
            { name: "celsius", type: "double" },
          ],
        }),
      },
      { subject: `${AVRO_TOPIC}-value` },
    );
    const protoSchema = await client.register(
      {
        type: SchemaType.PROTOBUF,
        schema: `syntax = "proto3";\npackage demo;\nmessage Reading {\n  int32 seq = 1;\n  string sensor = 2;\n}\n`,
      },
      { subject: `${PROTO_TOPIC}-value` },
    );

    for (const name of ["Readings", "ReadingsP"]) {
      const service = await api("POST", "/services", {
        name,
        type: "virtual_object",
        endpoint: restateServer?.ingressUrl,
        handlers: { record: {} },
      });
      expect(service.status, JSON.stringify(service.json)).toBe(201);
    }
    const avroSub = await api("POST", "/subscriptions", {
      source: `kafka://my-cluster/${AVRO_TOPIC}`,
      sink: "service://Readings/record",
      options: { "auto.offset.reset": "earliest", "schema.registry.decode": "key,value" },
    });
    expect(avroSub.status, JSON.stringify(avroSub.json)).toBe(201);
    const protoSub = await api("POST", "/subscriptions", {
      source: `kafka://my-cluster/${PROTO_TOPIC}`,
      sink: "service://ReadingsP/record",
      options: { "auto.offset.reset": "earliest", "schema.registry.decode": "value" },
    });
    expect(protoSub.status, JSON.stringify(protoSub.json)).toBe(201);

    const producer = new Producer({
      clientId: "e2e-registry-producer",
      bootstrapBrokers: [kafka?.bootstrapServers ?? ""],
      idempotent: true,
    });
    // Not in the registry: magic byte 0, then schema id 999999.
    const unknownSchema = Buffer.from([0, 0x00, 0x0f, 0x42, 0x3f, 2, 4, 6]);
    try {
      const messages = [];
      for (let seq = 0; seq < PER_KEY * KEYS.length; seq++) {
        const sensor = KEYS[seq % KEYS.length] ?? "";
        messages.push({
          topic: AVRO_TOPIC,
          key: await client.encode(keySchema.id, sensor),
          value: await client.encode(valueSchema.id, { seq, sensor, celsius: seq / 4 }),
        });
        messages.push({
          topic: PROTO_TOPIC,
          key: Buffer.from(sensor),
          value: await client.encode(protoSchema.id, { seq, sensor }),
        });
        if (seq === 10) {
          messages.push({
            topic: AVRO_TOPIC,
            key: await client.encode(keySchema.id, sensor),
            value: unknownSchema,
          });
        }
      }
      await producer.send({ messages });
    } finally {
      await producer.close();
    }

    const total = (map: Map<string, Seen[]>) =>
      [...map.values()].reduce((n, list) => n + list.length, 0);
    await until(
      "every record in both objects",
      () =>
        total(seen.Readings) === PER_KEY * KEYS.length &&
        total(seen.ReadingsP) === PER_KEY * KEYS.length,
    );

    for (const sensor of KEYS) {
      const avro = seen.Readings.get(sensor) ?? [];
      const proto = seen.ReadingsP.get(sensor) ?? [];
      const expected = Array.from(
        { length: PER_KEY },
        (_, i) => i * KEYS.length + KEYS.indexOf(sensor),
      );
      expect(avro.map((s) => (s.body as { seq: number }).seq)).toEqual(expected);
      expect(proto.map((s) => (s.body as { seq: number }).seq)).toEqual(expected);
      // Offsets increase per key: the records arrived in the order they were written.
      expect(avro.map((s) => s.offset)).toEqual(
        [...avro.map((s) => s.offset)].sort((a, b) => a - b),
      );
      expect(avro[0]?.body).toEqual({
        seq: KEYS.indexOf(sensor),
        sensor,
        celsius: KEYS.indexOf(sensor) / 4,
      });
      expect(avro[0]).toMatchObject({
        format: "AVRO",
        schemaId: String(valueSchema.id),
        keyFormat: "AVRO",
      });
      expect(proto[0]).toMatchObject({
        format: "PROTOBUF",
        schemaId: String(protoSchema.id),
        keyFormat: undefined,
      });
    }

    // The undecodable record is dead-lettered in the batch that carried it, before the rest.
    const letters = (await api("GET", `/subscriptions/${avroSub.json.id}/dead-letters`)).json
      .dead_letters as Array<{ reason: string; offset: number }>;
    expect(letters).toHaveLength(1);
    expect(letters[0]?.reason).toBe("SCHEMA_NOT_FOUND: schema 999999 is not in the registry");
    const none = await api("GET", `/subscriptions/${protoSub.json.id}/dead-letters`);
    expect(none.json.dead_letters).toEqual([]);
  });
});
