/**
 * `npm run bench -- fhe [--quick] [--no-worker] [--memory N] [--memory-only] [--single-only] [--stream-only] [--mlp-only]`: CKKS inference benchmarks
 * (`--single-only`: one LR row, constant term vs masked sum vs rotate-and-sum, Node / wrangler dev / Miniflare → fhe-single.json;
 * `--stream-only`: 65,536 LR rows end to end with 2 and 1 encryption threads → fhe-stream.json; `--mlp-only`: the 64-16-10 MLP's
 * batch, single-row and 32,768-row stream rows, and its single row through wrangler dev and Miniflare unless --no-worker → fhe-mlp.json). Every row carries
 * `load`, the 1-minute load average when it was measured.
 *
 * - per-op times (node-seal 7, N = 8192): encode+encrypt, multiply+relin+rescale, rotate,
 *   plain-constant multiply+add, (de)serialisation, decrypt+decode;
 * - logistic regression (wdbc, trained here) and a 64-16-10 square MLP (optdigits shape,
 *   seeded weights): batch throughput (feature-major, N/2 rows per ciphertext) end to end
 *   (encrypt + evaluate + decrypt, incl. serialisation) and server-only, and single-sample
 *   latency (for the MLP: the feature-major path with one row and `mlp-single-bsgs`, the
 *   diagonal / baby-step giant-step path, side by side), in the client (Node) and through the Worker (the inference sub-app bundled with
 *   esbuild and run in workerd by Miniflare, R2 in memory);
 * - memory over N consecutive Worker requests (workerd RSS) when --memory N is given.
 */
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import path from "node:path";
import os from "node:os";
import { loadNote, type BenchResult } from "./types.ts";
import { CkksContext, type Compression } from "../client/fhe/context.ts";
import { EvaluationKeys, PlanEvaluator } from "../client/fhe/evaluator.ts";
import { compilePlan, plainScores, type DenseModel } from "../client/fhe/model.ts";
import { buildPackage, publicInfo, type ModelPackage } from "../client/fhe/package.ts";
import { isFastLinear, paramsForDepth, type CkksParams } from "../client/fhe/params.ts";
import { Querier } from "../client/fhe/querier.ts";
import { scoped, wasmMemoryBytes, type Seal } from "../client/fhe/seal.ts";
import { loadSealNode } from "../client/fhe/seal-node.ts";
import { FheSession, httpTransport, localTransport } from "../client/fhe/client.ts";
import { encodeFrame, FRAME_CONTENT_TYPE } from "../client/fhe/wire.ts";
import { seededRng } from "../protocol/rng.ts";
import { loadWdbc, trainLogReg } from "../test/unit/fhe/helpers.ts";

type Row = Record<string, string | number>;

/** The 1-minute load average now, for the row measured last (the cores are shared). */
function loadNow(): string {
  return os.loadavg()[0]!.toFixed(2);
}

/** Stamps rows measured just now that carry no load yet. */
function stamp(rows: Row[]): Row[] {
  const l = loadNow();
  for (const r of rows) r.load ??= l;
  return rows;
}

/** An array whose push stamps each row with the load at that moment (rows that carry none). */
function stamped(): Row[] {
  const a: Row[] = [];
  a.push = (...rs: Row[]) => Array.prototype.push.apply(a, stamp(rs));
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Best (minimum) of the last timed call: on a contended machine the best run is the closest to the cost. */
let lastBest = 0;

function time(reps: number, f: () => void): number {
  f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  lastBest = Math.min(...ts);
  return median(ts);
}

async function timeAsync(reps: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  lastBest = Math.min(...ts);
  return median(ts);
}

/** Median process CPU time (user + system, all threads) of `f` over `reps` calls after a warm-up: on shared cores, closer to the cost than wall time. */
function cpuTime(reps: number, f: () => void): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c = process.cpuUsage();
    f();
    const u = process.cpuUsage(c);
    ts.push((u.user + u.system) / 1000);
  }
  return median(ts);
}

/** "max |Δ| vs plaintext …, labels equal on n/n rows" for decrypted score columns (`cols[k][i]`: output k of row i). */
function accuracy(pkg: ModelPackage, rows: number[][], cols: ArrayLike<number>[]): string {
  let err = 0;
  let same = 0;
  rows.forEach((x, i) => {
    const want = plainScores(pkg.model, x);
    const got = cols.map((c) => c[i]!);
    for (let k = 0; k < got.length; k++) err = Math.max(err, Math.abs(got[k]! - want[k]!));
    if (labelOfScores(got) === labelOfScores(Array.from(want))) same++;
  });
  return `max |Δ| vs plaintext ${err.toExponential(1)}, labels equal on ${same}/${rows.length} rows`;
}

function labelOfScores(s: number[]): number {
  if (s.length === 1) return s[0]! > 0 ? 1 : 0;
  return s.reduce((best, v, k) => (v > s[best]! ? k : best), 0);
}

function perOps(seal: Seal, params: CkksParams, reps: number): Row[] {
  const ctx = CkksContext.get(seal, params);
  const q = Querier.create(ctx, { relin: true, galoisSteps: [1] });
  const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
  const label = `N${params.polyModulusDegree} q[${params.coeffModulusBits.join(",")}]`;
  const v = Float64Array.from({ length: ctx.slots }, (_, i) => Math.sin(i));
  const ctBytes = q.encryptBatch([[0]], 1)[0]!;
  const rows: Row[] = stamped();
  const add = (op: string, ms: number) => rows.push({ section: "per-op", where: "node", what: op, params: label, ms: +ms.toFixed(3), "best ms": +lastBest.toFixed(3) });
  scoped(seal, (own) => {
    const ev = ctx.evaluator;
    const pt = own(new seal.Plaintext());
    const ct = own(new seal.Ciphertext());
    const out = own(new seal.Ciphertext());
    const enc = (q as unknown as { encryptor: { encryptSymmetric(p: unknown, c: unknown): void } }).encryptor;
    add("encode+encrypt (symmetric)", time(reps, () => { ctx.encoder.encode(v, ctx.scale, pt); enc.encryptSymmetric(pt, ct); }));
    add("encode+encrypt+serialize seeded (zstd)", time(reps, () => void q.encryptBatch([[1]], 1, "zstd")));
    add("encode+encrypt+serialize seeded (none)", time(reps, () => void q.encryptBatch([[1]], 1, "none")));
    const pair = (q as unknown as { encryptPairSlow(a: Float64Array, b: Float64Array, c: unknown, o: typeof own): void });
    add("encrypt two rows per slot, one pair (slot encoder, default)", time(reps, () => void q.encryptColumns([v], [v])));
    add("encrypt two rows per slot, one pair (J product, before)", time(reps, () => scoped(seal, (o) => { pair.encryptPairSlow(v, v, ct, o); ct.saveToArray(seal.ComprModeType.none); })));
    add("multiply+relin+rescale", time(reps, () => { ev.multiply(ct, ct, out); ev.relinearizeInplace(out, keys.relin!); ev.rescaleToNextInplace(out); }));
    add("rotate (1 step, level 0)", time(reps, () => ev.rotateVector(ct, 1, keys.galois!, out)));
    const c = ctx.constantPlain(0.37, 0, ctx.scale, own);
    add("multiply by constant + add", time(reps, () => { ev.multiplyPlain(ct, c, out); ev.addInplace(out, out); }));
    add("rescale", time(reps, () => { ev.multiplyPlain(ct, c, out); ev.rescaleToNextInplace(out); }));
    add("load ciphertext (seeded zstd)", time(reps, () => scoped(seal, (o) => void ctx.loadCiphertext(ctBytes, o))));
    add("decrypt+decode", time(reps, () => void q.decrypt(ctBytes, ctx.slots)));
  });
  keys.dispose();
  q.dispose();
  return rows;
}

function seededMlp(): DenseModel {
  const b = seededRng("bench-mlp").bytes(64 * 16 + 16 * 10 + 26);
  let i = 0;
  const r = () => ((b[i++]! / 255) - 0.5) * 0.4;
  return {
    format: "2pm-dense/v1", inputDim: 64, preprocessing: null,
    layers: [
      { weights: Array.from({ length: 64 }, () => Array.from({ length: 16 }, r)), bias: Array.from({ length: 16 }, r), activation: "square" },
      { weights: Array.from({ length: 16 }, () => Array.from({ length: 10 }, r)), bias: Array.from({ length: 10 }, r), activation: "softmax" },
    ],
  };
}

function rowsFor(pkg: ModelPackage, n: number, base?: number[][]): number[][] {
  const d = pkg.model.inputDim;
  const rng = seededRng("bench-rows").bytes(n * d);
  return Array.from({ length: n }, (_, i) => base ? base[i % base.length]! : Array.from({ length: d }, (_, j) => rng[i * d + j]! / 16));
}

/** Client-side figures: in-process evaluator (what `--local` runs, and what the Worker runs). */
async function nodeModel(seal: Seal, name: string, pkg: ModelPackage, rows: number[][], reps: number, compression: Compression, opts: { featureMajorSingle?: boolean } = {}): Promise<Row[]> {
  const plan = compilePlan(pkg.model);
  const ctx = CkksContext.get(seal, pkg.ckks);
  const ev = new PlanEvaluator(ctx, plan);
  const single = plan.layers.length === 1;
  const q = Querier.create(ctx, single ? ev.needs("single") : ev.needs("batch"));
  const keys = EvaluationKeys.load(ctx, q.evaluationKeys());
  const out: Row[] = stamped();
  const p = `N${pkg.ckks.polyModulusDegree} q[${pkg.ckks.coeffModulusBits.join(",")}]`;
  const batch = rows.slice(0, ctx.slots);
  let encMs = 0, evMs = 0, decMs = 0, up = 0;
  const e2e = time(reps, () => {
    let t = performance.now();
    const cts = q.encryptBatch(batch, plan.inputDim, "none");
    encMs = performance.now() - t;
    up = cts.reduce((s, c) => s + c.length, 0);
    t = performance.now();
    const res = ev.evaluateBatch(cts, keys, compression);
    evMs = performance.now() - t;
    t = performance.now();
    for (const c of res) q.decrypt(c, batch.length);
    decMs = performance.now() - t;
  });
  const e2eBest = lastBest;
  const cts = q.encryptBatch(batch, plan.inputDim, "none");
  const server = time(reps, () => void ev.evaluateBatch(cts, keys, compression));
  out.push({ section: name, where: "node", what: `batch e2e (${batch.length} rows)`, params: p, ms: +e2e.toFixed(1), "best ms": +e2eBest.toFixed(1), "samples/s": Math.round((batch.length / e2e) * 1000), "best samples/s": Math.round((batch.length / e2eBest) * 1000), note: `last run: encrypt ${encMs.toFixed(0)} ms, eval ${evMs.toFixed(0)} ms, decrypt ${decMs.toFixed(0)} ms, upload ${(up / 2 ** 20).toFixed(1)} MiB` });
  out.push({ section: name, where: "node", what: "batch server-only", params: p, ms: +server.toFixed(1), "best ms": +lastBest.toFixed(1), "samples/s": Math.round((batch.length / server) * 1000), "best samples/s": Math.round((batch.length / lastBest) * 1000) });
  {
    // two rows per slot (complex packing, a + J·b): N rows per ciphertext, the same run (a model
    // that squares needs the conjugation key as well)
    const squares = plan.layers.some((l) => l.square);
    const qc = squares ? Querier.create(ctx, ev.needs("batch", "complex")) : q;
    const keysC = squares ? EvaluationKeys.load(ctx, qc.evaluationKeys()) : keys;
    const big = rows.length >= 2 * ctx.slots ? rows.slice(0, 2 * ctx.slots) : [...rows, ...rows].slice(0, 2 * ctx.slots);
    const e2eC = time(reps, () => {
      let t = performance.now();
      const cts = qc.encryptBatch(big, plan.inputDim, "none", "complex");
      encMs = performance.now() - t;
      up = cts.reduce((s, c) => s + c.length, 0);
      t = performance.now();
      const res = ev.evaluateBatch(cts, keysC, compression, "complex");
      evMs = performance.now() - t;
      t = performance.now();
      for (const c of res) qc.decryptPacked(c, big.length, "complex");
      decMs = performance.now() - t;
    });
    const e2eCBest = lastBest;
    const ctsC = qc.encryptBatch(big, plan.inputDim, "none", "complex");
    const acc = accuracy(pkg, big, ev.evaluateBatch(ctsC, keysC, compression, "complex").map((c) => qc.decryptPacked(c, big.length, "complex")));
    const serverC = time(reps, () => void ev.evaluateBatch(ctsC, keysC, compression, "complex"));
    const serverCBest = lastBest;
    let pooled: Row | undefined;
    if (plan.layers.length > 1) {
      // the same batch with the first layer shared by 2 evaluation threads (eval-pool.ts)
      const { EvalPool } = await import("../client/fhe/eval-pool.ts");
      const pool = await EvalPool.start(ctx.params, plan, 2);
      try {
        const kbC = qc.evaluationKeys();
        const srvP = await timeAsync(reps, () => pool.evaluateBatch(ev, keysC, kbC, "bench", ctsC, compression, "complex"));
        pooled = { section: name, where: "node", what: "batch server-only, two rows per slot, 2 evaluation threads", params: p, ms: +srvP.toFixed(1), "best ms": +lastBest.toFixed(1), "samples/s": Math.round((big.length / srvP) * 1000), "best samples/s": Math.round((big.length / lastBest) * 1000) };
      } finally {
        await pool.close();
      }
    }
    if (squares) {
      keysC.dispose();
      qc.dispose();
    }
    out.push({ section: name, where: "node", what: `batch e2e, two rows per slot (${big.length} rows)`, params: p, ms: +e2eC.toFixed(1), "best ms": +e2eCBest.toFixed(1), "samples/s": Math.round((big.length / e2eC) * 1000), "best samples/s": Math.round((big.length / e2eCBest) * 1000), note: `last run: encrypt ${encMs.toFixed(0)} ms, eval ${evMs.toFixed(0)} ms, decrypt ${decMs.toFixed(0)} ms, upload ${(up / 2 ** 20).toFixed(1)} MiB; ${acc}` });
    out.push({ section: name, where: "node", what: "batch server-only, two rows per slot", params: p, ms: +serverC.toFixed(1), "best ms": +serverCBest.toFixed(1), "samples/s": Math.round((big.length / serverC) * 1000), "best samples/s": Math.round((big.length / serverCBest) * 1000) });
    if (pooled) out.push(pooled);
  }
  const one = batch[0]!;
  /** One row through rotate-and-sum, end to end and server only; returns its ciphertext. */
  const rotateAndSum = (what: string) => {
    const lat = time(reps * 3, () => {
      const r = ev.evaluateSingle(q.encryptSingle(one, "none"), keys, compression);
      q.decrypt(r[0]!, 1);
    });
    const latBest = lastBest;
    const ct = q.encryptSingle(one, "none");
    const srv = time(reps * 3, () => void ev.evaluateSingle(ct, keys, compression));
    out.push({ section: name, where: "node", what, params: p, ms: +lat.toFixed(2), "best ms": +latBest.toFixed(2), note: `server-only median ${srv.toFixed(2)} ms, best ${lastBest.toFixed(2)} ms` });
    return ct;
  };
  if (single && isFastLinear(pkg.ckks)) {
    // no rescale in this profile: the single row stays on rotate-and-sum (evaluateMaskedSum refuses it)
    rotateAndSum("single-sample e2e (rotate-and-sum)");
  } else if (single) {
    // the earlier path (rotate-and-sum) and the default one (masked sum) on the same row, same run
    const ct1 = rotateAndSum("single-sample e2e (rotate-and-sum, before)");
    const want = Array.from(plainScores(pkg.model, one));
    const errR = Math.max(...ev.evaluateSingle(ct1, keys, compression).map((c, k) => Math.abs(q.decrypt(c, 1)[0]! - want[k]!)));
    let err = 0;
    const latM = time(reps * 5, () => {
      const r = ev.evaluateMaskedSum(q.encryptRow(one, "none"), compression);
      err = Math.max(...r.map((c, k) => Math.abs(q.decryptMaskedSum(c) - want[k]!)));
    });
    const latMBest = lastBest;
    const ctM = q.encryptRow(one, "none");
    const srvM = time(reps * 5, () => void ev.evaluateMaskedSum(ctM, compression));
    const srvMBest = lastBest;
    const encM = time(reps * 5, () => void q.encryptRow(one, "none"));
    const encMBest = lastBest;
    const resM = ev.evaluateMaskedSum(ctM, compression);
    const decM = time(reps * 5, () => void resM.forEach((c) => q.decryptMaskedSum(c)));
    out.push({ section: name, where: "node", what: "single-sample e2e (masked sum, before)", params: p, ms: +latM.toFixed(2), "best ms": +latMBest.toFixed(2), note: `no Galois keys; encrypt ${encM.toFixed(2)} (best ${encMBest.toFixed(2)}), server ${srvM.toFixed(2)} (best ${srvMBest.toFixed(2)}), decrypt ${decM.toFixed(2)} (best ${lastBest.toFixed(2)}) ms; request ${(ctM.length / 1024).toFixed(0)} KiB, response ${(resM[0]!.length / 1024).toFixed(0)} KiB; max |Δ| vs plaintext ${err.toExponential(1)} (rotate-and-sum ${errR.toExponential(1)})`, load: loadNow() });
    // the default: the same computation, replied as c1 and the constant term of c0
    let errT = 0;
    const latT = time(reps * 5, () => {
      const r = ev.evaluateConstantTerm(q.encryptRow(one, "none"));
      errT = Math.max(...r.map((c, k) => Math.abs(q.decryptConstantTerm(c) - want[k]!)));
    });
    const latTBest = lastBest;
    const srvT = time(reps * 5, () => void ev.evaluateConstantTerm(ctM));
    const srvTBest = lastBest;
    const resT = ev.evaluateConstantTerm(ctM);
    const decT = time(reps * 5, () => void resT.forEach((c) => q.decryptConstantTerm(c)));
    out.push({ section: name, where: "node", what: "single-sample e2e (constant term, default)", params: p, ms: +latT.toFixed(2), "best ms": +latTBest.toFixed(2), note: `no Galois keys; server ${srvT.toFixed(2)} (best ${srvTBest.toFixed(2)}), decrypt ${decT.toFixed(2)} (best ${lastBest.toFixed(2)}) ms; request ${(ctM.length / 1024).toFixed(0)} KiB, response ${(resT[0]!.length / 1024).toFixed(0)} KiB; max |Δ| vs plaintext ${errT.toExponential(1)}`, load: loadNow() });
  } else {
    if (opts.featureMajorSingle ?? true) {
    const lat = time(reps, () => {
      const r = ev.evaluateBatch(q.encryptBatch([one], plan.inputDim, "none"), keys, compression);
      for (const c of r) q.decrypt(c, 1);
    });
    out.push({ section: name, where: "node", what: "single-sample e2e (feature-major, 1 row)", params: p, ms: +lat.toFixed(1), "best ms": +lastBest.toFixed(1) });
    }
    if (ev.bsgs) {
      // mlp-single-bsgs: the same row, one ciphertext, diagonal products with baby-step giant-step rotations
      const qb = Querier.create(ctx, ev.needs("single"));
      const kb = qb.evaluationKeys();
      const keysB = EvaluationKeys.load(ctx, kb);
      let err = 0;
      const want = (() => {
        const r = ev.evaluateBatch(q.encryptBatch([one], plan.inputDim, "none"), keys, compression);
        return r.map((c) => q.decrypt(c, 1)[0]!);
      })();
      const latB = time(reps * 5, () => {
        const r = ev.evaluateSingle(qb.encryptBsgs(one, plan.outputDim, "none"), keysB, compression);
        const got = qb.decrypt(r[0]!, plan.outputDim);
        err = Math.max(...want.map((v, k) => Math.abs(v - got[k]!)));
      });
      const latBBest = lastBest;
      const ctB = qb.encryptBsgs(one, plan.outputDim, "none");
      const srvB = time(reps * 5, () => void ev.evaluateSingle(ctB, keysB, compression));
      const srvBBest = lastBest;
      const cpuB = cpuTime(reps * 5, () => void ev.evaluateSingle(ctB, keysB, compression));
      const keyMiB = ((kb.relin?.length ?? 0) + (kb.galois?.length ?? 0)) / 2 ** 20;
      out.push({ section: name, where: "node", what: "mlp-single-bsgs e2e (1 row, 1 ciphertext)", params: p, ms: +latB.toFixed(2), "best ms": +latBBest.toFixed(2), note: `server-only median ${srvB.toFixed(2)} ms, best ${srvBBest.toFixed(2)} ms (CPU time median ${cpuB.toFixed(2)} ms: less sensitive to other jobs on the cores); Galois steps [${ev.needs("single").galoisSteps.join(",")}], keys ${keyMiB.toFixed(1)} MiB (relin + galois); max |Δ| vs feature-major ${err.toExponential(1)}` });
      keysB.dispose();
      qb.dispose();
    }
  }
  ev.dispose();
  keys.dispose();
  q.dispose();
  return out;
}

export interface WorkerHandle {
  fetch: typeof fetch;
  /** The workerd process running the user worker (of the two `wrangler dev` starts, the one that is not the proxy). */
  pid?: number;
  dispose(): Promise<void>;
}

const INFER_ENTRY = `import { Hono } from "hono"; import { inferRoutes } from "./functions/fhe/routes.ts";
        const app = new Hono(); app.route("/v1/models", inferRoutes); export default app;`;

/** Bundles `entry` (resolved from the repo root) and the node-seal `.wasm` into a temp dir. */
async function bundleWorker(entry: string): Promise<string> {
  const esbuild = await import("esbuild");
  const root = path.resolve(import.meta.dirname, "..");
  const dir = await mkdtemp(path.join(tmpdir(), "2pm-fhe-bench-"));
  await copyFile(path.join(root, "node_modules/node-seal/dist/seal_throws.wasm"), path.join(dir, "seal_throws.wasm"));
  await esbuild.build({
    stdin: {
      contents: entry,
      resolveDir: root, sourcefile: "bench-fhe-worker.ts", loader: "ts",
    },
    bundle: true, format: "esm", platform: "neutral", target: "es2022", outfile: path.join(dir, "worker.mjs"), mainFields: ["module", "main"], conditions: ["workerd", "worker", "import"],
    external: ["node:*", "cloudflare:*", "module", "fs", "path", "url", "crypto"], logLevel: "error",
    plugins: [{ name: "wasm", setup(b) { b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "./seal_throws.wasm", external: true })); } }],
  });
  return dir;
}

/**
 * The same bundle run by Miniflare directly (workerd, in-memory R2), requests through
 * `dispatchFetch`: no `wrangler dev` proxy worker in the path, so the figure is workerd's own.
 */
export async function startMiniflare(entry = INFER_ENTRY): Promise<WorkerHandle> {
  const dir = await bundleWorker(entry);
  const { Miniflare, convertV4MiniflareOptions } = await import("miniflare");
  const mf = new Miniflare(convertV4MiniflareOptions({
    modulesRoot: dir,
    modules: [{ type: "ESModule", path: path.join(dir, "worker.mjs") }, { type: "CompiledWasm", path: path.join(dir, "seal_throws.wasm") }],
    compatibilityDate: "2026-08-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: { API_TOKEN: "bench-token" },
    r2Buckets: ["MODELS"],
  }));
  await mf.ready;
  const f = (async (input: string | URL, init?: RequestInit) => {
    const r = await mf.dispatchFetch(String(input).replace("http://bench.local", "http://localhost"), init as never);
    return new Response(new Uint8Array(await r.arrayBuffer()), { status: r.status, headers: Object.fromEntries(r.headers as unknown as Iterable<[string, string]>) });
  }) as typeof fetch;
  return { fetch: f, dispose: async () => { await mf.dispose(); await rm(dir, { recursive: true, force: true }); } };
}

/**
 * Bundles a sub-app (default: the inference routes mounted as functions/index.ts mounts them)
 * with esbuild into a temp dir, the node-seal `.wasm` beside it as a CompiledWasm module, and
 * serves it with `wrangler dev` (unstable_dev: real workerd, local R2, HTTP on localhost).
 */
export async function startWorker(entry = INFER_ENTRY): Promise<WorkerHandle> {
  const { unstable_dev } = await import("wrangler");
  const dir = await bundleWorker(entry);
  const before = new Set(childPids());
  const w = await unstable_dev(path.join(dir, "worker.mjs"), {
    bundle: false,
    compatibilityDate: "2026-08-01",
    compatibilityFlags: ["nodejs_compat"],
    vars: { API_TOKEN: "bench-token" },
    r2: [{ binding: "MODELS", bucket_name: "bench-models" }],
    rules: [{ type: "CompiledWasm", globs: ["**/*.wasm"] }],
    persist: false,
    logLevel: "error",
    experimental: { disableExperimentalWarning: true, disableDevRegistry: true, watch: false },
  } as never);
  // wrangler dev starts two workerd processes: a proxy and the one running this worker; warm
  // the worker up (one request) and take the new process with the larger RSS
  const fresh = childPids().filter((p) => !before.has(p));
  await fetch(`http://${w.address}:${w.port}/`).then((r) => r.arrayBuffer()).catch(() => undefined);
  const pid = fresh.sort((a, b) => rssKiB(b) - rssKiB(a))[0];
  const base = `http://${w.address}:${w.port}`;
  const f = ((input: string | URL, init?: RequestInit) => fetch(String(input).replace("http://bench.local", base), init)) as typeof fetch;
  return { fetch: f, pid, dispose: async () => { await w.stop(); await rm(dir, { recursive: true, force: true }); } };
}

/** workerd processes below this one (wrangler spawns workerd via its own children). */
function childPids(): number[] {
  try {
    const out = execFileSync("ps", ["-eo", "pid=,comm="], { encoding: "utf8" });
    return out.split("\n").filter((l) => l.includes("workerd")).map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return [];
  }
}

export function rssKiB(pid: number | undefined): number {
  if (!pid) return -1;
  try {
    return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim());
  } catch {
    return -1;
  }
}

async function workerModel(seal: Seal, w: WorkerHandle, name: string, pkg: ModelPackage, rows: number[][], reps: number): Promise<Row[]> {
  const base = "http://bench.local/v1/models";
  const put = await w.fetch(`${base}/${pkg.modelId}/package`, { method: "PUT", headers: { authorization: "Bearer bench-token", "content-type": "application/json" }, body: JSON.stringify(pkg) });
  if (put.status !== 201) throw new Error(`package upload failed: ${put.status} ${await put.text()}`);
  const p = `N${pkg.ckks.polyModulusDegree} q[${pkg.ckks.coeffModulusBits.join(",")}]`;
  // the session's default layout: two rows per slot for LR, one for the MLP (a full MLP batch of
  // two rows per slot is a 33.5 MB request; through `wrangler dev` the isolate dropped it)
  const s = await FheSession.open(seal, publicInfo(pkg), httpTransport(base, pkg.modelId, w.fetch, "bench-token"), { single: true });
  const out: Row[] = stamped();
  try {
    const slots = CkksContext.get(seal, pkg.ckks).slots;
    const batch = rows.slice(0, s.packing === "complex" ? 2 * slots : slots);
    const e2e = await timeAsync(reps, () => s.infer(batch, "batch"));
    out.push({ section: name, where: "workerd", what: `batch e2e via HTTP (${batch.length} rows${s.packing === "complex" ? ", two per slot" : ""}, 1 encryption thread)`, params: p, ms: +e2e.toFixed(1), "best ms": +lastBest.toFixed(1), "samples/s": Math.round((batch.length / e2e) * 1000), "best samples/s": Math.round((batch.length / lastBest) * 1000) });
    if (s.packing === "complex") {
      // the same run: two encryption threads; and one row per slot (the layout before complex packing)
      for (const [packing, threads] of [["complex", 2], ["real", 1]] as const) {
        const other = await FheSession.open(seal, publicInfo(pkg), httpTransport(base, pkg.modelId, w.fetch, "bench-token"), { single: false, packing, threads });
        try {
          const b = rows.slice(0, packing === "complex" ? 2 * slots : slots);
          const ms = await timeAsync(reps, () => other.infer(b, "batch"));
          out.push({ section: name, where: "workerd", what: `batch e2e via HTTP (${b.length} rows, ${packing === "complex" ? "two" : "one"} per slot, ${threads} encryption thread${threads > 1 ? "s" : ""})`, params: p, ms: +ms.toFixed(1), "best ms": +lastBest.toFixed(1), "samples/s": Math.round((b.length / ms) * 1000), "best samples/s": Math.round((b.length / lastBest) * 1000) });
        } finally {
          other.close();
        }
      }
    }
    const lat = await timeAsync(reps * 3, () => s.infer([rows[0]!], s.info.singleSample ? "single" : "batch"));
    out.push({ section: name, where: "workerd", what: `single-sample e2e via HTTP (${s.singlePath === "constant-term" ? "constant term, default" : s.info.singleSample ? "rotate-and-sum" : "feature-major"})`, params: p, ms: +lat.toFixed(2), "best ms": +lastBest.toFixed(2) });
    if (s.singlePath === "constant-term") {
      // the earlier single-row path in the same run (Galois keys for log2 of the padded width)
      const old = await FheSession.open(seal, publicInfo(pkg), httpTransport(base, pkg.modelId, w.fetch, "bench-token"), { single: true, linearSingle: "rotate-and-sum" });
      try {
        const ms = await timeAsync(reps * 3, () => old.infer([rows[0]!], "single"));
        out.push({ section: name, where: "workerd", what: "single-sample e2e via HTTP (rotate-and-sum, before)", params: p, ms: +ms.toFixed(2), "best ms": +lastBest.toFixed(2) });
      } finally {
        old.close();
      }
    }
    if (s.singlePath === "bsgs") {
      const latB = await timeAsync(reps * 5, () => s.infer([rows[0]!], "single"));
      out.push({ section: name, where: "workerd", what: "mlp-single-bsgs e2e via HTTP (1 row, 1 ciphertext)", params: p, ms: +latB.toFixed(2), "best ms": +lastBest.toFixed(2) });
    }
  } finally {
    s.close();
  }
  return out;
}

/** One MLP row through a Worker handle on the BSGS path (the session's default for one row of an MLP). */
async function workerMlpSingle(seal: Seal, w: WorkerHandle, where: string, pkg: ModelPackage, rows: number[][], reps: number): Promise<Row[]> {
  const base = "http://bench.local/v1/models";
  const put = await w.fetch(`${base}/${pkg.modelId}/package`, { method: "PUT", headers: { authorization: "Bearer bench-token", "content-type": "application/json" }, body: JSON.stringify(pkg) });
  if (put.status !== 201) throw new Error(`package upload failed: ${put.status} ${await put.text()}`);
  const s = await FheSession.open(seal, publicInfo(pkg), httpTransport(base, pkg.modelId, w.fetch, "bench-token"), { single: true });
  try {
    if (s.singlePath !== "bsgs") throw new Error(`expected the BSGS single-row path, got ${s.singlePath}`);
    let i = 0;
    const ms = await timeAsync(reps * 5, () => s.infer([rows[i++ % rows.length]!], "single"));
    return [{ section: "MLP 64-16-10 square", where, what: "mlp-single-bsgs e2e via HTTP (1 row, 1 ciphertext)", params: `N${pkg.ckks.polyModulusDegree} q[${pkg.ckks.coeffModulusBits.join(",")}]`, ms: +ms.toFixed(2), "best ms": +lastBest.toFixed(2), load: loadNow() }];
  } finally {
    s.close();
  }
}

/** Single-row latency of a single-layer model through a Worker handle: masked sum, then rotate-and-sum. */
async function workerSingle(seal: Seal, w: WorkerHandle, where: string, pkg: ModelPackage, rows: number[][], reps: number): Promise<Row[]> {
  const base = "http://bench.local/v1/models";
  const put = await w.fetch(`${base}/${pkg.modelId}/package`, { method: "PUT", headers: { authorization: "Bearer bench-token", "content-type": "application/json" }, body: JSON.stringify(pkg) });
  if (put.status !== 201) throw new Error(`package upload failed: ${put.status} ${await put.text()}`);
  const p = `N${pkg.ckks.polyModulusDegree} q[${pkg.ckks.coeffModulusBits.join(",")}]`;
  const out: Row[] = stamped();
  // the Worker's own Server-Timing of each infer call (model, body, keys, eval, frame), to tell
  // the route's time from the client's and the transport's
  let timings: Array<Record<string, number>> = [];
  const timed: typeof fetch = async (input, init) => {
    const t0 = performance.now();
    const r = await w.fetch(input, init);
    const st = r.headers.get("server-timing");
    if (!st || !String(input).endsWith("/infer")) return r;
    const body = new Uint8Array(await r.arrayBuffer());
    timings.push({ ...Object.fromEntries(st.split(",").map((x) => { const [n, d] = x.trim().split(";dur="); return [n!, Number(d)]; })), http: performance.now() - t0 });
    return new Response(body, { status: r.status, headers: r.headers });
  };
  for (const linearSingle of ["constant-term", "masked-sum", "rotate-and-sum"] as const) {
    const s = await FheSession.open(seal, publicInfo(pkg), httpTransport(base, pkg.modelId, timed, "bench-token"), { single: true, linearSingle });
    try {
      timings = [];
      const ms = await timeAsync(reps * 5, () => s.infer([rows[0]!], "single"));
      const parts = [...new Set(timings.flatMap((t) => Object.keys(t)))];
      const route = median(timings.map((t) => Object.entries(t).reduce((a, [k, v]) => a + (k === "http" ? 0 : v), 0)));
      const note = `medians: request/response as the client sees it ${median(timings.map((t) => t.http!)).toFixed(2)} ms, of which the route (Server-Timing, 1 ms resolution in workerd) ${route.toFixed(0)} ms: ${parts.filter((k) => k !== "http").map((k) => `${k} ${median(timings.map((t) => t[k] ?? 0)).toFixed(0)}`).join(", ")}`;
      out.push({ section: "LR wdbc", where, what: `single-sample e2e via HTTP (${linearSingle === "constant-term" ? "constant term, default" : linearSingle === "masked-sum" ? "masked sum, before" : "rotate-and-sum, before"})`, params: p, ms: +ms.toFixed(2), "best ms": +lastBest.toFixed(2), note, load: loadNow() });
    } finally {
      s.close();
    }
  }
  return out;
}

async function workerMemory(seal: Seal, w: WorkerHandle, pkg: ModelPackage, rows: number[][], n: number): Promise<Row> {
  const base = "http://bench.local/v1/models";
  const s = await FheSession.open(seal, publicInfo(pkg), httpTransport(base, pkg.modelId, w.fetch, "bench-token"), { single: true });
  try {
    const req = (i: number) => s.infer(i % 10 === 9 ? rows.slice(0, 4096) : [rows[i % rows.length]!], i % 10 === 9 ? "batch" : "single");
    for (let i = 0; i < 50; i++) await req(i); // warm-up with the same mix (WASM memory grows to its peak once)
    const checkpoints: number[] = [rssKiB(w.pid)];
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      await req(i);
      if ((i + 1) % Math.max(1, Math.floor(n / 4)) === 0) checkpoints.push(rssKiB(w.pid));
    }
    const ms = (performance.now() - t) / n;
    const growth = checkpoints[checkpoints.length - 1]! - checkpoints[0]!;
    // Control: the same bodies to the same route with an unknown key id — the Worker reads and
    // parses every body, then answers 404 before any SEAL work. Same growth ⇒ not FHE's.
    const single = encodeFrame({ v: 1, keyId: "0".repeat(64), mode: "single" }, [s.querier.encryptSingle(rows[0]!)]);
    const batch = encodeFrame({ v: 1, keyId: "0".repeat(64), mode: "batch" }, s.querier.encryptBatch(rows.slice(0, 4096), s.info.inputDim));
    const control: number[] = [rssKiB(w.pid)];
    for (let i = 0; i < n; i++) {
      const r = await w.fetch(`${base}/${pkg.modelId}/infer`, { method: "POST", headers: { authorization: "Bearer bench-token", "content-type": FRAME_CONTENT_TYPE }, body: i % 10 === 9 ? batch : single });
      await r.arrayBuffer();
      if ((i + 1) % Math.max(1, Math.floor(n / 4)) === 0) control.push(rssKiB(w.pid));
    }
    const cgrowth = control[control.length - 1]! - control[0]!;
    return { section: "memory", where: "workerd", what: `${n} consecutive requests (LR, 90% single, 10% batch of 4096)`, params: `RSS KiB ${checkpoints.join(" → ")}; control (same bodies, 404 before SEAL) ${control.join(" → ")}`, ms: +ms.toFixed(2), note: `workerd RSS growth ${growth} KiB after a 50-request warm-up; control ${cgrowth} KiB` };
  } finally {
    s.close();
  }
}

/**
 * The LR batch goal as a stream: 65,536 rows (8 ciphertext batches of 8192, two rows per slot)
 * through FheSession --local, encrypt + evaluate + decrypt (incl. serialisation and the rows'
 * probabilities and labels), with 2 encryption threads pipelined with the evaluation (the next
 * batch is encrypted while this one is evaluated and decrypted: both cores busy) and with 1.
 */
async function streamed(seal: Seal, pkg: ModelPackage, base: number[][], reps: number, o: { section?: string; n?: number; packing?: "real" | "complex"; threads?: number[]; evalThreads?: number[] } = {}): Promise<Row[]> {
  const out: Row[] = stamped();
  const n = o.n ?? 65536;
  const rows = Array.from({ length: n }, (_, i) => base[i % base.length]!);
  for (const [ti, threads] of (o.threads ?? [2, 1]).entries()) {
    const evalThreads = o.evalThreads?.[ti] ?? 1;
    const transport = localTransport(CkksContext.get(seal, pkg.ckks), compilePlan(pkg.model), { evalThreads });
    const s = await FheSession.open(seal, publicInfo(pkg), transport, { single: false, threads, packing: o.packing });
    try {
      let last: Awaited<ReturnType<FheSession["infer"]>> | undefined;
      last = await s.infer(rows, "batch"); // warm-up: starts the threads (each loads and compiles SEAL: ≈ 0.5 s of CPU)
      const ts: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let r = 0; r < reps; r++) {
        const t = performance.now();
        last = await s.infer(rows, "batch");
        ts.push(performance.now() - t);
      }
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000 / reps;
      const ms = median(ts);
      const best = Math.min(...ts);
      const acc = last ? `; ${accuracy(pkg, rows, Array.from({ length: s.info.outputDim }, (_, k) => last!.scores.map((r) => r[k]!)))}` : "";
      out.push({ section: o.section ?? "LR wdbc", where: "node", what: `batch e2e stream via FheSession --local (${n} rows, ${s.packing === "complex" ? "two per slot" : "one per slot"}, ${threads} encryption thread${threads > 1 ? "s" : ""}${evalThreads > 1 ? `, ${evalThreads} evaluation threads` : ""})`, params: `N${pkg.ckks.polyModulusDegree} q[${pkg.ckks.coeffModulusBits.join(",")}]`, ms: +ms.toFixed(1), "best ms": +best.toFixed(1), "samples/s": Math.round((n / ms) * 1000), "best samples/s": Math.round((n / best) * 1000), note: `process CPU (all threads) ${cpuMs.toFixed(0)} ms per run${acc}` });
    } finally {
      s.close();
      await transport.close();
    }
  }
  return out;
}

export async function run(args: string[]): Promise<BenchResult> {
  const quick = args.includes("--quick");
  const noWorker = args.includes("--no-worker");
  const memIdx = args.indexOf("--memory");
  const memN = memIdx >= 0 ? Number(args[memIdx + 1] ?? 1000) : 0;
  const reps = quick ? 3 : 7;
  const startLoad = loadNote("at start");
  const seal = await loadSealNode();
  const rows: Row[] = stamped();
  if (args.includes("--single-only")) {
    // one row of the wdbc LR (default profile): masked sum against rotate-and-sum, in Node, through
    // wrangler dev (HTTP via its proxy) and through Miniflare's dispatchFetch (workerd, no proxy)
    const d = loadWdbc();
    const lrPkg = await buildPackage(await trainLogReg(d, 200), { modelId: "wdbc-lr" });
    const lrRows = rowsFor(lrPkg, 64, [...d.xTrain, ...d.xTest]);
    rows.push(...(await nodeModel(seal, "LR wdbc", lrPkg, lrRows, reps, "none")).filter((r) => String(r.what).startsWith("single")));
    for (const [where, start] of [["workerd (wrangler dev)", () => startWorker()], ["workerd (Miniflare dispatchFetch)", () => startMiniflare()]] as const) {
      const w = await start();
      try {
        rows.push(...(await workerSingle(seal, w, where, lrPkg, lrRows, reps)));
      } finally {
        await w.dispose();
      }
    }
    return { name: "fhe-single", rows, notes: ["LR wdbc, default profile (q = [60, 40, 60]), one row: constant term (default), masked sum and rotate-and-sum (before) in the same run; 'load' is the 1-minute load average when the row was measured", startLoad, loadNote("at the end")] };
  }
  if (args.includes("--stream-only")) {
    const d = loadWdbc();
    const lrPkg = await buildPackage(await trainLogReg(d, 200), { modelId: "wdbc-lr" });
    rows.push(...(await streamed(seal, lrPkg, [...d.xTrain, ...d.xTest], reps)));
    return { name: "fhe-stream", rows, notes: ["LR wdbc, default profile (q = [60, 40, 60]), 65,536 rows end to end through FheSession --local; 'load' is the 1-minute load average when the row was measured", startLoad, loadNote("at the end")] };
  }
  if (args.includes("--mlp-only")) {
    // the MLP 64-16-10 rows this work changed: batch (one and two rows per slot), the single row (BSGS), and the batch goal as a stream
    const mlpPkg = await buildPackage(seededMlp(), { modelId: "mlp-64-16-10" });
    const mlpRows = rowsFor(mlpPkg, 8192);
    rows.push(...(await nodeModel(seal, "MLP 64-16-10 square", mlpPkg, mlpRows, quick ? 1 : 3, "none", { featureMajorSingle: false })));
    rows.push(...(await streamed(seal, mlpPkg, mlpRows, quick ? 2 : 3, { section: "MLP 64-16-10 square", n: 32768, packing: "complex", threads: [2, 2, 1], evalThreads: [2, 1, 1] })));
    if (!noWorker)
      for (const [where, start] of [["workerd (wrangler dev)", () => startWorker()], ["workerd (Miniflare dispatchFetch)", () => startMiniflare()]] as const) {
        const w = await start();
        try {
          rows.push(...(await workerMlpSingle(seal, w, where, mlpPkg, mlpRows, quick ? 1 : 3)));
        } finally {
          await w.dispose();
        }
      }
    return { name: "fhe-mlp", rows, notes: ["MLP 64-16-10 (x²), seeded weights, N = 8192, q = [53, 33, 33, 33, 53]; 'load' is the 1-minute load average when the row was measured", startLoad, loadNote("at the end")] };
  }
  if (args.includes("--memory-only")) {
    const d = loadWdbc();
    const lrPkg = await buildPackage(await trainLogReg(d, 50), { modelId: "wdbc-lr" });
    const w = await startWorker();
    try {
      const put = await w.fetch(`http://bench.local/v1/models/${lrPkg.modelId}/package`, { method: "PUT", headers: { authorization: "Bearer bench-token", "content-type": "application/json" }, body: JSON.stringify(lrPkg) });
      if (put.status !== 201) throw new Error(`package upload failed: ${put.status}`);
      rows.push(await workerMemory(seal, w, lrPkg, rowsFor(lrPkg, 4096, [...d.xTrain, ...d.xTest]), memN || 1000));
    } finally {
      await w.dispose();
    }
    return { name: "fhe-memory", rows };
  }
  rows.push(...perOps(seal, paramsForDepth(1), reps * 3));
  rows.push(...perOps(seal, { polyModulusDegree: 8192, coeffModulusBits: [60, 40, 40, 60], scaleBits: 40, securityLevel: 128 }, reps * 3));
  const d = loadWdbc();
  const lrPkg = await buildPackage(await trainLogReg(d, 200), { modelId: "wdbc-lr" });
  const mlpPkg = await buildPackage(seededMlp(), { modelId: "mlp-64-16-10" });
  const lrRows = rowsFor(lrPkg, 8192, [...d.xTrain, ...d.xTest]);
  const mlpRows = rowsFor(mlpPkg, 8192);
  const lrFast = await buildPackage(lrPkg.model, { modelId: "wdbc-lr-fast", profile: "fast-linear" });
  rows.push(...(await nodeModel(seal, "LR wdbc", lrPkg, lrRows, reps, "none")));
  rows.push(...(await nodeModel(seal, "LR wdbc fast-linear", lrFast, lrRows, reps, "none")));
  rows.push(...(await nodeModel(seal, "MLP 64-16-10 square", mlpPkg, mlpRows, quick ? 1 : 3, "none")));
  // --local path end to end (FheSession over the in-process transport), as `2pm infer --local` runs it:
  // two rows per slot (the session's default for a model without squares) and one row per slot
  for (const [packing, threads] of [["complex", 2], ["complex", 1], ["real", 1]] as const) {
    const s = await FheSession.open(seal, publicInfo(lrPkg), localTransport(CkksContext.get(seal, lrPkg.ckks), compilePlan(lrPkg.model)), { single: true, packing, threads });
    const n = packing === "complex" ? 8192 : 4096;
    const ms = await timeAsync(reps, () => s.infer(lrRows.slice(0, n), "batch"));
    rows.push({ section: "LR wdbc", where: "node", what: `batch e2e via FheSession --local (${n} rows, ${packing === "complex" ? "two per slot" : "one per slot"}, ${threads} encryption thread${threads > 1 ? "s" : ""})`, params: "", ms: +ms.toFixed(1), "best ms": +lastBest.toFixed(1), "samples/s": Math.round((n / ms) * 1000), "best samples/s": Math.round((n / lastBest) * 1000) });
    s.close();
  }
  rows.push(...(await streamed(seal, lrPkg, lrRows, quick ? 2 : 3)));
  rows.push(...(await streamed(seal, mlpPkg, mlpRows, quick ? 2 : 3, { section: "MLP 64-16-10 square", n: 32768, packing: "complex", threads: [2], evalThreads: [2] })));
  if (!noWorker) {
    const w = await startWorker();
    try {
      rows.push(...(await workerModel(seal, w, "LR wdbc", lrPkg, lrRows, reps)));
      rows.push(...(await workerModel(seal, w, "LR wdbc fast-linear", lrFast, lrRows, reps)));
      rows.push(...(await workerModel(seal, w, "MLP 64-16-10 square", mlpPkg, mlpRows, quick ? 1 : 3)));
      if (memN > 0) rows.push(await workerMemory(seal, w, lrPkg, lrRows, memN));
    } finally {
      await w.dispose();
    }
  }
  return {
    name: "fhe",
    rows,
    notes: [
      "anchors (node-seal 7, N=8192): rotate 3.61 ms, mul+relin+rescale 5.23 ms, encode+encrypt 5.10 ms; LR feature-major ≈ 17–18k samples/s e2e, single sample 44 ms",
      "single sample of a single-layer model: 'constant term' is the default path (one product, one rescale, no rotation, no Galois key; the reply is c1 and the constant term of c0, which carries the score); 'masked sum' (the same computation, the whole ciphertext with every other coefficient masked) and 'rotate-and-sum' the paths before, measured in the same run",
      "'load' on each row: the 1-minute load average when it was measured (2 cores, shared); 'LR batch e2e stream' is the batch goal as stated: 65,536 rows encrypted, evaluated and decrypted through FheSession --local, the encryption threads pipelined with the evaluation",
      "goals (issue 18): LR batch e2e (default profile) ≥ 100k samples/s, LR single sample ≤ 10 ms in Node and Worker, MLP 64-16-10 batch ≥ 10k samples/s, single row ≤ 100 ms",
      `client WASM memory after the run: ${(wasmMemoryBytes() / 2 ** 20).toFixed(0)} MiB`,
      `${startLoad}; ${loadNote("at the end")} (the cores may be shared with other jobs): 'ms' is the median, 'best' the fastest run, closest to the uncontended cost`,
    ],
  };
}
