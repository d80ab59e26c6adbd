// The state one local event source's connection and batch runner share: its status transitions,
// the stop signal that ends every wait, and the jittered backoff.
import { describe, expect, it } from "vitest";
import { backoffMs, SourceState } from "../../src/local/kafka/source-state.ts";

describe("SourceState", () => {
  it("stays starting until a feed is attempted, then follows the feed and the failing batches", () => {
    const state = new SourceState();
    state.refresh();
    expect(state.state).toBe("starting");
    state.feedAttempts = 1;
    state.refresh();
    expect(state.state).toBe("retrying");
    state.feedHealthy = true;
    state.feedAttempts = 0;
    state.refresh();
    expect(state.state).toBe("running");
    state.failingBatches.add(3);
    state.refresh();
    expect(state.state).toBe("retrying");
    state.failingBatches.delete(3);
    state.refresh();
    expect(state.state).toBe("running");
  });

  it("is failed for good with a config error, and stopped once stopped", () => {
    const state = new SourceState();
    state.configError = "cluster local: unsupported";
    state.feedHealthy = true;
    state.refresh();
    expect(state.state).toBe("failed");
    state.stop();
    state.refresh();
    expect(state.state).toBe("stopped");
    expect(state.stopped).toBe(true);
  });

  it("records the last error with its time", () => {
    const state = new SourceState();
    state.recordError("commit failed: broker gone");
    expect(state.lastError?.message).toBe("commit failed: broker gone");
    expect(Number.isNaN(Date.parse(state.lastError?.at ?? ""))).toBe(false);
  });

  it("sleep resolves after its time, and rejects at once when the source stops", async () => {
    const state = new SourceState();
    await expect(state.sleep(1)).resolves.toBeUndefined();
    const started = Date.now();
    const long = state.sleep(60_000);
    state.stop();
    await expect(long).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(state.sleep(1)).rejects.toBeDefined();
  });
});

describe("backoffMs", () => {
  it("doubles from initialMs up to maxMs, within ±20%", () => {
    const retry = { initialMs: 100, maxMs: 1_000 };
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(1, retry)).toBeGreaterThanOrEqual(80);
      expect(backoffMs(1, retry)).toBeLessThanOrEqual(120);
      expect(backoffMs(3, retry)).toBeGreaterThanOrEqual(320);
      expect(backoffMs(3, retry)).toBeLessThanOrEqual(480);
      expect(backoffMs(10, retry)).toBeGreaterThanOrEqual(800);
      expect(backoffMs(10, retry)).toBeLessThanOrEqual(1_200);
    }
  });
});
