// A DynamoDB-compatible API on loopback (dynalite over LevelDB), for the local stack and tests.

import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

const require = createRequire(import.meta.url);
const dynalite = require("dynalite") as (options: DynaliteOptions) => Server;

export interface EmbeddedDynamoDb {
  /** e.g. `http://127.0.0.1:43123` */
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite. With `dataDir` the data persists in LevelDB under it; without, it lives in
 * memory. Port 0 picks a free port.
 */
export async function startEmbeddedDynamoDb(
  options: { dataDir?: string; port?: number; host?: string } = {},
): Promise<EmbeddedDynamoDb> {
  const host = options.host ?? "127.0.0.1";
  const server = dynalite({
    ...(options.dataDir ? { path: options.dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error?: Error) => (error ? reject(error) : resolve())),
      ),
  };
}
