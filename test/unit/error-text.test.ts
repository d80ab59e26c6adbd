// How thrown things are described in logs and failure reasons, and how zod issues read.
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { errorMessage, errorName, errorText, ValidationError } from "../../src/core/errors.ts";
import { describeIssues, issuePath } from "../../src/core/zod-messages.ts";

describe("errorMessage, errorName, errorText", () => {
  it("describe errors by name and message", () => {
    const error = new ValidationError("bad input");
    expect(errorMessage(error)).toBe("bad input");
    expect(errorName(error)).toBe("ValidationError");
    expect(errorText(error)).toBe("ValidationError: bad input");
  });

  it("read error-like objects from another realm by their properties", () => {
    const foreign = { name: "ThrottlingException", message: "slow down" };
    expect(errorMessage(foreign)).toBe("slow down");
    expect(errorText(foreign)).toBe("ThrottlingException: slow down");
  });

  it("turn anything else into text", () => {
    expect(errorMessage("odd")).toBe("odd");
    expect(errorName("odd")).toBe("Error");
    expect(errorText("odd")).toBe("odd");
    expect(errorMessage(undefined)).toBe("undefined");
    expect(errorText(null)).toBe("null");
  });
});

describe("issuePath", () => {
  it("writes a path as JavaScript would, after an optional root", () => {
    expect(issuePath(["records", "t-0", 3, "key"], "event")).toBe('event.records["t-0"][3].key');
    expect(issuePath(["auth", "bearer_token_secret"])).toBe("auth.bearer_token_secret");
    expect(issuePath([0, "name"])).toBe("[0].name");
    expect(issuePath([])).toBe("");
  });
});

describe("describeIssues", () => {
  it("lists every issue with its dotted path, naming the whole input when it has none", () => {
    const schema = z.object({ letters: z.array(z.object({ offset: z.number() })) });
    const nested = schema.safeParse({ letters: [{ offset: "1" }] });
    expect(nested.success).toBe(false);
    expect(describeIssues((nested as { error: z.core.$ZodError }).error, "(payload)")).toMatch(
      /^letters\.0\.offset: /,
    );
    const whole = schema.safeParse(7);
    expect(describeIssues((whole as { error: z.core.$ZodError }).error, "(payload)")).toMatch(
      /^\(payload\): /,
    );
  });
});
