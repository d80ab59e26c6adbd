// The local stack's dashboard (/ui): polls the admin API of the same origin and shows each
// subscription's status, feed state, lag per partition (with a chart of the last minutes),
// counts and dead letters, with pause / resume and replay / discard. Everything it shows from the
// API goes in as text (never as markup): sinks, errors and record values are untrusted.

const POLL_MS = 2000;
/** Lag samples kept per subscription for the chart: five minutes. */
const HISTORY = Math.round((5 * 60 * 1000) / POLL_MS);
const LETTERS_SHOWN = 50;

const cards = new Map();
const errorBox = document.getElementById("error");
const updated = document.getElementById("updated");
const list = document.getElementById("subscriptions");

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${json?.message ?? text}`);
  }
  return json;
}

/** An element with attributes and children (strings become text nodes). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function decode(base64) {
  if (base64 === null || base64 === undefined) return "(none)";
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  } catch {
    return base64;
  }
}

/** `source`: "poll" errors clear on the next good poll, an action's stay until the next action. */
function showError(message, source = "action") {
  errorBox.hidden = message === undefined;
  errorBox.textContent = message ?? "";
  errorBox.dataset.source = source;
}

/** Runs an action of a card's button, then refreshes. */
function action(card, label, run) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      card.result.textContent = `${label}: ${await run()}`;
      showError(undefined);
    } catch (error) {
      card.result.textContent = "";
      showError(error.message);
    } finally {
      button.disabled = false;
      await refresh();
    }
  };
}

const drained = (answer, verb) =>
  `${verb} ${answer[verb] ?? 0}${answer.failed ? `, failed ${answer.failed}` : ""}, remaining ${answer.remaining ?? 0}`;

function newCard(id) {
  const card = { lag: [] };
  const base = `/subscriptions/${encodeURIComponent(id)}`;
  card.title = el("h2");
  card.status = el("span", { class: "badge", "data-field": "status" });
  card.feedState = el("span", { class: "badge", "data-field": "feed-state" });
  card.source = el("span", { class: "muted" });
  card.pause = el("button", {
    type: "button",
    onclick: action(card, "pause", async () => {
      await api("POST", `${base}/pause`);
      return "done";
    }),
  });
  card.pause.textContent = "Pause";
  card.resume = el("button", {
    type: "button",
    onclick: action(card, "resume", async () => {
      await api("POST", `${base}/resume`);
      return "done";
    }),
  });
  card.resume.textContent = "Resume";
  const replayAll = el("button", {
    type: "button",
    onclick: action(card, "replay all", async () =>
      drained(await api("POST", `${base}/dead-letters/replay`, { all: true }), "replayed"),
    ),
  });
  replayAll.textContent = "Replay all";
  const discardAll = el("button", {
    type: "button",
    onclick: action(card, "discard all", async () =>
      drained(await api("POST", `${base}/dead-letters/discard`, { all: true }), "discarded"),
    ),
  });
  discardAll.textContent = "Discard all";
  card.counts = el("span", { "data-field": "counts" });
  card.lastError = el("div", { class: "muted", "data-field": "last-error" });
  card.partitions = el("table", { "data-field": "partitions" });
  card.chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  card.chart.setAttribute("class", "chart");
  card.chart.setAttribute("width", "300");
  card.chart.setAttribute("height", "60");
  card.chart.setAttribute("aria-label", "total lag, last 5 minutes");
  card.line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  card.chart.append(card.line);
  card.chartLabel = el("span", { class: "muted" });
  card.letters = el("div", { "data-field": "dead-letters" });
  card.lettersKey = "";
  card.result = el("div", { class: "muted", "data-field": "result", "aria-live": "polite" });
  card.root = el(
    "section",
    { class: "subscription", "data-id": id },
    el("div", { class: "row" }, card.title, card.status, card.feedState, card.source),
    el("div", { class: "row" }, card.pause, card.resume, replayAll, discardAll, card.result),
    el("div", { class: "row" }, card.counts),
    card.lastError,
    el("div", { class: "row" }, card.partitions, card.chart, card.chartLabel),
    card.letters,
  );
  card.base = base;
  return card;
}

function renderPartitions(card, partitions) {
  const rows = partitions.map((p) =>
    el(
      "tr",
      {},
      el("td", {}, String(p.partition)),
      el("td", {}, String(p.committedOffset ?? "–")),
      el("td", {}, String(p.highWatermark ?? "–")),
      el("td", { "data-field": "lag" }, String(p.lag ?? "?")),
    ),
  );
  card.partitions.replaceChildren(
    el(
      "tr",
      {},
      el("th", {}, "partition"),
      el("th", {}, "committed"),
      el("th", {}, "log end"),
      el("th", {}, "lag"),
    ),
    ...rows,
  );
}

function renderChart(card, totalLag) {
  card.lag.push(totalLag);
  if (card.lag.length > HISTORY) card.lag.shift();
  const max = Math.max(1, ...card.lag);
  const step = 300 / Math.max(1, HISTORY - 1);
  const offset = 300 - (card.lag.length - 1) * step;
  const points = card.lag.map(
    (v, i) => `${(offset + i * step).toFixed(1)},${(58 - (v / max) * 54).toFixed(1)}`,
  );
  card.line.setAttribute("points", points.join(" "));
  card.chartLabel.textContent = `lag now ${totalLag}, max ${max} (last 5 min)`;
}

function renderLetters(card, letters, more) {
  // Rebuilt only when the letters change, so a button is not replaced under the pointer.
  const key =
    letters.map((l) => `${l.partitionId}/${l.offset}/${l.variant ?? ""}`).join(" ") +
    (more ? "+" : "");
  if (key === card.lettersKey) return;
  card.lettersKey = key;
  if (letters.length === 0) {
    card.letters.replaceChildren(el("p", { class: "muted" }, "No dead letters."));
    return;
  }
  const rows = letters.map((letter) => {
    const target = {
      partition: letter.partition,
      offset: letter.offset,
      ...(letter.variant ? { variant: letter.variant } : {}),
    };
    const replay = el("button", {
      type: "button",
      onclick: action(
        card,
        `replay partition ${letter.partition} offset ${letter.offset}`,
        async () =>
          drained(await api("POST", `${card.base}/dead-letters/replay`, target), "replayed"),
      ),
    });
    replay.textContent = "Replay";
    const discard = el("button", {
      type: "button",
      onclick: action(
        card,
        `discard partition ${letter.partition} offset ${letter.offset}`,
        async () =>
          drained(await api("POST", `${card.base}/dead-letters/discard`, target), "discarded"),
      ),
    });
    discard.textContent = "Discard";
    return el(
      "tr",
      { "data-letter": `${letter.partition}/${letter.offset}` },
      el("td", {}, String(letter.partition)),
      el("td", {}, String(letter.offset)),
      el("td", {}, letter.kind),
      el("td", {}, String(letter.attempts)),
      el("td", { class: "value", title: letter.reason }, letter.reason),
      el("td", { class: "value" }, decode(letter.value)),
      el("td", {}, replay, " ", discard),
    );
  });
  card.letters.replaceChildren(
    el(
      "h3",
      {},
      more ? `Dead letters (first ${LETTERS_SHOWN})` : `Dead letters (${letters.length})`,
    ),
    el(
      "table",
      {},
      el(
        "tr",
        {},
        ...["partition", "offset", "kind", "attempts", "reason", "value", ""].map((h) =>
          el("th", {}, h),
        ),
      ),
      ...rows,
    ),
  );
}

async function renderSubscription(subscription) {
  let card = cards.get(subscription.id);
  if (!card) {
    card = newCard(subscription.id);
    cards.set(subscription.id, card);
  }
  const [detail, letters] = await Promise.all([
    api("GET", card.base),
    api("GET", `${card.base}/dead-letters?limit=${LETTERS_SHOWN}`),
  ]);
  card.title.textContent = detail.sink;
  card.source.textContent = `${detail.source} · ${detail.id}`;
  card.status.textContent = detail.status;
  card.status.className = `badge ${detail.status}`;
  const feed = detail.feedStatus;
  card.feedState.textContent = feed ? `feed ${feed.state}` : "no feed";
  card.feedState.className = `badge ${feed?.state ?? ""}`;
  card.pause.disabled = detail.status !== "active";
  card.resume.disabled = detail.status !== "paused";
  const partitions = feed?.partitions ?? [];
  const totalLag = partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0);
  const deadLetters = letters.dead_letters ?? [];
  card.counts.textContent = [
    `polled ${feed?.recordsPolled ?? 0}`,
    `filtered ${feed?.recordsFiltered ?? 0}`,
    `records done (delivered or dead-lettered) since the feed started ${feed?.recordsCompleted ?? 0}`,
    `batches ${feed?.batchesInvoked ?? 0}`,
    `failed batches (retried) ${feed?.batchesFailed ?? 0}`,
    `dead letters ${deadLetters.length}${letters.cursor ? "+" : ""}`,
    `lag ${totalLag}`,
  ].join(" · ");
  card.lastError.textContent = feed?.lastError
    ? `last error (${feed.lastError.at}): ${feed.lastError.message}`
    : "";
  renderPartitions(card, partitions);
  renderChart(card, totalLag);
  renderLetters(card, deadLetters, letters.cursor !== undefined);
  return card;
}

let refreshing;
async function refresh() {
  refreshing ??= (async () => {
    try {
      const { subscriptions } = await api("GET", "/subscriptions");
      // Oldest first, so that cards keep their places.
      subscriptions.sort(
        (a, b) =>
          String(a.createdAt).localeCompare(String(b.createdAt)) || a.id.localeCompare(b.id),
      );
      const shown = await Promise.all(subscriptions.map(renderSubscription));
      for (const [id, card] of cards) {
        if (subscriptions.some((s) => s.id === id)) continue;
        cards.delete(id);
        card.root.remove();
      }
      if (shown.length === 0) {
        list.replaceChildren(
          el("p", { class: "muted" }, "No subscriptions yet: POST /subscriptions."),
        );
      } else if (
        shown.some((card, i) => list.children[i] !== card.root) ||
        list.children.length !== shown.length
      ) {
        list.replaceChildren(...shown.map((card) => card.root));
      }
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      if (errorBox.dataset.source === "poll") showError(undefined);
    } catch (error) {
      showError(error.message, "poll");
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

void refresh();
setInterval(() => void refresh(), POLL_MS);
