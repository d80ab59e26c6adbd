// Workload 5: both functions' esbuild bundles as template.yaml builds them, their size and import
// time in fresh `node` processes and, when the tools are installed, their init phase and first
// invocation under AWS's Lambda runtime emulator (infra/cold-start.ts).
import { execFileSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { measureColdStarts } from "../../infra/cold-start.ts";
import { runtimeTools } from "../../infra/lambda-runtime.ts";
import { TEMPLATE_PATH } from "../../infra/template.ts";
import { buildFunctions } from "../../scripts/build.ts";
import { median, progress } from "../lib.ts";
import type { BundleResult } from "../results.ts";

const IMPORT_PROBE = `
const started = performance.now();
await import(process.argv[1]);
console.log((performance.now() - started).toFixed(3));
`;

/** The bundles' figures, and what could not be measured (for the report's notes). */
export async function coldStart(
  runs: number,
): Promise<{ readonly bundles: BundleResult[]; readonly notes: string[] }> {
  progress("workload 5: cold start (esbuild bundles)");
  const notes: string[] = [];
  const dir = join(tmpdir(), "kafka-ingress-bench-bundles");
  rmSync(dir, { recursive: true, force: true });
  // The bundles as template.yaml builds them (scripts/build.ts, the same esbuild options).
  await buildFunctions(dir);
  const tools = runtimeTools();
  const coldStarts =
    "tools" in tools
      ? await measureColdStarts({
          tools: tools.tools,
          buildDir: dir,
          templatePath: TEMPLATE_PATH,
          runs,
        })
      : undefined;
  if (coldStarts === undefined && "missing" in tools) {
    notes.push(`w5: not measured under the Lambda runtime emulator (${tools.missing})`);
  }
  const results: BundleResult[] = [];
  for (const [fn, entry] of [
    ["ConsumerFunction", "consumer"],
    ["AdminFunction", "admin"],
  ] as const) {
    const outfile = join(dir, fn, `${entry}.mjs`);
    const url = pathToFileURL(outfile).href;
    const importMs: number[] = [];
    const processMs: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const started = performance.now();
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", IMPORT_PROBE, url], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", TABLE_NAME: "bench" },
      });
      const wall = performance.now() - started;
      if (i === 0) continue; // warm-up: disk cache
      importMs.push(Number(out.trim().split("\n").at(-1)));
      processMs.push(wall);
    }
    const emulator = coldStarts?.find((c) => c.function === fn);
    results.push({
      entry: `src/handlers/${entry}.ts`,
      bytes: statSync(outfile).size,
      runs: importMs.length,
      medianImportMs: median(importMs),
      medianProcessMs: median(processMs),
      ...(emulator === undefined ? {} : { emulator }),
    });
    progress(
      `  w5 ${entry}: ${statSync(outfile).size} bytes, import ${median(importMs)} ms` +
        (emulator === undefined
          ? ""
          : `, init ${emulator.medianInitMs} ms, first invocation ${emulator.medianFirstInvokeMs} ms`),
    );
  }
  return { bundles: results, notes };
}
