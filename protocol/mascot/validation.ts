/**
 * Input validation inside MASCOT (beyond the paper): each predicate on party P_j's input x
 * becomes a list of "zero terms" — authenticated values that are all 0 iff the predicate
 * holds — whose products are proven with a fully linear PCP (product-proof.ts, online.ts).
 * The terms are folded with public random coefficients γ_j into one value z_j, and only
 * w_j = ρ_j·z_j (ρ_j a fresh random authenticated value) is opened: w_j = 0 iff z_j = 0
 * (except w.p. 1/p, ρ_j = 0), and w_j ≠ 0 is uniform, so *one pass/fail bit per input* is
 * revealed. A bad input passes only if its nonzero terms cancel under the random
 * coefficients: probability ≤ 1/p (Schwartz–Zippel, degree 1) — provided γ_j is drawn
 * (coin toss) only after *every* value the terms depend on is fixed: the authenticated
 * input and witnesses, and the late inputs (the projection slack bits below). An owner that
 * knows γ_j before choosing a late input can solve for it (see online.ts, step order, and
 * test/unit/mascot/adaptive-late-input.test.ts).
 *
 * Bit decomposition / less-than with a public bound: the owner knows its input, so it
 * supplies the bits as extra authenticated inputs (witnesses), and the circuit checks
 * (a) every witness bit b satisfies b·(b − 1) = 0 and (b) the value equals Σ_t 2^t b_t:
 *  - range [0, 2^b):  (x_k + offset) − Σ_t 2^t b_{k,t} = 0,  b·d products; offset = 0 for
 *                     unsigned quantities (counts), a public shift only for signed ones;
 *  - L2 norm ≤ B:     Σ_k x_k² + Σ_t 2^t c_t − B = 0 with c the L = bitlen(B) bits of the slack
 *                     B − Σx² (so Σx² ≤ B ⟺ slack ∈ [0, 2^L)): the inner product ⟨x, x⟩
 *                     costs d products, plus L for the slack bits;
 *  - bits:            x_k·(x_k − 1) = 0, d products;
 *  - one-hot group g: bits in g, and S_g·(S_g − 1) = 0 (sum ≤ 1) or S_g − 1 = 0 (exact).
 * Norm on a random projection (rows = m): R ∈ {±1}^{m×d} is drawn from the coin toss made
 * after the inputs are authenticated; y = R·x is local; ‖y‖² needs m products. The slack
 * bits depend on R, so the owner inputs them late "via masks" (online phase): it
 * authenticated L random masks r with its input, and now broadcasts e = c − r; the bit
 * check c(c − 1) = r² + (2e − 1)·r + e² − e is linear given [r²], which is computed in the
 * same product layer. The fold coefficients γ_j are therefore drawn from a separate coin
 * opened after every owner's e is in (online.ts coin G). Accept iff ‖Rx‖² ≤ T with
 * T = ⌈(m + 2√(m·t) + 2t)·B⌉, t = {@link PROJECTION_TAIL_T} = 42 (e^-42 ≈ 2^-60.6).
 * Error bound (Laurent–Massart χ² tails; ±1 rows are sub-Gaussian with the same variance,
 * so the same form holds up to the constants of Hanson–Wright — measured in the tests):
 *   an honest x with ‖x‖² ≤ B is rejected w.p. ≤ e^{-t};
 *   an x with ‖x‖² > B·(m + 2√(mt) + 2t)/(m − 2√(mt)) is accepted w.p. ≤ e^{-t} (needs m > 4t,
 *   so m ≥ {@link MIN_PROJECTION_ROWS} = 169 is required; m = 1024 gives a gap factor of 2.50,
 *   m = 256 of 11.3). Between the two, either.
 *
 * PINE norm check (method "pine"; Rothblum–Omri–Chen–Talwar, draft-chen-cfrg-vdaf-pine §4.2,
 * adapted; proof in docs/mascot.md "PINE"): the exact check above (Σx² + Σ 2^t c_t = B, c
 * witness bits fixed with x) plus r wraparound checks that show Σx² did not wrap mod p,
 * without any per-entry bits. After x is fixed, coin A gives public z_1..z_r ∈ {−1, 0, 1}^m
 * (−1, 0, 1 w.p. 1/4, 1/2, 1/4); the owner then inputs late, via masks, a success bit g_k and
 * b1 bits of v_k = ⟨z_k, x⟩ + h per check, and the circuit checks
 *   g_k, v-bits are bits;  g_k·(⟨z_k, x⟩ + h − Σ_t 2^t v_{k,t}) = 0;  Σ_k g_k = τ.
 * A passed check puts ⟨z_k, x⟩ mod p in a window of 2^b1 consecutive residues (diameter
 * D = 2^b1 − 1). If the exact check passed but Σ x̄² > B (x̄ the centred lift), the sum
 * wrapped, so some |x̄_k| > D provided m·D² + 2^L < p (checked here); then each check passes
 * w.p. ≤ 1/2 over z (given the others, the three values A, A ± x̄_k cannot have A and A ± x̄_k
 * both in the window), so τ successes of r have probability ≤ Pr[Bin(r, 1/2) ≥ τ]. Honest:
 * ⟨z, x̄⟩ is sub-Gaussian with variance proxy Σx̄²/2, so a check fails w.p. ≤ 2e^{−α²} with
 * h = ⌈α√B⌉. Defaults {@link PINE_CHECKS} = 76, {@link PINE_SUCCESSES} = 74, {@link PINE_ALPHA}
 * = 3.7: a wrapped input passes w.p. ≤ 2^-64.5, an honest one fails w.p. ≤ 2^-40. The late
 * inputs depend on z, so the fold coefficients γ come from coin G (as for the projection).
 * Witness: L + r·(b1 + 1) values, independent of m (vs m·b for per-entry ranges).
 *
 * Soundness over the integers. Every check is an identity in F_p. "bits", "one-hot" and
 * "range" are exact. For "l2-norm" the identity Σx² + slack = B holds over the integers only
 * if no wrap-around occurs: combine it with a range predicate on the same entries such that
 * d·2^(2b) + 2^L < p (m·d²·2^(2b) for the projection); alone, it is a statement mod p —
 * or use method "pine", which bounds the norm over the integers by itself.
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { Predicate } from "./types.ts";
import { addPublic, concatShares, expandBytes, sliceShare, subShares, type AuthShare, type ShareContext } from "./shares.ts";
import { proofShape, type ProofShape } from "./product-proof.ts";

/**
 * Tail parameter t of the projection threshold: both error probabilities of the projected
 * norm test are ≤ e^-t; t = 42 gives e^-42 ≈ 2^-60.6 (was 28, ≈ 2^-40.4).
 */
export const PROJECTION_TAIL_T = 42;

/** Fewest projection rows: the soundness bound needs m > 4t (m − 2√(mt) > 0), so m ≥ 4t + 1 = 169. */
export const MIN_PROJECTION_ROWS = 4 * PROJECTION_TAIL_T + 1;

/** PINE wraparound checks per `l2-norm` predicate with method "pine" (r). */
export const PINE_CHECKS = 76;
/** Successes the owner must claim, exactly (τ): Pr[Bin(76, 1/2) ≥ 74] = 2927·2^-76 ≈ 2^-64.5. */
export const PINE_SUCCESSES = 74;
/** Window half-width factor: h = ⌈α√B⌉; an honest check fails w.p. ≤ 2e^{−α²} ≈ 2^-18.7, three of 76 fail w.p. ≤ 2^-40. */
export const PINE_ALPHA = 3.7;

/** log2 Pr[Bin(n, q) ≥ k] (exact sum in floating point; for parameter checks and docs). */
export function binomialTailLog2(n: number, k: number, q: number): number {
  if (k <= 0) return 0;
  if (k > n) return -Infinity;
  let lg = 0; // log C(n, i) built incrementally
  const terms: number[] = [];
  for (let i = 0; i <= n; i++) {
    if (i > 0) lg += Math.log(n - i + 1) - Math.log(i);
    if (i >= k) terms.push(lg + i * Math.log(q) + (n - i) * Math.log1p(-q));
  }
  const m = Math.max(...terms);
  return (m + Math.log(terms.reduce((a, t) => a + Math.exp(t - m), 0))) / Math.LN2;
}

/** Derived PINE parameters for a bound B over m entries: window half-width h, bits b1, diameter D = 2^b1 − 1. */
export interface PineShape { checks: number; successes: number; alpha: number; half: bigint; wrapBits: number; diameter: bigint; slackBits: number }

/**
 * PINE parameters for ‖x‖² ≤ bound over `width` entries in F_p, and whether they are sound
 * there: `fits` iff width·D² + 2^L < p (then a passing exact check with all |x̄_k| ≤ D cannot
 * have wrapped). Throws RangeError on bad options.
 */
export function pineShape(p: bigint, width: number, bound: bigint, opts: { checks?: number; successes?: number; alpha?: number } = {}): PineShape & { fits: boolean } {
  const checks = opts.checks ?? PINE_CHECKS, successes = opts.successes ?? (opts.checks === undefined ? PINE_SUCCESSES : opts.checks);
  const alpha = opts.alpha ?? PINE_ALPHA;
  if (!Number.isInteger(checks) || checks < 1 || checks > 4096) throw new RangeError(`l2-norm pine: checks must be an integer in [1, 4096], got ${checks}`);
  if (!Number.isInteger(successes) || successes < 1 || successes > checks) throw new RangeError(`l2-norm pine: successes must be an integer in [1, checks], got ${successes}`);
  if (!(alpha >= 1 && alpha <= 64)) throw new RangeError(`l2-norm pine: alpha must be in [1, 64], got ${alpha}`);
  const root = sqrtCeil(bound);
  // h ≥ α·√B: α as a 2^-20-granular upward-rounded rational, √B rounded up.
  const half = (BigInt(Math.ceil(alpha * 2 ** 20)) * root + (1n << 20n) - 1n) >> 20n;
  const wrapBits = bitLength(2n * half);
  const diameter = (1n << BigInt(wrapBits)) - 1n;
  const slackBits = Math.max(1, bitLength(bound));
  const fits = BigInt(width) * diameter * diameter + (1n << BigInt(slackBits)) < p;
  return { checks, successes, alpha, half, wrapBits, diameter, slackBits, fits };
}

function sqrtCeil(x: bigint): bigint {
  if (x <= 0n) return 0n;
  let r = BigInt(Math.floor(Math.sqrt(Number(x))));
  while (r * r > x) r--;
  while (r * r < x) r++;
  return r;
}

/** T = ⌈(m + 2√(m·t) + 2t)·B⌉ (computed with a 2^-20-granular upward-rounded factor; deterministic). */
export function projectionThreshold(rows: number, bound: bigint): bigint {
  const t = PROJECTION_TAIL_T;
  const factor = rows + 2 * Math.sqrt(rows * t) + 2 * t;
  const num = BigInt(Math.ceil(factor * 2 ** 20));
  return (bound * num + (1n << 20n) - 1n) >> 20n;
}

function bitLength(x: bigint): number {
  return x <= 0n ? 0 : x.toString(2).length;
}

interface RangeItem { kind: "range"; start: number; end: number; bits: number; auxOffset: number; offset: bigint }
interface L2Item { kind: "l2"; bound: bigint; slackBits: number; auxOffset: number; start: number; end: number }
interface ProjItem { kind: "proj"; rows: number; threshold: bigint; slackBits: number; maskOffset: number; rowsOffset: number }
/** PINE wraparound checks on x[start, end) (the exact part is an L2Item): late masks [g (r) | v bits (r·b1)]. */
interface WrapItem { kind: "wrap"; start: number; end: number; checks: number; successes: number; half: bigint; wrapBits: number; maskOffset: number; wrapIndex: number }
interface BitsItem { kind: "bits"; start: number; end: number }
interface GroupItem { kind: "group"; start: number; end: number; exact: boolean }
type Item = RangeItem | L2Item | ProjItem | WrapItem | BitsItem | GroupItem;

/**
 * The validation circuit for one predicate list and input length d. Layout of an owner's
 * authenticated vector: [x (d) | witness bits (aux) | late-input masks | Fig. 7 mask (1)].
 */
export class ValidationPlan {
  readonly d: number;
  readonly items: Item[] = [];
  /** Witness values appended after x (range bits, L2 slack bits). */
  readonly auxLength: number;
  /**
   * Masks: for the late inputs (projection slack bits and PINE bits, then the product proof H:
   * {@link lateLength} in all), then the product proof's random seed inputs (its seedLength,
   * product-proof.ts: they are never broadcast, the mask is the seed).
   */
  readonly maskLength: number;
  /** Late inputs broadcast via masks: coin-A-dependent ones, then the product proof H. */
  readonly lateLength: number;
  /** Masks for the late inputs that depend on coin A (projection slack bits, PINE success and window bits): the first part of the masks. */
  readonly lateMaskLength: number;
  /** Number of PINE wrap-vector sets (one per `l2-norm` predicate with method "pine"). */
  readonly wrapSets: number;
  /** Products per owner (the pairs the product proof covers). */
  readonly products: number;
  /** Shape of the product proof (product-proof.ts); undefined when nothing is checked. */
  readonly proof: ProofShape | undefined;
  /** Number of zero terms per owner (the length of {@link terms}). */
  readonly termCount: number;
  /** Which term (γ index) each product enters, in product order: {@link productCoefficients} gathers γ by it (built once per plan). */
  private coefficientIndex: Uint32Array | undefined;
  /** Total projection rows (0 if none). */
  readonly projectionRows: number;

  /**
   * `scope` (default d): the entries [0, scope) that predicates without `indices` cover ("bits",
   * "range", "l2-norm"); a noised input [x | z] passes scope = |x| so they never reach the
   * noise z, which its own predicate (noise.ts) bounds. Projections need scope = d.
   * Throws RangeError on a malformed predicate (bad indices, bits, bound).
   */
  constructor(readonly field: Field, d: number, predicates: readonly Predicate[], scope: number = d) {
    this.d = d;
    if (!Number.isInteger(scope) || scope < 1 || scope > d) throw new RangeError(`ValidationPlan: scope must be an integer in [1, ${d}], got ${scope}`);
    let aux = 0, masks = 0, prods = 0, rows = 0, terms = 0, wraps = 0;
    const maxBits = field.bits - 1;
    for (const p of predicates) {
      switch (p.kind) {
        case "none": break;
        case "bits": this.items.push({ kind: "bits", start: 0, end: scope }); prods += scope; terms += scope; break;
        case "one-hot":
          for (const [s, e] of p.groups) {
            if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s >= e) throw new RangeError(`one-hot: bad group [${s}, ${e}) for length ${d}`);
            this.items.push({ kind: "bits", start: s, end: e }, { kind: "group", start: s, end: e, exact: p.exact === true });
            prods += e - s + (p.exact ? 0 : 1);
            terms += e - s + 1;
          }
          break;
        case "range": {
          const [s, e] = p.indices ?? [0, scope];
          if (!Number.isInteger(p.bits) || p.bits < 1 || p.bits > maxBits) throw new RangeError(`range: bits must be in [1, ${maxBits}], got ${p.bits}`);
          if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s >= e) throw new RangeError(`range: bad indices [${s}, ${e}) for length ${d}`);
          const offset = p.offset ?? 0n;
          if (typeof offset !== "bigint" || offset < 0n || offset >= field.p) throw new RangeError("range: offset must be a bigint in [0, p)");
          this.items.push({ kind: "range", start: s, end: e, bits: p.bits, auxOffset: aux, offset });
          aux += (e - s) * p.bits; prods += (e - s) * p.bits; terms += (e - s) * (p.bits + 1);
          break;
        }
        case "l2-norm": {
          if (typeof p.bound !== "bigint" || p.bound < 0n || p.bound >= field.p / 4n) throw new RangeError("l2-norm: bound must be a bigint in [0, p/4)");
          const [ls, le] = p.indices ?? [0, scope];
          if (!Number.isInteger(ls) || !Number.isInteger(le) || ls < 0 || le > d || ls >= le) throw new RangeError(`l2-norm: bad indices [${ls}, ${le}) for length ${d}`);
          if (p.projection) {
            if (p.method === "pine") throw new RangeError("l2-norm: method \"pine\" and a projection are exclusive");
            if (scope !== d) throw new RangeError("l2-norm: a projection is not supported on a noised input (use method \"pine\")");
            if (p.indices && (ls !== 0 || le !== d)) throw new RangeError("l2-norm: indices are not supported with a projection");
            const m = p.projection.rows;
            if (!Number.isInteger(m) || m < MIN_PROJECTION_ROWS || m > 1 << 16) {
              throw new RangeError(`l2-norm: projection rows must be in [${MIN_PROJECTION_ROWS}, 65536] (fewer than 4t + 1 rows give no soundness bound), got ${m}`);
            }
            const threshold = projectionThreshold(m, p.bound);
            if (threshold >= field.p / 4n) throw new RangeError("l2-norm: projected threshold too large for the field");
            const slackBits = Math.max(1, bitLength(threshold));
            this.items.push({ kind: "proj", rows: m, threshold, slackBits, maskOffset: masks, rowsOffset: rows });
            masks += slackBits; rows += m; prods += m + slackBits; terms += slackBits + 1;
          } else {
            const slackBits = Math.max(1, bitLength(p.bound));
            this.items.push({ kind: "l2", bound: p.bound, slackBits, auxOffset: aux, start: ls, end: le });
            aux += slackBits; prods += le - ls + slackBits; terms += slackBits + 1;
            if (p.method === "pine") {
              const sh = pineShape(field.p, le - ls, p.bound, p.pine);
              if (!sh.fits) throw new RangeError(`l2-norm pine: field too small: ${le - ls}·(2^${sh.wrapBits} − 1)² + 2^${sh.slackBits} ≥ p (lower the bound or use p128)`);
              if (sh.wrapBits > field.bits - 2) throw new RangeError("l2-norm pine: window too wide for the field");
              const r = sh.checks, late = r * (1 + sh.wrapBits);
              this.items.push({ kind: "wrap", start: ls, end: le, checks: r, successes: sh.successes, half: sh.half, wrapBits: sh.wrapBits, maskOffset: masks, wrapIndex: wraps++ });
              masks += late; prods += late + r; terms += late + r + 1;
            } else if (p.method !== undefined && p.method !== "exact") {
              throw new RangeError(`l2-norm: unknown method ${JSON.stringify(p.method)}`);
            }
          }
          break;
        }
        default: throw new RangeError(`unknown predicate ${JSON.stringify((p as { kind: unknown }).kind)}`);
      }
    }
    this.auxLength = aux;
    this.lateMaskLength = masks;
    this.wrapSets = wraps;
    this.products = prods;
    this.proof = prods > 0 ? proofShape(prods, field.p) : undefined;
    this.lateLength = masks + (this.proof?.length ?? 0);
    this.maskLength = this.lateLength + (this.proof?.seedLength ?? 0);
    this.termCount = terms;
    this.projectionRows = rows;
  }

  /** True if there is anything to check. */
  get active(): boolean {
    return this.items.length > 0;
  }

  /** Length of the authenticated vector per owner: d + aux + masks + 1 (Fig. 7 mask). */
  get extendedLength(): number {
    return this.d + this.auxLength + this.maskLength + 1;
  }

  /** Owner side: the witness bits (range bits, L2 slack bits) for input x. Invalid inputs give garbage witnesses, which the check rejects. */
  witness(x: FieldVec): FieldVec {
    const f = this.field;
    const out = new Array<bigint>(this.auxLength).fill(0n);
    const xs = f.toBigInts(x);
    for (const it of this.items) {
      if (it.kind === "range") {
        for (let k = it.start; k < it.end; k++) {
          const v = (xs[k]! + it.offset) % f.p;
          for (let t = 0; t < it.bits; t++) out[it.auxOffset + (k - it.start) * it.bits + t] = (v >> BigInt(t)) & 1n;
        }
      } else if (it.kind === "l2") {
        let s = 0n;
        for (let k = it.start; k < it.end; k++) s = (s + xs[k]! * xs[k]!) % f.p;
        const slack = (it.bound - s + f.p) % f.p;
        for (let t = 0; t < it.slackBits; t++) out[it.auxOffset + t] = (slack >> BigInt(t)) & 1n;
      }
    }
    return f.fromBigInts(out);
  }

  /** The public ±1 projection (all projection items' rows stacked) drawn from the coin seed; undefined without projection. */
  projectionFromSeed(seed: Uint8Array): Projection | undefined {
    if (this.projectionRows === 0) return undefined;
    return new Projection(this.projectionRows, this.d, expandBytes(seed, "validation/projection", Math.ceil((this.projectionRows * this.d) / 8)));
  }

  /** Everything coin A's seed fixes for the late inputs: the projection R and the PINE vectors z (one set per "pine" predicate). */
  coinVectors(seed: Uint8Array): LateCoins {
    const wrap: WrapVectors[] = [];
    for (const it of this.items) {
      if (it.kind !== "wrap") continue;
      const m = it.end - it.start;
      wrap[it.wrapIndex] = new WrapVectors(it.checks, m, expandBytes(seed, `validation/pine/${it.wrapIndex}`, Math.ceil((it.checks * m) / 4)));
    }
    return { projection: this.projectionFromSeed(seed), wrap };
  }

  /**
   * Owner side, after coin A: e = c − r for the late inputs c (projection slack bits; PINE
   * success bits g and window bits of ⟨z_k, x⟩ + h) via the late masks r.
   */
  lateInput(x: FieldVec, masks: FieldVec, coins: LateCoins): FieldVec {
    const f = this.field;
    const c = new Array<bigint>(this.lateMaskLength).fill(0n);
    for (const it of this.items) {
      if (it.kind === "proj") {
        let s = 0n;
        for (const y of f.toBigInts(coins.projection!.apply(f, x, it.rowsOffset, it.rows))) s = (s + y * y) % f.p;
        const slack = (it.threshold - s + f.p) % f.p;
        for (let t = 0; t < it.slackBits; t++) c[it.maskOffset + t] = (slack >> BigInt(t)) & 1n;
      } else if (it.kind === "wrap") {
        const ys = f.toBigInts(coins.wrap[it.wrapIndex]!.apply(f, f.slice(x, it.start, it.end)));
        const top = 1n << BigInt(it.wrapBits);
        // The first τ checks whose window value v = ⟨z_k, x⟩ + h lies in [0, 2^b1) succeed (an
        // honest owner fails a check w.p. ≤ 2e^{−α²}); with fewer, it claims τ anyway and is excluded.
        const vs = ys.map((y) => (y + it.half) % f.p);
        const passing = vs.map((v, k) => (v < top ? k : -1)).filter((k) => k >= 0);
        const claimed = passing.length >= it.successes ? passing.slice(0, it.successes) : [...Array(it.successes).keys()];
        for (const k of claimed) {
          c[it.maskOffset + k] = 1n;
          for (let t = 0; t < it.wrapBits; t++) c[it.maskOffset + it.checks + k * it.wrapBits + t] = (vs[k]! >> BigInt(t)) & 1n;
        }
      }
    }
    return f.sub(f.fromBigInts(c), masks);
  }


  /** Views into an owner's extended share [x ‖ aux ‖ masks]: aux (witness) and mask entries by offset. */
  private extendedParts(f: Field, ext: AuthShare): { auxAt: (o: number, n: number) => AuthShare; maskAt: (o: number, n: number) => AuthShare } {
    return {
      auxAt: (o, n) => sliceShare(f, ext, this.d + o, this.d + o + n),
      maskAt: (o, n) => sliceShare(f, ext, this.d + this.auxLength + o, this.d + this.auxLength + o + n),
    };
  }
  /** Product operands (left ∘ right), both of length `products`, from an owner's extended share. */
  operands(ctx: ShareContext, ext: AuthShare, coins: LateCoins): { left: AuthShare; right: AuthShare } {
    const f = ctx.field;
    const L: AuthShare[] = [];
    const Rt: AuthShare[] = [];
    const x = sliceShare(f, ext, 0, this.d);
    const minusOne = (v: AuthShare): AuthShare => addPublic(ctx, v, f.fromInts(new Array<number>(v.value.length).fill(-1)));
    const { auxAt, maskAt } = this.extendedParts(f, ext);
    for (const it of this.items) {
      switch (it.kind) {
        case "bits": { const v = sliceShare(f, x, it.start, it.end); L.push(v); Rt.push(minusOne(v)); break; }
        case "group": {
          if (it.exact) break;
          const s = groupSum(f, x, it.start, it.end);
          L.push(s); Rt.push(minusOne(s)); break;
        }
        case "range": { const b = auxAt(it.auxOffset, (it.end - it.start) * it.bits); L.push(b); Rt.push(minusOne(b)); break; }
        case "l2": { const v = sliceShare(f, x, it.start, it.end); L.push(v); Rt.push(v); const c = auxAt(it.auxOffset, it.slackBits); L.push(c); Rt.push(minusOne(c)); break; }
        case "proj": {
          const R = coins.projection!;
          const y = { value: R.apply(f, x.value, it.rowsOffset, it.rows), mac: R.apply(f, x.mac, it.rowsOffset, it.rows) };
          L.push(y); Rt.push(y);
          const r = maskAt(it.maskOffset, it.slackBits); L.push(r); Rt.push(r);
          break;
        }
        case "wrap": {
          // r² for every late bit mask (bit check via r² + (2e − 1)·r + e² − e), then r_g·S_r (see terms).
          const late = maskAt(it.maskOffset, it.checks * (1 + it.wrapBits));
          L.push(late); Rt.push(late);
          L.push(sliceShare(f, late, 0, it.checks)); Rt.push(this.wrapResidual(ctx, ext, coins, it));
          break;
        }
      }
    }
    return { left: concatShares(f, L), right: concatShares(f, Rt) };
  }

  /** wrapResidual results per (share, coins, item): operands and terms both need them for every owner. */
  private readonly residuals = new WeakMap<AuthShare, WeakMap<LateCoins, AuthShare[]>>();

  /** S_r,k = ⟨z_k, x⟩ − Σ_t 2^t r_{k,t} (the window bits' masks r): the part of the check value that does not depend on e. */
  private wrapResidual(ctx: ShareContext, ext: AuthShare, coins: LateCoins, it: WrapItem): AuthShare {
    let byCoins = this.residuals.get(ext);
    if (!byCoins) { byCoins = new WeakMap(); this.residuals.set(ext, byCoins); }
    let list = byCoins.get(coins);
    if (!list) { list = []; byCoins.set(coins, list); }
    return (list[it.wrapIndex] ??= this.computeWrapResidual(ctx, ext, coins, it));
  }

  private computeWrapResidual(ctx: ShareContext, ext: AuthShare, coins: LateCoins, it: WrapItem): AuthShare {
    const f = ctx.field;
    const Z = coins.wrap[it.wrapIndex]!;
    const xs = sliceShare(f, ext, it.start, it.end);
    const base = this.d + this.auxLength + it.maskOffset + it.checks;
    const bits = sliceShare(f, ext, base, base + it.checks * it.wrapBits);
    const w = pow2Vec(f, it.wrapBits);
    const rv: bigint[] = [], rm: bigint[] = [];
    for (let k = 0; k < it.checks; k++) {
      const b = sliceShare(f, bits, k * it.wrapBits, (k + 1) * it.wrapBits);
      rv.push(f.dot(b.value, w)); rm.push(f.dot(b.mac, w));
    }
    return subShares(f, { value: Z.apply(f, xs.value), mac: Z.apply(f, xs.mac) }, { value: f.fromBigInts(rv), mac: f.fromBigInts(rm) });
  }

  /**
   * For fold coefficients γ (one per zero term): the coefficient c_t with which product t
   * enters Σ_k γ_k·term_k. Every product enters exactly one term with coefficient 1, so
   * fold(terms(ext, prods, e)) = fold(terms(ext, 0, e)) + Σ_t c_t·prods_t.
   * Throws RangeError if γ does not have {@link termCount} entries.
   */
  productCoefficients(gamma: FieldVec): FieldVec {
    if (gamma.length !== this.termCount) throw new RangeError(`productCoefficients: expected ${this.termCount} coefficients, got ${gamma.length}`);
    this.coefficientIndex ??= this.productTermIndex();
    return this.field.gather(gamma, this.coefficientIndex);
  }

  private productTermIndex(): Uint32Array {
    const out: number[] = [];
    let k = 0; // next term index
    for (const it of this.items) {
      switch (it.kind) {
        case "bits": for (let t = it.start; t < it.end; t++) out.push(k++); break;
        case "group": if (!it.exact) out.push(k); k++; break;
        case "range": { const nb = (it.end - it.start) * it.bits; for (let t = 0; t < nb; t++) out.push(k++); k += it.end - it.start; break; }
        case "l2": {
          const total = k + it.slackBits;
          for (let t = it.start; t < it.end; t++) out.push(total);
          for (let t = 0; t < it.slackBits; t++) out.push(k + t);
          k += it.slackBits + 1;
          break;
        }
        case "proj": {
          const total = k + it.slackBits;
          for (let t = 0; t < it.rows; t++) out.push(total);
          for (let t = 0; t < it.slackBits; t++) out.push(k + t);
          k += it.slackBits + 1;
          break;
        }
        case "wrap": {
          // terms: late bits (r(1 + b1)), g_k·S_k (r), Σg − τ (1); products: late bits, r_g·S_r.
          const n = it.checks * (1 + it.wrapBits) + it.checks;
          for (let t = 0; t < n; t++) out.push(k + t);
          k += n + 1;
          break;
        }
      }
    }
    return Uint32Array.from(out);
  }

  /**
   * The zero terms from the owner's extended share, the products (same order as
   * `operands`) and the public late input e. All are 0 iff the predicates hold.
   */
  terms(ctx: ShareContext, ext: AuthShare, prods: AuthShare, e: FieldVec, coins: LateCoins): AuthShare {
    const f = ctx.field;
    const out: AuthShare[] = [];
    const x = sliceShare(f, ext, 0, this.d);
    let o = 0;
    const take = (n: number) => { const s = sliceShare(f, prods, o, o + n); o += n; return s; };
    const { auxAt, maskAt } = this.extendedParts(f, ext);
    const pow2 = (n: number) => pow2Vec(f, n);
    const scalar = (v: bigint) => f.fromBigInts([v]);
    /** [Σ sq + Σ_t 2^t·c_t − bound]: an exact norm identity with its slack bits c, zero iff it holds. */
    const normIdentity = (sq: AuthShare, c: AuthShare, bound: bigint): AuthShare => {
      const w = pow2(c.value.length);
      const total: AuthShare = {
        value: scalar((f.sum(sq.value) + f.dot(c.value, w)) % f.p),
        mac: scalar((f.sum(sq.mac) + f.dot(c.mac, w)) % f.p),
      };
      return addPublic(ctx, total, scalar((f.p - bound) % f.p));
    };
    for (const it of this.items) {
      switch (it.kind) {
        case "bits": out.push(take(it.end - it.start)); break;
        case "group":
          if (it.exact) out.push(addPublic(ctx, groupSum(f, x, it.start, it.end), scalar(f.p - 1n)));
          else out.push(take(1));
          break;
        case "range": {
          const n = it.end - it.start;
          const bits = auxAt(it.auxOffset, n * it.bits);
          out.push(take(n * it.bits));
          // x_k − Σ_t 2^t b_{k,t}
          const w = pow2(it.bits);
          const recomposed: bigint[] = [], recomposedMac: bigint[] = [];
          for (let k = 0; k < n; k++) {
            const b = sliceShare(f, bits, k * it.bits, (k + 1) * it.bits);
            recomposed.push(f.dot(b.value, w)); recomposedMac.push(f.dot(b.mac, w));
          }
          // (x_k + offset) − Σ_t 2^t b_{k,t}
          const xs = sliceShare(f, x, it.start, it.end);
          const shifted = it.offset === 0n ? xs : addPublic(ctx, xs, f.fromBigInts(new Array<bigint>(n).fill(it.offset)));
          out.push(subShares(f, shifted, { value: f.fromBigInts(recomposed), mac: f.fromBigInts(recomposedMac) }));
          break;
        }
        case "l2": {
          const sq = take(it.end - it.start);
          out.push(take(it.slackBits));
          out.push(normIdentity(sq, auxAt(it.auxOffset, it.slackBits), it.bound));
          break;
        }
        case "proj": {
          const sq = take(it.rows);
          const r2 = take(it.slackBits);
          const r = maskAt(it.maskOffset, it.slackBits);
          const ev = f.slice(e, it.maskOffset, it.maskOffset + it.slackBits);
          // c = r + e (late input via masks); c(c−1) = r² + (2e − 1)·r + (e² − e)
          const coef = f.sub(f.add(ev, ev), f.fromInts(new Array<number>(it.slackBits).fill(1)));
          const constant = f.sub(f.mul(ev, ev), ev);
          const bitTerm = addPublic(ctx, { value: f.add(r2.value, f.mul(r.value, coef)), mac: f.add(r2.mac, f.mul(r.mac, coef)) }, constant);
          out.push(bitTerm);
          out.push(normIdentity(sq, addPublic(ctx, r, ev), it.threshold));
          break;
        }
        case "wrap": {
          const r = it.checks, nl = r * (1 + it.wrapBits);
          const sq = take(nl), gs = take(r);
          const late = maskAt(it.maskOffset, nl);
          const ev = f.slice(e, it.maskOffset, it.maskOffset + nl);
          // every late value u = mask + e is a bit: u(u − 1) = mask² + (2e − 1)·mask + e² − e
          const coef = f.sub(f.add(ev, ev), f.fromInts(new Array<number>(nl).fill(1)));
          out.push(addPublic(ctx, { value: f.add(sq.value, f.mul(late.value, coef)), mac: f.add(sq.mac, f.mul(late.mac, coef)) }, f.sub(f.mul(ev, ev), ev)));
          // g_k·S_k with g = r_g + e_g, S_k = S_r,k + c_k, c_k = h − Σ_t 2^t e_{k,t}:
          // g·S = r_g·S_r + c_k·r_g + e_g·S_r + e_g·c_k
          const rg = sliceShare(f, late, 0, r);
          const eg = f.slice(ev, 0, r);
          const w = pow2Vec(f, it.wrapBits);
          const ck = f.fromBigInts(Array.from({ length: r }, (_, k) => ((it.half - f.dot(f.slice(ev, r + k * it.wrapBits, r + (k + 1) * it.wrapBits), w)) % f.p + f.p) % f.p));
          const sr = this.wrapResidual(ctx, ext, coins, it);
          const gsTerm = {
            value: f.add(gs.value, f.add(f.mul(rg.value, ck), f.mul(sr.value, eg))),
            mac: f.add(gs.mac, f.add(f.mul(rg.mac, ck), f.mul(sr.mac, eg))),
          };
          out.push(addPublic(ctx, gsTerm, f.mul(eg, ck)));
          // Σ_k g_k − τ
          const gSum = { value: scalar(f.sum(rg.value)), mac: scalar(f.sum(rg.mac)) };
          out.push(addPublic(ctx, gSum, scalar((((f.sum(eg) - BigInt(it.successes)) % f.p) + f.p) % f.p)));
          break;
        }
      }
    }
    return out.length ? concatShares(f, out) : { value: f.zeros(0), mac: f.zeros(0) };
  }
}

/**
 * A public ±1 matrix (rows × d) stored as packed sign bits (bit set = +1), applied without
 * materialising rows (Field.signedRowSums, 1-bit codes).
 */
export class Projection {
  constructor(readonly rows: number, readonly d: number, readonly signs: Uint8Array) {
    if (signs.length * 8 < rows * d) throw new RangeError("Projection: not enough sign bits");
  }

  /** +1 or −1 at (i, k). */
  sign(i: number, k: number): 1 | -1 {
    const b = i * this.d + k;
    return (this.signs[b >>> 3]! >> (b & 7)) & 1 ? 1 : -1;
  }

  /** Row i as field elements (tests, generic fields). */
  row(f: Field, i: number): FieldVec {
    return f.fromInts(Array.from({ length: this.d }, (_, k) => this.sign(i, k)));
  }

  /** (R·v) restricted to rows [start, start + count): count field elements. Throws RangeError on a length mismatch. */
  apply(f: Field, v: FieldVec, start: number, count: number): FieldVec {
    if (v.length !== this.d) throw new RangeError(`Projection.apply: vector has ${v.length} entries, expected ${this.d}`);
    return f.signedRowSums(v, this.signs, 1, start, count);
  }
}

/** What coin A fixes for the late inputs: the projection R and the PINE vectors z per "pine" predicate. */
export interface LateCoins { projection: Projection | undefined; wrap: WrapVectors[] }

/**
 * PINE's public random vectors z_1..z_r ∈ {−1, 0, 1}^m, packed two bits per entry (00 → −1,
 * 11 → +1, 01/10 → 0: −1, 0, 1 w.p. 1/4, 1/2, 1/4), applied without materialising rows
 * (Field.signedRowSums, 2-bit codes).
 */
export class WrapVectors {
  constructor(readonly rows: number, readonly m: number, readonly codes: Uint8Array) {
    if (codes.length * 4 < rows * m) throw new RangeError("WrapVectors: not enough code bits");
  }

  /** z_i[k] ∈ {−1, 0, 1}. */
  entry(i: number, k: number): -1 | 0 | 1 {
    const b = i * this.m + k;
    const c = (this.codes[b >>> 2]! >> ((b & 3) * 2)) & 3;
    return c === 0 ? -1 : c === 3 ? 1 : 0;
  }

  /** (⟨z_i, v⟩)_{i < rows} as field elements. Throws RangeError on a length mismatch. */
  apply(f: Field, v: FieldVec): FieldVec {
    if (v.length !== this.m) throw new RangeError(`WrapVectors.apply: vector has ${v.length} entries, expected ${this.m}`);
    return f.signedRowSums(v, this.codes, 2, 0, this.rows);
  }
}

function pow2Vec(f: Field, n: number): FieldVec {
  return f.fromBigInts(Array.from({ length: n }, (_, t) => (1n << BigInt(t)) % f.p));
}

function groupSum(f: Field, x: AuthShare, s: number, e: number): AuthShare {
  const g = sliceShare(f, x, s, e);
  return { value: f.fromBigInts([f.sum(g.value)]), mac: f.fromBigInts([f.sum(g.mac)]) };
}

/** Σ_k c_k·t_k for public coefficients c: one authenticated scalar (length-1 vectors). */
export function foldTerms(f: Field, t: AuthShare, coeffs: FieldVec): AuthShare {
  return { value: f.fromBigInts([f.dot(t.value, coeffs)]), mac: f.fromBigInts([f.dot(t.mac, coeffs)]) };
}
