/**
 * Proof-assisted products for input validation: a zero-knowledge fully linear PCP (Boneh,
 * Boyle, Corrigan-Gibbs, Gilboa, Ishai, "Zero-knowledge proofs on secret-shared data via
 * fully linear PCPs", CRYPTO 2019, §4.2: random wire seeds) with the ParallelSum gadget,
 * checked on MASCOT-authenticated shares without any multiplication triple.
 *
 * Setting. The validation circuit of one owner's input needs S = Σ_t a_t·b_t, where a and b
 * (length P) are linear in the owner's authenticated input (a already carries the public
 * fold coefficients). The owner knows a and b in the clear, so it proves S:
 *  - lay the P pairs out as L gadget calls of width s (P ≤ s·L, zero padding): call l uses
 *    a_{(l−1)s+i}, b_{(l−1)s+i} for i < s;
 *  - add q seed calls L+1..L+q whose inputs are uniformly random values the owner drew and
 *    authenticated with its input (the last 2·q·s masks of its extended input, before any
 *    coin): A_i(L+m), B_i(L+m) random (q = the number of challenge points);
 *  - wire polynomials A_i, B_i of degree ≤ N − 1 through the N = L + q nodes 1..N; the proof
 *    polynomial H = Σ_i A_i·B_i has degree ≤ 2N − 2;
 *  - the owner inputs H(1), …, H(2N − 1) (late authenticated inputs, committed before the
 *    challenge); then S = Σ_{l ≤ L} H(l) is linear in the shares (the seed calls excluded);
 *  - after joint random challenges r_1..r_q ∉ {1..N}, distinct (a coin toss opened only once
 *    H is fixed, {@link proofChallenges}), all parties compute shares of A_i(r_k), B_i(r_k),
 *    H(r_k) (linear: Lagrange coefficients at r_k) and OPEN them; everyone checks
 *    H(r_k) = Σ_i A_i(r_k)·B_i(r_k) in the clear ({@link proofCheckHolds}).
 * Soundness: if H ≠ Σ A_i·B_i as polynomials, the difference (degree ≤ 2N − 2) vanishes at one
 * uniform point of the p − N − 1 allowed w.p. ≤ (2N − 2)/(p − N − 1), at q independent
 * points w.p. ≤ that to the q; {@link proofShape} takes the fewest q with bound ≤
 * 2^-{@link PROOF_SOUNDNESS_BITS} (m61: q = 2, p128: q = 1). The opened values are
 * MAC-checked (with every other validation opening) before any owner is excluded. If
 * H = Σ A_i·B_i, the claimed S is the true inner product.
 * Zero knowledge (honest owner): for each wire i the map from its q seeds to
 * (A_i(r_1), …, A_i(r_q)) is x ↦ M·x with M_{k,m} = λ_{L+m}(r_k). It is invertible: the
 * polynomials through the nodes that vanish on 1..L are Π_{l ≤ L}(X − l)·g(X), deg g < q,
 * and g ↦ (Π_l (r_k − l)·g(r_k))_k is a nonsingular Vandermonde map for distinct r_k ∉ 1..L.
 * So the opened A_i(r_k), B_i(r_k) are uniform and independent of the input, and H(r_k) is
 * their function: a simulator opens uniform values. The challenges never hit a node by
 * construction. (The Beaver-masked check this replaces cost q·s triples per owner, i.e. the
 * whole MASCOT offline phase of a validated round; docs/mascot.md "Product proof".)
 * Cost per owner: 2N − 1 late authenticated inputs and 2·q·s seeds (an input costs one COPE
 * per element with each peer), q·(2s + 1) opened elements per party, no triples.
 */
import type { Field, FieldVec } from "../field/types.ts";
import { sliceShare, type AuthShare } from "./shares.ts";
import { modPow } from "../field/modular.ts";

/**
 * Layout of the proof for `products` pairs: `width` s, `calls` L (real gadget calls), `seeds`
 * q (random seed calls per wire, = `queries`), proof `length` 2(L + q) − 1, `seedLength`
 * 2·q·s (the A seeds, then the B seeds, row by row), and `queries` q, the number of
 * independent challenge points the verifier checks.
 */
export interface ProofShape {
  products: number;
  width: number;
  calls: number;
  seeds: number;
  length: number;
  seedLength: number;
  queries: number;
}

/**
 * Upper bound on L (the prover's work is ≈ 2·P·L multiply-adds; in m61 on float64 limbs).
 * 4096 keeps s ≈ √(P/32) up to P ≈ 500k. ((2·4098 − 2)/p)² ≈ 2^-96 in m61.
 */
export const MAX_PROOF_CALLS = 4096;

/** Target soundness of the polynomial identity test: ((2N − 2)/(p − N − 1))^q ≤ 2^-64. */
export const PROOF_SOUNDNESS_BITS = 64;

/**
 * Fewest challenge points q with ((2N − 2)/(p − N − 1))^q ≤ 2^-{@link PROOF_SOUNDNESS_BITS}
 * for wire polynomials through N `nodes` (H has degree ≤ 2N − 2; challenges avoid the N
 * nodes; 1 when N = 1: the check is then a constant). Throws RangeError if 2N − 2 ≥ p − N − 1.
 */
export function proofQueries(p: bigint, nodes: number): number {
  const deg = BigInt(2 * nodes - 2);
  if (deg === 0n) return 1;
  const room = p - BigInt(nodes) - 1n;
  if (deg >= room) throw new RangeError(`proofQueries: 2N − 2 = ${deg} is not below p − N − 1`);
  // Compare (deg/room)^q ≤ 2^-bits exactly: deg^q · 2^bits ≤ room^q.
  for (let q = 1; ; q++) if (deg ** BigInt(q) << BigInt(PROOF_SOUNDNESS_BITS) <= room ** BigInt(q)) return q;
}

/**
 * Chooses s and L for P pairs: s ≈ √(P/32) balances the q·(2s + 1) opened elements per
 * owner against the 2(L + q) − 1 proof inputs and keeps the prover's O(P·L) work; L is
 * capped at {@link MAX_PROOF_CALLS}. With the field modulus `p`, `queries` (= `seeds`) is
 * the fewest challenge points for the target soundness with the seed calls counted
 * ({@link proofQueries} on N = L + q, a fixed point); without it, q = 1 (layout tests only).
 * Throws RangeError if P is not a positive integer.
 */
export function proofShape(products: number, p?: bigint): ProofShape {
  if (!Number.isSafeInteger(products) || products < 1) throw new RangeError(`proofShape: products must be a positive integer, got ${products}`);
  let width = Math.max(1, Math.ceil(Math.sqrt(products / 32)));
  if (Math.ceil(products / width) > MAX_PROOF_CALLS) width = Math.ceil(products / MAX_PROOF_CALLS);
  const calls = Math.ceil(products / width);
  let q = 1;
  if (p !== undefined) for (let next = proofQueries(p, calls + q); next !== q; next = proofQueries(p, calls + q)) q = next;
  return { products, width, calls, seeds: q, length: 2 * (calls + q) - 1, seedLength: 2 * q * width, queries: q };
}

/**
 * The q challenge points from q uniform field elements `u` (a coin opened after every proof
 * was fixed): r_k = N + 1 + (u_k mod (p − N − 1)), moved to the next allowed value (cyclically
 * within N + 1..p − 1) while it equals an earlier point. So every r_k avoids the N = L + q
 * interpolation nodes (zero knowledge) and they are distinct; each is uniform over the p − N − 1
 * allowed values up to a bias below N/p (soundness as in {@link proofQueries}). Throws
 * RangeError if `u` does not hold exactly q values.
 */
export function proofChallenges(f: Field, shape: ProofShape, u: readonly bigint[]): bigint[] {
  if (u.length !== shape.queries) throw new RangeError(`proofChallenges: ${u.length} uniform values for ${shape.queries} points`);
  const nodes = BigInt(shape.calls + shape.seeds);
  const room = f.p - nodes - 1n;
  const out: bigint[] = [];
  for (const x of u) {
    let off = ((x % room) + room) % room;
    while (out.includes(nodes + 1n + off)) off = (off + 1n) % room;
    out.push(nodes + 1n + off);
  }
  return out;
}

/** Memo of {@link inverseFactorials} by (p, n): a round asks for the same few sizes for every peer's proof. */
const invFactMemo = new Map<string, readonly bigint[]>();
const INV_FACT_MEMO_MAX = 64;

/** Inverse factorials 1/0!, …, 1/n! mod p (memoised; callers never mutate the array). */
function inverseFactorials(p: bigint, n: number): readonly bigint[] {
  const key = `${p}:${n}`;
  const hit = invFactMemo.get(key);
  if (hit) return hit;
  const inv = computeInverseFactorials(p, n);
  if (invFactMemo.size >= INV_FACT_MEMO_MAX) invFactMemo.clear();
  invFactMemo.set(key, inv);
  return inv;
}

function computeInverseFactorials(p: bigint, n: number): bigint[] {
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
export function lagrangeBasis(f: Field, nodes: number, r: bigint, invFact: readonly bigint[] = inverseFactorials(f.p, nodes - 1)): bigint[] {
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

/**
 * The gadget inputs of all N = L + q calls as one vector of N·s elements: v zero-padded to
 * L·s, then the q seed rows. Throws RangeError on a length mismatch.
 */
function withSeeds(f: Field, shape: ProofShape, v: FieldVec, seeds: FieldVec): FieldVec {
  if (v.length !== shape.products || seeds.length !== shape.seeds * shape.width) {
    throw new RangeError(`product proof: expected ${shape.products} inputs and ${shape.seeds * shape.width} seeds, got ${v.length} and ${seeds.length}`);
  }
  const pad = shape.calls * shape.width - shape.products;
  return f.concat(pad > 0 ? [v, f.zeros(pad), seeds] : [v, seeds]);
}

/**
 * Prover (the owner, clear values): H(1), …, H(2N − 1) for H = Σ_i A_i·B_i, where a and b
 * (length P) are the gadget inputs and `seeds` (length {@link ProofShape.seedLength}: the A
 * seeds, then the B seeds) the random inputs of the q seed calls. H(1..N) are row inner
 * products; the wire polynomials are extrapolated to N+1..2N−1 with λ_l(k) =
 * (−1)^(N−l)·(k−1)!/((k−N−1)!·(k−l)·(l−1)!·(N−l)!) and H(k) = ⟨Σ_l λ_l(k)·row_l(a),
 * Σ_l λ_l(k)·row_l(b)⟩ ({@link Field.combineRowPairs}). Throws RangeError on a length mismatch.
 */
export function proveProducts(f: Field, shape: ProofShape, a: FieldVec, b: FieldVec, seeds: FieldVec): FieldVec {
  if (seeds.length !== shape.seedLength) throw new RangeError(`proveProducts: expected ${shape.seedLength} seeds, got ${seeds.length}`);
  const half = shape.seeds * shape.width;
  const A = withSeeds(f, shape, a, f.slice(seeds, 0, half)), B = withSeeds(f, shape, b, f.slice(seeds, half, 2 * half));
  const N = shape.calls + shape.seeds, s = shape.width, p = f.p;
  const out: bigint[] = [];
  for (let l = 1; l <= N; l++) out.push(f.dot(f.slice(A, (l - 1) * s, l * s), f.slice(B, (l - 1) * s, l * s)));
  // factorials and inverses up to 2N
  const fact = [1n];
  for (let i = 1; i <= 2 * N; i++) fact.push((fact[i - 1]! * BigInt(i)) % p);
  const invFact = new Array<bigint>(2 * N + 1);
  invFact[2 * N] = modPow(fact[2 * N]!, p - 2n, p);
  for (let i = 2 * N; i >= 1; i--) invFact[i - 1] = (invFact[i]! * BigInt(i)) % p;
  const inv = (j: number) => (invFact[j]! * fact[j - 1]!) % p; // 1/j
  const g = f.fromBigInts(Array.from({ length: N }, (_, i) => {
    const l = i + 1;
    const v = (invFact[l - 1]! * invFact[N - l]!) % p;
    return (N - l) % 2 === 1 ? (p - v) % p : v;
  }));
  const invs = f.fromBigInts(Array.from({ length: 2 * N }, (_, j) => (j === 0 ? 0n : inv(j))));
  const idx = new Uint32Array(N);
  const lambda = (j: number) => { // λ(k) for k = N + 1 + j
    const k = N + 1 + j;
    for (let l = 1; l <= N; l++) idx[l - 1] = k - l;
    return f.scale(f.mul(f.gather(invs, idx), g), (fact[k - 1]! * invFact[k - N - 1]!) % p);
  };
  for (const [ca, cb] of f.combineRowPairs(A, B, s, N, N - 1, lambda)) out.push(f.dot(ca, cb));
  return f.fromBigInts(out);
}

/** A linear query's result on shares, to be opened: A(r), B(r) (s each) and H(r); and Σ_{l ≤ L} H(l) (one, the claimed inner product, folded into the owner's zero check). */
export interface ProductQuery {
  ar: AuthShare;
  br: AuthShare;
  hr: AuthShare;
  sum: AuthShare;
}

/** A challenge point r with its Lagrange bases over the N wire nodes and the 2N − 1 proof nodes ({@link proofPoints}). */
export interface ProofPoint {
  r: bigint;
  /** λ_l(r), l = 1..N (N = L + q): the wire polynomials at r. */
  wire: FieldVec;
  /** λ_l(r), l = 1..2N − 1: the proof polynomial H at r. */
  proof: FieldVec;
}

/**
 * The Lagrange bases of each challenge point for proofs of `shape`: every owner's proof of
 * that shape is queried at the same points, so a verifier computes them once per round, not
 * once per owner. Throws RangeError as {@link lagrangeBasis}.
 */
export function proofPoints(f: Field, shape: ProofShape, rs: readonly bigint[]): ProofPoint[] {
  const N = shape.calls + shape.seeds;
  return rs.map((r) => ({ r, wire: f.fromBigInts(lagrangeBasis(f, N, r)), proof: f.fromBigInts(lagrangeBasis(f, shape.length, r)) }));
}

/**
 * Verifier (every party, on its shares): the linear part of the check at each challenge
 * point of {@link proofChallenges} (bases from {@link proofPoints}), one query per point.
 * `a`, `b` are shares of the gadget inputs (length P), `seeds` of the seed inputs (length
 * seedLength), `h` of the proof (length 2N − 1). The caller opens ar, br and hr and checks
 * them with {@link proofCheckHolds}; `sum` (the same in every query) is the claimed inner
 * product Σ_t a_t·b_t. Throws RangeError on a length mismatch.
 */
export function queryProducts(f: Field, shape: ProofShape, a: AuthShare, b: AuthShare, seeds: AuthShare, h: AuthShare, points: readonly ProofPoint[]): ProductQuery[] {
  if (h.value.length !== shape.length || seeds.value.length !== shape.seedLength) {
    throw new RangeError(`queryProducts: expected a proof of ${shape.length} and ${shape.seedLength} seeds, got ${h.value.length} and ${seeds.value.length}`);
  }
  const half = shape.seeds * shape.width, N = shape.calls + shape.seeds;
  const seedA = sliceShare(f, seeds, 0, half), seedB = sliceShare(f, seeds, half, 2 * half);
  // A and B's wires at every point in one pass per share component (value, MAC).
  const wires = (x: FieldVec, sx: FieldVec, y: FieldVec, sy: FieldVec) =>
    f.combineRowPairs(withSeeds(f, shape, x, sx), withSeeds(f, shape, y, sy), shape.width, N, points.length, (k) => points[k]!.wire);
  const values = wires(a.value, seedA.value, b.value, seedB.value), macs = wires(a.mac, seedA.mac, b.mac, seedB.mac);
  const head = sliceShare(f, h, 0, shape.calls);
  const sum = { value: f.fromBigInts([f.sum(head.value)]), mac: f.fromBigInts([f.sum(head.mac)]) };
  return points.map((pt, k) => ({
    ar: { value: values[k]![0], mac: macs[k]![0] },
    br: { value: values[k]![1], mac: macs[k]![1] },
    hr: { value: f.fromBigInts([f.dot(h.value, pt.proof)]), mac: f.fromBigInts([f.dot(h.mac, pt.proof)]) },
    sum,
  }));
}

/** The public check at one challenge point on opened values: H(r) = Σ_i A_i(r)·B_i(r). */
export function proofCheckHolds(f: Field, ar: FieldVec, br: FieldVec, hr: bigint): boolean {
  return f.dot(ar, br) === hr;
}
