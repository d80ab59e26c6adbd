import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEndpointAllowList, refusedEndpoint } from "../../src/core/endpoint-policy.ts";
import { ValidationError } from "../../src/core/errors.ts";

describe("refusedEndpoint without an allow-list", () => {
  it.each([
    "http://169.254.169.254/",
    "http://169.254.169.254:80/latest/meta-data",
    "https://169.254.0.1",
    "http://169.254.255.255:8080",
    // other spellings URL normalises to 169.254.169.254
    "http://0xA9FEA9FE/",
    "http://2852039166/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://[fe80::1]/",
    "http://[FE80::abcd:1]:8080",
    "http://[febf:ffff::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fd00:ec2::23]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::169.254.169.254]/",
    "http://[64:ff9b::169.254.169.254]/",
    "http://metadata.google.internal/",
    "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1",
  ])("refuses %s", (url) => {
    expect(refusedEndpoint(url, undefined)).toEqual(expect.any(String));
  });

  it.each([
    "http://127.0.0.1:8080",
    "http://localhost:8080",
    "https://restate.example.com",
    "http://10.0.0.5:8080",
    "http://169.253.169.254/",
    "http://170.254.169.254/",
    "http://[::1]:8080",
    "http://[fec0::1]/",
    "http://[fd00:ec3::254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://metadata.google.internal.example.com/",
    "not a url", // left to the schema
  ])("accepts %s", (url) => {
    expect(refusedEndpoint(url, undefined)).toBeUndefined();
  });

  it("refuses every address in 169.254.0.0/16, in every spelling URL accepts", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (c, d) => {
        const n = ((169 << 24) >>> 0) + (254 << 16) + (c << 8) + d;
        for (const host of [
          `169.254.${c}.${d}`,
          `0x${n.toString(16)}`,
          String(n),
          `[::ffff:169.254.${c}.${d}]`,
        ]) {
          expect(refusedEndpoint(`http://${host}/`, undefined), host).toBeDefined();
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe("allow-list", () => {
  const allow = parseEndpointAllowList(
    " *.example.com, restate.internal:8080 ,10.1.2.3,[::1]:9080, Upper.Case.Org ",
  );

  it("parses patterns", () => {
    expect(allow).toEqual([
      { host: "example.com", wildcard: true },
      { host: "restate.internal", wildcard: false, port: 8080 },
      { host: "10.1.2.3", wildcard: false },
      { host: "[::1]", wildcard: false, port: 9080 },
      { host: "upper.case.org", wildcard: false },
    ]);
    expect(parseEndpointAllowList("")).toEqual([]);
    expect(parseEndpointAllowList("*")).toEqual([{ host: "", wildcard: true }]);
  });

  it.each([
    "https://a.example.com",
    "http://a.b.example.com:9000/restate",
    "http://restate.internal:8080",
    "http://RESTATE.internal.:8080",
    "http://10.1.2.3:1234",
    "http://[::1]:9080",
    "http://upper.case.org",
  ])("accepts %s", (url) => {
    expect(refusedEndpoint(url, allow)).toBeUndefined();
  });

  it.each([
    "https://example.com", // the wildcard covers subdomains only
    "https://evilexample.com",
    "https://example.com.evil.net",
    "http://restate.internal", // port 80, not 8080
    "http://restate.internal:9090",
    "http://[::1]:8080",
    "http://10.1.2.4",
  ])("refuses %s", (url) => {
    expect(refusedEndpoint(url, allow)).toMatch(/SERVICE_ENDPOINT_ALLOW/);
  });

  it("refuses metadata addresses even when allowed", () => {
    const everything = parseEndpointAllowList("*,169.254.169.254");
    expect(refusedEndpoint("http://169.254.169.254/", everything)).toMatch(/link-local/);
    expect(refusedEndpoint("http://anything.at.all", everything)).toBeUndefined();
  });

  it.each([
    "http://x.com",
    "x.com/path",
    "user@x.com",
    "*.*.x.com",
    "x*.com",
    "*.[::1]",
    "x.com:0",
    "x.com:65536",
    "x.com:abc",
    "x.com?q",
    "[zz::1]",
  ])("refuses the pattern %s", (pattern) => {
    expect(() => parseEndpointAllowList(pattern)).toThrow(ValidationError);
  });
});
