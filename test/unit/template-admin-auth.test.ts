// The admin API's authorization in template.yaml: every route the admin function's HttpApi events
// add is declared in the API's DefinitionBody with the AdminAuth security scheme, which is SigV4
// (IAM) by default and a JWT authorizer of AdminJwtIssuer / AdminJwtAudience when those are set.
// A route missing from the DefinitionBody would be deployed without any authorization.
import { describe, expect, it } from "vitest";
import { loadTemplate, resolveValue, type Template } from "../../infra/template.ts";

const template = loadTemplate();
type Node = Record<string, unknown>;
/** The node at `keys` below `value`; a missing one fails the test, naming the path. */
function at(value: unknown, ...keys: string[]): Node {
  let node = value;
  for (const key of keys) {
    node = (node as Node | undefined)?.[key];
    if (typeof node !== "object" || node === null) throw new Error(`no ${keys.join(".")}`);
  }
  return node as Node;
}
const api = at(template, "Resources", "AdminApi", "Properties", "DefinitionBody");
const paths = at(api, "paths") as Record<string, Node>;

const eventPaths = Object.values(
  at(template, "Resources", "AdminFunction", "Properties", "Events") as Record<string, Node>,
).map((event) => {
  expect(event.Type).toBe("HttpApi");
  const properties = event.Properties as Node;
  expect(properties.ApiId).toEqual({ Ref: "AdminApi" });
  expect(properties.Method).toBe("ANY");
  return String(properties.Path);
});

const JWT = {
  AdminJwtIssuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
  AdminJwtAudience: "4example0client1id2,second-client",
};
const ctx = (parameters: Record<string, string> = {}) => ({
  parameters,
  resources: { "AWS::StackName": "kafka-ingress-dev" },
});
const scheme = (parameters?: Record<string, string>) =>
  resolveValue(
    template as Template,
    at(api, "components", "securitySchemes", "AdminAuth") as never,
    ctx(parameters),
  );
const security = (path: string, parameters?: Record<string, string>) =>
  resolveValue(
    template as Template,
    at(paths, path, "x-amazon-apigateway-any-method").security as never,
    ctx(parameters),
  );

describe("admin API authorization", () => {
  it("declares exactly the admin function's routes, each requiring AdminAuth and nothing else", () => {
    expect(eventPaths.length).toBeGreaterThan(20);
    expect(Object.keys(paths).sort()).toEqual([...eventPaths].sort());
    for (const [path, item] of Object.entries(paths)) {
      expect(Object.keys(item), path).toEqual(["x-amazon-apigateway-any-method"]);
      expect(security(path), path).toEqual([{ AdminAuth: [] }]);
    }
  });

  it("is SigV4 (IAM) without AdminJwtIssuer: the scheme API Gateway reads as AWS_IAM", () => {
    expect(scheme()).toEqual({
      type: "apiKey",
      name: "Authorization",
      in: "header",
      "x-amazon-apigateway-authtype": "awsSigv4",
    });
  });

  it("is a JWT authorizer on the Authorization header with AdminJwtIssuer and AdminJwtAudience", () => {
    expect(scheme(JWT)).toEqual({
      type: "oauth2",
      "x-amazon-apigateway-authorizer": {
        type: "jwt",
        identitySource: "$request.header.Authorization",
        jwtConfiguration: {
          issuer: JWT.AdminJwtIssuer,
          audience: ["4example0client1id2", "second-client"],
        },
      },
    });
    for (const path of eventPaths) expect(security(path, JWT), path).toEqual([{ AdminAuth: [] }]);
  });

  it("requires one of AdminJwtScopes on every route when given (with a JWT issuer only)", () => {
    const withScopes = { ...JWT, AdminJwtScopes: "kafka-ingress/admin,kafka-ingress/ops" };
    for (const path of eventPaths) {
      expect(security(path, withScopes), path).toEqual([
        { AdminAuth: ["kafka-ingress/admin", "kafka-ingress/ops"] },
      ]);
    }
    // Scopes without an issuer do not apply: SigV4 has none.
    expect(security("/subscriptions", { AdminJwtScopes: "kafka-ingress/admin" })).toEqual([
      { AdminAuth: [] },
    ]);
  });

  it("refuses an issuer without an audience at deploy time (a template rule)", () => {
    const rule = at(template, "Rules", "AdminJwtNeedsAudience");
    expect(rule.RuleCondition).toEqual({
      "Fn::Not": [{ "Fn::Equals": [{ Ref: "AdminJwtIssuer" }, ""] }],
    });
    expect(rule.Assertions).toEqual([
      expect.objectContaining({
        Assert: { "Fn::Not": [{ "Fn::Contains": [{ Ref: "AdminJwtAudience" }, ""] }] },
      }),
    ]);
    const issuer = at(template, "Parameters", "AdminJwtIssuer");
    const pattern = new RegExp(String(issuer.AllowedPattern));
    expect(pattern.test("")).toBe(true);
    expect(pattern.test(JWT.AdminJwtIssuer)).toBe(true);
    expect(pattern.test("http://issuer.example.com")).toBe(false);
  });
});
