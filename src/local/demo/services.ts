// The demo's Restate TS SDK endpoint (`npm run demo`): a virtual object and a service that the
// demo's subscriptions feed from Kafka.
// - `Tally` (virtual object, one instance per record key): exclusive `record` appends the record's
//   `seq` with its `kafka.partition` / `kafka.offset` headers to the object's state, so one key's
//   records are seen in order; shared `get` returns that list.
// - `Audit` (service): `note` checks the record and answers `{seq, key}`, in parallel across keys.
// Both reject a record without an integer `seq` with a terminal error (HTTP 400 through Restate's
// ingress): the demo's poison record, which the consumer dead-letters.
import { once } from "node:events";
import { createServer, type Http2Server } from "node:http2";
import * as restate from "@restatedev/restate-sdk";

export interface TallyEntry {
  readonly seq: number;
  readonly partition: number;
  readonly offset: number;
}

interface RecordBody {
  readonly seq?: unknown;
  readonly key?: unknown;
}

/** Handler executions that accepted a record, per service (the demo's own progress signal). */
export interface HandlerCounts {
  Tally: number;
  Audit: number;
}

const header = (ctx: restate.Context, name: string): number => {
  const value = ctx.request().headers.get(name);
  return value === undefined ? -1 : Number(value);
};

function seqOf(body: RecordBody | null | undefined): number {
  const seq = body?.seq;
  if (typeof seq !== "number" || !Number.isInteger(seq)) {
    throw new restate.TerminalError(`record body must be {"seq": <integer>, ...}`, {
      errorCode: 400,
    });
  }
  return seq;
}

export function demoServices(onRecord: (service: keyof HandlerCounts) => void) {
  const Tally = restate.object({
    name: "Tally",
    handlers: {
      record: async (ctx: restate.ObjectContext, body: RecordBody): Promise<number> => {
        const entry: TallyEntry = {
          seq: seqOf(body),
          partition: header(ctx, "kafka.partition"),
          offset: header(ctx, "kafka.offset"),
        };
        const entries = (await ctx.get<TallyEntry[]>("entries")) ?? [];
        entries.push(entry);
        ctx.set("entries", entries);
        await ctx.run("count", () => onRecord("Tally"));
        return entries.length;
      },
      get: restate.handlers.object.shared(
        async (ctx: restate.ObjectSharedContext): Promise<TallyEntry[]> =>
          (await ctx.get<TallyEntry[]>("entries")) ?? [],
      ),
    },
  });
  const Audit = restate.service({
    name: "Audit",
    handlers: {
      note: async (ctx: restate.Context, body: RecordBody) => {
        const seq = seqOf(body);
        await ctx.run("count", () => onRecord("Audit"));
        return { seq, key: typeof body?.key === "string" ? body.key : null };
      },
    },
  });
  return [Tally, Audit];
}

export interface DemoEndpoint {
  /** `http://127.0.0.1:<port>`, what `POST /deployments {uri}` takes. */
  readonly url: string;
  readonly counts: Readonly<HandlerCounts>;
  /** Resolves with `Date.now()` when a handler first accepts a record. */
  readonly firstRecord: Promise<number>;
  close(): Promise<void>;
}

/** Warnings and errors only, to `log` (the SDK logs every invocation at INFO). */
const loggerTo =
  (log: (line: string) => void): restate.LoggerTransport =>
  (meta, message, ...rest) => {
    if (meta.level === "warn" || meta.level === "error") {
      log(JSON.stringify({ level: meta.level, msg: String(message), detail: rest.map(String) }));
    }
  };

/** Serves the endpoint (HTTP/2 cleartext) on 127.0.0.1:`port` (0: a free port). */
export async function serveDemoServices(
  port: number,
  log: (line: string) => void,
): Promise<DemoEndpoint> {
  const counts: HandlerCounts = { Tally: 0, Audit: 0 };
  let first: ((at: number) => void) | undefined;
  const firstRecord = new Promise<number>((resolve) => {
    first = resolve;
  });
  const services = demoServices((service) => {
    counts[service]++;
    first?.(Date.now());
    first = undefined;
  });
  const server: Http2Server = createServer(
    restate.createEndpointHandler({ services, logger: loggerTo(log) }),
  );
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  return {
    url: `http://127.0.0.1:${bound}`,
    counts,
    firstRecord,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Restate keeps HTTP/2 sessions open: close them rather than wait for it.
        setTimeout(resolve, 1_000).unref();
      }),
  };
}
