// Reads template.yaml (CloudFormation short-form tags included) and works out what Lambda would
// give a function: handler, runtime, memory, timeout, log settings, environment and esbuild
// options, for the build script, the runtime tier of the deploy tests and the cold-start figures.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse, type Tags } from "yaml";

export const TEMPLATE_PATH = fileURLToPath(new URL("../template.yaml", import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Template = { [key: string]: Json };

const FUNCTIONS = ["Ref", "Condition", "GetAtt", "Sub", "If", "Not", "Equals", "Or", "And"];
const MORE_FUNCTIONS = ["Join", "Split", "Select", "FindInMap", "Base64", "GetAZs", "ImportValue"];

/** `!Ref X` → `{Ref: X}`, `!If [...]` → `{"Fn::If": [...]}`, in scalar and sequence forms. */
const cloudFormationTags: Tags = [...FUNCTIONS, ...MORE_FUNCTIONS].flatMap((name) => {
  const key = name === "Ref" || name === "Condition" ? name : `Fn::${name}`;
  return [
    { tag: `!${name}`, resolve: (value: string) => ({ [key]: value }) },
    {
      tag: `!${name}`,
      collection: "seq" as const,
      resolve: (value: { toJSON(): unknown }) => ({ [key]: value.toJSON() }),
    },
  ];
});

export function loadTemplate(path = TEMPLATE_PATH): Template {
  return parse(readFileSync(path, "utf8"), { customTags: cloudFormationTags }) as Template;
}

export interface ResolveContext {
  /** Parameter values that replace the template's defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** What `!Ref <logical id>` of a resource stands for (its physical name). */
  readonly resources?: Readonly<Record<string, string>>;
  readonly region?: string;
  /** `AWS::StackName` (default kafka-ingress-dev, samconfig.toml's development stack). */
  readonly stackName?: string;
}

const NO_VALUE = Symbol("AWS::NoValue");
type Resolved = Json | typeof NO_VALUE | undefined;

const isObject = (value: Json | undefined): value is { [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Evaluates the intrinsic functions a function's settings use; anything else is refused. */
function resolve(template: Template, value: Json | undefined, ctx: ResolveContext): Resolved {
  if (Array.isArray(value)) {
    return value.map((v) => resolve(template, v, ctx)).filter((v) => v !== NO_VALUE) as Json[];
  }
  if (!isObject(value)) return value;
  const [fn, ...rest] = Object.keys(value);
  const arg = fn === undefined ? undefined : value[fn];
  if (fn === undefined || rest.length > 0 || (fn !== "Ref" && !fn.startsWith("Fn::"))) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      const r = resolve(template, v, ctx);
      if (r !== NO_VALUE && r !== undefined) out[k] = r;
    }
    return out;
  }
  const list = (): Json[] => (Array.isArray(arg) ? arg : []);
  switch (fn) {
    case "Ref":
      return ref(template, String(arg), ctx);
    case "Fn::If": {
      const [condition, whenTrue, whenFalse] = list();
      const branch = evaluateCondition(template, String(condition), ctx) ? whenTrue : whenFalse;
      return resolve(template, branch, ctx);
    }
    case "Fn::Sub": {
      // The one-argument form: ${Name} stands for Ref Name (no ${Resource.Attribute}).
      if (typeof arg !== "string")
        throw new Error("template: only Fn::Sub of a string is supported");
      return arg.replace(/\$\{([A-Za-z0-9:]+)\}/g, (_m, name: string) =>
        String(ref(template, name, ctx)),
      );
    }
    case "Fn::Join": {
      const [separator, items] = list();
      const parts = resolve(template, items, ctx);
      if (!Array.isArray(parts)) throw new Error("Fn::Join of something that is not a list");
      return parts.map(String).join(String(separator));
    }
    case "Fn::Split": {
      const [separator, text] = list();
      return String(resolve(template, text, ctx)).split(String(separator));
    }
    default:
      throw new Error(`template: ${fn} is not supported in function settings`);
  }
}

/** Evaluates `value` (Ref, Fn::If, Fn::Join, Fn::Split and conditions) as CloudFormation would. */
export function resolveValue(template: Template, value: Json, ctx: ResolveContext = {}): Json {
  const resolved = resolve(template, value, ctx);
  return resolved === NO_VALUE || resolved === undefined ? null : resolved;
}

function ref(template: Template, name: string, ctx: ResolveContext): Resolved {
  if (name === "AWS::NoValue") return NO_VALUE;
  if (name === "AWS::Region") return ctx.region ?? "us-east-1";
  if (name === "AWS::StackName")
    return ctx.stackName ?? ctx.resources?.[name] ?? "kafka-ingress-dev";
  const parameters = template.Parameters;
  if (isObject(parameters) && isObject(parameters[name])) {
    const type = String(parameters[name].Type);
    const given = ctx.parameters?.[name];
    const value = given ?? parameters[name].Default;
    if (value === undefined) throw new Error(`template: parameter ${name} has no default`);
    // CloudFormation splits a list parameter on commas; an empty value is one empty string.
    return type === "CommaDelimitedList" ? String(value).split(",") : value;
  }
  const physical = ctx.resources?.[name];
  if (physical === undefined) throw new Error(`template: no physical name given for ${name}`);
  return physical;
}

function evaluateCondition(template: Template, name: string, ctx: ResolveContext): boolean {
  const conditions = template.Conditions;
  if (!isObject(conditions) || conditions[name] === undefined) {
    throw new Error(`template: unknown condition ${name}`);
  }
  return truth(template, conditions[name], ctx);
}

function truth(template: Template, expr: Json | undefined, ctx: ResolveContext): boolean {
  if (!isObject(expr)) throw new Error(`template: bad condition ${JSON.stringify(expr)}`);
  const [fn] = Object.keys(expr);
  const arg = fn === undefined ? undefined : expr[fn];
  const args = Array.isArray(arg) ? arg : [];
  switch (fn) {
    case "Condition":
      return evaluateCondition(template, String(arg), ctx);
    case "Fn::Not":
      return !truth(template, args[0], ctx);
    case "Fn::Or":
      return args.some((a) => truth(template, a, ctx));
    case "Fn::And":
      return args.every((a) => truth(template, a, ctx));
    case "Fn::Equals": {
      const [a, b] = args.map((a) => resolve(template, a, ctx));
      return JSON.stringify(a) === JSON.stringify(b);
    }
    default:
      throw new Error(`template: ${fn} is not supported in conditions`);
  }
}

export interface FunctionSettings {
  readonly logicalId: string;
  readonly handler: string;
  readonly runtime: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly logFormat: string;
  readonly applicationLogLevel: string | undefined;
  readonly systemLogLevel: string | undefined;
  /** Globals merged with the function's own variables, intrinsics resolved. */
  readonly environment: Readonly<Record<string, string>>;
}

/** A serverless function's settings as Lambda would apply them, Globals included. */
export function functionSettings(
  template: Template,
  logicalId: string,
  ctx: ResolveContext = {},
): FunctionSettings {
  const resource = isObject(template.Resources) ? template.Resources[logicalId] : undefined;
  if (!isObject(resource) || resource.Type !== "AWS::Serverless::Function") {
    throw new Error(`template: ${logicalId} is not an AWS::Serverless::Function`);
  }
  const globals =
    isObject(template.Globals) && isObject(template.Globals.Function)
      ? template.Globals.Function
      : {};
  const own = isObject(resource.Properties) ? resource.Properties : {};
  const setting = (name: string): Resolved => resolve(template, own[name] ?? globals[name], ctx);
  const logging = {
    ...(asObject(globals.LoggingConfig) ?? {}),
    ...(asObject(own.LoggingConfig) ?? {}),
  };
  const environment: Record<string, string> = {};
  for (const source of [globals, own]) {
    const variables = resolve(template, asObject(asObject(source.Environment)?.Variables), ctx);
    if (variables === NO_VALUE || !isObject(variables)) continue;
    for (const [k, v] of Object.entries(variables)) environment[k] = String(v);
  }
  return {
    logicalId,
    handler: String(setting("Handler")),
    runtime: String(setting("Runtime")),
    // Lambda's defaults when the template says nothing.
    memoryMb: Number(setting("MemorySize") ?? 128),
    timeoutSeconds: Number(setting("Timeout") ?? 3),
    logFormat: String(resolve(template, logging.LogFormat, ctx) ?? "Text"),
    applicationLogLevel: optionalString(resolve(template, logging.ApplicationLogLevel, ctx)),
    systemLogLevel: optionalString(resolve(template, logging.SystemLogLevel, ctx)),
    environment,
  };
}

function asObject(value: Json | undefined): { [key: string]: Json } | undefined {
  return isObject(value) ? value : undefined;
}

function optionalString(value: Resolved): string | undefined {
  return value === undefined || value === NO_VALUE || value === null ? undefined : String(value);
}

/** `Metadata.BuildProperties` of an esbuild-built function (nothing to resolve there). */
export function buildProperties(template: Template, logicalId: string): Record<string, Json> {
  const resource = asObject(asObject(template.Resources)?.[logicalId]);
  const metadata = asObject(resource?.Metadata);
  if (metadata?.BuildMethod !== "esbuild") {
    throw new Error(`template: ${logicalId} is not built with esbuild`);
  }
  return asObject(metadata.BuildProperties) ?? {};
}

/** Logical ids of the template's esbuild-built serverless functions. */
export function esbuildFunctions(template: Template): string[] {
  const resources = asObject(template.Resources) ?? {};
  return Object.entries(resources)
    .filter(([, r]) => isObject(r) && asObject(r.Metadata)?.BuildMethod === "esbuild")
    .map(([id]) => id);
}
