// The routes Restate's own tools ask first: `GET /version` (which admin API versions we speak, so
// the `restate` CLI picks its `/v2`…`/v4` path prefix) and `GET /health`.
import { json, MAX_ADMIN_API_VERSION, MIN_ADMIN_API_VERSION, type Routes } from "./router.ts";

/** This product's version; a unit test keeps it equal to package.json's. */
export const PRODUCT_VERSION = "0.1.0";

export function metaRoutes(): Routes {
  return {
    version: {
      GET: async () =>
        json(200, {
          version: PRODUCT_VERSION,
          min_admin_api_version: MIN_ADMIN_API_VERSION,
          max_admin_api_version: MAX_ADMIN_API_VERSION,
          // Restate's CLI requires the field; we have none of Restate's feature flags.
          features: {},
        }),
    },
    health: {
      GET: async () => ({ status: 200, headers: {}, body: "" }),
    },
  };
}
