/**
 * The operator dashboard, served by the Worker at GET /dashboard as one self-contained page
 * (no external assets; CSP forbids any). It reads the same /v1 API as the CLI with the
 * operator's bearer token (kept in sessionStorage, never in the URL), polls every 2 s while
 * open, and verifies each job's transparency log in the browser (SHA-256 hash chain and
 * the coordinator's Ed25519 signatures via WebCrypto), so the page does not have to trust
 * the coordinator's word for it. Every value from the API is inserted as text, never HTML.
 */

const STYLE = `
:root{--bg:#0f1419;--panel:#171d24;--line:#2a323c;--fg:#e6e9ed;--mut:#8b96a3;--ok:#3fb950;--bad:#f85149;--run:#d29922;--acc:#58a6ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:16px;padding:12px 20px;border-bottom:1px solid var(--line)}
header h1{font-size:18px;margin:0}header .mut{color:var(--mut)}#live{margin-left:auto;color:var(--mut);font-size:12px}
main{display:grid;grid-template-columns:minmax(320px,1fr) 2fr;gap:16px;padding:16px 20px}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin-bottom:16px}
h2{font-size:15px;margin:0 0 8px}h3{font-size:13px;margin:14px 0 6px;color:var(--mut);text-transform:uppercase;letter-spacing:.04em}
table{width:100%;border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line)}th{color:var(--mut);font-weight:500}
tr.job{cursor:pointer}tr.job:hover,tr.sel{background:#1f2730}
.st{font-weight:600}.completed,.accepted{color:var(--ok)}.failed,.aborted,.cancelled{color:var(--bad)}.running,.pending{color:var(--run)}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}.mut{color:var(--mut)}
#login{max-width:420px;margin:80px auto}#login input{width:100%;padding:8px;margin:8px 0;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:6px}
button{background:var(--acc);color:#fff;border:0;border-radius:6px;padding:7px 14px;cursor:pointer}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;border:1px solid currentColor}
svg text{fill:var(--mut);font-size:11px}.err{color:var(--bad)}
`;

const SCRIPT = String.raw`
"use strict";
const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, ...kids) => { const e = document.createElement(tag); for (const [k, v] of Object.entries(attrs)) { if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v); } for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k))); return e; };
const svgEl = (tag, attrs = {}) => { const e = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); return e; };
let token = sessionStorage.getItem("2pm-token") || "";
let selected = new URLSearchParams(location.hash.slice(1)).get("job") || "";
const verified = new Map();

async function api(path) {
  const r = await fetch(path, { headers: { authorization: "Bearer " + token } });
  if (r.status === 401 || r.status === 403) { sessionStorage.removeItem("2pm-token"); token = ""; showLogin("The token was refused."); throw new Error("unauthorised"); }
  if (!r.ok) { let p = {}; try { p = await r.json(); } catch {} throw new Error((p.code || r.status) + ": " + (p.detail || p.title || r.statusText)); }
  return r.json();
}
const ago = (ms) => { const s = Math.max(0, Math.round((Date.now() - ms) / 1000)); return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago"; };
const short = (id) => String(id).slice(0, 8);
const num = (v, d = 4) => v === null || v === undefined ? "—" : Number.isInteger(v) ? String(v) : Number(v).toFixed(d);

function showLogin(msg) {
  $("#app").hidden = true; $("#login").hidden = false; $("#login-msg").textContent = msg || "";
}
function renderNodes(nodes) {
  const body = $("#nodes tbody"); body.replaceChildren();
  for (const n of nodes) {
    const c = n.conditions;
    body.append(el("tr", {}, el("td", { class: "mono", title: n.id }, short(n.id)), el("td", {}, n.label || ""),
      el("td", {}, (n.datasets || []).map((d) => d.schemaId + " (" + d.rows + ")").join(", ")),
      el("td", {}, c ? "load " + num(c.load, 2) + ", " + c.freeMemoryMb + " MB free" + (c.onBattery ? ", battery" : "") : "—"),
      el("td", {}, num(n.reliability, 2)), el("td", {}, ago(n.lastSeen))));
  }
  $("#node-count").textContent = nodes.length + " registered";
}
function renderJobs(jobs) {
  const body = $("#jobs tbody"); body.replaceChildren();
  for (const j of jobs) {
    const tr = el("tr", { class: "job" + (j.id === selected ? " sel" : ""), "data-job": j.id, onclick: () => { selected = j.id; location.hash = "job=" + j.id; refresh(); } },
      el("td", { class: "mono" }, short(j.id)), el("td", {}, j.type), el("td", {}, j.schemaId), el("td", { class: "st " + j.status }, j.status), el("td", {}, j.round + 1), el("td", {}, ago(j.updatedAt)));
    body.append(tr);
  }
  if (!selected && jobs[0]) selected = jobs[0].id;
}
function timeline(rounds) {
  const w = 640, rowH = 22, h = rounds.length * rowH + 24;
  const svg = svgEl("svg", { width: "100%", viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": "round timeline" });
  if (!rounds.length) return el("p", { class: "mut" }, "No rounds yet.");
  const t0 = Math.min(...rounds.map((r) => r.startedAt)), t1 = Math.max(...rounds.map((r) => r.endedAt || Date.now()));
  const x = (t) => 150 + (w - 160) * ((t - t0) / Math.max(1, t1 - t0));
  rounds.forEach((r, i) => {
    const y = 8 + i * rowH; const color = r.status === "accepted" ? "#3fb950" : r.status === "aborted" ? "#f85149" : "#d29922";
    const label = svgEl("text", { x: 0, y: y + 13 }); label.textContent = "round " + (r.round + 1) + " · attempt " + (r.attempt + 1); svg.append(label);
    const bar = svgEl("rect", { x: x(r.startedAt), y, width: Math.max(3, x(r.endedAt || Date.now()) - x(r.startedAt)), height: rowH - 6, rx: 3, fill: color });
    const tip = svgEl("title"); tip.textContent = r.status + (r.abort ? " — " + r.abort.code + (r.abort.culprits.length ? " (" + r.abort.culprits.map(short).join(", ") + ")" : "") : "") + "; committee " + r.committee.map(short).join(" ");
    bar.append(tip); svg.append(bar);
  });
  const s = svgEl("text", { x: 150, y: h - 2 }); s.textContent = ((t1 - t0) / 1000).toFixed(1) + " s"; svg.append(s);
  return svg;
}
function lineChart(title, points, key, fmt) {
  const pts = points.filter((p) => typeof p[key] === "number");
  if (pts.length === 0) return el("span");
  const w = 300, h = 150, pad = 30;
  const ys = pts.map((p) => p[key]); const lo = Math.min(...ys), hi = Math.max(...ys); const span = hi - lo || 1;
  const X = (i) => pad + (w - pad - 8) * (pts.length === 1 ? 0.5 : i / (pts.length - 1)); const Y = (v) => h - pad + 6 - (h - pad - 10) * ((v - lo) / span);
  const svg = svgEl("svg", { width: w, height: h, role: "img", "aria-label": title, class: "chart", "data-metric": key });
  svg.append(svgEl("polyline", { points: pts.map((p, i) => X(i) + "," + Y(p[key])).join(" "), fill: "none", stroke: "#58a6ff", "stroke-width": 2 }));
  pts.forEach((p, i) => svg.append(svgEl("circle", { cx: X(i), cy: Y(p[key]), r: 3, fill: "#58a6ff" })));
  const t = svgEl("text", { x: pad, y: 12 }); t.textContent = title + " — last " + fmt(ys[ys.length - 1]); svg.append(t);
  const a = svgEl("text", { x: 0, y: h - pad + 6 }); a.textContent = fmt(lo); svg.append(a);
  const b = svgEl("text", { x: 0, y: 24 }); b.textContent = fmt(hi); svg.append(b);
  const c = svgEl("text", { x: w - 60, y: h - 4 }); c.textContent = "round " + (pts[pts.length - 1].round + 1); svg.append(c);
  return svg;
}
function barChart(cells) {
  const shown = cells.filter((c) => !c.suppressed); const max = Math.max(1, ...shown.map((c) => c.count));
  const w = 520, bh = 16, h = cells.length * (bh + 4) + 4;
  const svg = svgEl("svg", { width: "100%", viewBox: "0 0 " + w + " " + h, role: "img", class: "histogram" });
  cells.forEach((c, i) => {
    const y = 2 + i * (bh + 4); const t = svgEl("text", { x: 0, y: y + 12 }); t.textContent = c.label; svg.append(t);
    if (c.suppressed) { const s = svgEl("text", { x: 170, y: y + 12 }); s.textContent = "suppressed"; svg.append(s); return; }
    svg.append(svgEl("rect", { x: 170, y, width: Math.max(1, (w - 240) * c.count / max), height: bh, fill: "#58a6ff", rx: 2 }));
    const v = svgEl("text", { x: 176 + (w - 240) * c.count / max, y: y + 12 }); v.textContent = String(c.count); svg.append(v);
  });
  return svg;
}
function statsView(res) {
  const out = el("div");
  for (const m of res.measures || []) {
    out.append(el("h3", {}, m.name + " — " + m.kind + (m.column ? "(" + m.column + ")" : "") + (m.groupBy ? " by " + m.groupBy : "")));
    for (const g of m.groups) {
      const key = g.key === null ? "" : g.key + ": ";
      if (g.suppressed) { out.append(el("div", { class: "mut" }, key + "suppressed (fewer than " + res.minCount + " rows)")); continue; }
      if (g.histogram) { if (g.key !== null) out.append(el("div", {}, g.key)); out.append(barChart(g.histogram)); continue; }
      if (g.quantiles) { out.append(el("div", {}, key + g.quantiles.map((q) => "p" + Math.round(q.p * 100) + " = " + num(q.value, 2)).join(", "))); continue; }
      const parts = ["count " + num(g.count)]; if (g.mean !== undefined) parts.push("mean " + num(g.mean)); if (g.variancePopulation !== undefined) parts.push("variance " + num(g.variancePopulation)); if (g.stddevPopulation !== undefined) parts.push("stddev " + num(g.stddevPopulation)); if (g.sum !== undefined) parts.push("sum " + num(g.sum));
      out.append(el("div", {}, key + parts.join(", ")));
    }
  }
  return out;
}
// ---- transparency log verification (same rules as protocol/log: canonical JSON, SHA-256, Ed25519)
function canon(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "[" + v.map((x) => x === undefined ? "null" : canon(x)).join(",") + "]";
  if (typeof v === "object") return "{" + Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  return JSON.stringify(v);
}
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
const unb64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
async function verifyLog(entries, publicKey) {
  const key = await crypto.subtle.importKey("raw", unb64(publicKey), { name: "Ed25519" }, false, ["verify"]);
  let prev = "0".repeat(64); const problems = [];
  for (const [i, e] of entries.entries()) {
    if (e.seq !== i) problems.push("entry " + i + ": bad seq");
    if (e.prevHash !== prev) problems.push("entry " + i + ": chain broken");
    const content = new TextEncoder().encode("2pm/log/v1" + canon({ seq: e.seq, prevHash: e.prevHash, timestamp: e.timestamp, body: e.body }));
    const h = hex(await crypto.subtle.digest("SHA-256", content));
    if (h !== e.hash) problems.push("entry " + i + ": hash mismatch");
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, unb64(e.signature), unhex(e.hash)))) problems.push("entry " + i + ": bad signature");
    prev = e.hash;
  }
  return problems;
}
function logView(entries, status) {
  const wrap = el("div");
  wrap.append(el("div", { id: "log-status", class: status.ok ? "completed" : "failed" }, status.text));
  const t = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "kind"), el("th", {}, "round"), el("th", {}, "detail"), el("th", {}, "hash"))));
  const tb = el("tbody");
  for (const e of entries) {
    const b = e.body; let detail = "";
    if (b.kind === "manifest") detail = "committee " + ((b.manifest && b.manifest.committee) || []).map((c) => short(c.nodeId)).join(" ");
    else if (b.kind === "result") detail = "aggregate " + short(b.aggregateHash) + ", MAC-check transcript " + String(b.transcriptHash).slice(0, 10) + (b.excluded.length ? ", excluded " + b.excluded.join(",") : "");
    else if (b.kind === "abort") detail = b.code + (b.culprits.length ? " (" + b.culprits.map(short).join(", ") + ")" : "");
    else if (b.kind === "model") detail = "model " + short(b.modelHash) + " (" + b.bytes + " bytes)";
    else if (b.kind === "status") detail = b.status + (b.detail ? ": " + b.detail : "");
    else if (b.kind === "job") detail = "spec " + short(b.specHash);
    tb.append(el("tr", {}, el("td", {}, e.seq), el("td", {}, b.kind), el("td", {}, b.round === undefined ? "" : (b.round + 1) + (b.attempt === undefined ? "" : "." + (b.attempt + 1))), el("td", {}, detail), el("td", { class: "mono" }, short(e.hash))));
  }
  t.append(tb); wrap.append(t); return wrap;
}
async function renderJob(id) {
  const box = $("#job"); if (!id) { box.replaceChildren(el("p", { class: "mut" }, "Select a job.")); return; }
  const [{ job, spec }, { rounds }, res, log] = await Promise.all([api("/v1/jobs/" + id), api("/v1/jobs/" + id + "/rounds"), api("/v1/jobs/" + id + "/result").catch(() => null), api("/v1/jobs/" + id + "/log")]);
  const key = id + ":" + log.entries.length;
  if (!verified.has(key)) {
    try { const p = await verifyLog(log.entries, log.publicKey); verified.set(key, p.length ? { ok: false, text: "✗ log does not verify: " + p[0] } : { ok: true, text: "✓ " + log.entries.length + " entries: hash chain intact, every entry signed by the coordinator key " + log.publicKey.slice(0, 12) + "…" }); }
    catch (e) { verified.set(key, { ok: false, text: "log not verified in this browser: " + e.message }); }
  }
  const kids = [el("h2", {}, (spec && spec.label) || job.type + " job", " ", el("span", { class: "badge st " + job.status, id: "job-status" }, job.status)),
    el("div", { class: "mut mono" }, job.id + " · schema " + job.schemaId + " · round " + (job.round + 1) + (spec ? "/" + spec.maxRounds : "") + (job.error ? " · " + job.error : "")),
    el("h3", {}, "Rounds"), timeline(rounds)];
  const aborts = rounds.filter((r) => r.abort);
  if (aborts.length) kids.push(el("ul", { id: "aborts" }, ...aborts.map((r) => el("li", {}, "round " + (r.round + 1) + " attempt " + (r.attempt + 1) + ": " + r.abort.code + (r.abort.culprits.length ? " — culprits " + r.abort.culprits.map(short).join(", ") : "") + (r.abort.detail ? " (" + r.abort.detail + ")" : "")))));
  const result = res && res.result;
  const history = result && result.history;
  if (history && history.length) { kids.push(el("h3", {}, "Metrics per round")); kids.push(el("div", {}, lineChart("accuracy", history, "accuracy", (v) => (100 * v).toFixed(1) + "%"), lineChart("loss", history, "loss", (v) => v.toFixed(3)))); }
  const stats = result && (result.measures ? result : result.stats);
  if (stats && stats.measures) { kids.push(el("h3", {}, "Result")); kids.push(statsView(stats)); }
  kids.push(el("h3", {}, "Transparency log")); kids.push(logView(log.entries, verified.get(key)));
  box.replaceChildren(...kids);
}
async function refresh() {
  if (!token) return showLogin();
  try {
    const [{ nodes }, { jobs }] = await Promise.all([api("/v1/nodes"), api("/v1/jobs")]);
    renderNodes(nodes); renderJobs(jobs); await renderJob(selected);
    $("#live").textContent = "live · updated " + new Date().toLocaleTimeString(); $("#error").textContent = "";
  } catch (e) { if (token) $("#error").textContent = e.message; }
}
$("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); token = $("#token").value.trim(); sessionStorage.setItem("2pm-token", token); $("#login").hidden = true; $("#app").hidden = false; refresh(); });
if (token) { $("#login").hidden = true; $("#app").hidden = false; }
refresh(); setInterval(refresh, 2000);
`;

/** The inline script, exported so the route can pin it in the Content-Security-Policy by hash. */
export const DASHBOARD_SCRIPT = SCRIPT;

/** The dashboard page: static HTML with inline style and script (same for every request). */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>2PM dashboard</title><style>${STYLE}</style></head>
<body>
<header><h1>2PM</h1><span class="mut">privacy-preserving statistics and learning</span><span id="live"></span></header>
<div id="login"><section><h2>Operator sign-in</h2><p class="mut">Enter the coordinator's API token. It stays in this tab's session storage.</p>
<form id="login-form"><input id="token" type="password" autocomplete="off" placeholder="API token"><button type="submit">Open dashboard</button></form><p id="login-msg" class="err"></p></section></div>
<div id="app" hidden><p id="error" class="err" style="padding:0 20px"></p><main>
<div><section><h2>Nodes <span id="node-count" class="mut"></span></h2><table id="nodes"><thead><tr><th>id</th><th>label</th><th>data</th><th>conditions</th><th>reliability</th><th>last seen</th></tr></thead><tbody></tbody></table></section>
<section><h2>Jobs</h2><table id="jobs"><thead><tr><th>id</th><th>type</th><th>schema</th><th>status</th><th>round</th><th>updated</th></tr></thead><tbody></tbody></table></section></div>
<div><section id="job"></section></div>
</main></div>
<script>${SCRIPT}</script>
</body></html>`;
}
