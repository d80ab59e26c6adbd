// The dashboard (/ui) in a real browser: Debian's chromium, headless, driven by playwright-core
// (no browser download), against the local stack consuming a real Kafka broker and delivering to
// a loopback HTTP sink. Clicks pause, resume and replay and checks what the API and the sink saw;
// a page of another origin must not be able to do the same (the admin API's cross-site checks).
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Admin, Producer } from "@platformatic/kafka";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningKafka, startKafka } from "../../infra/local/kafka.ts";
import { waitUntil } from "../../infra/local/processes.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TOPIC = "orders";

let kafka: RunningKafka;
let stack: LocalStack;
let sink: Server;
let sinkUrl = "";
let browser: Browser;
let page: Page;
let subscriptionId = "";
/** Record bodies the sink accepted, in arrival order. */
const accepted: unknown[] = [];
/** While true, the sink answers 400 to a poison record: the consumer dead-letters it (terminal). */
let rejectPoison = true;

const readBody = async (request: IncomingMessage): Promise<string> => {
  let text = "";
  for await (const chunk of request) text += chunk;
  return text;
};

// biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies freely
async function api(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${stack.adminUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function produce(values: unknown[]): Promise<void> {
  const producer = new Producer({
    clientId: "browser-test",
    bootstrapBrokers: [kafka.bootstrapServers],
  });
  try {
    await producer.send({
      messages: values.map((value, i) => ({
        topic: TOPIC,
        key: Buffer.from(`k-${i % 2}`),
        value: Buffer.from(JSON.stringify(value)),
      })),
    });
  } finally {
    await producer.close();
  }
}

/** Status of a GET with exactly these headers (fetch would set Host itself). */
function rawStatus(path: string, headers: Record<string, string>): Promise<number> {
  const { port } = new URL(stack.adminUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, headers, agent: false, setHost: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const until = (what: string, probe: () => boolean | Promise<boolean>) =>
  waitUntil(what, async () => probe(), { timeoutMs: 30_000, intervalMs: 200 });

beforeAll(async () => {
  kafka = await startKafka({ numPartitions: 2 });
  const admin = new Admin({ clientId: "browser-test", bootstrapBrokers: [kafka.bootstrapServers] });
  await admin.createTopics({ topics: [TOPIC], partitions: 2, replicas: 1 });
  await admin.close();
  sink = createServer(async (request, response) => {
    const body = JSON.parse((await readBody(request)) || "null");
    if (request.url === "/attack") {
      // A page of another origin that tries to pause the subscription through the admin API.
      response.writeHead(200, { "content-type": "text/html" });
      response.end(`<!doctype html><p id="out">…</p><script>
        fetch(${JSON.stringify(`${stack.adminUrl}/subscriptions/${subscriptionId}/pause`)}, {method: "POST", mode: "no-cors"})
          .then(() => { document.getElementById("out").textContent = "sent"; },
                (e) => { document.getElementById("out").textContent = "blocked " + e; });
      </script>`);
      return;
    }
    if (body?.poison === true && rejectPoison) {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: "poison" }));
      return;
    }
    accepted.push(body);
    response.writeHead(200, { "content-type": "application/json" });
    response.end("{}");
  });
  await new Promise<void>((done) => sink.listen(0, "127.0.0.1", done));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  stack = await startLocalStack({ port: 0, log: () => {} });
  await api("POST", "/kafka-clusters", {
    name: "my-cluster",
    properties: { "bootstrap.servers": kafka.bootstrapServers },
  });
  await api("POST", "/services", {
    name: "Orders",
    type: "service",
    endpoint: sinkUrl,
    handlers: { process: {} },
  });
  subscriptionId = (
    await api("POST", "/subscriptions", {
      source: `kafka://my-cluster/${TOPIC}`,
      sink: "service://Orders/process",
      options: { "auto.offset.reset": "earliest" },
    })
  ).id;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox"],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await new Promise<void>((done) => (sink ? sink.close(() => done()) : done()));
  await kafka?.stop();
});

describe("the dashboard at /ui", () => {
  it("is served with headers that keep it to its own origin", async () => {
    const response = await fetch(`${stack.adminUrl}/ui`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    // Under the API's own checks: another Host (a rebinding DNS name) or site reads nothing.
    const own = new URL(stack.adminUrl).host;
    expect(await rawStatus("/ui", { host: own })).toBe(200);
    expect(await rawStatus("/ui", { host: "attacker.example" })).toBe(403);
    expect(await rawStatus("/ui/app.js", { host: own, "sec-fetch-site": "cross-site" })).toBe(403);
    expect(await rawStatus("/ui/app.js", { host: own, origin: "http://attacker.example" })).toBe(
      403,
    );
    expect((await fetch(`${stack.adminUrl}/ui`, { method: "POST" })).status).toBe(405);
  });

  it("shows the feed and the dead letter, and pauses, resumes and replays by clicking", async () => {
    await produce([{ n: 1 }, { n: 2 }, { poison: true }, { n: 4 }]);
    await page.goto(`${stack.adminUrl}/ui`);
    const card = page.locator(`section[data-id="${subscriptionId}"]`);
    await card.locator("h2", { hasText: "service://Orders/process" }).waitFor();
    await card.locator('[data-field="feed-state"]', { hasText: "feed running" }).waitFor();
    await card
      .locator('[data-field="counts"]', {
        hasText: "records done (delivered or dead-lettered) since the feed started 4",
      })
      .waitFor();
    await card.locator('[data-field="counts"]', { hasText: "dead letters 1" }).waitFor();
    const letterRow = card.locator('[data-field="dead-letters"] tr[data-letter]');
    await expect(letterRow.count()).resolves.toBe(1);
    expect(await letterRow.textContent()).toContain('{"poison":true}');
    expect(
      await card.locator('[data-field="partitions"] td[data-field="lag"]').allInnerTexts(),
    ).toEqual(["0", "0"]);
    expect(accepted).toHaveLength(3);

    // Pause: the API says paused, the page too; records produced meanwhile wait.
    await card.getByRole("button", { name: "Pause", exact: true }).click();
    await card.locator('[data-field="status"]', { hasText: "paused" }).waitFor();
    expect((await api("GET", `/subscriptions/${subscriptionId}`)).status).toBe("paused");
    expect(await card.getByRole("button", { name: "Resume", exact: true }).isEnabled()).toBe(true);
    await produce([{ n: 5 }, { n: 6 }]);

    // Resume: they arrive.
    await card.getByRole("button", { name: "Resume", exact: true }).click();
    await card.locator('[data-field="status"]', { hasText: "active" }).waitFor();
    expect((await api("GET", `/subscriptions/${subscriptionId}`)).status).toBe("active");
    await until("records produced while paused reach the sink", () => accepted.length === 5);
    expect(accepted.slice(3)).toEqual(expect.arrayContaining([{ n: 5 }, { n: 6 }]));

    // Replay the dead letter once the sink takes it: delivered, and gone from page and API.
    rejectPoison = false;
    await letterRow.getByRole("button", { name: "Replay", exact: true }).click();
    await card.locator('[data-field="result"]', { hasText: "replayed 1, remaining 0" }).waitFor();
    await card.locator('[data-field="dead-letters"]', { hasText: "No dead letters." }).waitFor();
    expect(accepted.at(-1)).toEqual({ poison: true });
    expect(
      (await api("GET", `/subscriptions/${subscriptionId}/dead-letters`)).dead_letters,
    ).toEqual([]);
    const screenshot = process.env.DASHBOARD_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  });

  it("cannot be driven from a page of another origin", async () => {
    const attacker = await browser.newPage();
    await attacker.goto(`${sinkUrl}/attack`);
    await attacker.locator("#out", { hasText: /sent|blocked/ }).waitFor();
    // The request may leave the browser (no-cors), but the API refuses it: still active.
    expect((await api("GET", `/subscriptions/${subscriptionId}`)).status).toBe("active");
    await attacker.close();
  });
});
