import { describe, expect, it } from "vitest";
import { cachedCatalog } from "../../src/app/catalog-cache.ts";
import { memoryCatalog } from "../../src/local/memory-catalog.ts";
import { SUB_ID, service, subscription } from "../helpers/catalog-fixtures.ts";

describe("cachedCatalog", () => {
  it("reuses a read for ttlMs, then reads again", async () => {
    const inner = memoryCatalog({ services: [service()] });
    const clock = { now: 0 };
    const catalog = cachedCatalog(inner, 1_000, () => clock.now);
    await catalog.getService("Orders");
    clock.now = 999;
    await catalog.getService("Orders");
    expect(inner.reads.count).toBe(1);
    clock.now = 1_000;
    await catalog.getService("Orders");
    expect(inner.reads.count).toBe(2);
  });

  it("shares one request between concurrent reads of a key", async () => {
    const inner = memoryCatalog({ subscriptions: [subscription()] });
    const catalog = cachedCatalog(inner, 1_000, () => 0);
    const [a, b] = await Promise.all([
      catalog.getSubscription(SUB_ID),
      catalog.getSubscription(SUB_ID),
    ]);
    expect(a?.id).toBe(SUB_ID);
    expect(b).toBe(a);
    expect(inner.reads.count).toBe(1);
  });

  it("never caches misses or failures", async () => {
    const inner = memoryCatalog({});
    const catalog = cachedCatalog(inner, 1_000, () => 0);
    expect(await catalog.getSubscription(SUB_ID)).toBeUndefined();
    inner.subscriptions.push(subscription());
    expect((await catalog.getSubscription(SUB_ID))?.id).toBe(SUB_ID);

    let calls = 0;
    const flaky = cachedCatalog(
      {
        ...inner,
        listClusters: async () => {
          if (++calls === 1) throw new Error("throttled");
          return [];
        },
      },
      1_000,
      () => 0,
    );
    await expect(flaky.listClusters()).rejects.toThrow("throttled");
    expect(await flaky.listClusters()).toEqual([]);
  });

  it("ttl 0 disables caching", async () => {
    const inner = memoryCatalog({ services: [service()] });
    const catalog = cachedCatalog(inner, 0);
    await catalog.getService("Orders");
    await catalog.getService("Orders");
    expect(inner.reads.count).toBe(2);
  });
});
