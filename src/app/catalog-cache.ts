// A read-through cache in front of a CatalogReader, for warm consumer invocations.
//
// Bound: a value read from the catalog is reused for at most `ttlMs` after the read started, so a
// change (service endpoint, subscription options, a new cluster) reaches a warm consumer within
// ttlMs. Misses (undefined) and failures are never cached: a subscription created a moment ago
// is found on the next event. Concurrent reads of one key share a single catalog request. The
// cache holds at most `maxEntries` keys (it is cleared when full); a consumer reads a handful.
import type { CatalogReader } from "../core/ports.ts";

interface Entry {
  readonly expiresAt: number;
  readonly value: Promise<unknown>;
}

export function cachedCatalog(
  reader: CatalogReader,
  ttlMs: number,
  now: () => number = Date.now,
  maxEntries = 1000,
): CatalogReader {
  if (ttlMs <= 0) return reader;
  const entries = new Map<string, Entry>();

  function read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const at = now();
    const hit = entries.get(key);
    if (hit !== undefined && hit.expiresAt > at) return hit.value as Promise<T>;
    if (entries.size >= maxEntries) entries.clear();
    const value = load();
    const entry: Entry = { expiresAt: at + ttlMs, value };
    entries.set(key, entry);
    const forget = () => {
      if (entries.get(key) === entry) entries.delete(key);
    };
    value.then((v) => {
      if (v === undefined) forget();
    }, forget);
    return value;
  }

  return {
    getSubscription: (id) => read(`subscription:${id}`, () => reader.getSubscription(id)),
    listSubscriptions: () => read("subscriptions", () => reader.listSubscriptions()),
    getService: (name) => read(`service:${name}`, () => reader.getService(name)),
    getCluster: (name) => read(`cluster:${name}`, () => reader.getCluster(name)),
    listClusters: () => read("clusters", () => reader.listClusters()),
  };
}
