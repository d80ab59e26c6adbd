import { describe, expect, it } from "vitest";
import { validateClusterProperties } from "../../src/core/cluster-properties.ts";
import { buildDeadLetter, letterToRecord } from "../../src/core/dead-letters.ts";
import { ValidationError } from "../../src/core/errors.ts";
import { decodeKafkaEvent } from "../../src/core/event.ts";
import { createRequestBuilder } from "../../src/core/invocation.ts";
import { checkRecord, type DeliveryMode } from "../../src/core/plan.ts";
import { registryDecoding } from "../../src/core/schema-registry.ts";
import { normaliseSubscriptionOptions } from "../../src/core/subscription-options.ts";
import { mskEvent } from "../helpers/kafka-events.ts";

const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-AbCdEf";
const ordered: DeliveryMode = { keyed: true, ordered: true, input: "json" };

const props = (extra: Record<string, string>) =>
  validateClusterProperties({ "bootstrap.servers": "b:9092", ...extra }, "api");

describe("schema registry cluster properties", () => {
  it("accepts a Confluent URL (trailing slashes dropped) or a Glue registry ARN", () => {
    expect(props({ "schema.registry.url": "https://registry.example.com:8081/" })).toMatchObject({
      "schema.registry.url": "https://registry.example.com:8081",
    });
    const glue = "arn:aws:glue:eu-west-1:123456789012:registry/orders";
    expect(props({ "schema.registry.url": glue })["schema.registry.url"]).toBe(glue);
    expect(
      props({
        "schema.registry.url": "https://r.example.com",
        "schema.registry.basic.auth.arn": SECRET,
      })["schema.registry.basic.auth.arn"],
    ).toBe(SECRET);
  });

  it.each([
    [{ "schema.registry.url": "ftp://r.example.com" }, "must be an http:// or https:// URL"],
    [{ "schema.registry.url": "https://u:p@r.example.com" }, "must not contain credentials"],
    [{ "schema.registry.url": "https://r.example.com/?x=1" }, "must not contain a query"],
    [{ "schema.registry.url": "arn:aws:glue:eu-west-1:1:registry/x" }, "AWS Glue registry ARN"],
    [{ "schema.registry.basic.auth.arn": SECRET }, `need "schema.registry.url"`],
    [
      { "schema.registry.url": "https://r.example.com", "schema.registry.basic.auth.arn": "token" },
      "must be a Secrets Manager secret ARN",
    ],
    [
      {
        "schema.registry.url": "arn:aws:glue:eu-west-1:123456789012:registry/orders",
        "schema.registry.basic.auth.arn": SECRET,
      },
      "IAM role",
    ],
    [
      {
        "schema.registry.url": "https://r.example.com",
        "schema.registry.basic.auth.arn": SECRET,
        "schema.registry.client.certificate.arn": SECRET,
      },
      "do not go together",
    ],
  ])("refuses %j", (extra, message) => {
    expect(() => props(extra)).toThrow(ValidationError);
    expect(() => props(extra)).toThrow(message);
  });

  it("never echoes a value that looks like credentials", () => {
    expect(() => props({ "schema.registry.url": "https://user:hunter2@r.example.com" })).toThrow(
      /^(?!.*hunter2)/,
    );
  });
});

describe("schema registry subscription options", () => {
  it("normalises decode lists and formats", () => {
    expect(
      normaliseSubscriptionOptions({
        "schema.registry.decode": "Value, KEY",
        "schema.registry.record.format": "json",
      }),
    ).toEqual({ "schema.registry.decode": "key,value", "schema.registry.record.format": "JSON" });
  });

  it.each([
    [{ "schema.registry.decode": "headers" }, `must be "key", "value" or "key,value"`],
    [{ "schema.registry.decode": "key,key" }, `must be "key", "value" or "key,value"`],
    [{ "schema.registry.record.format": "xml" }, `must be "JSON" or "SOURCE"`],
  ])("refuses %j", (options, message) => {
    expect(() => normaliseSubscriptionOptions(options)).toThrow(message);
  });

  it("a format without decoding is refused once the cluster is known", () => {
    expect(() =>
      registryDecoding(
        "c",
        { "schema.registry.url": "https://r" },
        {
          "schema.registry.record.format": "JSON",
        },
      ),
    ).toThrow(`option "schema.registry.record.format" needs "schema.registry.decode"`);
    expect(
      registryDecoding(
        "c",
        { "schema.registry.url": "https://r" },
        {
          "schema.registry.decode": "value",
        },
      ),
    ).toEqual({ url: "https://r", kind: "confluent", parts: ["value"], format: "JSON" });
  });
});

/** An MSK event whose records carry the schema metadata a mapping with a registry adds. */
function registryEvent(key: string | null, metadata: Record<string, unknown>) {
  const event = mskEvent([{ partition: 0, offset: 7, key, value: { seq: 7 } }]);
  const records = event.records as Record<string, Array<Record<string, unknown>>>;
  for (const record of Object.values(records).flat()) Object.assign(record, metadata);
  return decodeKafkaEvent(event).partitions[0]?.records[0];
}

describe("records decoded by the event source's schema registry", () => {
  const metadata = {
    keySchemaMetadata: { dataFormat: "AVRO", schemaId: "12" },
    valueSchemaMetadata: { dataFormat: "PROTOBUF", schemaId: "13" },
  };

  it("the decoded key's text is the object key: a JSON string unquoted, anything else as JSON", () => {
    const quoted = registryEvent(JSON.stringify("customer-1"), metadata);
    const record = registryEvent(JSON.stringify({ region: "eu", id: 4 }), metadata);
    if (!quoted || !record) throw new Error("no record");
    expect(quoted.keySchema).toEqual({ dataFormat: "AVRO", schemaId: "12" });
    expect(checkRecord(quoted, ordered)).toEqual({ objectKey: "customer-1" });
    expect(checkRecord(record, ordered)).toEqual({ objectKey: '{"region":"eu","id":4}' });
    // Without schema metadata, the key bytes are the key, quotes and all.
    const plain = registryEvent(JSON.stringify("customer-1"), {});
    if (!plain) throw new Error("no record");
    expect(checkRecord(plain, ordered)).toEqual({ objectKey: '"customer-1"' });
    expect(checkRecord(registryEvent('""', metadata) ?? plain, ordered)).toEqual({
      reason: "record key is empty (keyed handler needs one)",
    });
  });

  it("the handler gets the schema ids and formats as headers", () => {
    const record = registryEvent(JSON.stringify("customer-1"), metadata);
    if (!record) throw new Error("no record");
    const request = createRequestBuilder({
      subscriptionId: "sub_1",
      endpoint: "http://restate:8080",
      service: "Orders",
      handler: "process",
      keyed: true,
      invocation: "call",
      input: "json",
    })(record, "customer-1");
    expect(request.headers).toMatchObject({
      "kafka.key.schema.id": "12",
      "kafka.key.schema.format": "AVRO",
      "kafka.value.schema.id": "13",
      "kafka.value.schema.format": "PROTOBUF",
    });
  });

  it("a local decoding failure makes the record terminal with the mapping's reason code", () => {
    const record = registryEvent("k", {
      schemaRegistryError: "SCHEMA_NOT_FOUND: schema 9 is not in the registry",
    });
    if (!record) throw new Error("no record");
    expect(checkRecord(record, ordered)).toEqual({
      reason: "SCHEMA_NOT_FOUND: schema 9 is not in the registry",
    });
  });

  it("a dead letter keeps the schema metadata, so that a replay finds the same object key", () => {
    const record = registryEvent(JSON.stringify("customer-1"), metadata);
    if (!record) throw new Error("no record");
    const letter = buildDeadLetter({
      subscriptionId: "sub_1",
      partitionId: "orders-0",
      record,
      kind: "terminal",
      reason: "HTTP 400",
      attempts: 1,
      firstFailedAt: 1,
      parkedAt: 2,
    });
    const replayed = letterToRecord(letter);
    if (!replayed) throw new Error("letter holds no record");
    expect(checkRecord(replayed, ordered)).toEqual({ objectKey: "customer-1" });
  });
});
