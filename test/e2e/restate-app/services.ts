// A Restate TS SDK endpoint for end-to-end tests (and docs/local-kafka-restate.md):
// - `Tally` (virtual object): exclusive `record` appends what it got to the object's state,
//   shared `get` returns that list. `TallyR` is the same class under another name, fed by
//   Restate's own Kafka ingress so that its state never mixes with `Tally`'s.
// - `Audit` (service): `note` forwards a one-way message to the `AuditLog` object of the record's
//   key, which appends the record's sequence number; `AuditLog/get` reads it back.
// Records are JSON `{"seq": n, "key": "k"}`; the Kafka metadata (`kafka.offset`, ...) comes from
// the request headers, which both our consumer and Restate's Kafka ingress set.
import { once } from "node:events";
import { createServer, type Http2Server } from "node:http2";
import * as restate from "@restatedev/restate-sdk";

export interface TallyEntry {
  readonly seq: number;
  /** `kafka.offset` header (-1 when absent). */
  readonly offset: number;
  /** `kafka.partition` header (-1 when absent). */
  readonly partition: number;
}

interface RecordBody {
  readonly seq?: unknown;
  readonly key?: unknown;
}

/** Counts handler executions per service, for the test's progress and duplicate checks. */
export const executions = { Tally: 0, TallyR: 0, Audit: 0, AuditLog: 0 };

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

function tally(name: "Tally" | "TallyR") {
  return restate.object({
    name,
    handlers: {
      record: async (ctx: restate.ObjectContext, body: RecordBody): Promise<number> => {
        executions[name]++;
        const entry: TallyEntry = {
          seq: seqOf(body),
          offset: header(ctx, "kafka.offset"),
          partition: header(ctx, "kafka.partition"),
        };
        const entries = (await ctx.get<TallyEntry[]>("entries")) ?? [];
        entries.push(entry);
        ctx.set("entries", entries);
        return entries.length;
      },
      get: restate.handlers.object.shared(
        async (ctx: restate.ObjectSharedContext): Promise<TallyEntry[]> =>
          (await ctx.get<TallyEntry[]>("entries")) ?? [],
      ),
    },
  });
}

export const Tally = tally("Tally");
export const TallyR = tally("TallyR");

export const AuditLog = restate.object({
  name: "AuditLog",
  handlers: {
    // Only `Audit` calls it: not reachable through the ingress (so not importable either).
    add: restate.handlers.object.exclusive(
      { ingressPrivate: true },
      async (ctx: restate.ObjectContext, seq: number): Promise<void> => {
        executions.AuditLog++;
        const seqs = (await ctx.get<number[]>("seqs")) ?? [];
        seqs.push(seq);
        ctx.set("seqs", seqs);
      },
    ),
    get: restate.handlers.object.shared(
      async (ctx: restate.ObjectSharedContext): Promise<number[]> =>
        (await ctx.get<number[]>("seqs")) ?? [],
    ),
  },
});

export const Audit = restate.service({
  name: "Audit",
  handlers: {
    note: async (ctx: restate.Context, body: RecordBody): Promise<void> => {
      executions.Audit++;
      const key = typeof body?.key === "string" ? body.key : "none";
      ctx.objectSendClient(AuditLog, key).add(seqOf(body));
    },
    /** Raw bytes in: shows up as a binary handler when imported. */
    raw: restate.handlers.handler(
      { input: restate.serde.binary, output: restate.serde.binary },
      async (_ctx: restate.Context, bytes: Uint8Array): Promise<Uint8Array> => bytes,
    ),
  },
});

/** A workflow and a private service, so that imports meet every kind Restate lists. */
export const Signup = restate.workflow({
  name: "Signup",
  handlers: {
    run: async (ctx: restate.WorkflowContext, email: string): Promise<string> => {
      ctx.set("email", email);
      return "done";
    },
    status: async (ctx: restate.WorkflowSharedContext): Promise<string | null> =>
      (await ctx.get<string>("email")) ?? null,
  },
});

export const Internal = restate.service({
  name: "Internal",
  handlers: { ping: async (_ctx: restate.Context): Promise<string> => "pong" },
  options: { ingressPrivate: true },
});

export const services = [Tally, TallyR, AuditLog, Audit, Signup, Internal];

export interface ServedServices {
  readonly port: number;
  /** `http://127.0.0.1:<port>`, what `POST /deployments {uri}` takes. */
  readonly url: string;
  close(): Promise<void>;
}

/** Warnings and errors only: the SDK logs every invocation at INFO. */
const quietLogger: restate.LoggerTransport = (meta, message, ...rest) => {
  if (meta.level === "warn" || meta.level === "error") console.error(message, ...rest);
};

/**
 * Serves the endpoint (HTTP/2 cleartext) on 127.0.0.1:`port` (0: any free port). `verbose`
 * keeps the SDK's per-invocation log lines.
 */
export async function serveTestServices(port = 0, verbose = false): Promise<ServedServices> {
  const server: Http2Server = createServer(
    restate.createEndpointHandler({ services, ...(verbose ? {} : { logger: quietLogger }) }),
  );
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Restate keeps HTTP/2 sessions open; do not wait for it to drop them.
        setTimeout(resolve, 1_000).unref();
      }),
  };
}
