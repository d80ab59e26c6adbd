// The admin API's authorization as SAM and cfn-lint see template.yaml: cfn-lint (the linter
// `sam validate --lint` runs) is clean with the default parameters (SigV4) and with a JWT issuer,
// audience and scopes; SAM's transform keeps every route's security requirement beside the
// integration it adds, so each route of the processed API requires AdminAuth, resolved to SigV4
// or the JWT authorizer by the parameters.
//
// Needs SAM (SAM_VENV=<venv with aws-sam-cli and cfn-lint>, or both on PATH); skipped without,
// unless REQUIRE_BUNDLES=1 (npm run test:deploy), when it fails instead.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { resolveValue, type Template } from "../../infra/template.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const venvBin = process.env.SAM_VENV ? join(process.env.SAM_VENV, "bin") : undefined;
const tool = (name: string): string | undefined => {
  if (venvBin && existsSync(join(venvBin, name))) return join(venvBin, name);
  try {
    return (
      execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined
    );
  } catch {
    return undefined;
  }
};
const cfnLint = tool("cfn-lint");
const python = venvBin && existsSync(join(venvBin, "python")) ? join(venvBin, "python") : undefined;
const available = cfnLint !== undefined && python !== undefined;
if (!available && process.env.REQUIRE_BUNDLES === "1") {
  throw new Error("cfn-lint and SAM's Python (SAM_VENV) are needed for the template checks");
}

const env = { ...process.env, AWS_DEFAULT_REGION: "us-east-1", SAM_CLI_TELEMETRY: "0" };
const JWT = {
  AdminJwtIssuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
  AdminJwtAudience: "4example0client1id2",
  AdminJwtScopes: "kafka-ingress/admin",
};

function lint(parameters: Record<string, string>): { status: number; output: string } {
  const args = Object.entries(parameters).map(([key, value]) => `${key}=${value}`);
  try {
    const output = execFileSync(
      cfnLint ?? "cfn-lint",
      [...(args.length ? ["--parameters", ...args] : []), "--", "template.yaml"],
      { cwd: root, env, encoding: "utf8" },
    );
    return { status: 0, output };
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    return { status: failed.status, output: `${failed.stdout}${failed.stderr}` };
  }
}

/** template.yaml through SAM's own transform (the functions' code pointed at a dummy S3 URI). */
function processed(): Template {
  const script = `
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
class NoManagedPolicies:
    def load(self): return {}
template = yaml_parse(open("template.yaml").read())
for resource in template["Resources"].values():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://bucket/key"
json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout)
`;
  return JSON.parse(
    execFileSync(python ?? "python3", ["-c", script], { cwd: root, env, encoding: "utf8" }),
  ) as Template;
}

describe.skipIf(!available)("admin API authorization in the deployable template", () => {
  it("cfn-lint is clean with the defaults (SigV4) and with a JWT issuer, audience and scopes", () => {
    for (const parameters of [{}, { ...JWT, AdminJwtScopes: "" }, JWT]) {
      const result = lint(parameters);
      expect(result, JSON.stringify(parameters)).toEqual({ status: 0, output: "" });
    }
  });

  it("SAM's transform keeps each route's security beside the Lambda integration it adds", () => {
    const template = processed();
    const resources = template.Resources as Record<string, { Type: string; Properties: never }>;
    const api = resources.AdminApi as { Type: string; Properties: { Body: Template } };
    expect(api.Type).toBe("AWS::ApiGatewayV2::Api");
    const body = api.Properties.Body as {
      components: { securitySchemes: Record<string, never> };
      paths: Record<string, Record<string, Record<string, never>>>;
    };
    expect(Object.keys(body.components.securitySchemes)).toEqual(["AdminAuth"]);
    const ctx = (parameters: Record<string, string>) => ({
      parameters,
      resources: { "AWS::StackName": "kafka-ingress-dev" },
    });
    const scheme = (parameters: Record<string, string>) =>
      resolveValue(template, body.components.securitySchemes.AdminAuth ?? null, ctx(parameters));
    expect(scheme({})).toMatchObject({ "x-amazon-apigateway-authtype": "awsSigv4" });
    expect(scheme(JWT)).toMatchObject({
      "x-amazon-apigateway-authorizer": {
        type: "jwt",
        jwtConfiguration: { issuer: JWT.AdminJwtIssuer, audience: [JWT.AdminJwtAudience] },
      },
    });
    const routes = Object.entries(body.paths);
    expect(routes.length).toBeGreaterThan(20);
    for (const [path, item] of routes) {
      const method = item["x-amazon-apigateway-any-method"] ?? {};
      expect(method["x-amazon-apigateway-integration"], path).toMatchObject({
        type: "aws_proxy",
        payloadFormatVersion: "2.0",
      });
      expect(resolveValue(template, method.security ?? null, ctx({})), path).toEqual([
        { AdminAuth: [] },
      ]);
      expect(resolveValue(template, method.security ?? null, ctx(JWT)), path).toEqual([
        { AdminAuth: [JWT.AdminJwtScopes] },
      ]);
    }
  });
});
