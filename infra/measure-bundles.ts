// Size and cold-import time of the bundles `sam build` wrote to .aws-sam/build.
//
//   node infra/measure-bundles.ts [--runs 9] [--json] [bundle.mjs ...]
//
// For each bundle: its size, its gzip size (close to what the deployment zip stores), the size of
// its source map, and the median time a fresh Node process takes to import it, once with
// --enable-source-maps (as template.yaml runs it) and once without. Every sample is a new
// `node` process, so each import is a cold one; module-scope work in the bundle is included,
// the handler's first-invocation wiring is not. With the runtime emulator and client installed
// (LAMBDA_RIE, LAMBDA_RIC), also the init and first invocation of each function under them
// (infra/cold-start.ts).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { measureColdStarts } from "./cold-start.ts";
import { runtimeTools } from "./lambda-runtime.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const DEFAULT_BUNDLES = [
  join(root, ".aws-sam/build/ConsumerFunction/consumer.mjs"),
  join(root, ".aws-sam/build/AdminFunction/admin.mjs"),
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: "string", default: "9" },
    json: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error("--runs must be a positive integer");
  process.exit(2);
}
const bundles = positionals.length > 0 ? positionals : DEFAULT_BUNDLES;

// Runs in the child: times the dynamic import of the bundle, prints milliseconds.
const PROBE = `
const started = performance.now();
await import(process.argv[1]);
console.log((performance.now() - started).toFixed(3));
`;

function importMs(url: string, sourceMaps: boolean): number {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", PROBE, url], {
    encoding: "utf8",
    env: {
      ...process.env,
      NODE_OPTIONS: sourceMaps ? "--enable-source-maps" : "",
      TABLE_NAME: "measure-bundles",
    },
  });
  return Number(out.trim().split("\n").at(-1));
}

const median = (samples: number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

interface Measurement {
  bundle: string;
  bytes: number;
  gzipBytes: number;
  sourceMapBytes: number | null;
  runs: number;
  medianImportMs: number;
  medianImportMsWithoutSourceMaps: number;
}

const results: Measurement[] = [];
for (const bundle of bundles) {
  if (!existsSync(bundle)) {
    console.error(`${bundle} does not exist: run sam build (or infra/sam-check.sh) first`);
    process.exit(1);
  }
  const url = pathToFileURL(bundle).href;
  importMs(url, true); // warm the OS file cache; not counted
  const withMaps: number[] = [];
  const withoutMaps: number[] = [];
  for (let i = 0; i < runs; i++) {
    withMaps.push(importMs(url, true));
    withoutMaps.push(importMs(url, false));
  }
  const map = `${bundle}.map`;
  results.push({
    bundle: relative(root, bundle),
    bytes: statSync(bundle).size,
    gzipBytes: gzipSync(readFileSync(bundle), { level: 9 }).length,
    sourceMapBytes: existsSync(map) ? statSync(map).size : null,
    runs,
    medianImportMs: Number(median(withMaps).toFixed(1)),
    medianImportMsWithoutSourceMaps: Number(median(withoutMaps).toFixed(1)),
  });
}

// Under AWS's runtime emulator and client too, when they are installed (infra/runtime-tools.sh)
// and the bundles are sam build's.
const tools = runtimeTools();
const coldStarts =
  "tools" in tools && positionals.length === 0
    ? await measureColdStarts({
        tools: tools.tools,
        buildDir: join(root, ".aws-sam/build"),
        runs,
      })
    : undefined;

if (values.json) {
  console.log(JSON.stringify({ node: process.version, results, coldStarts }, null, 2));
} else {
  console.log(`node ${process.version}, ${runs} fresh processes per bundle and mode`);
  console.table(
    results.map((r) => ({
      bundle: r.bundle,
      bytes: r.bytes,
      "gzip bytes": r.gzipBytes,
      "map bytes": r.sourceMapBytes ?? "-",
      "import ms (source maps)": r.medianImportMs,
      "import ms (no maps)": r.medianImportMsWithoutSourceMaps,
    })),
  );
}
if (!values.json) {
  if (coldStarts === undefined) {
    console.log(
      "under the Lambda runtime emulator: not measured (" +
        ("missing" in tools ? tools.missing : "bundles given on the command line") +
        ")",
    );
  } else {
    console.log(`under the Lambda runtime emulator, ${runs} fresh emulators per function`);
    console.table(
      coldStarts.map((c) => ({
        function: c.function,
        "init ms": Number(c.medianInitMs.toFixed(1)),
        "first invocation ms": Number(c.medianFirstInvokeMs.toFixed(1)),
        "REPORT Duration ms": Number(c.medianFirstReportMs.toFixed(1)),
      })),
    );
  }
}
