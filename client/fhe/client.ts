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
import { CkksContext, type Compression } from "./context.ts";
import { FheError } from "./errors.ts";
import { EvaluationKeys, PlanEvaluator, singleSampleSteps } from "./evaluator.ts";
import { applyOutput, compilePlan, labelOf, type Plan } from "./model.ts";
import { checkPublicInfo, publicInfo, verifyPackage, type ModelPackage, type PublicModelInfo } from "./package.ts";
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
  /** Forgets an uploaded key set (frees its slot in the endpoint's per-model quota). */
  releaseKeys?(keyId: string): Promise<void>;
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
      if (!r.ok) throw await problemOf(r);
      return ((await r.json()) as { keyId: string }).keyId;
    },
    async releaseKeys(keyId) {
      const r = await fetchFn(`${base}/keys/${encodeURIComponent(keyId)}`, { method: "DELETE", headers: auth });
      if (!r.ok) throw await problemOf(r);
    },
    async infer(keyId, mode, cts, compression) {
      const r = await fetchFn(`${base}/infer`, { method: "POST", headers: { ...auth, "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, keyId, mode, compression }, cts) });
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
    readonly info: PublicModelInfo,
    readonly querier: Querier,
    private readonly transport: InferTransport,
    readonly keyId: string,
    readonly compression: Compression,
  ) {}

  /**
   * Checks the model's public info, generates keys (relinearisation if the model squares;
   * Galois keys for rotate-and-sum if it is single-layer and `single` is wanted) and uploads
   * the public ones. Throws FheError.
   */
  static async open(seal: Seal, model: PublicModelInfo, transport: InferTransport, opts: { single?: boolean; compression?: Compression } = {}): Promise<FheSession> {
    const info = checkPublicInfo(model);
    const ctx = CkksContext.get(seal, info.ckks);
    const single = (opts.single ?? true) && info.singleSample;
    const querier = Querier.create(ctx, { relin: info.needsRelin, galoisSteps: single ? singleSampleSteps(info.inputDim) : [] });
    try {
      const keyId = await transport.uploadKeys(querier.evaluationKeys("none"));
      return new FheSession(info, querier, transport, keyId, opts.compression ?? DEFAULT_COMPRESSION);
    } catch (e) {
      querier.dispose();
      throw e;
    }
  }

  /**
   * Encrypted inference on raw rows (the model's preprocessing is folded into its first layer
   * on the evaluator's side). One row uses rotate-and-sum when the model allows it; otherwise
   * rows go feature-major in chunks of N/2. Throws FheError.
   */
  async infer(rows: ArrayLike<number>[], mode?: InferMode): Promise<InferResult> {
    const { info, querier } = this;
    const dim = info.inputDim;
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new FheError("shape-mismatch", `row ${i} has ${r.length} features, expected ${dim}`);
      for (let j = 0; j < dim; j++) if (!Number.isFinite(r[j]!)) throw new FheError("shape-mismatch", `row ${i} feature ${j} is not a finite number`);
    });
    const useSingle = (mode ?? (rows.length === 1 ? "single" : "batch")) === "single" && querier.needs.galoisSteps.length > 0;
    const scores: Float64Array[] = [];
    if (useSingle) {
      for (const r of rows) {
        const out = await this.transport.infer(this.keyId, "single", [querier.encryptSingle(r, "none")], this.compression);
        scores.push(Float64Array.from(out, (ct) => querier.decrypt(ct, 1)[0]!));
      }
    } else {
      const slots = querier.ctx.slots;
      for (let start = 0; start < rows.length; start += slots) {
        const chunk = rows.slice(start, start + slots);
        const out = await this.transport.infer(this.keyId, "batch", querier.encryptBatch(chunk, dim, "none"), this.compression);
        if (out.length !== info.outputDim) throw new FheError("shape-mismatch", `endpoint returned ${out.length} outputs, expected ${info.outputDim}`);
        const cols = out.map((ct) => querier.decrypt(ct, chunk.length));
        for (let i = 0; i < chunk.length; i++) scores.push(Float64Array.from(cols, (c) => c[i]!));
      }
    }
    return { scores, probabilities: scores.map((s) => applyOutput(info.output, s)), labels: scores.map(labelOf), modelHash: info.hash };
  }

  /** Deletes the secret key. */
  close(): void {
    this.querier.dispose();
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
}

/** One-shot inference: public model info → keys → encrypt → endpoint (or local) → decrypt → labels. */
export async function inferRows(o: InferRowsOptions): Promise<InferResult> {
  const seal = o.seal ?? (await (await import("./seal-node.ts")).loadSealNode());
  const fetchFn = o.fetch ?? fetch;
  let info: PublicModelInfo;
  let transport: InferTransport;
  if (o.local) {
    const pkg = await verifyPackage(o.local);
    if (pkg.modelId !== o.modelId) throw new FheError("bad-model", `package is for model ${pkg.modelId}, not ${o.modelId}`);
    info = publicInfo(pkg);
    transport = localTransport(CkksContext.get(seal, pkg.ckks), compilePlan(pkg.model));
  } else {
    if (!o.baseUrl) throw new FheError("bad-model", "inferRows needs baseUrl or local");
    const r = await fetchFn(`${o.baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(o.modelId)}/package`);
    if (!r.ok) throw await problemOf(r);
    info = checkPublicInfo(await r.json());
    if (info.modelId !== o.modelId) throw new FheError("bad-model", `endpoint served model ${info.modelId}, not ${o.modelId}`);
    transport = httpTransport(o.baseUrl, o.modelId, fetchFn, o.token);
  }
  if (o.expectHash && info.hash !== o.expectHash) throw new FheError("bad-model", `model hash ${info.hash} differs from the pinned ${o.expectHash}`);
  const session = await FheSession.open(seal, info, transport, { single: o.mode !== "batch" && o.rows.length === 1, compression: o.compression });
  try {
    return await session.infer(o.rows, o.mode);
  } finally {
    session.close();
    // one-shot: free the key set's quota slot (best effort; it expires on its own otherwise)
    await transport.releaseKeys?.(session.keyId).catch(() => undefined);
  }
}
