// Workload 6's Restate TS SDK endpoint, forked in its own process (HTTP/2 cleartext on loopback):
// identical virtual objects, one per contender so that their states never mix (`BenchR` fed by
// Restate's own Kafka ingress, `BenchCall` and `BenchSend` by our stack, `BenchHttp` by the bench's
// bare HTTP feed). The exclusive `record`
// handler appends `{seq, offset}` (offset from the `kafka.offset` header both feeds set) to the
// key's state; the shared `get` reads it back. Over IPC the parent asks how many distinct records
// each object has seen and when the first one came (a replayed handler counts once).
import { once } from "node:events";
import { createServer } from "node:http2";
import * as restate from "@restatedev/restate-sdk";

export const E2E_OBJECTS = ["BenchR", "BenchCall", "BenchSend", "BenchHttp"] as const;
export type E2eObject = (typeof E2E_OBJECTS)[number];

export interface E2eEntry {
  readonly seq: number;
  /** `kafka.offset` header (-1 when absent). */
  readonly offset: number;
}

export type ToEndpoint = { readonly type: "reset" } | { readonly type: "stats" };
export type FromEndpoint =
  | { readonly type: "ready"; readonly port: number }
  | { readonly type: "reset" }
  | {
      readonly type: "stats";
      /** Per object: distinct (key, seq) seen since the last reset, and the first's wall time. */
      readonly objects: Record<E2eObject, { distinct: number; firstAt: number | null }>;
    };

interface Seen {
  readonly keys: Set<string>;
  firstAt: number | null;
}
const seen = new Map<E2eObject, Seen>(
  E2E_OBJECTS.map((name) => [name, { keys: new Set<string>(), firstAt: null }]),
);

function benchObject(name: E2eObject) {
  return restate.object({
    name,
    handlers: {
      record: async (ctx: restate.ObjectContext, body: { seq?: unknown }): Promise<number> => {
        const seq = body?.seq;
        if (typeof seq !== "number" || !Number.isInteger(seq)) {
          throw new restate.TerminalError(`record body must be {"seq": <integer>}`, {
            errorCode: 400,
          });
        }
        const offsetHeader = ctx.request().headers.get("kafka.offset");
        const entry: E2eEntry = {
          seq,
          offset: offsetHeader === undefined ? -1 : Number(offsetHeader),
        };
        const entries = (await ctx.get<E2eEntry[]>("entries")) ?? [];
        entries.push(entry);
        ctx.set("entries", entries);
        const s = seen.get(name);
        if (s !== undefined) {
          s.firstAt ??= Date.now();
          s.keys.add(`${ctx.key}\u0000${seq}`);
        }
        return entries.length;
      },
      get: restate.handlers.object.shared(
        async (ctx: restate.ObjectSharedContext): Promise<E2eEntry[]> =>
          (await ctx.get<E2eEntry[]>("entries")) ?? [],
      ),
    },
  });
}

/** Warnings and errors only: the SDK logs every invocation at INFO. */
const quietLogger: restate.LoggerTransport = (meta, message, ...rest) => {
  if (meta.level === "warn" || meta.level === "error") console.error(message, ...rest);
};

async function main(): Promise<void> {
  const server = createServer(
    restate.createEndpointHandler({
      services: E2E_OBJECTS.map(benchObject),
      logger: quietLogger,
    }),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  process.on("message", (message: ToEndpoint) => {
    if (message.type === "reset") {
      for (const s of seen.values()) {
        s.keys.clear();
        s.firstAt = null;
      }
      process.send?.({ type: "reset" } satisfies FromEndpoint);
    } else if (message.type === "stats") {
      const objects = Object.fromEntries(
        [...seen].map(([name, s]) => [name, { distinct: s.keys.size, firstAt: s.firstAt }]),
      ) as Record<E2eObject, { distinct: number; firstAt: number | null }>;
      process.send?.({ type: "stats", objects } satisfies FromEndpoint);
    }
  });
  // The parent going away ends the endpoint (Restate keeps HTTP/2 sessions open).
  process.on("disconnect", () => process.exit(0));
  process.send?.({ type: "ready", port } satisfies FromEndpoint);
}

if (process.send !== undefined) await main();
