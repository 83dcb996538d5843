/**
 * Proof-assisted products for input validation: a fully linear PCP (Boneh, Boyle,
 * Corrigan-Gibbs, Gilboa, Ishai, "Zero-knowledge proofs on secret-shared data via fully
 * linear PCPs", CRYPTO 2019) with the ParallelSum gadget, checked on MASCOT-authenticated
 * shares.
 *
 * Setting. The validation circuit of one owner's input needs S = Σ_t a_t·b_t, where a and b
 * (length P) are linear in the owner's authenticated input (a already carries the public
 * fold coefficients). Computing every a_t·b_t with a Beaver triple costs P triples per owner,
 * and MASCOT triples are the expensive part (≈ 6.8 KB per triple per ordered pair of
 * parties). The owner knows a and b in the clear, so it proves S instead:
 *  - lay the P pairs out as L gadget calls of width s (P ≤ s·L, zero padding): call l uses
 *    a_{(l−1)s+i}, b_{(l−1)s+i} for i < s;
 *  - wire polynomials A_i, B_i of degree ≤ L − 1 with A_i(l), B_i(l) the call-l inputs
 *    (l = 1..L); the proof polynomial H = Σ_i A_i·B_i has degree ≤ 2L − 2;
 *  - the owner inputs H(1), …, H(2L − 1) (late authenticated inputs, committed before the
 *    challenge); then S = Σ_{l ≤ L} H(l) is linear in the shares;
 *  - after joint random challenges r_1..r_q (a coin toss opened only once H is fixed), all
 *    parties compute shares of A_i(r_k), B_i(r_k), H(r_k) (linear: Lagrange coefficients at
 *    r_k) and check H(r_k) − Σ_i A_i(r_k)·B_i(r_k) = 0 with s Beaver products per point.
 * Soundness: if H ≠ Σ A_i·B_i as polynomials, the difference (degree ≤ 2L − 2) vanishes at one
 * uniform point w.p. ≤ (2L − 2)/p and at q independent points w.p. ≤ ((2L − 2)/p)^q. One
 * point gives only ≈ 2^-50 at L = 1024 in m61, so {@link proofShape} takes q = the fewest
 * points with ((2L − 2)/p)^q ≤ 2^-{@link PROOF_SOUNDNESS_BITS} (m61: q = 2 whenever L ≥ 2,
 * ≤ 2^-96 at L = 4096; p128: q = 1, ≤ 2^-114). If H = Σ A_i·B_i, the claimed S is the true inner product.
 * Privacy: nothing is opened except Beaver-masked values and the final masked pass/fail
 * value, exactly as with Beaver products for every pair (H is never opened; A(r), B(r) only
 * Beaver-masked, so points r inside 1..L leak nothing either).
 * Cost per owner: q·s triples instead of P, and 2L − 1 extra authenticated inputs (an input
 * costs one COPE per element with each peer, ≈ 14× less than a triple with all pairs).
 */
import type { Field, FieldVec } from "../field/types.ts";
import { sliceShare, type AuthShare } from "./shares.ts";
import { modPow } from "../field/modular.ts";

/**
 * Layout of the proof for `products` pairs: `width` s, `calls` L, proof `length` 2L − 1, and
 * `queries` q, the number of independent challenge points the verifier checks.
 */
export interface ProofShape {
  products: number;
  width: number;
  calls: number;
  length: number;
  queries: number;
}

/**
 * Upper bound on L (the prover's work is ≈ 2·P·L multiply-adds; in m61 on float64 limbs).
 * 4096 keeps s ≈ √(P/32) up to P ≈ 500k (was 1024: above P ≈ 32k the cap widened s and
 * multiplied the triples, ≈ 11 inputs' worth of bytes each). ((2·4096 − 2)/p)² ≈ 2^-96 in m61.
 */
export const MAX_PROOF_CALLS = 4096;

/** Target soundness of the polynomial identity test: ((2L − 2)/p)^q ≤ 2^-64. */
export const PROOF_SOUNDNESS_BITS = 64;

/**
 * Fewest challenge points q with ((2L − 2)/p)^q ≤ 2^-{@link PROOF_SOUNDNESS_BITS} (1 when
 * L = 1: the check is then a constant). Throws RangeError if 2L − 2 ≥ p.
 */
export function proofQueries(p: bigint, calls: number): number {
  const deg = BigInt(2 * calls - 2);
  if (deg === 0n) return 1;
  if (deg >= p) throw new RangeError(`proofQueries: 2L − 2 = ${deg} is not below p`);
  // Compare (deg/p)^q ≤ 2^-bits exactly: deg^q · 2^bits ≤ p^q.
  for (let q = 1; ; q++) if (deg ** BigInt(q) << BigInt(PROOF_SOUNDNESS_BITS) <= p ** BigInt(q)) return q;
}

/**
 * Chooses s and L for P pairs: s ≈ √(P/32) balances the s triples per challenge point (all
 * pairs of parties) against the 2L − 1 inputs (owner's pairs only) and keeps the prover's
 * O(P·L) work; L is capped at {@link MAX_PROOF_CALLS}. With the field modulus `p`, `queries`
 * is the fewest challenge points for the target soundness ({@link proofQueries}; the layout
 * itself does not depend on it, so a second point costs s triples and no prover work);
 * without it, q = 1 (layout tests only). Throws RangeError if P is not a positive integer.
 */
export function proofShape(products: number, p?: bigint): ProofShape {
  if (!Number.isSafeInteger(products) || products < 1) throw new RangeError(`proofShape: products must be a positive integer, got ${products}`);
  let width = Math.max(1, Math.ceil(Math.sqrt(products / 32)));
  if (Math.ceil(products / width) > MAX_PROOF_CALLS) width = Math.ceil(products / MAX_PROOF_CALLS);
  const calls = Math.ceil(products / width);
  return { products, width, calls, length: 2 * calls - 1, queries: p === undefined ? 1 : proofQueries(p, calls) };
}

/** Inverse factorials 1/0!, …, 1/n! mod p. */
function inverseFactorials(p: bigint, n: number): bigint[] {
  const fact = [1n];
  for (let i = 1; i <= n; i++) fact.push((fact[i - 1]! * BigInt(i)) % p);
  const inv = new Array<bigint>(n + 1);
  inv[n] = modPow(fact[n]!, p - 2n, p);
  for (let i = n; i >= 1; i--) inv[i - 1] = (inv[i]! * BigInt(i)) % p;
  return inv;
}

/**
 * Lagrange basis over the nodes 1..N evaluated at r: λ_l(r) = Π_{m≠l} (r − m)/(l − m), so
 * g(r) = Σ_l λ_l(r)·g(l) for every g of degree < N. Correct for any r, including a node.
 * Requires N < p. Throws RangeError if N < 1.
 */
export function lagrangeBasis(f: Field, nodes: number, r: bigint, invFact = inverseFactorials(f.p, nodes - 1)): bigint[] {
  if (!Number.isSafeInteger(nodes) || nodes < 1) throw new RangeError(`lagrangeBasis: nodes must be positive, got ${nodes}`);
  const p = f.p;
  const diff = (m: number) => ((r - BigInt(m)) % p + p) % p;
  const pre = new Array<bigint>(nodes + 2);
  const suf = new Array<bigint>(nodes + 2);
  pre[1] = 1n;
  for (let l = 1; l <= nodes; l++) pre[l + 1] = (pre[l]! * diff(l)) % p;
  suf[nodes] = 1n;
  for (let l = nodes; l >= 1; l--) suf[l - 1] = (suf[l]! * diff(l)) % p;
  const out = new Array<bigint>(nodes);
  for (let l = 1; l <= nodes; l++) {
    // Π_{m≠l} (l − m) = (l − 1)!·(−1)^{N−l}·(N − l)!
    let v = (((pre[l]! * suf[l]!) % p) * ((invFact[l - 1]! * invFact[nodes - l]!) % p)) % p;
    if ((nodes - l) % 2 === 1) v = (p - v) % p;
    out[l - 1] = v;
  }
  return out;
}

/** Row l (1-based) of a length-P vector laid out as L rows of width s, zero-padded. */
function row(f: Field, v: FieldVec, shape: ProofShape, l: number): FieldVec {
  const start = (l - 1) * shape.width;
  const end = Math.min(start + shape.width, shape.products);
  if (end - start === shape.width) return f.slice(v, start, end);
  const out = f.zeros(shape.width);
  for (let i = start; i < end; i++) f.set(out, i - start, f.get(v, i));
  return out;
}

/** Σ_l coeffs[l−1]·row_l(v): the s wire polynomials evaluated where `coeffs` is the Lagrange basis. */
function combineRows(f: Field, v: FieldVec, shape: ProofShape, coeffs: readonly bigint[]): FieldVec {
  // Multiply-add each row in place (no per-row allocation); the last row may be short.
  const acc = f.zeros(shape.width);
  for (let l = 1; l <= shape.calls; l++) {
    const c = coeffs[l - 1]!;
    if (c === 0n) continue;
    const start = (l - 1) * shape.width, end = Math.min(start + shape.width, shape.products);
    f.scaleAddRange(acc, v, start, end, c);
  }
  return acc;
}

/**
 * Prover (the owner, clear values): H(1), …, H(2L − 1) for H = Σ_i A_i·B_i, where a and b
 * (length P) are the gadget inputs. H(1..L) are row inner products; the wire polynomials are
 * extrapolated to L+1..2L−1 with λ_l(k) = (−1)^(L−l)·(k−1)!/((k−L−1)!·(k−l)·(l−1)!·(L−l)!)
 * and H(k) = ⟨Σ_l λ_l(k)·row_l(a), Σ_l λ_l(k)·row_l(b)⟩ by {@link Field.combinedRowDots}.
 * Throws RangeError on a length mismatch.
 */
export function proveProducts(f: Field, shape: ProofShape, a: FieldVec, b: FieldVec): FieldVec {
  if (a.length !== shape.products || b.length !== shape.products) throw new RangeError(`proveProducts: expected ${shape.products} pairs, got ${a.length} and ${b.length}`);
  const L = shape.calls, p = f.p;
  const out: bigint[] = [];
  for (let l = 1; l <= L; l++) out.push(f.dot(row(f, a, shape, l), row(f, b, shape, l)));
  if (L === 1) return f.fromBigInts(out);
  // factorials and inverses up to 2L
  const fact = [1n];
  for (let i = 1; i <= 2 * L; i++) fact.push((fact[i - 1]! * BigInt(i)) % p);
  const invFact = new Array<bigint>(2 * L + 1);
  invFact[2 * L] = modPow(fact[2 * L]!, p - 2n, p);
  for (let i = 2 * L; i >= 1; i--) invFact[i - 1] = (invFact[i]! * BigInt(i)) % p;
  const inv = (j: number) => (invFact[j]! * fact[j - 1]!) % p; // 1/j
  const g = f.fromBigInts(Array.from({ length: L }, (_, i) => {
    const l = i + 1;
    const v = (invFact[l - 1]! * invFact[L - l]!) % p;
    return (L - l) % 2 === 1 ? (p - v) % p : v;
  }));
  const invs = f.fromBigInts(Array.from({ length: 2 * L }, (_, j) => (j === 0 ? 0n : inv(j))));
  const idx = new Uint32Array(L);
  const lambda = (j: number) => { // λ(k) for k = L + 1 + j
    const k = L + 1 + j;
    for (let l = 1; l <= L; l++) idx[l - 1] = k - l;
    return f.scale(f.mul(f.gather(invs, idx), g), (fact[k - 1]! * invFact[k - L - 1]!) % p);
  };
  out.push(...f.combinedRowDots(a, b, shape.width, L, L - 1, lambda));
  return f.fromBigInts(out);
}

/** A linear query's result on shares: A(r), B(r) (s each) and H(r), Σ_{l ≤ L} H(l) (one each). */
export interface ProductQuery {
  ar: AuthShare;
  br: AuthShare;
  hr: AuthShare;
  sum: AuthShare;
}

/**
 * Verifier (every party, on its shares): the linear part of the check at one challenge
 * point r (call it once per point r_1..r_q, all from a coin opened after H was fixed).
 * `a`, `b` are shares of the gadget inputs (length P), `h` of the proof (length 2L − 1).
 * The caller multiplies ar∘br with Beaver triples and checks hr − Σ(ar∘br) = 0; `sum` is
 * the claimed inner product Σ_t a_t·b_t. Throws RangeError on a length mismatch.
 */
export function queryProducts(f: Field, shape: ProofShape, a: AuthShare, b: AuthShare, h: AuthShare, r: bigint): ProductQuery {
  if (a.value.length !== shape.products || b.value.length !== shape.products || h.value.length !== shape.length) {
    throw new RangeError(`queryProducts: expected ${shape.products} pairs and a proof of ${shape.length}, got ${a.value.length}, ${b.value.length}, ${h.value.length}`);
  }
  const L = shape.calls;
  const lamL = lagrangeBasis(f, L, r);
  const lamH = f.fromBigInts(lagrangeBasis(f, shape.length, r));
  const lin = (v: FieldVec) => combineRows(f, v, shape, lamL);
  const head = sliceShare(f, h, 0, L);
  return {
    ar: { value: lin(a.value), mac: lin(a.mac) },
    br: { value: lin(b.value), mac: lin(b.mac) },
    hr: { value: f.fromBigInts([f.dot(h.value, lamH)]), mac: f.fromBigInts([f.dot(h.mac, lamH)]) },
    sum: { value: f.fromBigInts([f.sum(head.value)]), mac: f.fromBigInts([f.sum(head.mac)]) },
  };
}
