// The benchmark's sink: a real HTTP server on loopback, run in its own process (forked by
// bench/run.ts) so that it does not share an event loop with the client under test.
//
// Every request is answered 200 `{}` after a latency drawn from the configured distribution
// (uniform [min, max] ms, or zero: answered at once). The server records, per request, the
// latency it actually applied (from the end of the request body to the response, measured with
// performance.now(), so timer granularity is included) and the request's lane key
// (`<kafka.partition> <path>`). The parent reads the records over IPC after each run and computes
// the lower bound from them.
//
// IPC protocol (parent → child → parent):
//   {type:"config", latency:{kind:"zero"}|{kind:"uniform",minMs,maxMs}, seed} → {type:"configured"}
//   {type:"collect"} → {type:"collected", latencies:number[], lanes:string[], maxInFlight:number}
//   on start, the child sends {type:"ready", port}.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type FromSink, type Latency, prng, type ToSink } from "./lib.ts";

let latency: Latency = { kind: "zero" };
let random = prng(1);
let latencies: number[] = [];
let lanes: string[] = [];
let inFlight = 0;
let maxInFlight = 0;

const BODY = Buffer.from("{}");
const HEADERS = { "content-type": "application/json", "content-length": String(BODY.length) };

function answer(req: IncomingMessage, res: ServerResponse, receivedAt: number): void {
  latencies.push(performance.now() - receivedAt);
  lanes.push(`${req.headers["kafka.partition"] ?? ""} ${req.url ?? ""}`);
  inFlight--;
  res.writeHead(200, HEADERS);
  res.end(BODY);
}

const server = createServer((req, res) => {
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  req.resume(); // the body is not needed, only its end
  req.on("end", () => {
    const receivedAt = performance.now();
    if (latency.kind === "zero") {
      answer(req, res, receivedAt);
      return;
    }
    const ms = latency.minMs + random() * (latency.maxMs - latency.minMs);
    setTimeout(answer, ms, req, res, receivedAt);
  });
});
server.keepAliveTimeout = 60_000;

function send(message: FromSink): void {
  process.send?.(message);
}

process.on("message", (message: ToSink) => {
  if (message.type === "config") {
    latency = message.latency;
    random = prng(message.seed);
    latencies = [];
    lanes = [];
    maxInFlight = inFlight;
    send({ type: "configured" });
  } else if (message.type === "collect") {
    send({ type: "collected", latencies, lanes, maxInFlight });
  }
});
// The parent going away ends the sink.
process.on("disconnect", () => process.exit(0));

server.listen(0, "127.0.0.1", () => {
  send({ type: "ready", port: (server.address() as AddressInfo).port });
});
