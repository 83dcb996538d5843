/**
 * The browser querier's page script (served at /querier/ by functions/node-page, bundled by
 * scripts/build-browser-node.ts): load a model's public package, generate CKKS keys in the
 * page with SEAL compiled to WebAssembly (node-seal, the same adapter as the CLI), encrypt
 * the rows, have the Worker score the ciphertexts, decrypt here and show the predictions.
 *
 * The secret key is made inside SEAL's WASM memory and never leaves it: the page uploads
 * only the public relinearisation and Galois keys (client/fhe/client.ts `FheSession`) and
 * symmetric ciphertexts, and deletes the secret key when the query ends.
 */
import { inferRows, type InferResult } from "../fhe/client.ts";
import { checkPublicInfo, type PublicModelInfo } from "../fhe/package.ts";
import { loadSeal, type Seal } from "../fhe/seal.ts";
import { parseFeatureRows } from "./feature-rows.ts";
import { $, h } from "./dom.ts";

/** Set by the build: the `sha256-<base64>` of the SEAL WASM binary served at /querier/seal.wasm. */
declare const __SEAL_WASM_SHA256__: string;

const status = (s: string, cls = ""): void => { $("#q-status").appendChild(h("div", { class: cls }, `[${new Date().toISOString().slice(11, 19)}] ${s}`)); };

let info: PublicModelInfo | undefined;
let sealLoading: Promise<Seal> | undefined;

/** SEAL from /querier/seal.wasm, refused unless its SHA-256 is the one the build baked in. */
function seal(): Promise<Seal> {
  sealLoading ??= (async () => {
    const r = await fetch("/querier/seal.wasm");
    if (!r.ok) throw new Error(`could not fetch the SEAL WebAssembly (HTTP ${r.status})`);
    const bytes = await r.arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const got = `sha256-${btoa(String.fromCharCode(...digest))}`;
    if (got !== __SEAL_WASM_SHA256__) throw new Error("the SEAL WebAssembly served here does not match the page's pinned hash; refusing it");
    return loadSeal({ wasmModule: await WebAssembly.compile(bytes) });
  })().catch((e: unknown) => { sealLoading = undefined; throw e; });
  return sealLoading;
}

async function onLoadModel(): Promise<void> {
  info = undefined;
  $("#model-info").replaceChildren();
  const id = $<HTMLInputElement>("#model-id").value.trim();
  try {
    const r = await fetch(`/v1/models/${encodeURIComponent(id)}/package`);
    if (!r.ok) {
      const p = (await r.json().catch(() => ({}))) as { code?: string; detail?: string };
      throw new Error(`model ${id}: ${p.code ?? r.status}${p.detail ? `: ${p.detail}` : ""}`);
    }
    info = checkPublicInfo(await r.json());
    if (info.modelId !== id) throw new Error(`the coordinator served model ${info.modelId}, not ${id}`);
    $("#model-info").replaceChildren(
      h("div", {}, "model ", h("span", { class: "mono", id: "model-loaded" }, info.modelId), ` v${info.version}: ${info.inputDim} features → ${info.outputDim} output(s), ${info.output}`),
      h("div", { class: "mut" }, "package hash ", h("span", { class: "mono", id: "model-hash" }, info.hash)),
      h("div", { class: "mut" }, `CKKS N = ${info.ckks.polyModulusDegree}, multiplicative depth ${info.depth}${info.needsRelin ? ", relinearisation keys" : ""}`),
    );
  } catch (e) {
    $("#model-info").replaceChildren(h("div", { class: "err" }, (e as Error).message));
  }
  updateRun();
}

function updateRun(): void {
  $<HTMLButtonElement>("#run").disabled = !info;
}

async function onRowsFile(): Promise<void> {
  const f = $<HTMLInputElement>("#rows-file").files?.[0];
  if (f) $<HTMLTextAreaElement>("#rows").value = await f.text();
}

async function onRun(): Promise<void> {
  if (!info) return;
  const model = info;
  $("#results tbody").replaceChildren();
  $<HTMLButtonElement>("#run").disabled = true;
  try {
    const rows = parseFeatureRows($<HTMLTextAreaElement>("#rows").value, model.inputDim);
    const token = $<HTMLInputElement>("#token").value.trim();
    if (!token) throw new Error("the coordinator's API token is needed to upload keys and score");
    status("loading SEAL (WebAssembly, hash checked)…");
    const s = await seal();
    status(`generating CKKS keys in this page and encrypting ${rows.length} row(s); the secret key stays here`);
    const t0 = performance.now();
    const r: InferResult = await inferRows({ baseUrl: `${location.origin}/v1/models`, modelId: model.modelId, rows, token, seal: s, expectHash: model.hash });
    status(`scored ${rows.length} row(s) under encryption in ${((performance.now() - t0) / 1000).toFixed(1)} s; decrypted here; keys deleted`, "ok");
    $("#results tbody").replaceChildren(...r.labels.map((label, i) => h("tr", { "data-row": String(i) },
      h("td", {}, i + 1), h("td", { class: "label" }, label),
      h("td", {}, Array.from(r.probabilities[i]!, (p) => p.toFixed(4)).join(", ")),
      h("td", { class: "mut" }, Array.from(r.scores[i]!, (x) => x.toFixed(4)).join(", ")))));
    $("#results").setAttribute("data-count", String(r.labels.length));
  } catch (e) {
    status((e as Error).message, "err");
  } finally {
    updateRun();
  }
}

$("#load-model").addEventListener("click", () => void onLoadModel());
$("#rows-file").addEventListener("change", () => void onRowsFile());
$("#run").addEventListener("click", () => void onRun());
