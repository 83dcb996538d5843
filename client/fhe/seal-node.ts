/**
 * Node-only loader: compiles node-seal's `seal_throws.wasm` from node_modules and hands it to
 * {@link loadSeal}, so the same adapter code runs in Node and in workerd. Never imported by
 * the Worker bundle.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadSeal, type Seal } from "./seal.ts";

function wasmPath(): string {
  // node-seal's exports map hides dist/; resolve its entry point and look beside it.
  try {
    const entry = fileURLToPath(import.meta.resolve("node-seal/throws"));
    const p = path.join(path.dirname(entry), "seal_throws.wasm");
    if (existsSync(p)) return p;
  } catch {
    /* fall through */
  }
  let dir = import.meta.dirname;
  for (;;) {
    const p = path.join(dir, "node_modules", "node-seal", "dist", "seal_throws.wasm");
    if (existsSync(p)) return p;
    const up = path.dirname(dir);
    if (up === dir) return p;
    dir = up;
  }
}

let node: Promise<Seal> | undefined;

/** Loads node-seal in Node (memoised). Throws FheError("not-initialized") on failure. */
export function loadSealNode(): Promise<Seal> {
  node ??= (async () => loadSeal({ wasmModule: await WebAssembly.compile(await readFile(wasmPath())) }))().catch((e: unknown) => {
    node = undefined;
    throw e;
  });
  return node;
}
