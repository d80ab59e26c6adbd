// Base64 and the opaque JSON tokens: strict decoding of untrusted input, encoding in place.
import { describe, expect, it } from "vitest";
import {
  base64ToBytes,
  base64ToUtf8,
  bytesToBase64,
  decodeBase64Strict,
  decodeJsonToken,
  encodeJsonToken,
} from "../../src/core/encoding.ts";

describe("decodeBase64Strict", () => {
  it.each([
    ["", []],
    ["AA==", [0]],
    ["AAE=", [0, 1]],
    ["AAEC", [0, 1, 2]],
    ["/+8=", [0xff, 0xef]],
  ])("accepts %j", (input, bytes) => {
    expect([...(decodeBase64Strict(input) ?? [1, 2, 3, 4])]).toEqual(bytes);
  });

  it("checks values of many MB without exhausting the stack", () => {
    const bytes = Buffer.alloc(8 * 1024 * 1024, 0x7b);
    expect(decodeBase64Strict(bytes.toString("base64"))?.byteLength).toBe(bytes.byteLength);
    expect(decodeBase64Strict(`${bytes.toString("base64")}A===`)).toBeUndefined();
  });

  it.each(["A", "AA", "AA=", "AA==AA==", "AA AA", "AA-_", "AAE=\n", "====", "A==="])(
    "rejects %j",
    (input) => {
      expect(decodeBase64Strict(input)).toBeUndefined();
    },
  );
});

describe("bytesToBase64", () => {
  it("encodes exactly the bytes of a view, not the whole buffer behind it", () => {
    const whole = Uint8Array.from([1, 2, 3, 4, 5]);
    expect(bytesToBase64(whole.subarray(1, 3))).toBe(Buffer.from([2, 3]).toString("base64"));
    expect(bytesToBase64(new Uint8Array())).toBe("");
  });

  it("round-trips through base64ToBytes and base64ToUtf8", () => {
    const bytes = Uint8Array.from([0, 255, 128, 7]);
    expect([...base64ToBytes(bytesToBase64(bytes))]).toEqual([...bytes]);
    expect(base64ToUtf8(bytesToBase64(new TextEncoder().encode("grüße")))).toBe("grüße");
  });
});

describe("JSON tokens", () => {
  it("carry a value in URL-safe characters and read it back", () => {
    const value = { sk: "letter#t-0#00000000000000000042", l: ["t-0", 42] };
    const token = encodeJsonToken(value);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeJsonToken(token)).toEqual(value);
  });

  it("refuse a token that holds no JSON", () => {
    expect(() => decodeJsonToken("bm90IGpzb24")).toThrow(SyntaxError);
  });
});
