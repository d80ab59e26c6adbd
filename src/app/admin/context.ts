// What the admin API's handler modules share: the dependencies with their defaults resolved, and
// the store look-up both cluster and service deletes need.
import type { AdminStore } from "../../core/ports.ts";
import type { RestateAdminReader } from "../../core/restate-import.ts";
import type { AdminApiDeps, AdminLog } from "../admin-api.ts";

export interface AdminContext {
  readonly deps: AdminApiDeps;
  readonly newId: () => string;
  readonly now: () => Date;
  readonly log: AdminLog;
  readonly restateAdmin: RestateAdminReader;
}

export async function usersOf(
  store: AdminStore,
  field: "cluster" | "service",
  name: string,
): Promise<string[]> {
  try {
    const all = await store.listSubscriptions();
    return all.filter((s) => s[field] === name).map((s) => s.id);
  } catch {
    return [];
  }
}
