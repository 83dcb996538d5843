/**
 * Bundles the browser node into functions/node-page/bundle.ts, which the Worker serves at
 * /node/ (functions/node-page):
 *  - NODE_PAGE_SCRIPT: client/browser/node-app.ts with the node agent, the MASCOT party, the
 *    relay session, the data parser and commitment; inlined in the page under a CSP hash;
 *  - NODE_LEARNING_SCRIPT: client/agent/tasks/learning.ts with tfjs (core, layers and the cpu
 *    backend only: client/browser/tfjs-cpu.ts), served at /node/learning.js and loaded by the
 *    page only when it first runs a learning round (client/browser/learning-loader.ts, which
 *    stands in for tasks/learning.ts in the main script), checked by Subresource Integrity.
 *  - QUERIER_PAGE_SCRIPT: client/browser/querier-app.ts with the FHE querier (client/fhe, node-seal's
 *    JS glue), inlined in /querier/; and functions/node-page/seal-wasm.ts: node-seal's
 *    seal_throws.wasm (base64), served at /querier/seal.wasm; the page checks its SHA-256
 *    against the value baked into the script before compiling it.
 * Run after changing any of their sources: `npx tsx scripts/build-browser-node.ts`;
 * test/unit/deploy/browser-node-bundle.test.ts fails while the committed bundle is stale.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build, type Plugin } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "..");
export const BUNDLE_FILE = path.join(ROOT, "functions/node-page/bundle.ts");
export const WASM_FILE = path.join(ROOT, "functions/node-page/seal-wasm.ts");
/** node-seal's WebAssembly (the same binary the Worker evaluates with). */
export const SEAL_WASM = path.join(ROOT, "node_modules/node-seal/dist/seal_throws.wasm");

/** The querier page has no threads and no file system: those modules are replaced by ones that throw. */
const querierStubs: Plugin = {
  name: "querier-stubs",
  setup(b) {
    b.onResolve({ filter: /\/(encrypt-pool|eval-pool|seal-node)\.ts$|^module$/ }, (a) => ({ path: a.path, namespace: "querier-stub" }));
    b.onLoad({ filter: /.*/, namespace: "querier-stub" }, () => ({
      contents: 'const no = () => { throw new Error("not available in a page"); }; export const createRequire = no, loadSealNode = no; export const EncryptPool = { start: no }; export const EvalPool = { start: no };',
      loader: "js",
    }));
    b.onResolve({ filter: /^@tensorflow\// }, (a) => ({ errors: [{ text: `${a.path} must not be in the querier page (imported by ${a.importer})` }] }));
  },
};

/** node-seal and tfjs-node have no place in a page; the full tfjs only through the cpu shim. */
const guard = (learning: boolean): Plugin => ({
  name: "browser-node-guard",
  setup(b) {
    if (learning) b.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: path.join(ROOT, "client/browser/tfjs-cpu.ts") }));
    else {
      b.onResolve({ filter: /\/tasks\/learning\.ts$/ }, () => ({ path: path.join(ROOT, "client/browser/learning-loader.ts") }));
      b.onResolve({ filter: /^@tensorflow\// }, (a) => ({ errors: [{ text: `${a.path} must not be in the page's main script (imported by ${a.importer}); learning goes in the lazy bundle` }] }));
    }
    b.onResolve({ filter: /^(node-seal|@tensorflow\/tfjs-node|@tensorflow\/tfjs-backend-webgl)/ }, (a) => ({ errors: [{ text: `${a.path} must not be bundled into the browser node (imported by ${a.importer})` }] }));
  },
});

/**
 * Bundled libraries (tfjs: tensor ids, dataset shuffles, random initialisers) call the
 * language's non-cryptographic generator; in the page scripts every such call draws from the
 * platform CSPRNG instead, so no script 2PM serves contains it (the protocol never used it).
 */
const CSPRNG_RANDOM = "__2pmCsprngRandom";
const csprngBanner = `var ${CSPRNG_RANDOM}=function(){return crypto.getRandomValues(new Uint32Array(1))[0]/4294967296};`;

const common = {
  bundle: true, format: "iife", platform: "browser", target: "es2022", minify: true, write: false, legalComments: "none", charset: "utf8", logLevel: "silent",
  define: { "Math.random": CSPRNG_RANDOM }, banner: { js: csprngBanner },
} as const;

/** SRI / CSP hash value of a script: `sha256-<base64>`. */
export function scriptHash(code: string): string {
  return `sha256-${createHash("sha256").update(code, "utf8").digest("base64")}`;
}

/** The querier page's script, pinned to the SEAL WebAssembly `wasm`. Throws on a build error. */
export async function buildQuerierScript(wasm: Uint8Array = readFileSync(SEAL_WASM)): Promise<string> {
  const q = await build({
    ...common, entryPoints: [path.join(ROOT, "client/browser/querier-app.ts")], plugins: [querierStubs],
    // node-seal's glue reads import.meta.url only on paths the page never takes (it gets the compiled module).
    define: { ...common.define, __SEAL_WASM_SHA256__: JSON.stringify(`sha256-${createHash("sha256").update(wasm).digest("base64")}`), "import.meta.url": "location.href" },
  });
  const code = q.outputFiles[0]!.text;
  if (/<\/script/i.test(code)) throw new Error("querier bundle contains </script");
  return code;
}

/** The TypeScript module holding the SEAL WebAssembly (base64). */
export function wasmModule(wasm: Uint8Array): string {
  return `// Generated by scripts/build-browser-node.ts from node-seal's seal_throws.wasm: do not edit.\n/** node-seal's seal_throws.wasm, base64, served at /querier/seal.wasm. */\nexport const SEAL_WASM_BASE64 = ${JSON.stringify(Buffer.from(wasm).toString("base64"))};\n`;
}

/** Both node scripts, minified. Throws on a build error or a script that could close its tag. */
export async function buildBrowserNodeScripts(): Promise<{ page: string; learning: string }> {
  const l = await build({ ...common, entryPoints: [path.join(ROOT, "client/browser/learning-entry.ts")], plugins: [guard(true)] });
  const learning = l.outputFiles[0]!.text;
  const p = await build({ ...common, entryPoints: [path.join(ROOT, "client/browser/node-app.ts")], plugins: [guard(false)], define: { ...common.define, __LEARNING_INTEGRITY__: JSON.stringify(scriptHash(learning)) } });
  const page = p.outputFiles[0]!.text;
  if (/<\/script/i.test(page)) throw new Error("browser node bundle contains </script");
  return { page, learning };
}

/** The TypeScript module holding the bundles. */
export function bundleModule(s: { page: string; learning: string; querier: string }): string {
  return `// Generated by scripts/build-browser-node.ts from client/browser: do not edit.\n` +
    `/** The browser node's page script, inlined by functions/node-page/page.ts. */\nexport const NODE_PAGE_SCRIPT = ${JSON.stringify(s.page)};\n` +
    `/** The learning bundle (tfjs cpu), served at /node/learning.js and loaded by the page on its first learning round. */\nexport const NODE_LEARNING_SCRIPT = ${JSON.stringify(s.learning)};\n` +
    `/** The browser querier's page script, inlined by functions/node-page/page.ts. */\nexport const QUERIER_PAGE_SCRIPT = ${JSON.stringify(s.querier)};\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const wasm = readFileSync(SEAL_WASM);
  const s = { ...(await buildBrowserNodeScripts()), querier: await buildQuerierScript(wasm) };
  writeFileSync(BUNDLE_FILE, bundleModule(s));
  writeFileSync(WASM_FILE, wasmModule(wasm));
  console.log(`${path.relative(ROOT, BUNDLE_FILE)}: node page ${s.page.length} bytes, learning ${s.learning.length} bytes, querier page ${s.querier.length} bytes; ${path.relative(ROOT, WASM_FILE)}: ${wasm.length} bytes of WebAssembly`);
}
