// The admin API as a transport-independent application: a request in, a JSON response out.
// Routes: /subscriptions (and per subscription /pause, /resume, /dead-letters[/replay|/discard],
// /parked-keys), /kafka-clusters, /services, /version, /health and /openapi, all also under
// /v2…/v4. It only composes the route tables of admin/ (subscriptions, dead letters, clusters,
// services, the version routes and the OpenAPI document) behind the router of admin/router.ts,
// where errors map to status codes in one place.
import { randomBytes } from "node:crypto";
import { consoleAt } from "../core/outcome.ts";
import { clusterRoutes } from "./admin/clusters.ts";
import type { AdminContext } from "./admin/context.ts";
import { deadLetterRoutes } from "./admin/dead-letters.ts";
import { metaRoutes } from "./admin/meta.ts";
import { openApiRoutes } from "./admin/openapi.ts";
import { createRouter, type Routes } from "./admin/router.ts";
import { serviceRoutes } from "./admin/services.ts";
import { subscriptionRoutes } from "./admin/subscriptions.ts";
import type { AdminApi, AdminApiDeps, AdminLog } from "./admin/types.ts";

export type {
  AdminApi,
  AdminApiDeps,
  AdminLog,
  AdminRequest,
  AdminResponse,
} from "./admin/types.ts";

/** Restate's base62 alphabet for ids: digits, then lowercase, then uppercase. */
const BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * A subscription id as Restate writes them, so Restate's CLI accepts it: `sub_`, the id format
 * version `1`, then a 128-bit value from the CSPRNG in 22 base62 digits (left-padded with `0`).
 */
export function newSubscriptionId(): string {
  let value = BigInt(`0x${randomBytes(16).toString("hex")}`);
  let digits = "";
  for (let i = 0; i < 22; i++) {
    digits = BASE62[Number(value % 62n)] + digits;
    value /= 62n;
  }
  return `sub_1${digits}`;
}

const defaultLog: AdminLog = (entry) => consoleAt(String(entry.level))(JSON.stringify(entry));

/** Every route of the admin API: path pattern → method → handler. */
export function adminRoutes(ctx: AdminContext): Routes {
  return {
    ...subscriptionRoutes(ctx),
    ...deadLetterRoutes(ctx),
    ...clusterRoutes(ctx),
    ...serviceRoutes(ctx),
    ...metaRoutes(),
    ...openApiRoutes(),
  };
}

export function createAdminApi(deps: AdminApiDeps): AdminApi {
  const ctx: AdminContext = {
    deps,
    newId: deps.newId ?? newSubscriptionId,
    now: deps.now ?? (() => new Date()),
    log: deps.log ?? defaultLog,
  };
  return { handle: createRouter(adminRoutes(ctx), ctx) };
}
