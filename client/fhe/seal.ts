/**
 * Narrow adapter over node-seal 7 (Microsoft SEAL 4.1 compiled to WASM, "throws" build: any
 * operation that would produce a transparent ciphertext throws).
 *
 * - {@link loadSeal} loads the module once per isolate/process (lazy, never at import time).
 *   In Node the `.wasm` is read from node_modules; in workerd the caller passes the
 *   `WebAssembly.Module` imported as a module, and we instantiate it through Emscripten's
 *   `instantiateWasm` hook.
 * - {@link scoped} runs a function with an owner: every SEAL object passed through `own`
 *   is `delete()`d in `finally`, and every SEAL exception becomes an {@link FheError}.
 */
import type { MainModule, ClassHandle } from "node-seal/throws";
import { FheError, toFheError } from "./errors.ts";

export type Seal = MainModule;

/** How to obtain the WASM binary. Default: Node reads it next to node-seal's JS glue. */
export interface LoadSealOptions {
  /** A compiled module (workerd: `import wasm from ".../seal_throws.wasm"`). */
  wasmModule?: WebAssembly.Module;
}

let loading: Promise<Seal> | undefined;
let memory: WebAssembly.Memory | undefined;

/**
 * Returns the node-seal module, loading it on first call (memoised per isolate). Options are
 * honoured only by the first call. Throws FheError("not-initialized") if loading fails; a later
 * call retries.
 */
export function loadSeal(opts: LoadSealOptions = {}): Promise<Seal> {
  if (!loading) {
    loading = (async () => {
      const { initialize } = await import("node-seal/throws");
      const o: Record<string, unknown> = { print: () => {}, printErr: () => {} };
      const wasm = opts.wasmModule;
      // Emscripten's instantiateWasm hook has no failure callback: surface a failed
      // instantiation through this promise instead of hanging.
      let fail: (e: unknown) => void = () => {};
      const failed = new Promise<never>((_, reject) => {
        fail = reject;
      });
      if (wasm) {
        o.instantiateWasm = (imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) => {
          WebAssembly.instantiate(wasm, imports).then((inst) => {
            memory = Object.values(inst.exports).find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
            done(inst, wasm);
          }, fail);
          return {};
        };
      }
      // workerd with nodejs_compat exposes process.versions.node, so Emscripten takes its Node
      // path (createRequire(import.meta.url), fs) which fails there. Its detection reads
      // `process.type != "renderer"` synchronously at factory start: mark the process as a
      // "renderer" for that instant so the web path (our instantiateWasm, crypto.getRandomValues) runs.
      const proc = (globalThis as { process?: { type?: unknown } }).process;
      const inWorkers = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";
      const hide = !!(wasm && proc && inWorkers);
      const had = hide && Object.prototype.hasOwnProperty.call(proc, "type");
      const old = proc?.type;
      if (hide) proc!.type = "renderer";
      let pending: Promise<unknown>;
      try {
        pending = initialize(o);
      } finally {
        if (hide) {
          if (had) proc!.type = old;
          else delete proc!.type;
        }
      }
      return (await Promise.race([pending, failed])) as Seal;
    })().catch((e: unknown) => {
      loading = undefined;
      throw new FheError("not-initialized", `node-seal failed to load: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
  }
  return loading;
}

/** Something with a `delete()` (an Embind handle). */
export type Deletable = Pick<ClassHandle, "delete" | "isDeleted">;

/** Registers `x` for deletion when the enclosing {@link scoped} call ends; returns `x`. */
export type Own = <T extends Deletable>(x: T) => T;

/**
 * Runs `fn` with an owner: every object given to `own` is deleted (in reverse order) when
 * `fn` returns or throws, and any SEAL exception is rethrown as FheError(`code`).
 */
export function scoped<T>(seal: Seal, fn: (own: Own) => T, code: FheError["code"] = "seal-error"): T {
  const owned: Deletable[] = [];
  const own: Own = (x) => {
    owned.push(x);
    return x;
  };
  try {
    return fn(own);
  } catch (e) {
    throw toFheError(e, code, (x) => (seal as unknown as { getExceptionMessage?: (e: unknown) => unknown }).getExceptionMessage?.(x));
  } finally {
    for (let i = owned.length - 1; i >= 0; i--) {
      const o = owned[i]!;
      try {
        if (!o.isDeleted()) o.delete();
      } catch {
        /* already released */
      }
    }
  }
}

/**
 * Current size of the SEAL WASM linear memory in bytes (for memory-flatness checks), or -1 when
 * the module was loaded without {@link LoadSealOptions.wasmModule} (then it is not observable).
 */
export function wasmMemoryBytes(): number {
  return memory ? memory.buffer.byteLength : -1;
}
