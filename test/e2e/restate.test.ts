import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningRestate, startRestate } from "../../infra/local/restate.ts";

describe("restate-server (npm binary)", () => {
  let restate: RunningRestate | undefined;

  beforeAll(async () => {
    restate = await startRestate({
      kafkaClusters: [{ name: "local", brokers: ["127.0.0.1:9"] }],
    });
  });

  afterAll(async () => {
    await restate?.stop();
  });

  it("answers health on admin and ingress, and lists (no) deployments", async () => {
    const { adminUrl, ingressUrl } = restate as RunningRestate;
    expect((await fetch(`${adminUrl}/health`)).status).toBe(200);
    expect((await fetch(`${ingressUrl}/restate/health`)).status).toBe(200);
    const deployments = await fetch(`${adminUrl}/deployments`);
    expect(deployments.status).toBe(200);
    expect(await deployments.json()).toEqual({ deployments: [] });
  });
});
