// What `npm run demo` shows: the commands to try next, and per subscription its feed state,
// records delivered per second, lag per partition, retries and dead letters. Pure formatting:
// the demo polls the admin API and counts the consumer's batch log lines, this turns the numbers
// into lines (a block redrawn in place on a terminal, or one plain line per subscription).

export interface SubscriptionSnapshot {
  readonly id: string;
  /** e.g. `service://Tally/record` */
  readonly sink: string;
  /** The feed's state (`starting`, `running`, `retrying`, ...), or the subscription's status. */
  readonly state: string;
  readonly lastError?: string | undefined;
  /** Lag per partition, in partition order (undefined while unknown). */
  readonly lag: ReadonlyArray<{ readonly partition: number; readonly lag: number | undefined }>;
  /** Records delivered to the handler since the demo started. */
  readonly delivered: number;
  /** Delivered per second over the last few seconds. */
  readonly perSecond: number;
  /** Records whose delivery failed and is tried again. */
  readonly retries: number;
  /** Dead letters the subscription holds now (`deadLettersMore`: at least that many). */
  readonly deadLetters: number;
  readonly deadLettersMore?: boolean | undefined;
}

export interface DemoUrls {
  readonly adminUrl: string;
  readonly restateAdminUrl: string;
  readonly restateIngressUrl: string;
  readonly endpointUrl: string;
  readonly bootstrapServers: string;
  readonly topic: string;
}

const lagText = (lag: SubscriptionSnapshot["lag"]): string =>
  lag.length === 0 ? "-" : lag.map((p) => `p${p.partition}:${p.lag ?? "?"}`).join(" ");

const deadText = (s: SubscriptionSnapshot): string =>
  `${s.deadLetters}${s.deadLettersMore ? "+" : ""}`;

/** One line per subscription, for logs and pipes: `key=value` pairs, easy to grep. */
export function plainLine(s: SubscriptionSnapshot, elapsedSeconds: number): string {
  return [
    `[${elapsedSeconds.toFixed(0)}s]`,
    s.sink,
    `id=${s.id}`,
    `state=${s.state}`,
    `delivered=${s.delivered}`,
    `per_second=${s.perSecond.toFixed(1)}`,
    `lag=${s.lag.map((p) => `${p.partition}:${p.lag ?? "?"}`).join(",") || "-"}`,
    `retries=${s.retries}`,
    `dead_letters=${deadText(s)}`,
    ...(s.lastError ? [`last_error=${JSON.stringify(s.lastError)}`] : []),
  ].join(" ");
}

/** The block redrawn on a terminal: a table of the subscriptions. */
export function statusBlock(
  snapshots: readonly SubscriptionSnapshot[],
  elapsedSeconds: number,
  produced: number,
): string[] {
  const rows = snapshots.map((s) => [
    s.sink,
    s.state,
    String(s.delivered),
    s.perSecond.toFixed(1),
    String(s.retries),
    deadText(s),
    lagText(s.lag),
  ]);
  const head = [
    "subscription",
    "state",
    "delivered",
    "per s",
    "retries",
    "dead",
    "lag per partition",
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const lines = [
    `running ${elapsedSeconds.toFixed(0)} s, ${produced} records produced — Ctrl-C stops everything`,
    "",
    line(head),
    ...rows.map(line),
  ];
  for (const s of snapshots) {
    if (s.lastError) lines.push(`  ${s.id} last error: ${s.lastError}`);
  }
  return lines;
}

/** Shell single-quoting, for the printed commands. */
const sq = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The commands to try next, with the real URLs and ids. */
export function nextCommands(
  urls: DemoUrls,
  subscriptions: ReadonlyArray<{ readonly id: string; readonly sink: string }>,
): string[] {
  const first = subscriptions[0]?.id ?? "sub_...";
  const api = urls.adminUrl;
  return [
    "Subscriptions:",
    ...subscriptions.map((s) => `  ${s.id}  ${s.sink}`),
    "",
    `Dashboard: ${api}/ui`,
    "",
    "Try next (in another terminal):",
    `  curl -s ${api}/subscriptions/${first}            # status, feedStatus with lag per partition`,
    `  curl -s ${api}/subscriptions/${first}/dead-letters   # the poison record`,
    `  curl -s ${api}/subscriptions/${first}/dead-letters/replay --json '{"all": true}'   # fails again: still poison`,
    `  curl -s ${api}/subscriptions/${first}/dead-letters/discard --json '{"all": true}'`,
    `  curl -s -X POST ${api}/subscriptions/${first}/pause`,
    `  curl -s -X POST ${api}/subscriptions/${first}/resume`,
    `  curl -s -X POST ${urls.restateIngressUrl}/Tally/k-0/get   # what the virtual object k-0 holds`,
    `  RESTATE_ADMIN_URL=${api} npx restate sub list             # our subscriptions, Restate's CLI`,
    `  RESTATE_ADMIN_URL=${urls.restateAdminUrl} npx restate services list`,
    `  RESTATE_ADMIN_URL=${urls.restateAdminUrl} npx restate kv get Tally k-0   # the object's state`,
    `  npm run produce -- --bootstrap-server ${urls.bootstrapServers} --topic ${urls.topic} --key k-9 --value ${sq('{"seq": 99, "key": "k-9"}')}`,
    "",
    `Admin API ${api}, Restate admin ${urls.restateAdminUrl}, ingress ${urls.restateIngressUrl},`,
    `SDK endpoint ${urls.endpointUrl}, Kafka ${urls.bootstrapServers} (topic ${urls.topic}).`,
  ];
}
