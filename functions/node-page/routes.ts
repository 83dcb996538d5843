/**
 * GET /node/ (and /node): the browser node page, with a strict Content-Security-Policy: the
 * only scripts are the inlined bundle and /node/learning.js, each allowed by its SHA-256 (the
 * page loads the latter with the same hash as its integrity value), no other external
 * resource, and connections only to this origin or to another coordinator over https/wss.
 * GET /node/learning.js: the lazily loaded learning bundle (tfjs cpu).
 * GET /querier/ (and /querier): the browser querier page (CKKS in the page); its CSP admits
 * its inline script by hash and WebAssembly compilation ('wasm-unsafe-eval'), connections to
 * this origin only. GET /querier/seal.wasm: node-seal's WebAssembly for it.
 * Mounted by functions/index.ts with `.route("/", nodePageRoutes)`.
 */
import { Hono, type Context } from "hono";
import { hardening, pageCsp, scriptHash, servePage } from "../pages.ts";
import { NODE_LEARNING_SCRIPT, NODE_PAGE_SCRIPT, QUERIER_PAGE_SCRIPT } from "./bundle.ts";
import { nodePageHtml, querierPageHtml } from "./page.ts";
import { SEAL_WASM_BASE64 } from "./seal-wasm.ts";

let cached: { html: string; csp: string } | undefined;
let cachedQuerier: { html: string; csp: string } | undefined;
let wasm: Uint8Array<ArrayBuffer> | undefined;

/** The page and its CSP (computed once per isolate). */
export async function nodePage(): Promise<{ html: string; csp: string }> {
  cached ??= { html: nodePageHtml(), csp: pageCsp(`${await scriptHash(NODE_PAGE_SCRIPT)} ${await scriptHash(NODE_LEARNING_SCRIPT)}`, "'self' https: wss:") };
  return cached;
}

/** The querier page and its CSP (computed once per isolate). */
export async function querierPage(): Promise<{ html: string; csp: string }> {
  cachedQuerier ??= { html: querierPageHtml(), csp: pageCsp(`${await scriptHash(QUERIER_PAGE_SCRIPT)} 'wasm-unsafe-eval'`, "'self'") };
  return cachedQuerier;
}

/** A static asset of the pages: the common hardening headers, `type`, revalidated on every use. */
function asset(c: Context, type: string, body: string | Uint8Array<ArrayBuffer>): Response {
  hardening(c);
  c.header("content-type", type);
  c.header("cache-control", "no-cache");
  return c.body(body);
}

export const nodePageRoutes = new Hono()
  .get("/node", (c) => c.redirect("/node/", 308))
  .get("/node/", (c) => servePage(c, nodePage))
  .get("/node/learning.js", (c) => asset(c, "text/javascript; charset=utf-8", NODE_LEARNING_SCRIPT))
  .get("/querier", (c) => c.redirect("/querier/", 308))
  .get("/querier/", (c) => servePage(c, querierPage))
  .get("/querier/seal.wasm", (c) => asset(c, "application/wasm", (wasm ??= Uint8Array.from(atob(SEAL_WASM_BASE64), (ch) => ch.charCodeAt(0)))));
