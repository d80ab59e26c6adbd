// `npm run sink`: an HTTP endpoint on 127.0.0.1:8080 that accepts every invocation and prints it,
// to watch records flow without a Restate server. `--status 500` makes it fail every request.
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    status: { type: "string", default: "200" },
  },
});
const status = Number(values.status);

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const kafkaHeaders = Object.fromEntries(
      Object.entries(request.headers).filter(
        ([name]) =>
          name.startsWith("kafka.") || name.startsWith("restate.") || name === "idempotency-key",
      ),
    );
    const body = Buffer.concat(chunks).toString("utf8");
    console.log(
      JSON.stringify({
        method: request.method,
        path: request.url,
        headers: kafkaHeaders,
        body: body.length > 500 ? `${body.slice(0, 500)}…` : body,
      }),
    );
    response.writeHead(status, { "content-type": "application/json" });
    response.end(status < 300 ? "{}" : JSON.stringify({ message: "failing on purpose" }));
  });
});

server.listen(Number(values.port), values.host, () => {
  console.log(`echo sink listening on http://${values.host}:${values.port} (answers ${status})`);
});
