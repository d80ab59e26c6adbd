// The demo's status view: the plain lines that pipes and the demo's e2e test read, the table
// redrawn on a terminal, and the next commands with the real URLs and ids.
import { describe, expect, it } from "vitest";
import {
  nextCommands,
  plainLine,
  type SubscriptionSnapshot,
  statusBlock,
} from "../../src/local/demo/view.ts";

const tally: SubscriptionSnapshot = {
  id: "sub_1a",
  sink: "service://Tally/record",
  state: "running",
  lag: [
    { partition: 0, lag: 0 },
    { partition: 1, lag: 3 },
    { partition: 2, lag: undefined },
  ],
  delivered: 120,
  perSecond: 4.96,
  retries: 2,
  deadLetters: 1,
};

describe("demo view", () => {
  it("prints one key=value line per subscription", () => {
    expect(plainLine(tally, 12.4)).toBe(
      "[12s] service://Tally/record id=sub_1a state=running delivered=120 per_second=5.0 lag=0:0,1:3,2:? retries=2 dead_letters=1",
    );
    expect(
      plainLine(
        { ...tally, lag: [], deadLettersMore: true, state: "retrying", lastError: 'no "broker"' },
        1,
      ),
    ).toBe(
      '[1s] service://Tally/record id=sub_1a state=retrying delivered=120 per_second=5.0 lag=- retries=2 dead_letters=1+ last_error="no \\"broker\\""',
    );
  });

  it("lays the subscriptions out as a table, errors below it", () => {
    const audit = { ...tally, id: "sub_2b", sink: "service://Audit/note", lastError: "boom" };
    const lines = statusBlock([tally, audit], 30, 150);
    expect(lines[0]).toBe("running 30 s, 150 records produced — Ctrl-C stops everything");
    expect(lines.slice(2)).toEqual([
      "subscription            state    delivered  per s  retries  dead  lag per partition",
      "service://Tally/record  running  120        5.0    2        1     p0:0 p1:3 p2:?",
      "service://Audit/note    running  120        5.0    2        1     p0:0 p1:3 p2:?",
      "  sub_2b last error: boom",
    ]);
  });

  it("prints the next commands with the real URLs, ids and a quoted record", () => {
    const text = nextCommands(
      {
        adminUrl: "http://127.0.0.1:9070",
        restateAdminUrl: "http://127.0.0.1:41000",
        restateIngressUrl: "http://127.0.0.1:41001",
        endpointUrl: "http://127.0.0.1:41002",
        bootstrapServers: "127.0.0.1:41003",
        topic: "demo-in",
      },
      [{ id: "sub_1a", sink: "service://Tally/record" }],
    ).join("\n");
    expect(text).toContain("Dashboard: http://127.0.0.1:9070/ui");
    expect(text).toContain("curl -s -X POST http://127.0.0.1:9070/subscriptions/sub_1a/pause");
    expect(text).toContain(
      `curl -s http://127.0.0.1:9070/subscriptions/sub_1a/dead-letters/replay --json '{"all": true}'`,
    );
    expect(text).toContain("RESTATE_ADMIN_URL=http://127.0.0.1:9070 npx restate sub list");
    expect(text).toContain("RESTATE_ADMIN_URL=http://127.0.0.1:41000 npx restate services list");
    expect(text).toContain(
      `--bootstrap-server 127.0.0.1:41003 --topic demo-in --key k-9 --value '{"seq": 99, "key": "k-9"}'`,
    );
  });
});
