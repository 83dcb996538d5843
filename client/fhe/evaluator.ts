/**
 * Encrypted evaluation of a {@link Plan}, the same code in Node (client / `--local`) and in
 * workerd (the inference route). It never sees a secret key: it holds public evaluation keys
 * (relinearisation, Galois) only.
 *
 * Batch ("feature-major"): input ciphertext j holds feature j of up to N/2 rows, one row per
 * slot. Layer by layer, output k = Σ_j w_jk·ct_j (plaintext-constant multiplications, no
 * rotations), one rescale, + b_k; squares are rescaled, then relinearised. Weight constants
 * are encoded at scale = the prime about to be dropped, so rescaling restores the scale
 * exactly.
 *
 * Single sample ("rotate-and-sum", single-layer models only): the querier tiles its row with
 * period P = nextPow2(inputDim) over all slots; output k = rotate-and-sum over steps
 * 1, 2, …, P/2 of (tiled w_k)·ct, + b_k. Because the input is periodic every slot holds the
 * full score, so no partial sum (which would leak single weights) is ever revealed.
 *
 * Single sample, multi-layer plans (MLPs): diagonal matrix–vector products with baby-step
 * giant-step rotations over the same tiled ciphertext (bsgs.ts); one ciphertext out, the
 * logits in slots 0 … outputDim − 1. `evaluateSingle` dispatches on the plan.
 */
import type { Ciphertext, GaloisKeys, Plaintext, RelinKeys } from "node-seal/throws";
import { blockDiagonals, bsgsFits, bsgsKeySteps, bsgsTerms, rotatedPlain, nextPow2, rowPeriod, singleLayout, type BsgsBlock, type BsgsSchedule } from "./bsgs.ts";
import { assertUncompressedSeal, CkksContext, nttConstantTerms, type Compression, type Packing } from "./context.ts";
import { FheError } from "./errors.ts";
import type { Plan } from "./model.ts";
import { isFastLinear, paramsKey } from "./params.ts";
import { checkDepth } from "./package.ts";
import { intWeights, rnsLinear, weightColumns, type IntWeights } from "./rns-linear.ts";
import { scoped, type Own } from "./seal.ts";

/** Power-of-two rotation steps for rotate-and-sum over `inputDim` features. */
export function singleSampleSteps(inputDim: number): number[] {
  const steps: number[] = [];
  for (let s = 1; s < nextPow2(inputDim); s *= 2) steps.push(s);
  return steps;
}

/** Bytes of one constant-term reply ({@link PlanEvaluator.evaluateConstantTerm}) for ring degree `n` and `primes` primes at the result level. */
export function constantTermReplyBytes(n: number, primes: number): number {
  return 8 * primes + 8 * n * primes;
}

/** SEAL's Galois element for a left rotation by `step` (generator 3, SEAL 4 convention); step 0 is complex conjugation (2N − 1). */
export function galoisElt(step: number, n: number): number {
  const m = 2 * n;
  if (step === 0) return m - 1;
  let e = 1;
  for (let i = 0; i < step; i++) e = (e * 3) % m;
  return e;
}

/** Public evaluation keys loaded into SEAL (cached by key id on the server). */
export class EvaluationKeys {
  private constructor(
    readonly paramsKey: string,
    readonly relin: RelinKeys | undefined,
    readonly galois: GaloisKeys | undefined,
  ) {}

  /**
   * Loads serialised keys under `ctx` (uncompressed only), refusing anything that is not a relinearisation key
   * (exactly one key-switching key) or a Galois key set of at most log2(slots) keys.
   * Throws FheError("bad-keys" | "oversized").
   */
  static load(ctx: CkksContext, parts: { relin?: Uint8Array; galois?: Uint8Array }, maxBytes = 64 * 2 ** 20): EvaluationKeys {
    const s = ctx.seal;
    for (const [k, v] of Object.entries(parts)) {
      if (!v) continue;
      if (v.length > maxBytes) throw new FheError("oversized", `${k} key of ${v.length} bytes exceeds ${maxBytes}`);
      assertUncompressedSeal(v, "bad-keys", `${k} key`);
    }
    let relin: RelinKeys | undefined;
    let galois: GaloisKeys | undefined;
    try {
      if (parts.relin) {
        relin = new s.RelinKeys();
        scoped(s, () => relin!.loadFromArray(ctx.context, parts.relin), "bad-keys");
        if (relin.size() !== 1) throw new FheError("bad-keys", `relinearisation keys must hold 1 key, got ${relin.size()}`);
      }
      if (parts.galois) {
        galois = new s.GaloisKeys();
        scoped(s, () => galois!.loadFromArray(ctx.context, parts.galois), "bad-keys");
        if (galois.size() < 1 || galois.size() > Math.log2(ctx.slots)) throw new FheError("bad-keys", `Galois key set of ${galois.size()} keys is not allowed`);
      }
    } catch (e) {
      relin?.delete();
      galois?.delete();
      throw e instanceof FheError ? e : new FheError("bad-keys", "evaluation keys do not load under the model's parameters", { cause: e });
    }
    return new EvaluationKeys(paramsKey(ctx.params), relin, galois);
  }

  /** Whether a Galois key for a left rotation by `step` is present. */
  hasStep(step: number, n: number): boolean {
    return !!this.galois && this.galois.hasKey(galoisElt(step, n));
  }

  dispose(): void {
    if (this.relin && !this.relin.isDeleted()) this.relin.delete();
    if (this.galois && !this.galois.isDeleted()) this.galois.delete();
  }
}

/** A feature-major batch between layers: its ciphertexts (one or two rows per slot, as `complex` says). */
interface BatchState {
  cts: Ciphertext[];
  complex: boolean;
  level: number;
  /** The first layer's inputs as validated bytes (all of one scale), when its products run on the RNS data; then `cts` is empty. */
  raw?: { bytes: Uint8Array[]; scale: number };
}

/** One thread's share of a batch's first layer ({@link PlanEvaluator.evaluateFirstLayerPart}): serialised ciphertexts, and whether they hold two rows per slot. */
export interface FirstLayerPart {
  cts: Uint8Array[];
  complex: boolean;
}

export interface EvaluatorOptions {
  /** Bytes of constant plaintexts kept across requests (default 8 MiB: the Worker has 128 MiB). */
  plainCacheBytes?: number;
  /**
   * Bytes of diagonal plaintexts kept for the single-row MLP path (default 8 MiB; the optdigits
   * 64-16-10 model needs 2.3 MiB at N = 8192: one level-0 plaintext for the rotated first layer,
   * 16 level-2 diagonals). Beyond it they are encoded per request.
   */
  bsgsCacheBytes?: number;
}

/** An encrypted evaluator for one plan under one context. Reusable across requests. */
export class PlanEvaluator {
  private readonly cache = new Map<string, Plaintext>();
  private cacheBytes = 0;
  private readonly cacheLimit: number;
  private readonly bsgsCache = new Map<string, Plaintext>();
  private bsgsBytes = 0;
  private readonly bsgsLimit: number;
  private readonly bsgsBlocks = new Map<string, BsgsBlock>();
  /** Layer weights for the RNS kernel by layer, level and factor (null: the kernel does not apply). */
  private readonly intWeights = new Map<string, IntWeights | null>();
  /** Fast linear profile: one data prime, weights at 2^weightScaleBits, no rescale. */
  private readonly noRescale: boolean;

  constructor(
    readonly ctx: CkksContext,
    readonly plan: Plan,
    opts: EvaluatorOptions = {},
  ) {
    checkDepth(ctx.params, plan);
    this.noRescale = isFastLinear(ctx.params);
    if (this.noRescale) {
      // Every partial sum Σ w_j·x_j must stay below 2^(59 − scale − weightScale) — check the weights' side.
      const wmax = Math.max(...plan.layers[0]!.weights.flat().map(Math.abs), ...plan.layers[0]!.bias.map(Math.abs));
      if (wmax * 2 ** (ctx.params.scaleBits + ctx.params.weightScaleBits!) >= 2 ** 58) throw new FheError("bad-parameters", "weights too large for the fast linear profile");
    }
    this.cacheLimit = opts.plainCacheBytes ?? 8 * 2 ** 20;
    this.bsgsLimit = opts.bsgsCacheBytes ?? 8 * 2 ** 20;
  }

  /** Whether single-row requests use the diagonal / BSGS path (multi-layer plans whose shape fits). */
  get bsgs(): boolean {
    return this.plan.layers.length > 1 && bsgsFits(this.plan.inputDim, this.plan.outputDim, this.ctx.slots);
  }

  /**
   * Keys this plan needs for `mode` (and, in batch mode, `packing`: two rows per slot through a
   * square needs the conjugation key, Galois step 0).
   */
  needs(mode: "batch" | "single", packing: Packing = "real"): { relin: boolean; galoisSteps: number[] } {
    const relin = this.plan.layers.some((l) => l.square);
    const galoisSteps = mode !== "single" ? (packing === "complex" && relin ? [0] : []) : this.plan.layers.length === 1 ? singleSampleSteps(this.plan.inputDim) : bsgsKeySteps(this.plan.inputDim, this.plan.outputDim, this.ctx.slots);
    return { relin, galoisSteps };
  }

  private checkKeys(keys: EvaluationKeys, mode: "batch" | "single", packing: Packing = "real"): void {
    if (keys.paramsKey !== paramsKey(this.ctx.params)) throw new FheError("bad-keys", "evaluation keys were made for other CKKS parameters");
    const need = this.needs(mode, packing);
    if (need.relin && !keys.relin) throw new FheError("bad-keys", "this model needs relinearisation keys");
    for (const s of need.galoisSteps) if (!keys.hasStep(s, this.ctx.params.polyModulusDegree)) throw new FheError("bad-keys", s === 0 ? "missing the conjugation key (Galois step 0) that two rows per slot need through a square" : `missing Galois key for rotation step ${s}`);
  }

  /** A cached (or per-request, when over budget) constant plaintext. */
  private constant(key: string, value: number, level: number, scale: number, own: Own): Plaintext {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const bytes = this.ctx.params.polyModulusDegree * this.ctx.levels[level]!.primes.length * 8;
    if (this.cacheBytes + bytes > this.cacheLimit) return this.ctx.constantPlain(value, level, scale, own);
    const pt = this.ctx.constantPlain(value, level, scale, (x) => x); // owned by the cache
    this.cache.set(key, pt);
    this.cacheBytes += bytes;
    return pt;
  }

  /** Scale for weights at `level`: the prime about to be dropped, or 2^weightScaleBits without rescaling. */
  private weightScale(level: number): number {
    return this.noRescale ? 2 ** this.ctx.params.weightScaleBits! : this.lastPrime(level);
  }

  private lastPrime(level: number): number {
    const primes = this.ctx.levels[level]!.primes;
    return Number(primes[primes.length - 1]!);
  }

  /** A bias constant: b in every slot, or b·(1 + J) under complex packing (both rows of a slot get it). */
  private bias(key: string, b: number, level: number, scale: number, packing: Packing, own: Own): Plaintext {
    if (packing === "real") return this.constant(key, b, level, scale, own);
    const ck = `c/${key}`;
    const hit = this.cache.get(ck);
    if (hit) return hit;
    const bytes = this.ctx.params.polyModulusDegree * this.ctx.levels[level]!.primes.length * 8;
    if (this.cacheBytes + bytes > this.cacheLimit) return this.ctx.complexConstantPlain(b, b, level, scale, own);
    const pt = this.ctx.complexConstantPlain(b, b, level, scale, (x) => x); // owned by the cache
    this.cache.set(ck, pt);
    this.cacheBytes += bytes;
    return pt;
  }

  /**
   * Feature-major batch: `inputs[j]` encrypts feature j (level 0, scale Δ) of the rows, one row
   * per slot (`packing` "real") or two (`"complex"`, a + J·b, J = X^(N/2)). Under complex
   * packing every affine step keeps the two rows apart (real weights; biases added as
   * b·(1 + J)); a square would mix them, so in a layer that squares the products
   * z = Σ (w/2)·x = (u_a + J·u_b)/2 — weights encoded halved — are split, before their rescale,
   * with one conjugation (Galois step 0; conj(J) = −J): u_a = z + z̄, u_b = −J·(z − z̄) (J at
   * scale 1 costs no level); the two halves get the rescale, the bias and the square one row per
   * slot, and are packed again as h_a + J·h_b right after the square, still three-polynomial and
   * before its rescale, so that one rescale and one relinearisation serve both rows (both are
   * linear); the next layer's products then serve both rows at once (the 64-16-10
   * MLP: 160 products and 10 rescales instead of 320 and 20). Where every prime of a layer's
   * level is below 2^53, its products Σ_j w_jk·x_j run on the ciphertexts' RNS data
   * ({@link rnsLinear}: the same ciphertexts as SEAL's constant products and additions with the
   * weights rounded to c·round(w·q/c), c a power of two, 1 for the 64-16-10 MLP's second layer
   * and 8 for its first), about 6× faster than SEAL's products (with their constant plaintexts) in WASM.
   * Returns `outputDim` ciphertexts of the final scores, serialised with `compression`. Throws
   * FheError("shape-mismatch" | "bad-ciphertext" | "oversized" | "bad-keys").
   */
  evaluateBatch(inputs: Uint8Array[], keys: EvaluationKeys, compression: Compression = "none", packing: Packing = "real"): Uint8Array[] {
    if (inputs.length !== this.plan.inputDim) throw new FheError("shape-mismatch", `expected ${this.plan.inputDim} ciphertexts (one per feature), got ${inputs.length}`);
    this.checkKeys(keys, "batch", packing);
    const { ctx } = this;
    return scoped(ctx.seal, (own) => {
      const st = this.batchInputs(inputs, packing, own);
      this.plan.layers.forEach((_l, li) => this.batchLayer(st, li, keys, own));
      return this.batchOutputs(st, compression);
    });
  }

  /**
   * The first layer of {@link evaluateBatch} for its outputs `from` … `to` − 1 only (products,
   * split under complex packing, rescale, bias, square, packing again), serialised uncompressed.
   * For the evaluation threads of
   * eval-pool.ts, which share a layer's outputs; {@link evaluateBatchFromFirstLayer} continues.
   * Throws like evaluateBatch, and RangeError for an empty or out-of-bounds range.
   */
  evaluateFirstLayerPart(inputs: Uint8Array[], keys: EvaluationKeys, packing: Packing, from: number, to: number): FirstLayerPart {
    const n = this.plan.layers[0]!.bias.length;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > n || from >= to) throw new RangeError(`first-layer outputs [${from}, ${to}) are not a non-empty part of [0, ${n})`);
    if (inputs.length !== this.plan.inputDim) throw new FheError("shape-mismatch", `expected ${this.plan.inputDim} ciphertexts (one per feature), got ${inputs.length}`);
    this.checkKeys(keys, "batch", packing);
    const { ctx } = this;
    return scoped(ctx.seal, (own) => {
      const st = this.batchInputs(inputs, packing, own);
      this.batchLayer(st, 0, keys, own, from, to);
      return { cts: st.cts.map((c) => ctx.saveCiphertext(c, "none")), complex: st.complex };
    });
  }

  /**
   * The rest of {@link evaluateBatch} from the first layer's outputs: `parts` in output order
   * (each {@link evaluateFirstLayerPart}'s result for consecutive ranges covering every output,
   * under the same keys and packing). Every ciphertext must be at the level the first layer
   * leaves, size 2, with one common scale. Returns what evaluateBatch returns for the same input.
   * Throws FheError("shape-mismatch" | "bad-ciphertext" | "bad-keys").
   */
  evaluateBatchFromFirstLayer(parts: FirstLayerPart[], keys: EvaluationKeys, compression: Compression = "none", packing: Packing = "real"): Uint8Array[] {
    this.checkKeys(keys, "batch", packing);
    const { ctx, plan } = this;
    const first = plan.layers[0]!;
    const after = first.square ? 2 : 1; // the level batchLayer counts after the first layer
    const level = this.noRescale ? 0 : after; // the ciphertexts' (nothing is rescaled in the fast linear profile)
    if (parts.length < 1 || parts.some((p) => p.complex !== parts[0]!.complex)) throw new FheError("shape-mismatch", "first-layer parts disagree on their packing");
    return scoped(ctx.seal, (own) => {
      let scale = 0;
      const cts = parts.flatMap((p) =>
        p.cts.map((bytes) => {
          const ct = own(new ctx.seal.Ciphertext());
          scoped(ctx.seal, () => ct.loadFromArray(ctx.context, bytes), "bad-ciphertext");
          if (ct.size() !== 2 || ctx.levelOf(ct) !== level) throw new FheError("bad-ciphertext", `a first-layer output is not a 2-polynomial ciphertext at level ${level}`);
          scale ||= ct.scale();
          if (ct.scale() !== scale) throw new FheError("bad-ciphertext", "first-layer outputs differ in scale");
          return ct;
        }),
      );
      if (cts.length !== first.bias.length) throw new FheError("shape-mismatch", `expected ${first.bias.length} first-layer outputs, got ${cts.length}`);
      const st: BatchState = { cts, complex: parts[0]!.complex, level: after };
      for (let li = 1; li < plan.layers.length; li++) this.batchLayer(st, li, keys, own);
      return this.batchOutputs(st, compression);
    });
  }

  /**
   * Loads (so validates: {@link CkksContext.loadCiphertext}) a batch's input ciphertexts. When
   * the first layer's products run on the RNS data ({@link rnsLinear}), each is released from
   * SEAL right after its checks and the bytes are kept instead; every input must then carry the
   * first one's scale exactly (SEAL's additions would refuse differing scales). Throws
   * FheError("bad-ciphertext" | "oversized").
   */
  private batchInputs(inputs: Uint8Array[], packing: Packing, own: Own): BatchState {
    const { ctx } = this;
    const complex = packing === "complex";
    const first = this.plan.layers[0]!;
    if (!this.kernelWeights(0, 0, complex && first.square ? 0.5 : 1)) return { cts: inputs.map((b) => ctx.loadCiphertext(b, own)), complex, level: 0 };
    let scale = 0;
    const bytes = inputs.map((b) => {
      const c = ctx.loadCiphertext(b, own);
      scale ||= c.scale();
      if (c.scale() !== scale) throw new FheError("bad-ciphertext", "input ciphertexts differ in scale");
      // seeded ciphertexts (c1 as a seed) are taken with c1 as SEAL expanded it
      const full = ctx.isFullCiphertext(b, 0) ? b : ctx.saveCiphertext(c, "none");
      c.delete();
      return full;
    });
    return { cts: [], complex, level: 0, raw: { bytes, scale } };
  }

  /**
   * Layer `li`'s weights times `f` as integers at `level`'s weight scale for {@link rnsLinear}
   * (cached), or undefined where the kernel does not apply: the fast linear profile (no
   * rescale), a prime of 53 bits or more at `level`, or weights so large that the common factor
   * reaches 2^19.
   */
  private kernelWeights(li: number, level: number, f: number): IntWeights | undefined {
    const key = `${li}/${level}/${f}`;
    let w = this.intWeights.get(key);
    if (w === undefined) {
      const layer = this.plan.layers[li]!;
      const primes = this.ctx.levels[level]!.primes;
      w = null;
      if (!this.noRescale && primes.every((q) => q < 2n ** 53n)) {
        const iw = intWeights((j, k) => f * layer.weights[j]![k]!, layer.weights.length, layer.bias.length, this.weightScale(level));
        if (iw.c < 2 ** 19) w = iw;
      }
      this.intWeights.set(key, w);
    }
    return w ?? undefined;
  }

  /**
   * The products Σ_j c·a_jk·x_j for outputs `from` … `to` − 1, computed on the inputs' RNS data
   * ({@link rnsLinear}) and loaded into SEAL at scale (input scale)·`q`: the same ciphertexts as
   * SEAL's multiplyPlain + add chain with constants c·a_jk at scale `q`.
   */
  private kernelProducts(raw: { bytes: Uint8Array[]; scale: number }, w: IntWeights, level: number, q: number, from: number, to: number, own: Own): Ciphertext[] {
    const { ctx } = this;
    const scale = raw.scale * q;
    const outs = Array.from({ length: to - from }, () => ctx.blankCiphertextLike(raw.bytes[0]!, level, scale));
    const primes = ctx.levels[level]!.primes.map(Number);
    rnsLinear(raw.bytes.map((b) => ctx.ciphertextData(b, level)), weightColumns(w, from, to), primes, ctx.params.polyModulusDegree, 2, outs.map((b) => ctx.ciphertextData(b, level)));
    return outs.map((b) => ctx.loadComputed(b, level, scale, own));
  }

  /** h_a + J·h_b, elementwise (both halves at `level`, same scales and sizes); deletes the b halves. */
  private packHalves(a: Ciphertext[], b: Ciphertext[], level: number, own: Own): Ciphertext[] {
    const ev = this.ctx.evaluator;
    const j = this.unitJ(level, 1, own);
    return a.map((ha, k) => {
      const hb = b[k]!;
      ev.multiplyPlainInplace(hb, j);
      ev.addInplace(ha, hb);
      hb.delete();
      return ha;
    });
  }

  /** The final ciphertexts of a batch, serialised. */
  private batchOutputs(st: BatchState, compression: Compression): Uint8Array[] {
    return st.cts.map((c) => this.ctx.saveCiphertext(c, compression));
  }

  /**
   * Layer `li` of a feature-major batch on `st` (outputs `from` … `to` − 1; default all), in place:
   * products Σ_j w_jk·h_j ({@link batchProducts}); under complex packing a square layer splits
   * the rows (weights halved, one conjugation before the rescale) and packs them again after the
   * square, before its rescale and relinearisation; rescale, bias, square.
   */
  private batchLayer(st: BatchState, li: number, keys: EvaluationKeys, own: Own, from = 0, to?: number): void {
    const { ctx } = this;
    const ev = ctx.evaluator;
    const layer = this.plan.layers[li]!;
    const { level } = st;
    const split = st.complex && layer.square; // the halving, the split and the packing happen at this layer
    const outs = this.batchProducts(st, li, split ? 0.5 : 1, from, to ?? layer.bias.length, own);
    let halves: Ciphertext[][] = [outs];
    if (split) {
      // before the rescale: the conjugation's key-switching noise is then 2^bits below the
      // scale Δ·q and vanishes in the rescale (after it, at one prime fewer, the conjugation
      // is a third cheaper, but its noise at scale Δ, amplified by the square, measured a
      // 2–7× larger error on the 64-16-10 MLP)
      const negJ = this.unitJ(level, -1, own);
      const a: Ciphertext[] = [];
      const b: Ciphertext[] = [];
      for (const z of outs) {
        const zc = own(new ctx.seal.Ciphertext());
        ev.complexConjugate(z, keys.galois!, zc);
        const hb = own(new ctx.seal.Ciphertext());
        ev.sub(z, zc, hb);
        ev.multiplyPlainInplace(hb, negJ);
        ev.addInplace(z, zc);
        zc.delete();
        a.push(z);
        b.push(hb);
      }
      halves = [a, b];
    }
    const lv = this.noRescale ? level : level + 1;
    const packing: Packing = st.complex && !split ? "complex" : "real";
    for (const s of halves)
      s.forEach((acc, i) => {
        const k = from + i;
        if (!this.noRescale) ev.rescaleToNextInplace(acc);
        ev.addPlainInplace(acc, this.bias(`${li}/b/${k}/${acc.scale()}`, layer.bias[k]!, lv, acc.scale(), packing, own));
        if (split) ev.squareInplace(acc);
        else if (layer.square) this.squareDown(acc, keys);
      });
    st.level += layer.square ? 2 : 1;
    if (split) {
      // pack the squares (three-polynomial, before their rescale) and rescale and relinearise
      // once per pair: both steps are linear, so h_a + J·h_b comes out as packing the halves
      // after them would give (one rounding instead of two), at half the cost
      st.cts = this.packHalves(halves[0]!, halves[1]!, st.level - 1, own);
      for (const c of st.cts) {
        ev.rescaleToNextInplace(c);
        ev.relinearizeInplace(c, keys.relin!);
      }
    } else st.cts = outs;
  }

  /**
   * The products Σ_j f·w_jk·h_j (scale Δ·q, not yet rescaled) of layer `li` for outputs `from` …
   * `to` − 1, consuming `st`'s ciphertexts: on the RNS data ({@link kernelProducts}) where the
   * kernel applies (from the input bytes batchInputs kept, or from the ciphertexts serialised
   * when they share one scale), else SEAL's constant products and additions.
   */
  private batchProducts(st: BatchState, li: number, f: number, from: number, to: number, own: Own): Ciphertext[] {
    const { ctx } = this;
    const ev = ctx.evaluator;
    const layer = this.plan.layers[li]!;
    const { level } = st;
    const q = this.weightScale(level);
    const kw = this.kernelWeights(li, level, f);
    let raw = st.raw;
    st.raw = undefined;
    const h = st.cts;
    if (kw && !raw && h.length > 0 && h.every((c) => c.scale() === h[0]!.scale())) raw = { bytes: h.map((c) => ctx.saveCiphertext(c, "none")), scale: h[0]!.scale() };
    let outs: Ciphertext[];
    if (raw) {
      if (!kw) throw new FheError("seal-error", "the batch's inputs were not loaded for this layer");
      outs = this.kernelProducts(raw, kw, level, q, from, to, own);
    } else {
      const tag = f !== 1 ? "/half" : "";
      const tmp = own(new ctx.seal.Ciphertext());
      outs = [];
      for (let k = from; k < to; k++) {
        const acc = own(new ctx.seal.Ciphertext());
        for (let j = 0; j < h.length; j++) {
          const w = this.constant(`${li}/${j}/${k}${tag}`, f * layer.weights[j]![k]!, level, q, own);
          if (j === 0) ev.multiplyPlain(h[j]!, w, acc);
          else {
            ev.multiplyPlain(h[j]!, w, tmp);
            ev.addInplace(acc, tmp);
          }
        }
        outs.push(acc);
      }
      tmp.delete();
    }
    for (const c of h) c.delete();
    st.cts = [];
    return outs;
  }

  /**
   * x ↦ x², one level down: square, rescale, then relinearise — the key switch runs at the next
   * level, one prime fewer (for the 64-16-10 MLP: two primes instead of three; the square step
   * measured 20 % faster), with noise far below one unit of the scale either way (the plans'
   * tests hold their 1e-3 tolerance, deeper MLPs included). SEAL rescales the three-polynomial
   * product like any ciphertext.
   */
  private squareDown(c: Ciphertext, keys: EvaluationKeys): void {
    const ev = this.ctx.evaluator;
    ev.squareInplace(c);
    ev.rescaleToNextInplace(c);
    ev.relinearizeInplace(c, keys.relin!);
  }

  /** ±J (= ±X^(N/2)) at `level`, scale 1 (a product with it keeps the scale), cached. */
  private unitJ(level: number, sign: 1 | -1, own: Own): Plaintext {
    const key = `J/${level}/${sign}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const bytes = this.ctx.params.polyModulusDegree * this.ctx.levels[level]!.primes.length * 8;
    if (this.cacheBytes + bytes > this.cacheLimit) return this.ctx.complexConstantPlain(0, sign, level, 1, own);
    const pt = this.ctx.complexConstantPlain(0, sign, level, 1, (x) => x); // owned by the cache
    this.cache.set(key, pt);
    this.cacheBytes += bytes;
    return pt;
  }

  /**
   * Single sample, rotate-and-sum: `input` encrypts the row tiled with period
   * nextPow2(inputDim). Only for single-layer plans. Returns `outputDim` ciphertexts whose
   * every slot holds the score. Throws like {@link evaluateBatch}.
   */
  evaluateSingle(input: Uint8Array, keys: EvaluationKeys, compression: Compression = "none"): Uint8Array[] {
    if (this.plan.layers.length !== 1) {
      if (!this.bsgs) throw new FheError("shape-mismatch", "single-sample mode for this model's shape is not supported; use batch mode with one row");
      return this.evaluateBsgs(input, keys, compression);
    }
    this.checkKeys(keys, "single");
    const { ctx, plan } = this;
    const ev = ctx.evaluator;
    const layer = plan.layers[0]!;
    const period = nextPow2(plan.inputDim);
    const q = this.weightScale(0);
    return scoped(ctx.seal, (own) => {
      const x = ctx.loadCiphertext(input, own);
      const rot = own(new ctx.seal.Ciphertext());
      const out: Uint8Array[] = [];
      for (let k = 0; k < layer.bias.length; k++) {
        let w = this.cache.get(`single/${k}`);
        if (!w) {
          const tiled = new Float64Array(ctx.slots);
          for (let i = 0; i < ctx.slots; i++) tiled[i] = (i % period) < plan.inputDim ? layer.weights[i % period]![k]! : 0;
          // An all-zero weight vector would encode to a zero plaintext (transparent product):
          // use the constant 1/q instead, an error of 2^-bits.
          const zero = tiled.every((v) => Math.abs(v * q) < 1);
          w = zero ? ctx.constantPlain(0, 0, q, (p) => p) : ctx.encode(tiled, (p) => p, q); // owned by the cache
          this.cache.set(`single/${k}`, w);
          this.cacheBytes += ctx.params.polyModulusDegree * ctx.levels[0]!.primes.length * 8;
        }
        const acc = own(new ctx.seal.Ciphertext());
        ev.multiplyPlain(x, w, acc);
        if (!this.noRescale) ev.rescaleToNextInplace(acc);
        for (let s = 1; s < period; s *= 2) {
          ev.rotateVector(acc, s, keys.galois!, rot);
          ev.addInplace(acc, rot);
        }
        ev.addPlainInplace(acc, this.constant(`single/b/${k}/${acc.scale()}`, layer.bias[k]!, this.noRescale ? 0 : 1, acc.scale(), own));
        out.push(ctx.saveCiphertext(acc, compression));
      }
      return out;
    });
  }

  /**
   * Single sample, masked sum (single-layer plans; the default single-row path): no rotation
   * and no evaluation key. `input` encrypts the row in slots 0 … inputDim − 1
   * ({@link Querier.encryptRow}). Per output k: the product with w_k (slots 0 … inputDim − 1,
   * zero elsewhere, so slot contents beyond the row never count), a rescale, and the addition of
   * a fresh uniformly random plaintext ({@link CkksContext.maskPlain}) whose constant
   * coefficient is the bias term. The constant coefficient c0 of the product's polynomial is
   * (2·scale/N)·Σ_slots = (2·scale/N)·Σ_j w_jk·x_j (the N NTT points are the slots and their
   * conjugates); every other coefficient of the result is uniformly random, so the querier's
   * decryption reveals c0 — the score — and nothing else of the slots (no partial sum w_j·x_j).
   * The querier reads it with {@link Querier.decryptMaskedSum}. c0 sums the noise of every slot
   * (N/2 of them, not only the row's), so the product must be rescaled: not for the fast linear
   * profile (no level to rescale to; measured error 0.11 on wdbc against rotate-and-sum's 4e-3).
   * Returns `outputDim` ciphertexts. Throws FheError("shape-mismatch" for multi-layer plans |
   * "bad-parameters" for the fast linear profile | "bad-ciphertext" | "oversized").
   */
  evaluateMaskedSum(input: Uint8Array, compression: Compression = "none"): Uint8Array[] {
    this.requireSingleRowPlan("masked-sum");
    const { ctx, plan } = this;
    const ev = ctx.evaluator;
    const layer = plan.layers[0]!;
    const q = this.weightScale(0);
    const n = ctx.params.polyModulusDegree;
    return scoped(ctx.seal, (own) => {
      const x = ctx.loadCiphertext(input, own);
      const out: Uint8Array[] = [];
      for (let k = 0; k < layer.bias.length; k++) {
        const acc = own(new ctx.seal.Ciphertext());
        ev.multiplyPlain(x, this.sumWeights(k, q), acc);
        if (!this.noRescale) ev.rescaleToNextInplace(acc);
        const level = this.noRescale ? 0 : 1;
        const shift = BigInt(Math.round((layer.bias[k]! * 2 * acc.scale()) / n));
        ev.addPlainInplace(acc, ctx.maskPlain(shift, level, acc.scale(), own));
        out.push(ctx.saveCiphertext(acc, compression));
      }
      return out;
    });
  }

  /**
   * Single sample, constant-term reply (single-layer plans; the default single-row path of current
   * queriers): the masked sum's computation — product with w_k, rescale, bias in the constant
   * coefficient — but instead of masking every other coefficient of c0 with fresh randomness and
   * sending the whole ciphertext, only what the querier needs to read the constant coefficient of
   * c0 + c1·s is sent: c1 and the constant coefficient of c0. That is strictly less than the
   * masked reply (whose other c0 coefficients are uniform and independent, so the querier could
   * make them up), half its bytes, and no mask to draw. Per output, one part of
   * {@link constantTermReplyBytes} bytes: the constant term of c0 per prime of the result level
   * (u64 LE, in [0, q)), then c1 in NTT form as SEAL stores it (per prime, N u64 LE). The querier
   * reads it with {@link Querier.decryptConstantTerm}. Throws like {@link evaluateMaskedSum}.
   */
  evaluateConstantTerm(input: Uint8Array): Uint8Array[] {
    this.requireSingleRowPlan("constant-term");
    const { ctx, plan } = this;
    const ev = ctx.evaluator;
    const layer = plan.layers[0]!;
    const q = this.weightScale(0);
    const n = ctx.params.polyModulusDegree;
    const primes = ctx.levels[1]!.primes;
    const polyBytes = 8 * n * primes.length;
    return scoped(ctx.seal, (own) => {
      const x = ctx.loadCiphertext(input, own);
      const acc = own(new ctx.seal.Ciphertext());
      return layer.bias.map((b, k) => {
        ev.multiplyPlain(x, this.sumWeights(k, q), acc);
        ev.rescaleToNextInplace(acc);
        const bytes = ctx.saveCiphertext(acc, "none");
        const c0 = bytes.byteLength - 2 * polyBytes; // the data (c0, then c1) ends the serialisation
        if (c0 < 0 || ctx.levelOf(acc) !== 1) throw new FheError("seal-error", "unexpected ciphertext layout after the rescale");
        const terms = nttConstantTerms(new Uint32Array(bytes.buffer.slice(bytes.byteOffset + c0, bytes.byteOffset + c0 + polyBytes)), n, primes);
        const shift = BigInt(Math.round((b * 2 * acc.scale()) / n));
        const out = new Uint8Array(constantTermReplyBytes(n, primes.length));
        const dv = new DataView(out.buffer);
        terms.forEach((t, i) => dv.setBigUint64(8 * i, (((t + shift) % primes[i]!) + primes[i]!) % primes[i]!, true));
        out.set(bytes.subarray(c0 + polyBytes, c0 + 2 * polyBytes), 8 * primes.length);
        return out;
      });
    });
  }

  /** The single-row reply paths need a single-layer plan and a rescale. Throws FheError "shape-mismatch" | "bad-parameters" naming `path`. */
  private requireSingleRowPlan(path: string): void {
    if (this.plan.layers.length !== 1) throw new FheError("shape-mismatch", `the ${path} single-sample path is for single-layer models only`);
    if (this.noRescale) throw new FheError("bad-parameters", `the ${path} single-sample path needs a rescale; the fast linear profile uses rotate-and-sum`);
  }

  /** w_k in slots 0 … inputDim − 1 at level 0, scale `q` (cached; the masked-sum and constant-term paths). */
  private sumWeights(k: number, q: number): Plaintext {
    const { ctx, plan } = this;
    let w = this.cache.get(`sum/${k}`);
    if (!w) {
      const layer = plan.layers[0]!;
      const v = Float64Array.from({ length: plan.inputDim }, (_, j) => layer.weights[j]![k]!);
      // An all-zero weight vector would encode to a zero plaintext (transparent product):
      // use the constant 1/q instead (≈ 2^-bits times the sum of the input's slots).
      const zero = v.every((a) => Math.abs(a * q) < 1);
      w = zero ? ctx.constantPlain(0, 0, q, (p) => p) : ctx.encode(v, (p) => p, q); // owned by the cache
      this.cache.set(`sum/${k}`, w);
      this.cacheBytes += ctx.params.polyModulusDegree * ctx.levels[0]!.primes.length * 8;
    }
    return w;
  }

  /** BSGS terms of block (ob, ib) of layer `li` (JS data, cached). */
  private block(li: number, ob: number, ib: number, pIn: number, period: number, s: BsgsSchedule): BsgsBlock {
    const key = `${li}/${ob}/${ib}/${pIn}/${period}`;
    let b = this.bsgsBlocks.get(key);
    if (!b) {
      b = bsgsTerms(blockDiagonals(this.plan.layers[li]!.weights, ob, ib, s.d, pIn, period), s);
      this.bsgsBlocks.set(key, b);
    }
    return b;
  }

  /**
   * A vector (length dividing the slot count) tiled over every slot, encoded at `level` with
   * `scale`; cached under `key` within the BSGS budget. A vector rounding to 0 everywhere becomes
   * the constant 1/scale (never a transparent product).
   */
  private tiledPlain(key: string, make: () => Float64Array, level: number, scale: number, own: Own): Plaintext {
    const hit = this.bsgsCache.get(key);
    if (hit) return hit;
    const { ctx } = this;
    const v = make();
    if (v.every((x) => Math.abs(x * scale) < 0.5)) return this.constant(`bsgs/zero/${level}/${scale}`, 0, level, scale, own);
    const tiled = v.length === ctx.slots ? v : new Float64Array(ctx.slots);
    if (tiled !== v) for (let t = 0; t < tiled.length; t++) tiled[t] = v[t % v.length]!;
    const bytes = ctx.params.polyModulusDegree * ctx.levels[level]!.primes.length * 8;
    const keep = this.bsgsBytes + bytes <= this.bsgsLimit;
    const pt = ctx.encode(tiled, keep ? (p) => p : own, scale);
    for (let l = 0; l < level; l++) ctx.evaluator.plainModSwitchToNextInplace(pt);
    if (keep) {
      this.bsgsCache.set(key, pt);
      this.bsgsBytes += bytes;
    }
    return pt;
  }

  /**
   * Single row through a multi-layer plan (bsgs.ts). `input` is {@link Querier.encryptBsgs}'s
   * ciphertext: the rotated replication when D² ≤ slots (first layer = one product + a fold of
   * log2 D rotations), else the row tiled with period nextPow2(inputDim) (first layer by BSGS).
   * Later layers: Σ_i rot(Σ_j rot(diag_{jb+i}, −i) ⊙ rot(x, jb), i) per D × D block (giant
   * steps of b chained on the input; each partial sum rescaled, then Horner steps of 1 one level
   * down, where a rotation costs about half); + bias, square if the plan says so.
   * Returns one ciphertext, logits in slots 0 … outputDim − 1 of every period of D (every
   * other slot ≈ 0).
   */
  private evaluateBsgs(input: Uint8Array, keys: EvaluationKeys, compression: Compression): Uint8Array[] {
    this.checkKeys(keys, "single");
    const { ctx, plan } = this;
    const ev = ctx.evaluator;
    const squareDown = (c: Ciphertext) => this.squareDown(c, keys);
    const lay = singleLayout(plan.inputDim, plan.outputDim, ctx.slots);
    const { d, schedule: s } = lay;
    return scoped(ctx.seal, (own) => {
      let h: Ciphertext[] = [ctx.loadCiphertext(input, own)];
      let level = 0;
      let pIn = lay.rotated ? d : nextPow2(plan.inputDim);
      const tmp = own(new ctx.seal.Ciphertext());
      plan.layers.forEach((layer, li) => {
        const q = this.lastPrime(level);
        const outDim = layer.bias.length;
        const period = rowPeriod(outDim, d, li === plan.layers.length - 1);
        const nOut = period > 0 ? 1 : Math.ceil(outDim / d);
        const rotatedFirst = li === 0 && lay.rotated;
        const blocks = rotatedFirst ? [] : Array.from({ length: nOut }, (_, ob) => h.map((_x, ib) => this.block(li, ob, ib, pIn, period, s)));
        // Giant steps: rot(x, j·b), chained rotations by b, as far as any block of this input needs.
        const giants: Ciphertext[][] = rotatedFirst
          ? []
          : h.map((x, ib) => {
              const maxJ = Math.max(0, ...blocks.flatMap((row) => row[ib]!.terms.flat().map((t) => t.j)));
              const out = [x];
              for (let j = 1; j <= maxJ; j++) {
                const c = own(new ctx.seal.Ciphertext());
                ev.rotateVector(out[j - 1]!, s.baby, keys.galois!, c);
                out.push(c);
              }
              return out;
            });
        const outs: Ciphertext[] = [];
        for (let ob = 0; ob < nOut; ob++) {
          let acc: Ciphertext | undefined;
          if (rotatedFirst) {
            const pt = this.tiledPlain(`${li}/${ob}/rotated`, () => rotatedPlain(blockDiagonals(layer.weights, ob, 0, d, d, period), d, ctx.slots), level, q, own);
            acc = own(new ctx.seal.Ciphertext());
            ev.multiplyPlain(h[0]!, pt, acc);
            ev.rescaleToNextInplace(acc);
            // fold the D blocks (a complete cyclic sum in every slot), one level down: cheaper rotations
            for (const st of lay.foldSteps) {
              ev.rotateVector(acc, st, keys.galois!, tmp);
              ev.addInplace(acc, tmp);
            }
          } else {
            // baby steps: partial sums w_i = Σ_j pt ⊙ rot(x, jb), each rescaled, then Horner steps of 1 one level down
            const baby = Math.max(...blocks[ob]!.map((b) => b.terms.length));
            for (let i = baby - 1; i >= 0; i--) {
              let w: Ciphertext | undefined;
              for (let ib = 0; ib < h.length; ib++) {
                for (const { j, v } of blocks[ob]![ib]!.terms[i] ?? []) {
                  const pt = this.tiledPlain(`${li}/${ob}/${ib}/${pIn}/b${i}/g${j}`, () => v, level, q, own);
                  if (!w) {
                    w = own(new ctx.seal.Ciphertext());
                    ev.multiplyPlain(giants[ib]![j]!, pt, w);
                  } else {
                    ev.multiplyPlain(giants[ib]![j]!, pt, tmp);
                    ev.addInplace(w, tmp);
                  }
                }
              }
              if (w) ev.rescaleToNextInplace(w);
              if (!acc) acc = w;
              else {
                ev.rotateVectorInplace(acc, 1, keys.galois!);
                if (w) {
                  ev.addInplace(acc, w);
                  w.delete();
                }
              }
            }
            if (!acc) {
              // an all-zero block row: 1/q times the input (an error of 2^-bits), never a transparent product
              acc = own(new ctx.seal.Ciphertext());
              ev.multiplyPlain(h[0]!, this.constant(`bsgs/zero/${level}/${q}`, 0, level, q, own), acc);
              ev.rescaleToNextInplace(acc);
            }
          }
          const bias = new Float64Array(d);
          for (let r = 0; r < d; r++) {
            const o = period > 0 ? r % period : ob * d + r;
            bias[r] = o < outDim ? layer.bias[o]! : 0;
          }
          const sc = acc.scale();
          if (bias.some((b) => Math.abs(b * sc) >= 0.5)) ev.addPlainInplace(acc, this.tiledPlain(`${li}/${ob}/b/${sc}`, () => bias, level + 1, sc, own));
          if (layer.square) squareDown(acc);
          outs.push(acc);
        }
        h = outs;
        level += layer.square ? 2 : 1;
        pIn = period > 0 ? period : d;
      });
      return [ctx.saveCiphertext(h[0]!, compression)];
    });
  }

  /** Deletes cached plaintexts. */
  dispose(): void {
    for (const p of this.cache.values()) if (!p.isDeleted()) p.delete();
    this.cache.clear();
    this.cacheBytes = 0;
    for (const p of this.bsgsCache.values()) if (!p.isDeleted()) p.delete();
    this.bsgsCache.clear();
    this.bsgsBytes = 0;
    this.bsgsBlocks.clear();
    this.intWeights.clear();
  }
}
