// `npm run build`: bundles the Lambda functions with esbuild exactly as `sam build` does from
// template.yaml's Metadata.BuildProperties, into dist/<LogicalId>/ (or the directory given).
//
//   node scripts/build.ts [--out dist]
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type BuildOptions, build } from "esbuild";
import { buildProperties, esbuildFunctions, loadTemplate } from "../infra/template.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

type Properties = Readonly<Record<string, unknown>>;

const list = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : String(value).split(",").filter(Boolean);
const flag = (value: unknown): boolean => value === true || value === "true";

/** The esbuild options SAM's esbuild workflow derives from a function's BuildProperties. */
export function esbuildOptions(properties: Properties, outdir: string): BuildOptions {
  const keyValues = (value: unknown): Record<string, string> =>
    Object.fromEntries(
      list(value ?? []).map((entry) => {
        const at = entry.indexOf("=");
        return [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  return {
    entryPoints: list(properties.EntryPoints).map((entry) => join(root, entry)),
    bundle: true,
    outdir,
    format: properties.Format === undefined ? "cjs" : (String(properties.Format) as "esm" | "cjs"),
    platform: (properties.Platform === undefined ? "node" : String(properties.Platform)) as "node",
    ...(properties.Target === undefined ? {} : { target: String(properties.Target) }),
    ...(properties.MainFields === undefined ? {} : { mainFields: list(properties.MainFields) }),
    ...(properties.OutExtension === undefined
      ? {}
      : { outExtension: keyValues(properties.OutExtension) }),
    ...(properties.Banner === undefined ? {} : { banner: keyValues(properties.Banner) }),
    ...(properties.External === undefined ? {} : { external: list(properties.External) }),
    minify: flag(properties.Minify),
    sourcemap: flag(properties.Sourcemap),
    ...(properties.SourcesContent === undefined
      ? {}
      : { sourcesContent: flag(properties.SourcesContent) }),
    logLevel: "warning",
  };
}

/** Builds every esbuild function of the template into `<outDir>/<LogicalId>/`. */
export async function buildFunctions(outDir: string): Promise<string[]> {
  const template = loadTemplate();
  const built: string[] = [];
  for (const id of esbuildFunctions(template)) {
    await build(esbuildOptions(buildProperties(template, id), join(outDir, id)));
    built.push(join(outDir, id));
  }
  return built;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { out: { type: "string", default: "dist" } } });
  for (const dir of await buildFunctions(resolve(values.out))) console.log(dir);
}
