// A hand-made SVG chart of the benchmark: per workload row, horizontal bars (log time scale) for
// our median span, the bare-undici reference, the lower bound, the baselines and, where it
// exists, the Parallel Consumer README figure.
import type { RowResult } from "./results.ts";

interface Series {
  readonly label: string;
  readonly color: string;
  readonly value: (row: RowResult) => number | undefined;
}

const SERIES: readonly Series[] = [
  {
    label: "ours (full consumer path)",
    color: "#1f77b4",
    value: (r) => r.contenders.ours?.medianSpanMs,
  },
  {
    label: "bare-undici reference, same lanes",
    color: "#7fb2dd",
    value: (r) => r.contenders.reference?.medianSpanMs,
  },
  {
    label: "lower bound",
    color: "#2ca02c",
    value: (r) => (r.latency === "zero" ? undefined : r.contenders.ours?.medianBoundMs),
  },
  {
    label: "partition-serial",
    color: "#ff7f0e",
    value: (r) => r.contenders["partition-serial"]?.medianSpanMs,
  },
  {
    label: "sequential loop",
    color: "#d62728",
    value: (r) => r.contenders.sequential?.medianSpanMs,
  },
  { label: "Parallel Consumer (README)", color: "#9467bd", value: (r) => r.parallelConsumerMs },
];

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

/** Splits a label at spaces into lines of at most `width` characters (longer words stay whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

export function renderChart(rows: readonly RowResult[], machine: string): string {
  const bar = 11;
  const gap = 3;
  const rowPad = 16;
  const left = 300;
  const plotWidth = 620;
  const top = 70;
  const values = rows
    .flatMap((r) => SERIES.map((s) => s.value(r)))
    .filter((v): v is number => v !== undefined && v > 0);
  const minLog = Math.floor(Math.log10(Math.min(...values)));
  const maxLog = Math.ceil(Math.log10(Math.max(...values)));
  const x = (ms: number) => ((Math.log10(ms) - minLog) / (maxLog - minLog)) * plotWidth;

  const parts: string[] = [];
  let y = top;
  for (const row of rows) {
    const present = SERIES.filter((s) => (s.value(row) ?? 0) > 0);
    const height = present.length * (bar + gap);
    const lines = wrap(row.title, 40);
    const firstLineY = y + height / 2 + 4 - ((lines.length - 1) * 14) / 2;
    parts.push(
      `<text x="${left - 10}" y="${firstLineY}" text-anchor="end" font-weight="bold">${lines
        .map(
          (line, i) =>
            `<tspan x="${left - 10}" dy="${i === 0 ? 0 : 14}">${escapeXml(line)}</tspan>`,
        )
        .join("")}</text>`,
    );
    for (const s of present) {
      const v = s.value(row) ?? 0;
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(v)).toFixed(1)}" height="${bar}" fill="${s.color}"><title>${escapeXml(`${s.label}: ${fmt(v)}`)}</title></rect>`,
        `<text x="${left + x(v) + 4}" y="${y + bar - 2}" font-size="10">${fmt(v)}</text>`,
      );
      y += bar + gap;
    }
    y += rowPad;
  }
  const bottom = y;
  const ticks: string[] = [];
  for (let p = minLog; p <= maxLog; p++) {
    const tx = left + x(10 ** p);
    ticks.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${bottom}" stroke="#ddd"/>`,
      `<text x="${tx}" y="${bottom + 14}" text-anchor="middle" font-size="10">${fmt(10 ** p)}</text>`,
    );
  }
  const legend = SERIES.map((s, i) => {
    const lx = 20 + (i % 3) * 300;
    const ly = 34 + Math.floor(i / 3) * 16;
    return `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="${ly}" font-size="11">${escapeXml(s.label)}</text>`;
  });
  const width = left + plotWidth + 90;
  const height = bottom + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="18" font-size="13" font-weight="bold">Batch span, median (log scale) — ${escapeXml(machine)}</text>`,
    ...legend,
    ...ticks,
    ...parts,
    `<text x="${left + plotWidth / 2}" y="${bottom + 28}" text-anchor="middle" font-size="11">time for one batch of 10,000 records (lower is better)</text>`,
    "</svg>",
    "",
  ].join("\n");
}
