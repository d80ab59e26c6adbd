// Where the HTTP sink may connect, checked when it connects rather than when an endpoint was
// registered: the host against the allow-list as configured now, then the address actually dialled
// (the literal address, or every address the name resolves to) against the refused ranges of
// core/endpoint-policy.ts. A refused connection fails with EndpointRefusedError before a byte is
// sent; no connection to a refused address is ever opened.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import type { buildConnector as BuildConnector } from "undici";
import buildConnector from "undici/lib/core/connect.js";
import { type EndpointAllowList, refusedAddress, refusedHost } from "../core/endpoint-policy.ts";
import { EndpointRefusedError } from "../core/errors.ts";

export interface EndpointGuardOptions {
  /** SERVICE_ENDPOINT_ALLOW as configured now; undefined allows any host not refused. */
  readonly allow?: EndpointAllowList | undefined;
  /** Connect timeout (ms). */
  readonly timeoutMs: number;
  /** Name resolution (default `dns.lookup`, what node:net uses); a test seam. */
  readonly lookup?: LookupFunction | undefined;
}

const defaultLookup = dnsLookup as LookupFunction;

function refusedAddressError(address: string, host: string | undefined): Error | undefined {
  const why = refusedAddress(address);
  if (why === undefined) return undefined;
  const of = host === undefined ? "" : ` (${host} resolves to it)`;
  return new EndpointRefusedError(`endpoint address ${address}${of} is refused: it is ${why}`);
}

/**
 * A `lookup` for node:net that resolves with `base` and refuses the connection when any address
 * of the name is refused: a name that also resolves to a metadata address is not trusted with the
 * others. Answers in the shape asked for (`all` or the first address).
 */
export function guardedLookup(base: LookupFunction = defaultLookup): LookupFunction {
  return (hostname, options, callback) => {
    const all: LookupAllOptions = { ...options, all: true };
    base(hostname, all, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = (Array.isArray(addresses) ? addresses : []) as LookupAddress[];
      for (const { address } of list) {
        const refused = refusedAddressError(address, hostname);
        if (refused) return callback(refused, "", 0);
      }
      const first = list[0];
      if (first === undefined) {
        const none = Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" });
        return callback(none, "", 0);
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, first.address, first.family);
    });
  };
}

/** An undici connector that applies the policy before connecting (see the file header). */
export function guardedConnector(options: EndpointGuardOptions): BuildConnector.connector {
  const connect = buildConnector({
    timeout: options.timeoutMs,
    lookup: guardedLookup(options.lookup),
  });
  return (opts, callback) => {
    const port = opts.port ? Number(opts.port) : opts.protocol === "https:" ? 443 : 80;
    const refused = refusedTarget(opts.hostname, port, options.allow);
    if (refused) {
      callback(refused, null);
      return;
    }
    connect(opts, callback);
  };
}

/** The host by the allow-list and the refused names; an address literal by the refused ranges. */
function refusedTarget(
  hostname: string,
  port: number,
  allow: EndpointAllowList | undefined,
): Error | undefined {
  const why = refusedHost(hostname, port, allow);
  if (why !== undefined) {
    return new EndpointRefusedError(
      `endpoint host ${hostname} (port ${port}) is refused: it is ${why}`,
    );
  }
  // node:net dials an address literal without a lookup: it is checked here.
  return isIP(hostname) === 0 ? undefined : refusedAddressError(hostname, undefined);
}
