// A DynamoDB-compatible API on loopback (dynalite over LevelDB), for the local stack and tests;
// with an access key, it serves only requests signed with that key.

import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
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

interface WriteRequest {
  readonly ReturnValuesOnConditionCheckFailure?: string;
}
interface DynaliteDb {
  checkConditional(
    data: WriteRequest,
    existing: object | undefined,
  ): { body: Record<string, unknown> } | null | undefined;
}

/**
 * dynalite predates `ReturnValuesOnConditionCheckFailure`: its validation drops the parameter
 * and its condition failures carry no item. Taught here, so that a failed conditional write
 * returns the item it found (`ALL_OLD`) as DynamoDB does, and the stores behave alike on both.
 */
function teachReturnValuesOnConditionCheckFailure(): void {
  const db = require("dynalite/db") as DynaliteDb & { taughtReturnValues?: true };
  if (db.taughtReturnValues) return;
  db.taughtReturnValues = true;
  for (const action of ["putItem", "updateItem", "deleteItem"]) {
    const { types } = require(`dynalite/validations/${action}`) as {
      types: Record<string, unknown>;
    };
    types.ReturnValuesOnConditionCheckFailure = { type: "String", enum: ["ALL_OLD", "NONE"] };
  }
  const checkConditional = db.checkConditional;
  db.checkConditional = (data, existing) => {
    const failure = checkConditional(data, existing);
    if (failure && existing && data.ReturnValuesOnConditionCheckFailure === "ALL_OLD") {
      failure.body.Item = existing;
    }
    return failure;
  };
}

export interface EmbeddedDynamoDb {
  /** e.g. `http://127.0.0.1:43123` */
  readonly endpoint: string;
  close(): Promise<void>;
}

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

/** The access key id of a SigV4 `Authorization` header (`... Credential=<id>/<date>/...`). */
function accessKeyIdOf(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization !== "string" || !authorization.startsWith("AWS4-HMAC-SHA256 ")) {
    return undefined;
  }
  return /[\s,]Credential=([^/,\s]+)\//.exec(authorization)?.[1];
}

/**
 * dynalite checks no signatures, so the key id stands in for a password: it travels only over
 * loopback, which other users cannot observe, and every start picks a new one.
 */
function requireAccessKey(server: Server, accessKeyId: string): void {
  const expected = digest(accessKeyId);
  const serve = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const given = accessKeyIdOf(request);
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      for (const listener of serve) listener(request, response);
      return;
    }
    const body = JSON.stringify({
      __type: "com.amazon.coral.service#UnrecognizedClientException",
      message: "The security token included in the request is invalid.",
    });
    response.writeHead(403, { "content-type": "application/x-amz-json-1.0" });
    response.end(body);
  });
}

/**
 * Starts dynalite. With `dataDir` the data persists in LevelDB under it; without, it lives in
 * memory. Port 0 picks a free port. With `accessKeyId`, requests not signed with that access key
 * id are refused (403, before dynalite reads them); without, any client is served (tests).
 */
export async function startEmbeddedDynamoDb(
  options: {
    dataDir?: string | undefined;
    port?: number;
    host?: string;
    accessKeyId?: string;
  } = {},
): Promise<EmbeddedDynamoDb> {
  const host = options.host ?? "127.0.0.1";
  teachReturnValuesOnConditionCheckFailure();
  const server = dynalite({
    ...(options.dataDir ? { path: options.dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  if (options.accessKeyId !== undefined) requireAccessKey(server, options.accessKeyId);
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
