/**
 * The browser node's page script (served at /node/ by functions/node-page, bundled by
 * scripts/build-browser-node.ts). The data holder opens a data file and its schema with the
 * File API, sees the schema check and the dataset commitment, makes or loads the node's keys
 * (IndexedDB, wrapped under a non-extractable WebCrypto key), edits its policy, registers,
 * and takes part in statistics and learning rounds: the same NodeAgent and MASCOT party as
 * `2pm node start`, over the same WebSocket relay, with the same progress lines (tfjs is
 * loaded only for the first learning round: client/browser/learning-loader.ts).
 *
 * The rows stay in this page's memory: the agent sends the coordinator only the dataset's
 * schema id, row count and commitment, and relays MASCOT messages encrypted end to end to
 * the other committee members (test/e2e/browser-node.test.ts records every request).
 */
import { NodeAgent, type AgentEvent } from "../agent/agent.ts";
import { Ledger } from "../agent/ledger.ts";
import { NodePolicySchema, type NodePolicy } from "../agent/policy.ts";
import { nodeIdFromPublicKey, type NodeKeys } from "../../protocol/crypto/identity.ts";
import { toBase64Url } from "../../protocol/encoding.ts";
import { parseJsonText } from "../../protocol/api/schemas.ts";
import type { DatasetSchema } from "../../protocol/stats/schema.ts";
import type { LoadedDataset } from "../data/source.ts";
import { acceptConsortium, type Membership } from "../../protocol/consortium.ts";
import { checkDataText, parseSchemaText } from "./dataset.ts";
import { $, h } from "./dom.ts";
import { browserHost } from "./host.ts";
import { openKv, type KvStore } from "./idb.ts";
import { IdbKeyStore, webCryptoEd25519 } from "./idb-key-store.ts";
import { idbLedgerStore } from "./idb-ledger-store.ts";
import { describeEvent, foldProgress, type RoundProgress } from "./progress.ts";

const text = (sel: string, s: string, cls?: string): void => {
  const el = $(sel);
  el.textContent = s;
  if (cls !== undefined) el.className = cls;
};

/** The policy shown by default: the CLI's safe defaults (no submitter trusted yet). */
const BROWSER_DEFAULT_POLICY: NodePolicy = NodePolicySchema.parse({});

const SETTINGS = "settings";
interface Settings { coordinatorUrl: string; label: string; policy: string }

const state: {
  kv?: KvStore;
  keys?: NodeKeys;
  schema?: DatasetSchema;
  schemaName?: string;
  dataFile?: File;
  dataset?: LoadedDataset;
  agent?: NodeAgent;
  ledger?: Ledger;
  rounds: Map<string, RoundProgress>;
} = { rounds: new Map() };

function showError(sel: string, e: unknown): void {
  text(sel, e instanceof Error ? e.message : String(e), "err");
}

async function init(): Promise<void> {
  $<HTMLInputElement>("#coordinator").value = location.origin;
  $<HTMLTextAreaElement>("#policy").value = JSON.stringify(BROWSER_DEFAULT_POLICY, null, 2);
  try {
    state.kv = await openKv("2pm-node");
  } catch (e) {
    showError("#keys-status", e);
    return;
  }
  const saved = await state.kv.get<Settings>(SETTINGS);
  if (saved) {
    $<HTMLInputElement>("#coordinator").value = saved.coordinatorUrl;
    $<HTMLInputElement>("#label").value = saved.label;
    $<HTMLTextAreaElement>("#policy").value = saved.policy;
  }
  const store = new IdbKeyStore(state.kv);
  try {
    const keys = await store.load();
    if (keys) await showKeys(keys, "loaded from this browser's IndexedDB", store);
    else text("#keys-status", "No node keys in this browser yet.", "mut");
  } catch (e) {
    showError("#keys-status", e);
  }
  state.ledger = await Ledger.open(idbLedgerStore(state.kv)).catch((e: unknown) => { showError("#ledger-status", e); return undefined; });
  renderLedger();
  text("#webcrypto", (await webCryptoEd25519())
    ? "This browser's WebCrypto has Ed25519. The node still keeps its keys as bytes, wrapped under a non-extractable AES-GCM key: the protocol signs requests synchronously and derives relay and OT keys from the raw X25519 secret."
    : "This browser's WebCrypto has no Ed25519; signing uses the bundled noble implementation. Keys are wrapped under a non-extractable AES-GCM key.");
}

async function showKeys(keys: NodeKeys, how: string, store: IdbKeyStore): Promise<void> {
  state.keys = keys;
  const nodeId = nodeIdFromPublicKey(keys.identityPublicKey);
  const extractable = await store.wrapKeyExtractable();
  $("#keys-status").replaceChildren(
    h("div", {}, `Node ${how}.`),
    h("div", {}, "node id ", h("span", { class: "mono", id: "node-id" }, nodeId)),
    h("div", {}, "identity key ", h("span", { class: "mono", id: "identity-key" }, toBase64Url(keys.identityPublicKey)), " (give it to your consortium admin)"),
    h("div", { id: "wrap-key" }, `wrapping key: AES-GCM-256, ${extractable === false ? "non-extractable" : "EXTRACTABLE"}`),
  );
  $("#keys-status").className = "";
  $<HTMLButtonElement>("#keys-btn").disabled = true;
  updateStart();
}

async function onKeys(): Promise<void> {
  if (!state.kv) return;
  const store = new IdbKeyStore(state.kv);
  try {
    const { keys, created } = await store.loadOrCreate();
    await showKeys(keys, created ? "keys generated and stored in this browser's IndexedDB" : "loaded from this browser's IndexedDB", store);
  } catch (e) {
    showError("#keys-status", e);
  }
}

async function onSchemaFile(): Promise<void> {
  const f = $<HTMLInputElement>("#schema-file").files?.[0];
  state.schema = undefined;
  if (!f) return;
  try {
    state.schema = parseSchemaText(await f.text(), f.name);
    state.schemaName = f.name;
    text("#schema-status", `schema "${state.schema.name}" (${state.schema.columns.length} columns) from ${f.name}`, "");
  } catch (e) {
    showError("#schema-status", e);
  }
  await recheck();
}

async function onDataFile(): Promise<void> {
  state.dataFile = $<HTMLInputElement>("#data-file").files?.[0];
  await recheck();
}

/** Checks the data file against the schema and shows rows, columns, errors and the commitment. */
async function recheck(): Promise<void> {
  state.dataset = undefined;
  $("#check").replaceChildren();
  text("#commitment", "");
  if (!state.schema || !state.dataFile) { updateStart(); return; }
  const r = checkDataText(state.dataFile.name, await state.dataFile.text(), state.schema);
  const columns = h("div", { class: "mut" }, `columns: ${r.columns.join(", ")}`);
  if (!r.ok) {
    $("#check").replaceChildren(h("div", { id: "check-result", class: "err" }, `${state.dataFile.name} does not match schema "${state.schema.name}": ${r.errors.length} problem(s)`), columns, h("ul", { id: "check-errors", class: "err" }, ...r.errors.map((e) => h("li", {}, e))));
  } else {
    state.dataset = r.dataset;
    $("#check").replaceChildren(h("div", { id: "check-result", class: "ok" }, `✓ ${state.dataFile.name}: `, h("span", { id: "row-count" }, r.rows), ` rows, ${r.columns.length} columns, 0 errors`), columns);
    const c = r.dataset.commitment;
    $("#commitment").replaceChildren(
      h("div", {}, "dataset commitment ", h("span", { class: "mono", id: "commitment-digest" }, c.digest)),
      h("div", { class: "mut" }, `Merkle root ${c.merkleRoot.slice(0, 16)}… over ${c.rows} rows · schema digest ${c.schemaDigest.slice(0, 16)}…`),
    );
  }
  updateStart();
}

function readPolicy(): NodePolicy {
  return parseJsonText(NodePolicySchema, $<HTMLTextAreaElement>("#policy").value, "policy");
}

function updateStart(): void {
  $<HTMLButtonElement>("#start").disabled = !(state.keys && state.dataset && !state.agent);
  $<HTMLButtonElement>("#stop").disabled = !state.agent;
}

function onEvent(e: AgentEvent): void {
  const line = `[${new Date().toISOString().slice(11, 19)}] ${describeEvent(e)}`;
  const log = $("#events");
  log.appendChild(h("div", { class: `ev ${e.kind}` }, line));
  log.scrollTop = log.scrollHeight;
  if (e.kind === "registered") text("#node-state", `registered; waiting for rounds`, "ok");
  foldProgress(state.rounds, e);
  renderRounds();
  if (e.kind === "round-done" || e.kind === "round-aborted" || e.kind === "rejected") renderLedger();
}

function renderRounds(): void {
  const rows = [...state.rounds.values()].map((r) => h("tr", { "data-round": r.key, class: r.status },
    h("td", { class: "mono" }, r.jobId.slice(0, 8)), h("td", {}, `${r.round + 1}.${r.attempt + 1}`), h("td", {}, r.party ?? "—"),
    h("td", { class: "phase" }, r.phase), h("td", {}, r.phases), h("td", { class: `st ${r.status}` }, r.status), h("td", { class: "mut" }, r.detail ?? "")));
  $("#rounds tbody").replaceChildren(...rows);
}

function renderLedger(): void {
  const snap = state.ledger?.snapshot();
  if (!snap) return;
  $("#ledger tbody").replaceChildren(...snap.jobs.map((j) => h("tr", {},
    h("td", { class: "mono" }, j.jobId.slice(0, 8)), h("td", {}, j.schemaId), h("td", {}, new Date(j.firstAt).toLocaleString()),
    h("td", {}, j.attempts.map((a) => `r${a.round + 1}.${a.attempt + 1}: ${a.released === true ? "output opened" : a.released === false ? "not opened" : "unknown"}`).join("; ")))));
  text("#ledger-status", `${snap.jobs.length} job(s) in this browser's ledger`, "mut");
}

async function onStart(): Promise<void> {
  if (!state.kv || !state.keys || !state.dataset || state.agent) return;
  text("#start-error", "");
  let policy: NodePolicy, coordinatorUrl: string;
  try {
    policy = readPolicy();
    const u = new URL($<HTMLInputElement>("#coordinator").value.trim());
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new TypeError("coordinator URL must be http(s)");
    coordinatorUrl = u.origin;
  } catch (e) {
    showError("#start-error", e);
    return;
  }
  let membership: Membership | undefined;
  if (policy.consortium) {
    const f = $<HTMLInputElement>("#consortium-file").files?.[0];
    try {
      if (!f) throw new TypeError(`the policy requires a consortium list: open the signed list file (${policy.consortium.list})`);
      membership = await acceptConsortium(state.kv, await f.text(), f.name, policy.consortium.adminKey);
      text("#consortium-status", `consortium "${membership.name}": ${membership.size} members, issued ${new Date(membership.issuedAt).toISOString()}, signature verified`, "ok");
    } catch (e) {
      showError("#start-error", e);
      return;
    }
  }
  if (policy.submitters.length === 0) text("#start-error", "note: the policy trusts no submitter yet, so this node will decline every job; add the submitter's key to policy.submitters", "warn");
  const label = $<HTMLInputElement>("#label").value.trim().slice(0, 64);
  await state.kv.put(SETTINGS, { coordinatorUrl, label, policy: $<HTMLTextAreaElement>("#policy").value } satisfies Settings);
  state.ledger ??= await Ledger.open(idbLedgerStore(state.kv));
  const agent = new NodeAgent({
    coordinatorUrl,
    keys: state.keys,
    ...(label ? { label } : {}),
    datasets: [state.dataset],
    heartbeatSeconds: 5,
    onEvent,
    policy,
    ledger: state.ledger,
    ...(membership ? { membership } : {}),
    host: browserHost(state.kv, coordinatorUrl, { allowDevKey: $<HTMLInputElement>("#allow-dev-key").checked }),
  });
  state.agent = agent;
  updateStart();
  text("#node-state", "registering…", "run");
  for (const sel of ["#data-file", "#schema-file", "#policy", "#coordinator", "#consortium-file"]) $<HTMLInputElement>(sel).disabled = true;
  try {
    await agent.run();
    text("#node-state", "stopped", "mut");
  } catch (e) {
    showError("#node-state", e);
    await agent.stop(false).catch(() => undefined);
  } finally {
    state.agent = undefined;
    for (const sel of ["#data-file", "#schema-file", "#policy", "#coordinator", "#consortium-file"]) $<HTMLInputElement>(sel).disabled = false;
    updateStart();
  }
}

async function onStop(): Promise<void> {
  const a = state.agent;
  if (!a) return;
  text("#node-state", "leaving…", "run");
  await a.stop(true);
}

$("#keys-btn").addEventListener("click", () => void onKeys());
$("#schema-file").addEventListener("change", () => void onSchemaFile());
$("#data-file").addEventListener("change", () => void onDataFile());
$("#start").addEventListener("click", () => void onStart());
$("#stop").addEventListener("click", () => void onStop());
window.addEventListener("pagehide", () => { void state.agent?.stop(true); });
void init().catch((e: unknown) => showError("#keys-status", e));
