// What infra/template.ts reads from template.yaml: the settings Lambda gives each function, and
// the esbuild options `npm run build` derives as `sam build` does.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildProperties,
  esbuildFunctions,
  functionSettings,
  loadTemplate,
} from "../../infra/template.ts";
import { esbuildOptions } from "../../scripts/build.ts";
import { batchMetrics, METRICS_NAMESPACE } from "../../src/core/metrics.ts";

const template = loadTemplate();
const resources = { Table: "the-table", ConsumerFunction: "the-consumer" };

describe("functionSettings", () => {
  it("gives the consumer the runtime, handler, memory, timeout, log settings and variables", () => {
    const consumer = functionSettings(template, "ConsumerFunction", { resources });
    expect(consumer).toEqual({
      logicalId: "ConsumerFunction",
      handler: "consumer.handler",
      runtime: "nodejs24.x",
      memoryMb: 1024,
      timeoutSeconds: 300,
      logFormat: "JSON",
      applicationLogLevel: "INFO",
      systemLogLevel: "INFO",
      // DYNAMODB_ENDPOINT is left out while the DynamoDbEndpoint parameter is empty.
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        TABLE_NAME: "the-table",
        MAX_CONCURRENCY: "128",
        SERVICE_ENDPOINT_ALLOW: "",
      },
    });
  });

  it("applies parameters, conditions included, and the admin's own variables", () => {
    const admin = functionSettings(template, "AdminFunction", {
      resources,
      parameters: { DynamoDbEndpoint: "http://127.0.0.1:8000", AdminMemorySize: "256" },
    });
    expect(admin).toMatchObject({ handler: "admin.handler", memoryMb: 256, timeoutSeconds: 29 });
    expect(admin.environment).toEqual({
      NODE_OPTIONS: "--enable-source-maps",
      TABLE_NAME: "the-table",
      DYNAMODB_ENDPOINT: "http://127.0.0.1:8000",
      CONSUMER_FUNCTION_NAME: "the-consumer",
      SERVICE_ENDPOINT_ALLOW: "",
      KAFKA_CREDENTIALS_SECRET_PREFIX: "kafka-lambda-ingress/kafka-ingress-dev/kafka-clusters/",
      // No OnFailure*Arns given: the admin allows kafka://<topic> destinations only.
      ON_FAILURE_DESTINATIONS: ",,",
      ON_FAILURE_KAFKA_TOPIC_ARNS: "",
    });
  });

  it("refuses what it cannot resolve instead of guessing", () => {
    expect(() => functionSettings(template, "ConsumerFunction")).toThrow(/Table/);
    expect(() => functionSettings(template, "Table", { resources })).toThrow(
      /not an AWS::Serverless/,
    );
  });
});

describe("esbuildOptions", () => {
  it("maps the template's BuildProperties as sam build does", () => {
    expect(esbuildFunctions(template)).toEqual(["ConsumerFunction", "AdminFunction"]);
    const options = esbuildOptions(buildProperties(template, "ConsumerFunction"), "/out");
    expect(options).toMatchObject({
      entryPoints: [expect.stringMatching(/src\/handlers\/consumer\.ts$/)],
      bundle: true,
      outdir: "/out",
      format: "esm",
      platform: "node",
      target: "node24",
      mainFields: ["module", "main"],
      outExtension: { ".js": ".mjs" },
      minify: true,
      sourcemap: true,
      sourcesContent: false,
    });
    expect(options.banner?.js).toMatch(/^import \{ createRequire as __createRequire \}/);
    expect(join(String(options.outdir), "consumer.mjs")).toBe("/out/consumer.mjs");
  });
});

describe("alarms and dashboard on our own metrics", () => {
  const line = batchMetrics({
    subscriptionId: "sub_1",
    functionName: "fn",
    outcomes: [],
    skipped: 0,
    deadLettered: 0,
    durationMs: 0,
    timestampMs: 0,
  });
  const directive = (
    line._aws as {
      CloudWatchMetrics: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string }[];
      }[];
    }
  ).CloudWatchMetrics[0];
  const declared = new Set(directive?.Metrics.map((m) => m.Name));
  interface Properties {
    readonly Namespace?: string;
    readonly MetricName?: string;
    readonly Dimensions?: { Name: string; Value: unknown }[];
    readonly DashboardBody?: { "Fn::Sub": [string, unknown] };
  }
  const resources = template.Resources as unknown as Record<
    string,
    { Type: string; Properties: Properties }
  >;

  it("alarm on dead letters and sink outages with metrics and dimensions the EMF line publishes", () => {
    const alarms = Object.values(resources).filter(
      (r) => r.Type === "AWS::CloudWatch::Alarm" && r.Properties.Namespace === METRICS_NAMESPACE,
    );
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual([
      "DeadLettered",
      "SinkUnavailable",
    ]);
    for (const alarm of alarms) {
      expect(declared).toContain(alarm.Properties.MetricName);
      const dimensions = alarm.Properties.Dimensions ?? [];
      expect(directive?.Dimensions).toContainEqual(dimensions.map((d) => d.Name));
      expect(dimensions[0]?.Value).toEqual({ Ref: "ConsumerFunction" });
      expect(alarm.Properties).toMatchObject({ Threshold: 0, Statistic: "Sum" });
    }
  });

  it("the dashboard is valid JSON and its widgets on our metrics name declared ones", () => {
    const body = resources.Dashboard?.Properties.DashboardBody?.["Fn::Sub"][0] ?? "";
    const widgets = (
      JSON.parse(body.replace(/\$\{[^}]+\}/g, "1")) as {
        widgets: { properties: { metrics: unknown[][] } }[];
      }
    ).widgets;
    const ours: string[] = [];
    for (const widget of widgets) {
      let namespace = "";
      let name = "";
      for (const row of widget.properties.metrics) {
        if (row[0] === "..." || typeof row[0] !== "string") continue;
        namespace = row[0] === "." ? namespace : row[0];
        name = row[1] === "." ? name : String(row[1]);
        if (namespace === METRICS_NAMESPACE) ours.push(name);
      }
    }
    expect(ours).toEqual(expect.arrayContaining(["DeadLettered", "SinkUnavailable", "Delivered"]));
    for (const name of ours) expect(declared).toContain(name);
  });
});
