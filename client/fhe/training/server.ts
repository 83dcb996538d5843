/**
 * The untrusted server's side of encrypted training: one block of Nesterov iterations on CKKS
 * ciphertexts (Kim et al. 2018, Algorithm 1 with the packing of nag.ts `Layout`). It takes one
 * serialised request — public material only: the owner's ciphertexts and parameters, naming a
 * key set by id — and the serialised key set (relinearisation and Galois keys) the server's
 * store holds under that id, and returns a serialised response (β_T, β_{T−1}). Its signature
 * takes bytes, not SEAL objects, so a `SecretKey` (or the owner) is not even assignable to it,
 * and at run time any part that loads as a secret key is refused (`secret-key-refused`).
 *
 * Per iteration t from weights v (level ℓ, scale Δ), per data ciphertext Z (rows of z/8, each
 * row twice) — docs/fhe.md "Training on encrypted data":
 *   ℓ+1  U = Σ_{s<f} rot(Z ⊙ v, s)      inner products z_i·v/8 in the first half of each row
 *        K = Z ⊙ (k·mask)                the gradient's constant and the half-row mask
 *   ℓ+2  W = U²,  R = U ⊙ K
 *   ℓ+2…ℓ+D−1  h(W) (monic polynomial in W: g(u) − ½ = lead·U·h(U²))
 *   ℓ+D  G = R ⊙ h + Z ⊙ c_H            then Σ over ciphertexts and rows (rotations f … N/4)
 * giving G'_t = φ_t·α_t·∇(v_t) replicated in every half-row; φ_t = 1 − η_t folds the NAG mix
 * into the gradient, so v_{t+1} = [(1 − η_t)v_t + η_t β_t] + G'_t costs no level (the bracket
 * is computed from older, higher-level ciphertexts one level down). Every scale is set by the
 * encoding scale of the constants so that G' lands exactly at Δ.
 */
import type { Ciphertext, Plaintext } from "node-seal/throws";
import { CkksContext } from "../context.ts";
import { FheError } from "../errors.ts";
import { EvaluationKeys, galoisElt } from "../evaluator.ts";
import { levelsOf, paramsKey } from "../params.ts";
import { scoped, type Own, type Seal } from "../seal.ts";
import { blockLevels, checkNagConfig, galoisSteps, layoutFor, levelsPerIteration, nagSchedule, SIGMOID_COEFFS, type Layout, type NagConfig } from "./nag.ts";
import { decodeTrainKeys, decodeTrainRequest, encodeTrainResponse, type TrainRequestHeader } from "./wire.ts";

/** Progress of one iteration (1-based `iteration` of `iterations`). */
export interface TrainProgress {
  iteration: number;
  iterations: number;
  /** Chain level of the new weights and levels left after it. */
  level: number;
  levelsLeft: number;
  /** Seconds this iteration took. */
  seconds: number;
}

export interface TrainBlockOptions {
  onProgress?: (p: TrainProgress) => void;
  /** Bytes allowed for each serialised key part (default 1 GiB). */
  maxKeyBytes?: number;
}

/** Owner-side inputs never reach here: the request is bytes (see module doc). */
export type PublicTrainingRequest = Uint8Array;

/**
 * The key-set frame (wire.ts `encodeTrainKeys`) the server's own store holds under `keyId`
 * (the SHA-256 of `bytes`, computed by the store when it was uploaded: keys.ts).
 */
export interface StoredKeySet {
  keyId: string;
  bytes: Uint8Array;
}

/**
 * Runs one block of iterations on a serialised request with the key set it names and returns
 * the serialised response. Throws FheError: "secret-key-refused" (a secret key in the request
 * or the key set), "bad-parameters" (header, or a block deeper than the parameters), "bad-keys"
 * (the key set is not the one named, is for other parameters, malformed, missing a rotation),
 * "bad-ciphertext" (malformed, other parameters or another key's material where detectable),
 * "shape-mismatch", "oversized". Nothing is returned on error.
 */
export function trainBlock(seal: Seal, request: PublicTrainingRequest, keySet: StoredKeySet, opts: TrainBlockOptions = {}): Uint8Array {
  for (const [what, v] of [["request", request], ["key set", keySet?.bytes]] as const) {
    if (!(v instanceof Uint8Array)) {
      const name = (v as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof v;
      throw new FheError(/secret/i.test(name) ? "secret-key-refused" : "bad-ciphertext", `trainBlock takes the serialised public ${what} (bytes), not ${name}`);
    }
  }
  const { header, parts } = decodeTrainRequest(request);
  if (keySet.keyId !== header.keyId) throw new FheError("bad-keys", `the request names key set ${header.keyId.slice(0, 12)}…, not ${keySet.keyId.slice(0, 12)}…`);
  const ks = decodeTrainKeys(keySet.bytes, opts.maxKeyBytes ?? 2 ** 30);
  if (paramsKey(ks.header.ckks) !== paramsKey(header.ckks)) throw new FheError("bad-keys", `the key set is for ${paramsKey(ks.header.ckks)}, the request for ${paramsKey(header.ckks)}`);
  const nag: NagConfig = checkNagConfig({ ...header.nag });
  const ctx = CkksContext.get(seal, header.ckks);
  const all = [ks.relin, ks.galois, ...parts.data, ...(parts.state ? [parts.state.v, parts.state.beta] : [])];
  let keys: EvaluationKeys | undefined;
  try {
    const layout = layoutFor(header.rows, header.features, ctx.slots);
    if (parts.data.length !== layout.ciphertexts) throw new FheError("shape-mismatch", `${header.rows} rows of ${header.features} features take ${layout.ciphertexts} ciphertexts, got ${parts.data.length}`);
    const need = blockLevels(nag.degree, header.block.to - header.block.from, header.block.from === 0);
    if (need > levelsOf(ctx.params)) throw new FheError("bad-parameters", `iterations ${header.block.from}…${header.block.to - 1} need ${need} levels, the parameters hold ${levelsOf(ctx.params)}`);
    keys = EvaluationKeys.load(ctx, { relin: ks.relin, galois: ks.galois }, opts.maxKeyBytes ?? 2 ** 30);
    for (const s of galoisSteps(layout)) if (!keys.galois!.hasKey(galoisElt(s, ctx.params.polyModulusDegree))) throw new FheError("bad-keys", `missing Galois key for rotation step ${s}`);
    const k = keys;
    return scoped(seal, (own) => new BlockRun(ctx, k, layout, header, nag, own, opts.onProgress).run(parts));
  } catch (e) {
    // Only on the error path (parsing 100 MB parts as a key is not free): name a secret key as such.
    if (e instanceof FheError && ["bad-ciphertext", "bad-keys", "shape-mismatch", "oversized"].includes(e.code)) for (const p of all) refuseSecretKey(ctx, p);
    throw e;
  } finally {
    keys?.dispose();
  }
}

/** Throws FheError("secret-key-refused") if `bytes` loads as a SEAL secret key of this context. */
export function refuseSecretKey(ctx: CkksContext, bytes: Uint8Array): void {
  if (bytes.length < 16 || bytes[0] !== 0x5e || bytes[1] !== 0xa1) return;
  const sk = new ctx.seal.SecretKey();
  let loaded = false;
  try {
    sk.loadFromArray(ctx.context, bytes);
    loaded = true;
  } catch {
    /* not a secret key */
  } finally {
    sk.delete();
  }
  if (loaded) throw new FheError("secret-key-refused", "the training request contains a secret key; the server takes public material only");
}

/** A linear combination Σ c_i·ct_i of ciphertexts at scale Δ, materialised with one level of constant products. */
type LinComb = Array<{ ct: Ciphertext; c: number }>;

class BlockRun {
  private readonly ev;
  private readonly delta: number;
  private readonly sched;
  private readonly D: number;

  constructor(
    private readonly ctx: CkksContext,
    private readonly keys: EvaluationKeys,
    private readonly layout: Layout,
    private readonly h: TrainRequestHeader,
    private readonly nag: NagConfig,
    private readonly own: Own,
    private readonly onProgress?: (p: TrainProgress) => void,
  ) {
    this.ev = ctx.evaluator;
    this.delta = ctx.scale;
    this.sched = nagSchedule(nag);
    this.D = levelsPerIteration(nag.degree);
  }

  private P(level: number): number {
    const pr = this.ctx.levels[level]!.primes;
    return Number(pr[pr.length - 1]!);
  }

  private level(ct: Ciphertext): number {
    return this.ctx.levelOf(ct);
  }

  private fresh(own: Own = this.own): Ciphertext {
    return own(new this.ctx.seal.Ciphertext());
  }

  private dropTo(ct: Ciphertext, level: number): Ciphertext {
    let l = this.level(ct);
    if (l > level) throw new FheError("bad-parameters", `internal: ciphertext at level ${l} above ${level}`);
    for (; l < level; l++) this.ev.cipherModSwitchToNextInplace(ct);
    return ct;
  }

  private copyAt(ct: Ciphertext, level: number, own: Own): Ciphertext {
    return this.dropTo(own(ct.copy()), level);
  }

  /** Sets the scale to `target` when SEAL's floating-point product differs only by rounding. */
  private snap(ct: Ciphertext, target: number): void {
    if (Math.abs(ct.scale() / target - 1) > 1e-9) throw new FheError("bad-parameters", `internal: scale ${ct.scale()} is not ${target}`);
    ct.setScale(target);
  }

  /** out = rescale(relin(a ⊙ b)); a and b are brought to the same level first (copies). */
  private mul(a: Ciphertext, b: Ciphertext, own: Own): Ciphertext {
    const l = Math.max(this.level(a), this.level(b));
    const x = this.level(a) === l ? a : this.copyAt(a, l, own);
    const y = this.level(b) === l ? b : this.copyAt(b, l, own);
    const out = this.fresh(own);
    if (x === y) this.ev.square(x, out);
    else this.ev.multiply(x, y, out);
    this.ev.relinearizeInplace(out, this.keys.relin!);
    this.ev.rescaleToNextInplace(out);
    return out;
  }

  /** c·ct one level down, landing exactly at scale `target`. */
  private mulConst(ct: Ciphertext, c: number, target: number, own: Own): Ciphertext {
    const l = this.level(ct);
    const pt = this.ctx.constantPlain(c, l, (target * this.P(l)) / ct.scale(), own);
    const out = this.fresh(own);
    this.ev.multiplyPlain(ct, pt, out);
    this.ev.rescaleToNextInplace(out);
    this.snap(out, target);
    return out;
  }

  /** ct + c in place (c encoded at the ciphertext's scale and level). */
  private addConst(ct: Ciphertext, c: number, own: Own): void {
    this.ev.addPlainInplace(ct, this.ctx.constantPlain(c, this.level(ct), ct.scale(), own));
  }

  /** a += b (b brought to a's level, or a to b's); both at scale Δ. Returns the sum. */
  private addInto(a: Ciphertext, b: Ciphertext, own: Own): Ciphertext {
    const la = this.level(a), lb = this.level(b);
    if (la < lb) this.dropTo(a, lb);
    const y = lb < la ? this.copyAt(b, la, own) : b;
    this.snap(a, this.delta);
    this.snap(y, this.delta);
    this.ev.addInplace(a, y);
    return a;
  }

  /** Σ rot(ct, k·step) for k < count (count a power of two), in place. */
  private rotateSum(ct: Ciphertext, step: number, count: number, own: Own): void {
    const tmp = this.fresh(own);
    for (let s = step; s < step * count; s *= 2) {
      this.ev.rotateVector(ct, s, this.keys.galois!, tmp);
      this.ev.addInplace(ct, tmp);
    }
  }

  private materialise(terms: LinComb, own: Own): Ciphertext {
    const merged = new Map<Ciphertext, number>();
    for (const t of terms) merged.set(t.ct, (merged.get(t.ct) ?? 0) + t.c);
    let acc: Ciphertext | undefined;
    for (const [ct, c] of merged) {
      const p = this.mulConst(ct, c, this.delta, own);
      acc = acc ? this.addInto(acc, p, own) : p;
    }
    return acc!;
  }

  /** The half-row mask times k, encoded at `scale`, at `level`. */
  private maskPlain(k: number, level: number, scale: number, own: Own): Plaintext {
    const { f, slots } = this.layout;
    const v = new Float64Array(slots);
    for (let s = 0; s < slots; s++) if (s % (2 * f) < f) v[s] = k;
    const pt = this.ctx.encode(v, own, scale);
    for (let l = 0; l < level; l++) this.ev.plainModSwitchToNextInplace(pt);
    return pt;
  }

  /**
   * G'_t = φ·α_t·∇(v) (replicated), from `v` (null: zero weights, then only the ½·z term).
   * Data ciphertexts stay at level 0; copies are dropped to the level needed.
   */
  private gradient(data: Ciphertext[], v: Ciphertext | null, t: number, phi: number): Ciphertext {
    const { alpha } = this.sched[t]!;
    const n = this.h.rows;
    const cH = (2 * alpha * phi) / n; // ½·z term, data at z/8 duplicated (×8/2 … see docs)
    const coeffs = SIGMOID_COEFFS[this.nag.degree];
    const lead = coeffs[coeffs.length - 1]!;
    const k = (8 * alpha * phi * lead) / n;
    const acc = this.fresh();
    let first = true;
    const add = (x: Ciphertext) => {
      if (first) {
        acc.assign(x);
        first = false;
      } else this.addInto(acc, x, this.own);
    };
    if (!v) {
      for (const z of data)
        scoped(this.ctx.seal, (own) => add(this.mulConst(z, cH, this.delta, own)));
    } else {
      const l = this.level(v);
      const D = this.D;
      // Scales, fixed by the primes (identical for every ciphertext): see module doc.
      const s1 = (this.delta * this.delta) / this.P(l);
      const sW = (s1 * s1) / this.P(l + 1);
      let sh: number, Lh: number;
      if (this.nag.degree === 3) { sh = sW; Lh = l + 2; }
      else if (this.nag.degree === 5) { sh = (sW * sW) / this.P(l + 2); Lh = l + 3; }
      else { const sY = (sW * sW) / this.P(l + 2); sh = (sW * sY) / this.P(l + 3); Lh = l + 4; }
      const sR = (this.delta * this.P(Lh)) / sh;
      const sK = (sR * this.P(l + 1)) / s1;
      const sigmaK = (sK * this.P(l)) / this.delta;
      scoped(this.ctx.seal, (iterOwn) => {
        const mask = this.maskPlain(k, l, sigmaK, iterOwn);
        for (const zd of data) {
          scoped(this.ctx.seal, (own) => {
            const z = this.copyAt(zd, l, own);
            const u = this.mul(z, v, own);
            this.rotateSum(u, 1, this.layout.f, own);
            const w = this.mul(u, u, own);
            const hW = this.poly(w, own);
            const kz = this.fresh(own);
            this.ev.multiplyPlain(z, mask, kz);
            this.ev.rescaleToNextInplace(kz);
            const r = this.mul(u, kz, own);
            const g = this.mul(r, hW, own);
            this.snap(g, this.delta);
            const zh = this.copyAt(zd, l + D - 1, own);
            this.addInto(g, this.mulConst(zh, cH, this.delta, own), own);
            add(g);
          });
        }
        if (this.level(acc) !== Lh + 1) throw new FheError("bad-parameters", "internal: gradient level");
      });
    }
    scoped(this.ctx.seal, (own) => this.rotateSum(acc, this.layout.f, this.layout.slots / this.layout.f, own));
    return acc;
  }

  /** h(W), monic, for the configured degree (nag.ts SIGMOID_COEFFS: g − ½ = lead·U·h(U²)). */
  private poly(w: Ciphertext, own: Own): Ciphertext {
    const a = SIGMOID_COEFFS[this.nag.degree];
    if (this.nag.degree === 3) {
      this.addConst(w, a[0]! / a[1]!, own);
      return w;
    }
    if (this.nag.degree === 5) {
      const b1 = a[1]! / a[2]!, b0 = a[0]! / a[2]!;
      this.addConst(w, b1 / 2, own);
      const y = this.mul(w, w, own);
      this.addConst(y, b0 - (b1 * b1) / 4, own);
      return y;
    }
    const p2 = a[2]! / a[3]!, p1 = a[1]! / a[3]!, p0 = a[0]! / a[3]!;
    const p = p1 - (p2 * p2) / 3, q = p0 - (p1 * p2) / 3 + (2 * p2 ** 3) / 27;
    this.addConst(w, p2 / 3, own); // X = W + p2/3
    const y = this.mul(w, w, own); // X²
    this.addConst(y, p, own);
    const x3 = this.mul(w, y, own); // X(X² + p)
    this.addConst(x3, q, own);
    return x3;
  }

  run(parts: { data: Uint8Array[]; state?: { v: Uint8Array; beta: Uint8Array } }): Uint8Array {
    const { ctx, own } = this;
    const { from, to } = this.h.block;
    const data = parts.data.map((b) => ctx.loadCiphertext(b, own));
    let v: Ciphertext | null = null;
    let bracket: LinComb = []; // B_t = (1 − η_t)v_t + η_t β_t
    let betaIn: Ciphertext | null = null;
    if (parts.state) {
      v = ctx.loadCiphertext(parts.state.v, own);
      betaIn = ctx.loadCiphertext(parts.state.beta, own);
      const { eta } = this.sched[from]!;
      bracket = [{ ct: v, c: 1 - eta }, { ct: betaIn, c: eta }];
    }
    let prev: { v: Ciphertext | null; g: Ciphertext; phi: number } | null = null; // β_t = v_{t−1} + G'_{t−1}/φ_{t−1}
    const levels = levelsOf(ctx.params);
    const progress: TrainProgress[] = [];
    const report = (p: TrainProgress) => {
      progress.push(p);
      this.onProgress?.(p);
    };
    for (let t = from; t < to; t++) {
      const t0 = performance.now();
      const last = t === to - 1;
      const { eta } = this.sched[t]!;
      const phi = last ? 1 : 1 - eta;
      const g = this.gradient(data, v, t, phi);
      if (last) {
        const beta = v ? this.addInto(this.copyAt(v, this.level(g), own), g, own) : g;
        let betaPrev: Ciphertext | undefined;
        if (prev) betaPrev = this.materialise([...(prev.v ? [{ ct: prev.v, c: 1 }] : []), { ct: prev.g, c: 1 / prev.phi }], own);
        report({ iteration: t + 1, iterations: this.nag.iterations, level: this.level(beta), levelsLeft: levels - this.level(beta), seconds: (performance.now() - t0) / 1000 });
        return encodeTrainResponse(
          { v: 1, kind: "2pm-fhe-train-result/v1", block: { from, to }, betaPrev: !!betaPrev, levelsLeft: levels - this.level(beta), progress },
          ctx.saveCiphertext(beta, "none"),
          betaPrev && ctx.saveCiphertext(betaPrev, "none"),
        );
      }
      // v_{t+1} = B_t + G'_t
      const vNext = bracket.length ? this.addInto(this.materialise(bracket, own), g, own) : g;
      const etaN = this.sched[t + 1]!.eta;
      bracket = [{ ct: vNext, c: 1 - etaN }, { ct: g, c: etaN / phi }];
      if (v) bracket.push({ ct: v, c: etaN });
      prev = { v, g, phi };
      v = vNext;
      report({ iteration: t + 1, iterations: this.nag.iterations, level: this.level(v), levelsLeft: levels - this.level(v), seconds: (performance.now() - t0) / 1000 });
    }
    throw new FheError("bad-parameters", "internal: empty block");
  }
}
