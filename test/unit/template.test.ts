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
