// The shared text conversions: comma-separated lists, scalar configuration values and batches.
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.ts";
import { chunks } from "../../src/core/lists.ts";
import { scalarText, splitList } from "../../src/core/text.ts";

describe("splitList", () => {
  it("trims entries and drops empty ones", () => {
    expect(splitList(" a:1, b:2 ,,c:3 ,")).toEqual(["a:1", "b:2", "c:3"]);
    expect(splitList("")).toEqual([]);
    expect(splitList(" , ")).toEqual([]);
  });
});

describe("scalarText", () => {
  it("writes strings, finite numbers and booleans as configuration text", () => {
    expect(scalarText(" x ", "option")).toBe(" x ");
    expect(scalarText(42, "option")).toBe("42");
    expect(scalarText(0.5, "option")).toBe("0.5");
    expect(scalarText(true, "option")).toBe("true");
    expect(scalarText(false, "option")).toBe("false");
  });

  it("refuses anything else, naming the value", () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, null, undefined, {}, ["a"]]) {
      expect(() => scalarText(value, 'option "x"')).toThrow(
        new ValidationError('option "x" must be a string, a number or a boolean'),
      );
    }
  });
});

describe("chunks", () => {
  it("slices in order, the last slice holding the rest", () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2], 25)).toEqual([[1, 2]]);
    expect(chunks([], 25)).toEqual([]);
  });
});
