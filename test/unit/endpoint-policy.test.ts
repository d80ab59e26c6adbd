import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseEndpointAllowList,
  refusedAddress,
  refusedEndpoint,
  refusedHost,
} from "../../src/core/endpoint-policy.ts";
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
    // metadata names
    "http://metadata/",
    "http://metadata.goog/",
    "http://instance-data/latest/meta-data",
    "http://instance-data.ec2.internal/",
    "http://instance-data.us-west-2.compute.internal/",
    // unspecified addresses reach this host
    "http://0.0.0.0:8080/",
    "http://0:8080/",
    "http://0.1.2.3/",
    "http://[::]/",
    "http://[::0]:9070/",
    "http://[::ffff:0.0.0.0]/",
    // IPv4-translated and NAT64 (well-known and local-use prefixes) forms of 169.254.169.254
    "http://[::ffff:0:a9fe:a9fe]/",
    "http://[::ffff:0:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::a9fe:a9fe]/",
    "http://[64:ff9b:1:a9fe:a9:fe00::]/", // /48 prefix (RFC 6052: bits 64-71 skipped)
    "http://[64:ff9b:1:0:a9:fea9:fe00:0]/", // /64 prefix
    // names spelling a refused address, as wildcard DNS services resolve them
    "http://169.254.169.254.nip.io/",
    "http://app.169.254.169.254.nip.io:8080/",
    "http://169-254-169-254.sslip.io/",
    "http://x-169-254-169-254.sslip.io/",
    "http://0.0.0.0.nip.io/",
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
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::10.0.0.1]/",
    "http://metadata.google.internal.example.com/",
    "http://metadata.example.com/",
    "http://instance-data.example.com/",
    "http://10.0.0.1.nip.io/",
    "http://v1.2.3.example.com/",
    "http://app-0.1.2.3.example.com/", // version-like, not an address
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

describe("refusedAddress (what the sink connects to)", () => {
  it.each([
    [
      "169.254.169.254",
      "a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    ["0.0.0.0", "an unspecified address (0.0.0.0/8, which reaches this host)"],
    ["::", "the unspecified address (::, which reaches this host)"],
    ["[::]", "the unspecified address (::, which reaches this host)"],
    ["fe80::1%eth0", "a link-local IPv6 address (fe80::/10)"],
    ["fd00:ec2::254", "in AWS's instance metadata range (fd00:ec2::/32)"],
    [
      "::ffff:169.254.169.254",
      "an IPv6 form of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    [
      "::ffff:a9fe:a9fe",
      "an IPv6 form of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    [
      "::ffff:0:a9fe:a9fe",
      "an IPv6 form of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    [
      "64:ff9b::a9fe:a9fe",
      "an IPv6 form of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    [
      "64:ff9b:1::a9fe:a9fe",
      "an IPv6 form of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    [
      "::ffff:0:0",
      "an IPv6 form of 0.0.0.0, an unspecified address (0.0.0.0/8, which reaches this host)",
    ],
  ])("refuses %s: %s", (address, why) => {
    expect(refusedAddress(address)).toBe(why);
  });

  it.each([
    "127.0.0.1",
    "::1",
    "[::1]",
    "::ffff:127.0.0.1",
    "10.0.0.1",
    "2600:1f18::1",
    "64:ff9b::a00:1",
    "example.com",
  ])("allows %s", (address) => {
    expect(refusedAddress(address)).toBeUndefined();
  });

  it("refuses every NAT64 form of every link-local address", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (low) => {
        const hex = low.toString(16);
        for (const address of [
          `64:ff9b::a9fe:${hex}`,
          `64:ff9b:1::a9fe:${hex}`,
          `::ffff:0:a9fe:${hex}`,
        ]) {
          expect(refusedAddress(address), address).toMatch(/link-local/);
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe("refusedHost (the allow-list when connecting)", () => {
  const allow = parseEndpointAllowList("*.example.com:443,[::1]:9080,127.0.0.1");

  it("matches names and addresses as the allow-list writes them, IPv6 with or without brackets", () => {
    expect(refusedHost("a.example.com", 443, allow)).toBeUndefined();
    expect(refusedHost("A.Example.COM.", 443, allow)).toBeUndefined();
    expect(refusedHost("::1", 9080, allow)).toBeUndefined();
    expect(refusedHost("[::1]", 9080, allow)).toBeUndefined();
    expect(refusedHost("127.0.0.1", 1234, allow)).toBeUndefined();
    expect(refusedHost("a.example.com", 80, allow)).toBe(
      "not in the allowed endpoints (SERVICE_ENDPOINT_ALLOW)",
    );
    expect(refusedHost("::1", 9081, allow)).toMatch(/SERVICE_ENDPOINT_ALLOW/);
  });

  it("refuses metadata names with or without a list", () => {
    expect(refusedHost("metadata.google.internal", 80, undefined)).toBe("a cloud metadata service");
    expect(refusedHost("instance-data", 80, parseEndpointAllowList("*"))).toBe(
      "a cloud metadata service",
    );
    expect(refusedHost("anything.else", 80, undefined)).toBeUndefined();
  });
});
