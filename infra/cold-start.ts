// Cold starts as Lambda's Node runtime has them: each run starts a fresh Runtime Interface
// Emulator per function and times its init phase (the emulator's `INIT REPORT`, which Lambda
// reports as Init Duration) and the first invocation's handler time (`INVOKE RTDONE`): the
// admin's first request (POST /kafka-clusters) and the consumer's first batch (msk-basic,
// delivered to a loopback sink), against dynalite and the loopback Lambda API fake.
//
//   node infra/cold-start.ts [--runs 5] [--build-dir .aws-sam/build] [--json]
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ensureTable } from "../src/adapters/dynamo/ensure-table.ts";
import { startEmbeddedDynamoDb } from "../src/local/embedded-dynamodb.ts";
import { apiEvent } from "../test/deploy/api-events.ts";
import { startFakeLambdaApi } from "../test/deploy/fake-lambda-api.ts";
import { CLUSTER_ARN, loadEvent } from "../test/helpers/kafka-events.ts";
import { startRecordingSink } from "../test/helpers/recording-sink.ts";
import {
  type LambdaEmulator,
  type RuntimeTools,
  runtimeTools,
  startEmulator,
} from "./lambda-runtime.ts";
import { functionSettings, loadTemplate } from "./template.ts";

export interface ColdStart {
  readonly function: string;
  readonly runs: number;
  readonly medianInitMs: number;
  readonly medianFirstInvokeMs: number;
  /** The REPORT line's Duration of the first invocation: init wait included, as a client sees it. */
  readonly medianFirstReportMs: number;
}

const median = (samples: readonly number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

const CONSUMER = "kafka-ingress-cold-ConsumerFunction";

/** Medians over `runs` fresh emulators of each function built in `buildDir`. */
export async function measureColdStarts(options: {
  readonly tools: RuntimeTools;
  readonly buildDir: string;
  /** The template the functions' settings come from (default: the one in buildDir). */
  readonly templatePath?: string;
  readonly runs: number;
}): Promise<ColdStart[]> {
  const template = loadTemplate(options.templatePath ?? join(options.buildDir, "template.yaml"));
  const dynamo = await startEmbeddedDynamoDb();
  const sink = await startRecordingSink(() => ({ status: 200 }));
  const lambdaApi = await startFakeLambdaApi();
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const samples = { admin: [] as LambdaEmulator[], consumer: [] as LambdaEmulator[] };
  const account = {
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDCOLDSTART",
    AWS_SECRET_ACCESS_KEY: "cold-start-secret",
    AWS_SESSION_TOKEN: "cold-start-session",
    AWS_ENDPOINT_URL_LAMBDA: lambdaApi.url,
  };
  try {
    for (let run = 0; run < options.runs; run++) {
      // A new table per run, so that every first invocation finds the same (empty) state.
      const table = `cold-start-${run}`;
      await ensureTable(client, table);
      const ctx = {
        resources: { Table: table, ConsumerFunction: CONSUMER },
        parameters: { DynamoDbEndpoint: dynamo.endpoint },
      };
      const start = (id: string, name: string) =>
        startEmulator({
          tools: options.tools,
          taskRoot: join(options.buildDir, id),
          settings: functionSettings(template, id, ctx),
          functionName: name,
          environment: account,
        });
      const admin = await start("AdminFunction", "kafka-ingress-cold-AdminFunction");
      samples.admin.push(admin);
      const call = async (method: string, path: string, body: unknown) => {
        const answer = (await admin.invoke(apiEvent(method, path, body))).json as {
          statusCode: number;
          body: string;
        };
        if (answer.statusCode >= 300) throw new Error(`${method} ${path}: ${answer.body}`);
        return JSON.parse(answer.body) as { id?: string };
      };
      await call("POST", "/kafka-clusters", {
        name: "demo",
        properties: { "aws.msk.cluster.arn": CLUSTER_ARN },
      });
      await call("POST", "/services", {
        name: "Orders",
        type: "virtual_object",
        endpoint: sink.url,
        handlers: { add: {} },
      });
      const { id } = await call("POST", "/subscriptions", {
        source: "kafka://demo/orders",
        sink: "service://Orders/add",
      });
      const consumer = await start("ConsumerFunction", `${CONSUMER}:${id}`);
      samples.consumer.push(consumer);
      const response = await consumer.invoke(loadEvent("msk-basic"));
      if (response.status !== 200 || response.json != null) {
        throw new Error(`consumer's first batch: ${response.status} ${response.body}`);
      }
      await admin.close();
      await consumer.close();
    }
  } finally {
    for (const emulator of [...samples.admin, ...samples.consumer]) await emulator.close();
    client.destroy();
    await lambdaApi.close();
    await sink.close();
    await dynamo.close();
  }
  return (["consumer", "admin"] as const).map((fn) => {
    const emulators = samples[fn];
    return {
      function: fn === "consumer" ? "ConsumerFunction" : "AdminFunction",
      runs: emulators.length,
      medianInitMs: median(emulators.map((e) => e.initDurationMs() ?? Number.NaN)),
      medianFirstInvokeMs: median(emulators.map((e) => e.invokeDurationsMs()[0] ?? Number.NaN)),
      medianFirstReportMs: median(emulators.map((e) => e.reports()[0]?.durationMs ?? Number.NaN)),
    };
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "5" },
      "build-dir": {
        type: "string",
        default: fileURLToPath(new URL("../.aws-sam/build", import.meta.url)),
      },
      json: { type: "boolean", default: false },
    },
  });
  const found = runtimeTools();
  if ("missing" in found) {
    console.error(`cold-start: ${found.missing}`);
    process.exit(1);
  }
  const results = await measureColdStarts({
    tools: found.tools,
    buildDir: values["build-dir"],
    runs: Number(values.runs),
  });
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(
      "| function | runs | init (median) | first invocation (median) | REPORT Duration |",
    );
    console.log("| --- | --- | --- | --- | --- |");
    for (const r of results) {
      console.log(
        `| ${r.function} | ${r.runs} | ${r.medianInitMs.toFixed(1)} ms | ${r.medianFirstInvokeMs.toFixed(1)} ms | ${r.medianFirstReportMs.toFixed(1)} ms |`,
      );
    }
  }
}
