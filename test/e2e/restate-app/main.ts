// `node test/e2e/restate-app/main.ts [port]`: serves the test services on 127.0.0.1 (default port
// 9080), logging every invocation.
import { serveTestServices } from "./services.ts";

const port = Number(process.argv[2] ?? process.env.PORT ?? 9080);
serveTestServices(port, true).then(
  (served) => console.log(JSON.stringify({ msg: "restate test services ready", url: served.url })),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
