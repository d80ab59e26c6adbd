import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.ts";
import { inputFormat, servicesFromRestate } from "../../src/core/restate-import.ts";

/** `GET /services` of restate-server 1.7.12 with test/e2e/restate-app registered (captured). */
const captured: unknown = JSON.parse(
  readFileSync(new URL("../fixtures/restate-1.7-services.json", import.meta.url), "utf8"),
);
const INGRESS = "http://127.0.0.1:8080";

describe("servicesFromRestate on a captured restate-server 1.7 listing", () => {
  it("maps service types, shared handlers and binary inputs; skips the private service", () => {
    const plan = servicesFromRestate(captured, { ingressUrl: `${INGRESS}/` });
    expect(plan.services.map((s) => s.name)).toEqual([
      "Audit",
      "AuditLog",
      "Signup",
      "Tally",
      "TallyR",
    ]);
    const byName = Object.fromEntries(plan.services.map((s) => [s.name, s]));
    expect(byName.Tally).toEqual({
      name: "Tally",
      type: "virtual_object",
      endpoint: INGRESS,
      invocation: "call",
      handlers: {
        record: { shared: false, input: "json" },
        get: { shared: true, input: "json" },
      },
    });
    expect(byName.Audit).toMatchObject({
      type: "service",
      handlers: { note: { shared: false, input: "json" }, raw: { shared: false, input: "binary" } },
    });
    expect(byName.Signup).toMatchObject({
      type: "workflow",
      handlers: { run: { shared: false, input: "json" }, status: { shared: true, input: "json" } },
    });
    // AuditLog/add is ingress-private: only `get` can be subscribed to.
    expect(Object.keys(byName.AuditLog?.handlers ?? {})).toEqual(["get"]);
    expect(plan.skipped).toEqual([
      {
        name: "Internal",
        reason: "private in Restate (ingressPrivate): it cannot be invoked through the ingress",
      },
    ]);
  });

  it("takes the invocation mode and a selection of names, reporting names Restate lacks", () => {
    const plan = servicesFromRestate(captured, {
      ingressUrl: INGRESS,
      invocation: "send",
      only: ["Audit", "Missing", "Internal"],
    });
    expect(plan.services.map((s) => [s.name, s.invocation])).toEqual([["Audit", "send"]]);
    expect(plan.skipped.map((s) => s.name)).toEqual(["Internal", "Missing"]);
    expect(plan.skipped[1]?.reason).toMatch(/does not list/);
  });
});

describe("servicesFromRestate on odd listings", () => {
  it("skips what does not fit, with reasons, and keeps the rest", () => {
    const plan = servicesFromRestate(
      {
        services: [
          { name: "Future", ty: "Actor", handlers: [{ name: "h" }] },
          { name: "NoHandlers", ty: "Service", handlers: [] },
          { name: "AllPrivate", ty: "Service", handlers: [{ name: "h", public: false }] },
          { name: "bad name", ty: "Service", handlers: [{ name: "h" }] },
          { name: "BadHandler", ty: "Service", handlers: [{ name: "h-1" }] },
          { ty: "Service" },
          "garbage",
          { name: "Ok", ty: "Service", handlers: [{ name: "h", input_description: "none" }] },
        ],
      },
      { ingressUrl: INGRESS },
    );
    expect(plan.services.map((s) => s.name)).toEqual(["Ok"]);
    const reasons = Object.fromEntries(plan.skipped.map((s) => [s.name, s.reason]));
    expect(reasons.Future).toBe('unsupported service type "Actor"');
    expect(reasons.NoHandlers).toMatch(/no handler/);
    expect(reasons.AllPrivate).toMatch(/no handler/);
    expect(reasons["bad name"]).toMatch(/^invalid service: name must start/);
    expect(reasons.BadHandler).toMatch(/not a valid handler name/);
    expect(reasons["services[5]"]).toMatch(/do not understand/);
    expect(reasons["services[6]"]).toMatch(/do not understand/);
  });

  it("refuses something that is not a service listing", () => {
    for (const listing of [null, {}, { services: {} }, "x"]) {
      expect(() => servicesFromRestate(listing, { ingressUrl: INGRESS })).toThrow(ValidationError);
    }
  });

  it("refuses an ingress URL that is not http(s)", () => {
    const plan = servicesFromRestate(captured, { ingressUrl: "file:///etc", only: ["Tally"] });
    expect(plan.services).toEqual([]);
    expect(plan.skipped[0]?.reason).toMatch(/endpoint must be an http/);
  });
});

describe("inputFormat", () => {
  it("keeps JSON (and no input) as json, anything else as binary", () => {
    expect(inputFormat("application/json")).toBe("json");
    expect(inputFormat('one of ["none", "application/json"]')).toBe("json");
    expect(inputFormat("none")).toBe("json");
    expect(inputFormat(undefined)).toBe("json");
    expect(inputFormat(null)).toBe("json");
    expect(inputFormat("application/octet-stream")).toBe("binary");
    expect(inputFormat("text/plain")).toBe("binary");
  });
});
