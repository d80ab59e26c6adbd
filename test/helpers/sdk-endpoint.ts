// A Restate TS SDK endpoint on loopback for end-to-end tests: the given services over HTTP/2,
// warnings and errors logged only, closed without waiting for the sessions Restate keeps open.
import { once } from "node:events";
import { createServer } from "node:http2";
import * as restate from "@restatedev/restate-sdk";

export interface SdkEndpoint {
  /** `http://127.0.0.1:<port>`, what Restate's `POST /deployments` takes. */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveSdkEndpoint(
  services: Parameters<typeof restate.createEndpointHandler>[0]["services"],
): Promise<SdkEndpoint> {
  const server = createServer(
    restate.createEndpointHandler({
      services,
      logger: (meta, message, ...rest) => {
        if (meta.level === "warn" || meta.level === "error") console.error(message, ...rest);
      },
    }),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(resolve, 1_000).unref(); // Restate keeps HTTP/2 sessions open
      }),
  };
}
