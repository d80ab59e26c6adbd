// The connect-time guard's lookup over a fake resolver (no socket is opened here): every address a
// name resolves to is checked, and the answer keeps the shape node:net asked for.
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { describe, expect, it } from "vitest";
import { guardedLookup } from "../../src/adapters/endpoint-guard.ts";
import { classifyError } from "../../src/adapters/http-sink.ts";
import { EndpointRefusedError } from "../../src/core/errors.ts";

/** A resolver answering `addresses` for every name, recording what it was asked. */
function resolver(addresses: string[]) {
  const asked: unknown[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    asked.push({ hostname, all: options.all });
    const list = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    if (options.all) callback(null, list);
    else callback(null, list[0]?.address ?? "", list[0]?.family);
  };
  return { lookup, asked };
}

function resolve(
  lookup: LookupFunction,
  all: boolean,
): Promise<{
  error: NodeJS.ErrnoException | null;
  address: string | LookupAddress[];
  family?: number | undefined;
}> {
  return new Promise((done) =>
    lookup("svc.example", { all }, (error, address, family) => done({ error, address, family })),
  );
}

describe("guardedLookup", () => {
  it.each([
    [
      "169.254.169.254",
      "a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    ["fe80::1", "a link-local IPv6 address (fe80::/10)"],
    ["fd00:ec2::254", "in AWS's instance metadata range (fd00:ec2::/32)"],
    [
      "64:ff9b::a9fe:a9fe",
      "an IPv6 form of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services live)",
    ],
    ["0.0.0.0", "an unspecified address (0.0.0.0/8, which reaches this host)"],
  ])("refuses a name resolving to %s, also behind an allowed address", async (bad, why) => {
    for (const all of [true, false]) {
      const { lookup } = resolver(["10.0.0.7", bad]);
      const { error } = await resolve(guardedLookup(lookup), all);
      expect(error).toBeInstanceOf(EndpointRefusedError);
      expect(error?.message).toBe(
        `endpoint address ${bad} (svc.example resolves to it) is refused: it is ${why}`,
      );
      expect(classifyError(error)).toEqual({
        kind: "terminal",
        reason: `ERR_ENDPOINT_REFUSED: ${error?.message}`,
      });
    }
  });

  it("passes allowed addresses on in the shape asked for, always resolving all of them", async () => {
    const { lookup, asked } = resolver(["127.0.0.1", "::1"]);
    const guarded = guardedLookup(lookup);
    expect(await resolve(guarded, true)).toEqual({
      error: null,
      address: [
        { address: "127.0.0.1", family: 4 },
        { address: "::1", family: 6 },
      ],
      family: undefined,
    });
    expect(await resolve(guarded, false)).toEqual({ error: null, address: "127.0.0.1", family: 4 });
    expect(asked).toEqual([
      { hostname: "svc.example", all: true },
      { hostname: "svc.example", all: true },
    ]);
  });

  it("keeps resolver errors (retryable) and answers no address as ENOTFOUND", async () => {
    const failing: LookupFunction = (_h, _o, callback) =>
      callback(Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" }), "");
    const { error } = await resolve(guardedLookup(failing), false);
    expect(classifyError(error)).toMatchObject({ kind: "retryable" });
    expect((await resolve(guardedLookup(resolver([]).lookup), true)).error?.code).toBe("ENOTFOUND");
  });
});
