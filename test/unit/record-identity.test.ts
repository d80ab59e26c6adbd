import { describe, expect, it } from "vitest";
import { fingerprintHex, recordFingerprint } from "../../src/core/record-identity.ts";

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
const base = { timestamp: 1_767_225_600_000, key: bytes("k"), value: bytes('{"n":1}') };

describe("recordFingerprint", () => {
  it("is the same for the same record, whichever object holds it", () => {
    expect(recordFingerprint({ ...base })).toBe(recordFingerprint({ ...base }));
    expect(fingerprintHex(recordFingerprint(base))).toMatch(/^[0-9a-f]{8}$/);
  });

  it("changes with the timestamp, the key and the value", () => {
    const fingerprints = new Set(
      [
        base,
        { ...base, timestamp: base.timestamp + 1 },
        { ...base, key: bytes("j") },
        { ...base, value: bytes('{"n":2}') },
        { ...base, key: null },
        { ...base, value: null },
        { ...base, key: bytes(""), value: null },
        // the boundary between key and value is part of the identity
        { ...base, key: bytes('k{"n":1'), value: bytes("}") },
      ].map((r) => recordFingerprint(r)),
    );
    expect(fingerprints.size).toBe(8);
  });
});
