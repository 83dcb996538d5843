/**
 * The operator dashboard's script (browser). Bundled by scripts/build-dashboard.ts into
 * functions/dashboard/bundle.ts, which the Worker inlines in GET /dashboard under a CSP hash.
 *
 * It reads the /v1 API through the one API client (client/api) with the operator's bearer
 * token (kept in sessionStorage, never in the URL), polls every 2 s, and verifies each job's
 * transparency log in the browser with protocol/log's `verifyLog` (hash chain, entry hashes,
 * the coordinator's Ed25519 signatures), so the page need not take the coordinator's word for
 * it. Every value from the API is inserted as text, never as HTML.
 */
import { ApiClient } from "../api/client.ts";
import { ApiClientError } from "../../protocol/api/problem.ts";
import type { JobSummary, NodeRecord, RoundInfo } from "../../protocol/api/schemas.ts";
import { fromBase64Url } from "../../protocol/encoding.ts";
import type { LearningResult } from "../../protocol/jobs/learning.ts";
import { verifyLog, type LogEntry } from "../../protocol/log/index.ts";
import type { HistogramCell, StatsResult } from "../../protocol/stats/engine.ts";
import { num } from "../../protocol/stats/format.ts";
import { chartLayout, type ChartText } from "./chart.ts";
import { $, h as el } from "../browser/dom.ts";
import { epsilonOf } from "../../protocol/dp/zcdp.ts";

function svgEl(tag: string, attrs: Record<string, string | number> = {}, text?: string): SVGElement {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

let token = sessionStorage.getItem("2pm-token") ?? "";
let client = new ApiClient({ baseUrl: location.origin, token });
let selected = new URLSearchParams(location.hash.slice(1)).get("job") ?? "";
const verified = new Map<string, { ok: boolean; text: string }>();

/** Runs an API call; a refused token sends the operator back to the sign-in form. */
async function api<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    if (e instanceof ApiClientError && (e.status === 401 || e.status === 403)) {
      sessionStorage.removeItem("2pm-token");
      token = "";
      showLogin("The token was refused.");
    }
    throw e;
  }
}

const ago = (ms: number): string => {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};
const short = (id: string): string => String(id).slice(0, 8);

function showLogin(msg = ""): void {
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-msg").textContent = msg;
}

function renderNodes(nodes: NodeRecord[]): void {
  const body = $("#nodes tbody");
  body.replaceChildren();
  for (const n of nodes) {
    const c = n.conditions;
    body.appendChild(el("tr", {}, el("td", { class: "mono", title: n.id }, short(n.id)), el("td", {}, n.label ?? ""),
      el("td", {}, n.datasets.map((d) => `${d.schemaId} (${d.rows})`).join(", ")),
      el("td", {}, c ? `load ${num(c.load, 2)}, ${c.freeMemoryMb} MB free${c.onBattery ? ", battery" : ""}` : "—"),
      el("td", {}, num(n.reliability, 2)), el("td", {}, ago(n.lastSeen))));
  }
  $("#node-count").textContent = `${nodes.length} registered`;
}

function renderJobs(jobs: JobSummary[]): void {
  const body = $("#jobs tbody");
  body.replaceChildren();
  for (const j of jobs) {
    const select = (): void => { selected = j.id; location.hash = `job=${j.id}`; void refresh(); };
    body.appendChild(el("tr", { class: `job${j.id === selected ? " sel" : ""}`, "data-job": j.id, onclick: select },
      el("td", { class: "mono" }, short(j.id)), el("td", {}, j.type), el("td", {}, j.schemaId), el("td", { class: `st ${j.status}` }, j.status), el("td", {}, j.round + 1), el("td", {}, ago(j.updatedAt))));
  }
  if (!selected && jobs[0]) selected = jobs[0].id;
}

/** Round attempts on a time axis; `name` labels a round (1-based, or the final evaluation). */
function timeline(rounds: RoundInfo[], name: (round: number) => string): Element {
  if (!rounds.length) return el("p", { class: "mut" }, "No rounds yet.");
  const w = 640, rowH = 22, h = rounds.length * rowH + 24;
  const svg = svgEl("svg", { width: "100%", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "round timeline" });
  const t0 = Math.min(...rounds.map((r) => r.startedAt)), t1 = Math.max(...rounds.map((r) => r.endedAt ?? Date.now()));
  const x = (t: number): number => 150 + (w - 160) * ((t - t0) / Math.max(1, t1 - t0));
  rounds.forEach((r, i) => {
    const y = 8 + i * rowH;
    const color = r.status === "accepted" ? "#3fb950" : r.status === "aborted" ? "#f85149" : "#d29922";
    const label = name(r.round).startsWith("final") ? "final eval." : name(r.round);
    svg.appendChild(svgEl("text", { x: 0, y: y + 13 }, `${label} · attempt ${r.attempt + 1}`));
    const bar = svgEl("rect", { x: x(r.startedAt), y, width: Math.max(3, x(r.endedAt ?? Date.now()) - x(r.startedAt)), height: rowH - 6, rx: 3, fill: color });
    const abort = r.abort ? ` — ${r.abort.code}${r.abort.culprits.length ? ` (${r.abort.culprits.map(short).join(", ")})` : ""}` : "";
    bar.appendChild(svgEl("title", {}, `${r.status}${abort}; committee ${r.committee.map(short).join(" ")}`));
    svg.appendChild(bar);
  });
  svg.appendChild(svgEl("text", { x: 150, y: h - 2 }, `${((t1 - t0) / 1000).toFixed(1)} s`));
  return svg;
}

type Point = LearningResult["history"][number];
/** A metric chart (accuracy or loss of each model), laid out by chart.ts: titled axes, real model numbers, no overlapping labels. */
function lineChart(points: Point[], key: "accuracy" | "loss", fmt: (v: number) => string): Element {
  const values = points.flatMap((p) => (typeof p[key] === "number" ? [{ model: p.round, value: p[key] as number }] : []));
  return seriesChart(values, key, fmt);
}

/** A line chart of (k, value) points laid out by chart.ts (titled axes, no overlapping labels). */
function seriesChart(values: Array<{ model: number; value: number }>, key: string, fmt: (v: number) => string, labels: { title?: string; xTitle?: string } = {}): Element {
  if (values.length === 0) return el("span");
  const L = chartLayout(values, key, fmt, 360, 220, labels);
  const svg = svgEl("svg", { width: L.width, height: L.height, viewBox: `0 0 ${L.width} ${L.height}`, role: "img", "aria-label": L.title.text, class: "chart", "data-metric": key });
  const text = (t: ChartText, cls: string) => svgEl("text", { x: t.x, y: t.y, "text-anchor": t.anchor, class: cls, ...(t.rotate ? { transform: `rotate(${t.rotate} ${t.x} ${t.y})` } : {}) }, t.text);
  const { x0, y0, x1, y1 } = L.plot;
  svg.appendChild(svgEl("polyline", { points: `${x0},${y0} ${x0},${y1} ${x1},${y1}`, fill: "none", stroke: "#30363d" }));
  svg.appendChild(svgEl("polyline", { points: L.points.map((p) => `${p.x},${p.y}`).join(" "), fill: "none", stroke: "#58a6ff", "stroke-width": 2 }));
  for (const p of L.points) {
    const c = svgEl("circle", { cx: p.x, cy: p.y, r: 3, fill: "#58a6ff" });
    c.appendChild(svgEl("title", {}, `${p.model}: ${key} ${fmt(p.value)}`));
    svg.appendChild(c);
  }
  svg.appendChild(text(L.title, "chart-title"));
  svg.appendChild(text(L.xTitle, "axis-title"));
  svg.appendChild(text(L.yTitle, "axis-title"));
  for (const t of L.xTicks) svg.appendChild(text(t, "tick x-tick"));
  for (const t of L.yTicks) svg.appendChild(text(t, "tick y-tick"));
  return svg;
}

function barChart(cells: HistogramCell[]): Element {
  const max = Math.max(1, ...cells.filter((c) => !c.suppressed).map((c) => c.count ?? 0));
  const w = 520, bh = 16, h = cells.length * (bh + 4) + 4;
  const svg = svgEl("svg", { width: "100%", viewBox: `0 0 ${w} ${h}`, role: "img", class: "histogram" });
  cells.forEach((c, i) => {
    const y = 2 + i * (bh + 4);
    svg.appendChild(svgEl("text", { x: 0, y: y + 12 }, c.label));
    if (c.suppressed) { svg.appendChild(svgEl("text", { x: 170, y: y + 12 }, "suppressed")); return; }
    const len = ((w - 240) * (c.count ?? 0)) / max;
    svg.appendChild(svgEl("rect", { x: 170, y, width: Math.max(1, len), height: bh, fill: "#58a6ff", rx: 2 }));
    svg.appendChild(svgEl("text", { x: 176 + len, y: y + 12 }, String(c.count)));
  });
  return svg;
}

/**
 * The privacy a private learning job has spent, release by release: ε (at the job's δ) after
 * k releases of ρ per round each (zCDP composes additively), and one line with the totals.
 */
function learningPrivacyView(p: NonNullable<LearningResult["privacy"]>): Element {
  const values = Array.from({ length: p.roundsReleased }, (_, i) => ({ model: i + 1, value: epsilonOf((i + 1) * p.rhoPerRound, p.delta) }));
  return el("div", { id: "privacy" },
    el("div", {}, `Differential privacy per training example (replace-one): ρ spent ${p.rhoSpent.toPrecision(3)} of ${p.rhoTotal.toPrecision(3)}, ε = ${p.epsilonSpent.toPrecision(3)} at δ = ${p.delta}; ${p.roundsReleased} of ${p.releases} releases; clip ${p.clip}, batch ${p.batchSize}, σ per node ${p.sigmaUpdate.toPrecision(3)}; ${p.noisyParties} parties added noise.`),
    seriesChart(values, "ε", (v) => v.toFixed(2), { title: "ε spent after each release", xTitle: "releases (k)" }));
}

/** What a private statistics release applied: ρ, (ε, δ), and each measure's per-node σ. */
function statsPrivacyView(res: StatsResult): Element {
  const p = res.privacy!;
  const sig = (m: StatsResult["measures"][number]) => {
    const s = m.privacy?.sigma;
    return s ? `${m.name}: σ count ${s.count.toPrecision(3)}${s.sum !== undefined ? `, sum ${s.sum.toPrecision(3)}` : ""}${s.sumsq !== undefined ? `, sum of squares ${s.sumsq.toPrecision(3)}` : ""}` : "";
  };
  return el("div", { id: "privacy" },
    el("div", {}, `Differential privacy: ρ = ${p.rho.toPrecision(3)} (ε = ${p.epsilon.toPrecision(3)} at δ = ${p.delta}); noise ${p.mechanism}, added by each of ${p.noisyParties} parties.`),
    el("div", { class: "mut" }, res.measures.map(sig).filter(Boolean).join("; ")));
}

function statsView(res: StatsResult): Element {
  const out = el("div");
  if (res.privacy) out.appendChild(statsPrivacyView(res));
  for (const m of res.measures) {
    out.appendChild(el("h3", {}, `${m.name} — ${m.kind}${m.column ? `(${m.column})` : ""}${m.groupBy ? ` by ${m.groupBy}` : ""}`));
    for (const g of m.groups) {
      const key = g.key === null ? "" : `${g.key}: `;
      if (g.suppressed) { out.appendChild(el("div", { class: "mut" }, `${key}suppressed (fewer than ${res.minCount} rows)`)); continue; }
      if (g.histogram) { if (g.key !== null) out.appendChild(el("div", {}, g.key)); out.appendChild(barChart(g.histogram)); continue; }
      if (g.quantiles) { out.appendChild(el("div", {}, key + g.quantiles.map((q) => `p${Math.round(q.p * 100)} = ${num(q.value, 2)}`).join(", "))); continue; }
      const parts = [`count ${num(g.count)}`];
      if (g.mean !== undefined) parts.push(`mean ${num(g.mean)}`);
      if (g.variancePopulation !== undefined) parts.push(`variance ${num(g.variancePopulation)}`);
      if (g.stddevPopulation !== undefined) parts.push(`stddev ${num(g.stddevPopulation)}`);
      if (g.sum !== undefined) parts.push(`sum ${num(g.sum)}`);
      out.appendChild(el("div", {}, key + parts.join(", ")));
    }
  }
  return out;
}

function logView(entries: LogEntry[], status: { ok: boolean; text: string }): Element {
  const wrap = el("div", {}, el("div", { id: "log-status", class: status.ok ? "completed" : "failed" }, status.text));
  const t = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "kind"), el("th", {}, "round"), el("th", {}, "detail"), el("th", {}, "hash"))));
  const tb = el("tbody");
  for (const e of entries) {
    const b = e.body;
    let detail = "";
    if (b.kind === "manifest") detail = `committee ${(((b.manifest as { committee?: Array<{ nodeId: string }> } | null)?.committee) ?? []).map((c) => short(c.nodeId)).join(" ")}`;
    else if (b.kind === "result") detail = `aggregate ${short(b.aggregateHash)}, MAC-check transcript ${b.transcriptHash.slice(0, 10)}${b.excluded.length ? `, excluded ${b.excluded.join(",")}` : ""}`;
    else if (b.kind === "abort") detail = b.code + (b.culprits.length ? ` (${b.culprits.map(short).join(", ")})` : "");
    else if (b.kind === "model") detail = `model ${b.round} (after ${b.round} round${b.round === 1 ? "" : "s"}): ${short(b.modelHash)}, ${b.bytes} bytes`;
    else if (b.kind === "status") detail = b.status + (b.detail ? `: ${b.detail}` : "");
    else if (b.kind === "job") detail = `spec ${short(b.specHash)}`;
    // round.attempt counted from 1; a model entry's `round` is the model's number, shown in its detail
    const round = "round" in b && b.kind !== "model" ? `${b.round + 1}${"attempt" in b ? `.${b.attempt + 1}` : ""}` : "";
    tb.appendChild(el("tr", {}, el("td", {}, e.seq), el("td", {}, b.kind), el("td", {}, round), el("td", {}, detail), el("td", { class: "mono" }, short(e.hash))));
  }
  t.appendChild(tb);
  wrap.appendChild(t);
  return wrap;
}

/** The log's verification in this browser, once per (job, length). */
function verification(id: string, entries: LogEntry[], publicKey: string): { ok: boolean; text: string } {
  const key = `${id}:${entries.length}`;
  let v = verified.get(key);
  if (!v) {
    try {
      const problems = verifyLog(entries, fromBase64Url(publicKey));
      v = problems.length
        ? { ok: false, text: `✗ log does not verify: ${problems[0]}` }
        : { ok: true, text: `✓ ${entries.length} entries: hash chain intact, every entry signed by the coordinator key ${publicKey.slice(0, 12)}…` };
    } catch (e) {
      v = { ok: false, text: `log not verified in this browser: ${(e as Error).message}` };
    }
    verified.set(key, v);
  }
  return v;
}

async function renderJob(id: string): Promise<void> {
  const box = $("#job");
  if (!id) { box.replaceChildren(el("p", { class: "mut" }, "Select a job.")); return; }
  const [{ job, spec }, rounds, res, log] = await Promise.all([
    api(client.job(id)), api(client.rounds(id)), api(client.result<(LearningResult & { stats?: StatsResult }) | StatsResult | null>(id)).catch(() => null), api(client.log(id)),
  ]);
  const result = res?.result ?? null;
  const learning = result && "history" in result ? result : null;
  // Rounds count from 1; a learning job's last round only evaluates its final model.
  const finalRound = learning?.final !== undefined ? learning.latestModelRound : null;
  const roundName = (r: number) => (r === finalRound ? `final evaluation (model ${r})` : `round ${r + 1}`);
  const where = job.status === "completed" ? `${rounds.filter((r) => r.status === "accepted" && r.round !== finalRound).length} of ${spec.maxRounds} rounds` : job.round === finalRound ? roundName(job.round) : `round ${job.round + 1} of ${spec.maxRounds}`;
  const kids: Element[] = [
    el("h2", {}, spec.label ?? `${job.type} job`, " ", el("span", { class: `badge st ${job.status}`, id: "job-status" }, job.status)),
    el("div", { class: "mut mono", id: "job-where" }, `${job.id} · schema ${job.schemaId} · ${where}${job.error ? ` · ${job.error}` : ""}`),
    el("h3", {}, "Rounds"), timeline(rounds, roundName),
  ];
  const aborts = rounds.filter((r) => r.abort);
  if (aborts.length) {
    kids.push(el("ul", { id: "aborts" }, ...aborts.map((r) => el("li", {}, `${roundName(r.round)} attempt ${r.attempt + 1}: ${r.abort!.code}${r.abort!.culprits.length ? ` — culprits ${r.abort!.culprits.map(short).join(", ")}` : ""}${r.abort!.detail ? ` (${r.abort!.detail})` : ""}`))));
  }
  const history = learning?.history;
  if (history?.length) {
    kids.push(el("h3", {}, "Federated evaluation of each model"), el("div", { class: "charts" }, lineChart(history, "accuracy", (v) => `${(100 * v).toFixed(1)}%`), lineChart(history, "loss", (v) => v.toFixed(3))));
  }
  if (learning?.privacy) kids.push(el("h3", {}, "Privacy spent"), learningPrivacyView(learning.privacy));
  const stats = result && ("measures" in result ? result : result.stats);
  if (stats?.measures) kids.push(el("h3", {}, "Result"), statsView(stats));
  kids.push(el("h3", {}, "Transparency log"), logView(log.entries, verification(id, log.entries, log.publicKey)));
  box.replaceChildren(...kids);
}

async function refresh(): Promise<void> {
  if (!token) return showLogin();
  try {
    const [nodes, jobs] = await Promise.all([api(client.nodes()), api(client.jobs())]);
    renderNodes(nodes);
    renderJobs(jobs);
    await renderJob(selected);
    $("#live").textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    $("#error").textContent = "";
  } catch (e) {
    if (token) $("#error").textContent = e instanceof ApiClientError ? `${e.code}: ${e.detail}` : (e as Error).message;
  }
}

$("#login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $<HTMLInputElement>("#token").value.trim();
  client = new ApiClient({ baseUrl: location.origin, token });
  sessionStorage.setItem("2pm-token", token);
  $("#login").hidden = true;
  $("#app").hidden = false;
  void refresh();
});
if (token) { $("#login").hidden = true; $("#app").hidden = false; }
void refresh();
setInterval(() => void refresh(), 2000);
