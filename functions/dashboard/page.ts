/**
 * The operator dashboard, served by the Worker at GET /dashboard as one self-contained page
 * (no external assets; CSP forbids any): this static HTML and style, and the script bundled
 * from client/dashboard/app.ts (./bundle.ts, built by scripts/build-dashboard.ts). The script
 * reads the same /v1 API as the CLI, through the same API client, and verifies each job's
 * transparency log in the browser with protocol/log's verifier.
 */
import { DASHBOARD_SCRIPT } from "./bundle.ts";
import { pageHtml } from "../pages.ts";

const STYLE = `
header .mut{color:var(--mut)}#live{margin-left:auto;color:var(--mut);font-size:12px}
main{display:grid;grid-template-columns:minmax(320px,1fr) 2fr;gap:16px;padding:16px 20px}
h3{font-size:13px;margin:14px 0 6px;color:var(--mut);text-transform:uppercase;letter-spacing:.04em}
tr.job{cursor:pointer}tr.job:hover,tr.sel{background:#1f2730}
.st{font-weight:600}.completed,.accepted{color:var(--ok)}.failed,.aborted,.cancelled{color:var(--bad)}.running,.pending{color:var(--run)}
#login{max-width:420px;margin:80px auto}#login input{width:100%;padding:8px;margin:8px 0;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:6px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;border:1px solid currentColor}
svg text{fill:var(--mut);font-size:11px}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts svg{flex:none}svg text.axis-title{fill:var(--fg)}svg text.chart-title{fill:var(--fg);font-weight:600}
`;

/** The dashboard page: static HTML with inline style and script (same for every request). */
export function dashboardHtml(): string {
  return pageHtml("2PM dashboard", STYLE, `<header><h1>2PM</h1><span class="mut">privacy-preserving statistics and learning</span><span id="live"></span></header>
<div id="login"><section><h2>Operator sign-in</h2><p class="mut">Enter the coordinator's API token. It stays in this tab's session storage.</p>
<form id="login-form"><input id="token" type="password" autocomplete="off" placeholder="API token"><button type="submit">Open dashboard</button></form><p id="login-msg" class="err"></p></section></div>
<div id="app" hidden><p id="error" class="err" style="padding:0 20px"></p><main>
<div><section><h2>Nodes <span id="node-count" class="mut"></span></h2><table id="nodes"><thead><tr><th>id</th><th>label</th><th>data</th><th>conditions</th><th>reliability</th><th>last seen</th></tr></thead><tbody></tbody></table></section>
<section><h2>Jobs</h2><table id="jobs"><thead><tr><th>id</th><th>type</th><th>schema</th><th>status</th><th>round</th><th>updated</th></tr></thead><tbody></tbody></table></section></div>
<div><section id="job"></section></div>
</main></div>`, DASHBOARD_SCRIPT);
}
