/**
 * The FHE querier client: fetch and verify a model package, generate keys, upload the public
 * evaluation keys once, encrypt rows, call the endpoint (or evaluate in-process with
 * `--local`), decrypt, apply the exact output activation, predict.
 *
 *   const r = await inferRows({ baseUrl: "https://…/v1/models", modelId: "wdbc-lr", rows, token });
 *
 * Uploading keys and inference need the coordinator's bearer API token (`token`); the public
 * model info does not. The one-shot {@link inferRows} deletes its uploaded key set afterwards
 * (each model stores a bounded number of key sets: functions/fhe/routes.ts).
 *
 * The querier works from the model's public info (parameters, dimensions, output activation,
 * hash): it never needs, and without the API token never gets, the weights.
 *   r.labels; r.probabilities; r.scores
 */
import { CkksContext, type Compression, type Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import { ensureOk } from "../../protocol/api/problem.ts";
import { bsgsFits, bsgsKeySteps } from "./bsgs.ts";
import { EvaluationKeys, PlanEvaluator, singleSampleSteps } from "./evaluator.ts";
import { applyOutput, compilePlan, labelOf, type Plan } from "./model.ts";
import { checkPublicInfo, publicInfo, verifyPackage, type ModelPackage, type PublicModelInfo } from "./package.ts";
import { isFastLinear, paramsKey } from "./params.ts";
import { inferResponseHeaderSchema, keyIdOf } from "./protocol.ts";
import { Querier, type EvaluationKeyBytes } from "./querier.ts";
import type { EncryptPool } from "./encrypt-pool.ts";
import type { EvalPool } from "./eval-pool.ts";
import type { Seal } from "./seal.ts";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "./wire.ts";

export type InferMode = "batch" | "single";

/**
 * How one row of a multi-layer model (MLP) is scored: `"bsgs"` (default) — one ciphertext,
 * diagonal matrix–vector products with baby-step giant-step rotations (client/fhe/bsgs.ts;
 * Galois keys for the fold steps and {1, b}: 8 keys for 64-16-10 at N = 8192);
 * `"feature-major"` — the batch path with one row (no Galois keys).
 */
export type MlpSingle = "bsgs" | "feature-major";

/**
 * How one row of a single-layer model (logistic / linear regression) is scored:
 * `"constant-term"` (default; not under the fast linear profile, which has no rescale) — one
 * product and one rescale per output, no rotation and no evaluation key, and a reply of c1 and
 * the constant term of c0 only (PlanEvaluator.evaluateConstantTerm: half the masked sum's bytes);
 * `"masked-sum"` — the same computation replied as a whole ciphertext with every other
 * coefficient masked (PlanEvaluator.evaluateMaskedSum; the default before); `"rotate-and-sum"` —
 * the earliest path, log2 of the padded width rotations with Galois keys (kept for older queriers
 * and the bench).
 */
export type LinearSingle = "constant-term" | "masked-sum" | "rotate-and-sum";

/** A session's single-row path. */
export type SinglePath = LinearSingle | "bsgs";

/**
 * Which single-row path a session over `info` can use when single rows are wanted:
 * masked-sum or rotate-and-sum (single-layer, `linearSingle`), bsgs (multi-layer, shape fits,
 * not disabled), or none.
 */
export function singlePathOf(info: PublicModelInfo, mlpSingle: MlpSingle = "bsgs", slots = info.ckks.polyModulusDegree / 2, linearSingle: LinearSingle = "constant-term"): SinglePath | undefined {
  // the masked sum needs a rescale (PlanEvaluator.evaluateMaskedSum): not under the fast linear profile
  if (info.singleSample) return isFastLinear(info.ckks) ? "rotate-and-sum" : linearSingle;
  if (mlpSingle === "bsgs" && bsgsFits(info.inputDim, info.outputDim, slots)) return "bsgs";
  return undefined;
}

/** Where evaluation happens: the Worker endpoint, or in-process. */
export interface InferTransport {
  uploadKeys(keys: EvaluationKeyBytes): Promise<string>;
  /**
   * `packing` (batch mode only; default "real") tells the evaluator the slot layout; `single`
   * (single mode, single-layer models; default "rotate-and-sum") the single-row path.
   */
  infer(keyId: string, mode: InferMode, cts: Uint8Array[], compression: Compression, packing?: Packing, single?: LinearSingle): Promise<Uint8Array[]>;
  /** Forgets an uploaded key set (frees its slot in the endpoint's per-model quota). */
  releaseKeys?(keyId: string): Promise<void>;
}

/**
 * HTTP transport to `<baseUrl>/<modelId>/{keys,infer}` (baseUrl ends in /v1/models). `token` is
 * the coordinator's bearer API token, which both routes require (401 `unauthorized` without).
 */
export function httpTransport(baseUrl: string, modelId: string, fetchFn: typeof fetch = fetch, token?: string): InferTransport {
  const base = `${baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(modelId)}`;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    async uploadKeys(keys) {
      const kinds = (["relin", "galois"] as const).filter((k) => keys[k]);
      const r = await fetchFn(`${base}/keys`, { method: "POST", headers: { ...auth, "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, kinds }, kinds.map((k) => keys[k]!)) });
      await ensureOk(r, "inference endpoint");
      return ((await r.json()) as { keyId: string }).keyId;
    },
    async releaseKeys(keyId) {
      const r = await fetchFn(`${base}/keys/${encodeURIComponent(keyId)}`, { method: "DELETE", headers: auth });
      await ensureOk(r, "inference endpoint");
    },
    async infer(keyId, mode, cts, compression, packing = "real", single = "rotate-and-sum") {
      const header = { v: 1, keyId, mode, compression, ...(packing === "complex" ? { packing } : {}), ...(mode === "single" && single !== "rotate-and-sum" ? { single } : {}) };
      const r = await fetchFn(`${base}/infer`, { method: "POST", headers: { ...auth, "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame(header, cts) });
      await ensureOk(r, "inference endpoint");
      const f = decodeFrame(new Uint8Array(await r.arrayBuffer()), { maxParts: 4096, maxPartBytes: 64 * 2 ** 20 });
      inferResponseHeaderSchema.parse(f.header);
      return f.parts;
    },
  };
}

/**
 * In-process transport (`2pm infer --local`, a model holder serving itself): same evaluator.
 * With `evalThreads` > 1 (Node only) batches of a model whose first layer has several outputs
 * are evaluated by that many threads sharing the first layer (eval-pool.ts, started on the first
 * batch; same results); `close()` stops them.
 */
export function localTransport(ctx: CkksContext, plan: Plan, opts: { evalThreads?: number } = {}): InferTransport & { close(): Promise<void> } {
  const evaluator = new PlanEvaluator(ctx, plan);
  const keys = new Map<string, { loaded: EvaluationKeys; bytes: EvaluationKeyBytes }>();
  const threads = Math.min(opts.evalThreads ?? 1, plan.layers[0]!.bias.length);
  let pool: Promise<EvalPool> | undefined;
  return {
    async uploadKeys(k) {
      const id = await keyIdOf(paramsKey(ctx.params), k);
      if (!keys.has(id)) keys.set(id, { loaded: EvaluationKeys.load(ctx, k), bytes: k });
      return id;
    },
    async infer(keyId, mode, cts, compression, packing = "real", single = "rotate-and-sum") {
      const k = keys.get(keyId);
      if (!k) throw new FheError("bad-keys", "unknown key id");
      if (mode === "single" && cts.length !== 1) throw new FheError("shape-mismatch", "single mode takes one ciphertext");
      if (mode === "single") return single === "constant-term" ? evaluator.evaluateConstantTerm(cts[0]!) : single === "masked-sum" ? evaluator.evaluateMaskedSum(cts[0]!, compression) : evaluator.evaluateSingle(cts[0]!, k.loaded, compression);
      if (threads < 2) return evaluator.evaluateBatch(cts, k.loaded, compression, packing);
      pool ??= import("./eval-pool.ts").then((m) => m.EvalPool.start(ctx.params, plan, threads));
      return (await pool).evaluateBatch(evaluator, k.loaded, k.bytes, keyId, cts, compression, packing);
    },
    async close() {
      const p = pool;
      pool = undefined;
      await (await p)?.close();
    },
  };
}

export interface InferResult {
  /** Final-layer scores (logits) per row, decrypted. */
  scores: Float64Array[];
  /** Output activation applied exactly (sigmoid / softmax) per row. */
  probabilities: Float64Array[];
  /** Predicted class per row (argmax, or logit > 0 for one output). */
  labels: number[];
  modelHash: string;
}

/** A querier session bound to one model: keys generated and uploaded once, reused per call. */
export class FheSession {
  private constructor(
    readonly info: PublicModelInfo,
    readonly querier: Querier,
    private readonly transport: InferTransport,
    readonly keyId: string,
    readonly compression: Compression,
    /** The single-row path this session's keys allow (undefined: single rows go feature-major). */
    readonly singlePath: SinglePath | undefined,
    /** Batch slot layout: "complex" (two rows per slot; the default without squares) or "real". */
    readonly packing: Packing,
    /** Encryption threads for batches (Node, `threads` > 1), else undefined. */
    private readonly pool?: EncryptPool,
  ) {}

  /**
   * Checks the model's public info, generates keys (relinearisation if the model squares;
   * Galois keys when `single` is wanted: none for a single-layer model (constant term or masked sum; the
   * rotate-and-sum steps with `linearSingle: "rotate-and-sum"`), the
   * single-row MLP steps (bsgs.ts) unless `mlpSingle: "feature-major"`) and uploads the public
   * ones. Batches use two rows per slot (`packing: "complex"`, N rows per ciphertext) for a model
   * without squares unless `packing: "real"` is asked for; for a model that squares only when
   * asked (then with the conjugation key). With `threads` > 1 (Node only)
   * batches are encrypted by that many threads (encrypt-pool.ts; the next two chunks are
   * encrypted while the current one is evaluated). Throws FheError.
   */
  static async open(seal: Seal, model: PublicModelInfo, transport: InferTransport, opts: { single?: boolean; compression?: Compression; mlpSingle?: MlpSingle; linearSingle?: LinearSingle; packing?: Packing; threads?: number } = {}): Promise<FheSession> {
    const info = checkPublicInfo(model);
    const ctx = CkksContext.get(seal, info.ckks);
    const path = (opts.single ?? true) ? singlePathOf(info, opts.mlpSingle, ctx.slots, opts.linearSingle) : undefined;
    // default: two rows per slot for models without squares; for a model that squares only on
    // request (a full batch of an MLP is a large request: 8192 rows × 64 features = 33.5 MB)
    const packing: Packing = opts.packing ?? (info.needsRelin ? "real" : "complex");
    const galoisSteps = path === "rotate-and-sum" ? singleSampleSteps(info.inputDim) : path === "bsgs" ? bsgsKeySteps(info.inputDim, info.outputDim, ctx.slots) : [];
    // two rows per slot through a square: the evaluator splits them with one conjugation (Galois step 0)
    if (packing === "complex" && info.needsRelin) galoisSteps.push(0);
    const querier = Querier.create(ctx, { relin: info.needsRelin, galoisSteps });
    try {
      const keyId = await transport.uploadKeys(querier.evaluationKeys("none"));
      const pool = (opts.threads ?? 1) > 1 ? await (await import("./encrypt-pool.ts")).EncryptPool.start(querier, opts.threads!) : undefined;
      return new FheSession(info, querier, transport, keyId, opts.compression ?? DEFAULT_COMPRESSION, path, packing, pool);
    } catch (e) {
      querier.dispose();
      throw e;
    }
  }

  /**
   * Encrypted inference on raw rows (the model's preprocessing is folded into its first layer
   * on the evaluator's side). With mode "single" (the default for one row) each row is one
   * ciphertext — constant term (or masked sum, rotate-and-sum) for a single-layer model, BSGS for an MLP — when the session's
   * keys allow it; otherwise rows go feature-major in chunks of N/2 (N with two rows per slot). Throws FheError.
   */
  async infer(rows: ArrayLike<number>[], mode?: InferMode): Promise<InferResult> {
    const { info, querier } = this;
    const dim = info.inputDim;
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new FheError("shape-mismatch", `row ${i} has ${r.length} features, expected ${dim}`);
      for (let j = 0; j < dim; j++) if (!Number.isFinite(r[j]!)) throw new FheError("shape-mismatch", `row ${i} feature ${j} is not a finite number`);
    });
    const useSingle = (mode ?? (rows.length === 1 ? "single" : "batch")) === "single" && this.singlePath !== undefined && (querier.needs.galoisSteps.length > 0 || this.singlePath !== "rotate-and-sum");
    const scores: Float64Array[] = [];
    if (useSingle) {
      for (const r of rows) {
        if (this.singlePath === "masked-sum" || this.singlePath === "constant-term") {
          const path = this.singlePath;
          const out = await this.transport.infer(this.keyId, "single", [querier.encryptRow(r, "none")], this.compression, undefined, path);
          if (out.length !== info.outputDim) throw new FheError("shape-mismatch", `endpoint returned ${out.length} outputs, expected ${info.outputDim}`);
          scores.push(Float64Array.from(out, (ct) => (path === "constant-term" ? querier.decryptConstantTerm(ct) : querier.decryptMaskedSum(ct))));
          continue;
        }
        const ct = this.singlePath === "bsgs" ? querier.encryptBsgs(r, info.outputDim, "none") : querier.encryptSingle(r, "none");
        const out = await this.transport.infer(this.keyId, "single", [ct], this.compression);
        if (this.singlePath === "bsgs") {
          // one ciphertext, the logits in slots 0 … outputDim − 1
          if (out.length !== 1) throw new FheError("shape-mismatch", `endpoint returned ${out.length} outputs for a single-row MLP request, expected 1`);
          scores.push(querier.decrypt(out[0]!, info.outputDim));
        } else scores.push(Float64Array.from(out, (ct) => querier.decrypt(ct, 1)[0]!));
      }
    } else {
      const { packing, pool } = this;
      const cap = querier.capacity(packing);
      const encrypt = async (start: number) => (pool ? pool.encryptBatch(rows.slice(start, start + cap), dim, "none", packing) : querier.encryptBatch(rows.slice(start, start + cap), dim, "none", packing));
      // With threads, the next two chunks are queued for encryption while this one is evaluated
      // and decrypted (the threads never wait for this loop); without, the next chunk is
      // encrypted after this one's evaluation.
      const ahead: Promise<Uint8Array[]>[] = [];
      let queued = 0;
      const enqueue = (depth: number) => {
        while (ahead.length < depth && queued < rows.length) {
          const p = encrypt(queued);
          p.catch(() => undefined); // awaited in its turn; not an unhandled rejection meanwhile
          ahead.push(p);
          queued += cap;
        }
      };
      enqueue(1);
      for (let start = 0; start < rows.length; start += cap) {
        const chunk = rows.slice(start, start + cap);
        const cts: Uint8Array[] = await ahead.shift()!;
        if (pool) enqueue(2);
        const out = await this.transport.infer(this.keyId, "batch", cts, this.compression, packing);
        if (!pool) enqueue(1);
        if (out.length !== info.outputDim) throw new FheError("shape-mismatch", `endpoint returned ${out.length} outputs, expected ${info.outputDim}`);
        const cols = out.map((ct) => querier.decryptPacked(ct, chunk.length, packing));
        // row-major scores of the chunk in one buffer, a view per row
        const k = cols.length;
        const flat = new Float64Array(chunk.length * k);
        cols.forEach((c, o) => {
          for (let i = 0; i < chunk.length; i++) flat[i * k + o] = c[i]!;
        });
        for (let i = 0; i < chunk.length; i++) scores.push(flat.subarray(i * k, (i + 1) * k));
      }
    }
    return { scores, probabilities: scores.map((s) => applyOutput(info.output, s)), labels: scores.map(labelOf), modelHash: info.hash };
  }

  /** Deletes the secret key (and stops the encryption threads, which delete their copies). */
  close(): void {
    this.querier.dispose();
    void this.pool?.close();
  }
}

/**
 * Compression of the *returned* ciphertexts by default: none (SEAL's zstd costs more CPU than
 * the ~15 % it saves). Uploads (keys, ciphertexts) are always uncompressed: the evaluator
 * refuses compressed SEAL objects because their decompression is unbounded.
 */
export const DEFAULT_COMPRESSION: Compression = "none";

export interface InferRowsOptions {
  /** Base URL of the model routes, e.g. `https://coord.example/v1/models`. Ignored with `local`. */
  baseUrl?: string;
  /** The coordinator's bearer API token (key upload and inference require it). Ignored with `local`. */
  token?: string;
  modelId: string;
  /** Raw feature rows (not preprocessed). */
  rows: ArrayLike<number>[];
  /** Evaluate in-process with this full package instead of calling the endpoint (`--local`). */
  local?: ModelPackage;
  mode?: InferMode;
  fetch?: typeof fetch;
  compression?: Compression;
  /** Expected package hash (pin); refused if the endpoint serves another. */
  expectHash?: string;
  /** A loaded node-seal module (default: Node loader). */
  seal?: Seal;
  /**
   * Batch encryption threads (Node only; default 1, the calling thread): with 2 or more, rows
   * beyond one ciphertext batch are encrypted by a thread pool pipelined with the evaluation
   * (`FheSession.open`'s `threads`); with `local`, as many threads also share each batch's first
   * layer (`localTransport`'s `evalThreads`).
   */
  threads?: number;
}

/** One-shot inference: public model info → keys → encrypt → endpoint (or local) → decrypt → labels. */
export async function inferRows(o: InferRowsOptions): Promise<InferResult> {
  const seal = o.seal ?? (await (await import("./seal-node.ts")).loadSealNode());
  const fetchFn = o.fetch ?? fetch;
  let info: PublicModelInfo;
  let transport: InferTransport & { close?(): Promise<void> };
  if (o.local) {
    const pkg = await verifyPackage(o.local);
    if (pkg.modelId !== o.modelId) throw new FheError("bad-model", `package is for model ${pkg.modelId}, not ${o.modelId}`);
    info = publicInfo(pkg);
    transport = localTransport(CkksContext.get(seal, pkg.ckks), compilePlan(pkg.model), { evalThreads: o.threads });
  } else {
    if (!o.baseUrl) throw new FheError("bad-model", "inferRows needs baseUrl or local");
    const r = await fetchFn(`${o.baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(o.modelId)}/package`);
    await ensureOk(r, "inference endpoint");
    info = checkPublicInfo(await r.json());
    if (info.modelId !== o.modelId) throw new FheError("bad-model", `endpoint served model ${info.modelId}, not ${o.modelId}`);
    transport = httpTransport(o.baseUrl, o.modelId, fetchFn, o.token);
  }
  if (o.expectHash && info.hash !== o.expectHash) throw new FheError("bad-model", `model hash ${info.hash} differs from the pinned ${o.expectHash}`);
  const session = await FheSession.open(seal, info, transport, { single: o.mode !== "batch" && o.rows.length === 1, compression: o.compression, threads: o.threads });
  try {
    return await session.infer(o.rows, o.mode);
  } finally {
    session.close();
    // one-shot: free the key set's quota slot (best effort; it expires on its own otherwise)
    await transport.releaseKeys?.(session.keyId).catch(() => undefined);
    await transport.close?.();
  }
}
