// The admin request checks: which content types are JSON, and which Host, Origin and
// Sec-Fetch-Site values the local API answers.
import { describe, expect, it } from "vitest";
import {
  isJsonContentType,
  localAddressNames,
  refuseForeignRequest,
} from "../../src/core/admin-request-policy.ts";

describe("isJsonContentType", () => {
  it("takes application/json and +json types, with parameters, in UTF-8 only", () => {
    for (const type of [
      "application/json",
      "Application/JSON",
      "application/json; charset=utf-8",
      'application/json;charset="UTF-8"',
      "application/json; charset=utf8",
      "application/merge-patch+json",
      "application/vnd.restate+json; version=1",
    ]) {
      expect(isJsonContentType(type), type).toBe(true);
    }
    for (const type of [
      undefined,
      "",
      "text/plain",
      "text/plain; charset=utf-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/json",
      "application/jsonp",
      "application/json; charset=latin1",
      "application/+json",
    ]) {
      expect(isJsonContentType(type), String(type)).toBe(false);
    }
  });
});

describe("refuseForeignRequest", () => {
  const loopback = { port: 9070, names: localAddressNames("127.0.0.1", [], []) };

  it("lets the API's own names through, without Origin or with its own", () => {
    for (const host of ["127.0.0.1:9070", "localhost:9070", "LocalHost:9070", "[::1]:9070"]) {
      expect(refuseForeignRequest({ host }, loopback), host).toBeUndefined();
      expect(refuseForeignRequest({ host, origin: `http://${host}` }, loopback)).toBeUndefined();
    }
    expect(
      refuseForeignRequest(
        {
          host: "127.0.0.1:9070",
          origin: "http://localhost:9070",
          "sec-fetch-site": "same-origin",
        },
        loopback,
      ),
    ).toBeUndefined();
  });

  it("refuses other names, ports and hosts without a port (port 80 only)", () => {
    for (const host of [
      "evil.example:9070",
      "127.0.0.1:9071",
      "127.0.0.1",
      "127.0.0.2:9070",
      "localhost.:9070",
      "127.0.0.1:9070:1",
      "[::1",
      "",
      undefined,
    ]) {
      expect(refuseForeignRequest({ host }, loopback), String(host)).toMatch(
        /does not name this API \(localhost:9070, 127\.0\.0\.1:9070, \[::1\]:9070\)/,
      );
    }
    const port80 = { port: 80, names: localAddressNames("127.0.0.1", [], []) };
    expect(refuseForeignRequest({ host: "localhost" }, port80)).toBeUndefined();
    expect(refuseForeignRequest({ host: "localhost:80" }, port80)).toBeUndefined();
  });

  it("refuses foreign, opaque, https and malformed origins", () => {
    for (const origin of [
      "http://evil.example",
      "http://evil.example:9070",
      "null",
      "https://127.0.0.1:9070",
      "http://127.0.0.1:9071",
      "http://127.0.0.1:9070/path",
      "http://user@127.0.0.1:9070",
      "not a url",
    ]) {
      expect(refuseForeignRequest({ host: "127.0.0.1:9070", origin }, loopback), origin).toMatch(
        /cross-origin requests are refused/,
      );
    }
  });

  it("refuses what a browser marks as cross-site or same-site", () => {
    for (const site of ["cross-site", "same-site", "Cross-Site"]) {
      expect(
        refuseForeignRequest({ host: "127.0.0.1:9070", "sec-fetch-site": site }, loopback),
      ).toMatch(/cross-site requests are refused/);
    }
    expect(
      refuseForeignRequest({ host: "127.0.0.1:9070", "sec-fetch-site": "none" }, loopback),
    ).toBeUndefined();
  });

  it("on a wildcard address takes the machine's addresses and allowed names, nothing else", () => {
    const policy = {
      port: 9070,
      names: localAddressNames("0.0.0.0", ["admin.test"], ["192.0.2.10", "fe80::1", "127.0.0.1"]),
    };
    for (const host of [
      "192.0.2.10:9070",
      "[fe80::1]:9070",
      "admin.test:9070",
      "ADMIN.test:9070",
    ]) {
      expect(refuseForeignRequest({ host }, policy), host).toBeUndefined();
    }
    expect(
      refuseForeignRequest({ host: "admin.test:9070", origin: "http://admin.test:9070" }, policy),
    ).toBeUndefined();
    for (const host of ["0.0.0.0:9070", "192.0.2.11:9070", "evil.example:9070"]) {
      expect(refuseForeignRequest({ host }, policy), host).toMatch(/does not name this API/);
    }
  });

  it("names the listen address when it is not a wildcard", () => {
    const lan = { port: 9070, names: localAddressNames("192.0.2.10", [], ["192.0.2.99"]) };
    expect(refuseForeignRequest({ host: "192.0.2.10:9070" }, lan)).toBeUndefined();
    expect(refuseForeignRequest({ host: "192.0.2.99:9070" }, lan)).toMatch(/does not name/);
    const v6 = { port: 9070, names: localAddressNames("::1", [], []) };
    expect(refuseForeignRequest({ host: "[::1]:9070" }, v6)).toBeUndefined();
  });
});
