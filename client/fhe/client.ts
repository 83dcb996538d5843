/**
 * The FHE querier client: fetch and verify a model package, generate keys, upload the public
 * evaluation keys once, encrypt rows, call the endpoint (or evaluate in-process with
 * `--local`), decrypt, apply the exact output activation, predict.
 *
 *   const r = await inferRows({ baseUrl: "https://…/v1/models", modelId: "wdbc-lr", rows });
 *   r.labels; r.probabilities; r.scores
 */
import { CkksContext, type Compression } from "./context.ts";
import { FheError } from "./errors.ts";
import { EvaluationKeys, PlanEvaluator } from "./evaluator.ts";
import { applyOutput, compilePlan, labelOf, preprocess, type Plan } from "./model.ts";
import { verifyPackage, type ModelPackage } from "./package.ts";
import { paramsKey } from "./params.ts";
import { inferResponseHeaderSchema, keyIdOf } from "./protocol.ts";
import { Querier, type EvaluationKeyBytes } from "./querier.ts";
import type { Seal } from "./seal.ts";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "./wire.ts";

export type InferMode = "batch" | "single";

/** Where evaluation happens: the Worker endpoint, or in-process. */
export interface InferTransport {
  uploadKeys(keys: EvaluationKeyBytes): Promise<string>;
  infer(keyId: string, mode: InferMode, cts: Uint8Array[], compression: Compression): Promise<Uint8Array[]>;
}

async function problemOf(r: Response): Promise<FheError> {
  let detail = `HTTP ${r.status}`;
  try {
    const p = (await r.json()) as { code?: string; detail?: string };
    detail = `${p.code ?? r.status}: ${p.detail ?? ""}`;
  } catch {
    /* not JSON */
  }
  return new FheError(r.status === 413 ? "oversized" : "bad-ciphertext", `inference endpoint refused the request (${detail})`);
}

/** HTTP transport to `<baseUrl>/<modelId>/{keys,infer}` (baseUrl ends in /v1/models). */
export function httpTransport(baseUrl: string, modelId: string, fetchFn: typeof fetch = fetch): InferTransport {
  const base = `${baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(modelId)}`;
  return {
    async uploadKeys(keys) {
      const kinds = (["relin", "galois"] as const).filter((k) => keys[k]);
      const r = await fetchFn(`${base}/keys`, { method: "POST", headers: { "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, kinds }, kinds.map((k) => keys[k]!)) });
      if (!r.ok) throw await problemOf(r);
      return ((await r.json()) as { keyId: string }).keyId;
    },
    async infer(keyId, mode, cts, compression) {
      const r = await fetchFn(`${base}/infer`, { method: "POST", headers: { "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, keyId, mode, compression }, cts) });
      if (!r.ok) throw await problemOf(r);
      const f = decodeFrame(new Uint8Array(await r.arrayBuffer()), { maxParts: 4096, maxPartBytes: 64 * 2 ** 20 });
      inferResponseHeaderSchema.parse(f.header);
      return f.parts;
    },
  };
}

/** In-process transport (`2pm infer --local`, a model holder serving itself): same evaluator. */
export function localTransport(ctx: CkksContext, plan: Plan): InferTransport {
  const evaluator = new PlanEvaluator(ctx, plan);
  const keys = new Map<string, EvaluationKeys>();
  return {
    async uploadKeys(k) {
      const id = await keyIdOf(paramsKey(ctx.params), k);
      if (!keys.has(id)) keys.set(id, EvaluationKeys.load(ctx, k));
      return id;
    },
    async infer(keyId, mode, cts, compression) {
      const k = keys.get(keyId);
      if (!k) throw new FheError("bad-keys", "unknown key id");
      return mode === "single" ? evaluator.evaluateSingle(cts[0]!, k, compression) : evaluator.evaluateBatch(cts, k, compression);
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
    readonly pkg: ModelPackage,
    readonly plan: Plan,
    readonly querier: Querier,
    private readonly transport: InferTransport,
    readonly keyId: string,
    readonly compression: Compression,
  ) {}

  /**
   * Verifies `pkg`, generates keys (relinearisation if the model squares; Galois keys for
   * rotate-and-sum if it is single-layer and `single` is wanted) and uploads the public ones.
   */
  static async open(seal: Seal, pkg: ModelPackage, transport: InferTransport, opts: { single?: boolean; compression?: Compression } = {}): Promise<FheSession> {
    const p = await verifyPackage(pkg);
    const plan = compilePlan(p.model);
    const ctx = CkksContext.get(seal, p.ckks);
    const ev = new PlanEvaluator(ctx, plan);
    const single = (opts.single ?? true) && plan.layers.length === 1;
    const needs = single ? { relin: ev.needs("single").relin, galoisSteps: ev.needs("single").galoisSteps } : ev.needs("batch");
    const querier = Querier.create(ctx, needs);
    try {
      const keyId = await transport.uploadKeys(querier.evaluationKeys(opts.compression ?? "zstd"));
      return new FheSession(p, plan, querier, transport, keyId, opts.compression ?? "zstd");
    } catch (e) {
      querier.dispose();
      throw e;
    }
  }

  /**
   * Encrypted inference on raw rows (preprocessing from the package is applied here). One
   * row uses rotate-and-sum when the model allows it; otherwise rows go feature-major in
   * chunks of N/2. Throws FheError.
   */
  async infer(rows: ArrayLike<number>[], mode?: InferMode): Promise<InferResult> {
    const { pkg, plan, querier } = this;
    const dim = pkg.model.inputDim;
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new FheError("shape-mismatch", `row ${i} has ${r.length} features, expected ${dim}`);
    });
    const pre = rows.map((r) => preprocess(pkg.model, r));
    const useSingle = (mode ?? (rows.length === 1 ? "single" : "batch")) === "single" && querier.needs.galoisSteps.length > 0;
    const scores: Float64Array[] = [];
    if (useSingle) {
      for (const r of pre) {
        const out = await this.transport.infer(this.keyId, "single", [querier.encryptSingle(r, this.compression)], this.compression);
        scores.push(Float64Array.from(out, (ct) => querier.decrypt(ct, 1)[0]!));
      }
    } else {
      const slots = querier.ctx.slots;
      for (let start = 0; start < pre.length; start += slots) {
        const chunk = pre.slice(start, start + slots);
        const out = await this.transport.infer(this.keyId, "batch", querier.encryptBatch(chunk, dim, this.compression), this.compression);
        if (out.length !== plan.outputDim) throw new FheError("shape-mismatch", `endpoint returned ${out.length} outputs, expected ${plan.outputDim}`);
        const cols = out.map((ct) => querier.decrypt(ct, chunk.length));
        for (let i = 0; i < chunk.length; i++) scores.push(Float64Array.from(cols, (c) => c[i]!));
      }
    }
    return { scores, probabilities: scores.map((s) => applyOutput(plan.output, s)), labels: scores.map(labelOf), modelHash: pkg.hash };
  }

  /** Deletes the secret key. */
  close(): void {
    this.querier.dispose();
  }
}

export interface InferRowsOptions {
  /** Base URL of the model routes, e.g. `https://coord.example/v1/models`. Ignored with `local`. */
  baseUrl?: string;
  modelId: string;
  rows: ArrayLike<number>[];
  /** Evaluate in-process with this package instead of calling the endpoint. */
  local?: ModelPackage;
  mode?: InferMode;
  fetch?: typeof fetch;
  compression?: Compression;
  /** A loaded node-seal module (default: Node loader). */
  seal?: Seal;
}

/** One-shot inference: package → keys → encrypt → endpoint (or local) → decrypt → labels. */
export async function inferRows(o: InferRowsOptions): Promise<InferResult> {
  const seal = o.seal ?? (await (await import("./seal-node.ts")).loadSealNode());
  const fetchFn = o.fetch ?? fetch;
  let pkg = o.local;
  if (!pkg) {
    if (!o.baseUrl) throw new FheError("bad-model", "inferRows needs baseUrl or local");
    const r = await fetchFn(`${o.baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(o.modelId)}/package`);
    if (!r.ok) throw await problemOf(r);
    pkg = (await r.json()) as ModelPackage;
  }
  const verified = await verifyPackage(pkg);
  if (verified.modelId !== o.modelId) throw new FheError("bad-model", `package is for model ${verified.modelId}, not ${o.modelId}`);
  const transport = o.local ? localTransport(CkksContext.get(seal, verified.ckks), compilePlan(verified.model)) : httpTransport(o.baseUrl!, o.modelId, fetchFn);
  const session = await FheSession.open(seal, verified, transport, { single: o.mode !== "batch" && o.rows.length === 1, compression: o.compression });
  try {
    return await session.infer(o.rows, o.mode);
  } finally {
    session.close();
  }
}
