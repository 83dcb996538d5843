/**
 * The browser node page (GET /node/) and the browser querier page (GET /querier/), each one
 * self-contained page (no external assets; the CSP forbids any): this static HTML and style,
 * and the scripts bundled from client/browser/node-app.ts and querier-app.ts (./bundle.ts,
 * built by scripts/build-browser-node.ts).
 */
import { NODE_PAGE_SCRIPT, QUERIER_PAGE_SCRIPT } from "./bundle.ts";
import { pageHtml } from "../pages.ts";

const STYLE = `
#privacy{margin:16px 20px;padding:10px 14px;border:1px solid var(--ok);border-radius:8px;background:#12261a}
main{display:grid;grid-template-columns:minmax(340px,1fr) 1.4fr;gap:16px;padding:0 20px 16px}
label{display:block;margin:8px 0 4px;color:var(--mut)}
input[type=text],input[type=url],input[type=password],textarea{width:100%;padding:7px;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:6px}
textarea{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;min-height:220px}
button{margin:8px 8px 0 0}button:disabled{opacity:.45;cursor:default}
.mono{word-break:break-all}.ok,.accepted{color:var(--ok)}.run,.running,.warn{color:var(--run)}.aborted,.declined{color:var(--bad)}
#events{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;max-height:320px;overflow:auto;white-space:pre-wrap}
`;

/** The browser node page: static HTML with inline style and script (same for every request). */
export function nodePageHtml(): string {
  return pageHtml("2PM browser node", STYLE, `<header><h1>2PM browser node</h1><span class="mut">take part in federated statistics and learning from this page</span></header>
<p id="privacy"><strong>Your data never leaves this page.</strong> The file you open is read and checked here, in this tab's memory.
The coordinator receives only the dataset's name, row count and commitment (a hash); the secure-aggregation messages it relays are
encrypted to the other committee members, and only the committee's combined result is ever opened. Keys and the ledger stay in this browser (IndexedDB).</p>
<main><div>
<section><h2>1. Coordinator</h2>
<label for="coordinator">Coordinator URL (default: the one serving this page)</label><input id="coordinator" type="url" autocomplete="off">
<label><input id="allow-dev-key" type="checkbox"> accept the public development log key (local development only)</label>
<label for="label">Label shown to the operator (not an identity)</label><input id="label" type="text" maxlength="64" autocomplete="off"></section>
<section><h2>2. Data</h2>
<label for="data-file">Data file (CSV or JSON lines)</label><input id="data-file" type="file" accept=".csv,.jsonl,.txt,text/csv">
<label for="schema-file">Schema (JSON: columns, types, levels)</label><input id="schema-file" type="file" accept=".json,application/json">
<p id="schema-status" class="mut"></p><div id="check"></div><div id="commitment"></div></section>
<section><h2>3. Node keys</h2><div id="keys-status" class="mut"></div><button id="keys-btn">Generate or load keys</button>
<p id="webcrypto" class="mut"></p></section>
</div><div>
<section><h2>4. Policy</h2><p class="mut">What this node agrees to take part in (docs/node-policy.md). List the submitter keys you trust in <code>submitters</code>.</p>
<textarea id="policy" spellcheck="false"></textarea>
<label for="consortium-file">Signed consortium list (when the policy names one in <code>consortium</code>)</label><input id="consortium-file" type="file" accept=".json,application/json">
<p id="consortium-status" class="mut"></p></section>
<section><h2>5. Take part</h2><button id="start" disabled>Register and take part</button><button id="stop" disabled>Leave</button>
<p id="node-state" class="mut">not registered</p><p id="start-error"></p>
<table id="rounds"><thead><tr><th>job</th><th>round</th><th>party</th><th>phase</th><th>phases</th><th>status</th><th>detail</th></tr></thead><tbody></tbody></table>
<h2 style="margin-top:12px">Progress</h2><div id="events"></div></section>
<section><h2>Ledger</h2><p id="ledger-status" class="mut"></p>
<table id="ledger"><thead><tr><th>job</th><th>dataset</th><th>first round</th><th>attempts</th></tr></thead><tbody></tbody></table></section>
</div></main>`, NODE_PAGE_SCRIPT);
}

/** The browser querier page: static HTML with inline style and script (same for every request). */
export function querierPageHtml(): string {
  return pageHtml("2PM encrypted inference", STYLE, `<header><h1>2PM encrypted inference</h1><span class="mut">score rows with a federated model without showing them to anyone</span></header>
<p id="privacy"><strong>Your rows and your secret key never leave this page.</strong> The page makes a CKKS key pair here (SEAL compiled to
WebAssembly), encrypts the rows, and sends the coordinator only ciphertexts and public evaluation keys. The coordinator computes on the
ciphertexts without being able to read them; the page decrypts the scores and deletes the secret key.</p>
<main><div>
<section><h2>1. Model</h2>
<label for="model-id">Model id (the coordinator's FHE package)</label><input id="model-id" type="text" autocomplete="off">
<button id="load-model">Load public package</button><div id="model-info"></div></section>
<section><h2>2. Rows</h2><p class="mut">One row per line, the model's features in order, comma-separated raw values.</p>
<input id="rows-file" type="file" accept=".csv,.txt,text/csv"><textarea id="rows" spellcheck="false"></textarea></section>
<section><h2>3. Score</h2>
<label for="token">Coordinator API token (for key upload and scoring; kept in this tab's memory only)</label><input id="token" type="password" autocomplete="off">
<button id="run" disabled>Encrypt, score, decrypt</button></section>
</div><div>
<section><h2>Progress</h2><div id="q-status" class="mono"></div></section>
<section><h2>Predictions</h2><table id="results"><thead><tr><th>row</th><th>label</th><th>probabilities</th><th>scores</th></tr></thead><tbody></tbody></table></section>
</div></main>`, QUERIER_PAGE_SCRIPT);
}
