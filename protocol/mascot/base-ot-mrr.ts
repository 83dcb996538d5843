/**
 * Base OT of the offline setup: McQuoid–Rosulek–Roy, "Batching Base Oblivious Transfers"
 * (ASIACRYPT 2021, eprint 2021/682), the Curve25519-and-twist instantiation with the
 * streamlined Feistel POPF ("McRosRoyTwistMul" in libOTe), random OT, batched under one
 * sender key, with every scalar multiplication an RFC 7748 X25519 call so that it can run on
 * the platform's native WebCrypto X25519 (protocol/crypto/x25519.ts). The choice, its proof
 * model and caveats are in base-ot.ts's header; this file is the specification.
 *
 * Notation: E: v² = u³ + A u² + u (Curve25519, #E = 8ℓ), E': 2v² = u³ + A u² + u (its twist;
 * 2 is a non-square mod p, #E' = 4ℓ'); every u ∈ F_p is the u-coordinate of a point of E or
 * E'. X(k, u) = x25519(k, u) with the clamped scalar (a multiple of 8: kills torsion).
 * G_0 = 9 (on E), G_1 = 2 (on E'); T_0 of order 8 on E, T_1 of order 4 on E' (with v).
 * H(·) = SHA-256 with a domain tag and the session id `sid` (length-prefixed) bound in.
 *
 *   sender     a ← {0,1}^256; A_z = X(a, G_z) (z = 0, 1)                       → A_0 ‖ A_1
 *   receiver   per OT i with choice c_i:
 *              b_i ← {0,1}^256, s_i ← {0,1}^256, z_i, r_i ← {0,1}, k_i ← [0, h_z) (h_0 = 8, h_1 = 4)
 *              P_i = X(b_i, G_z) with v = the even square root of f(u)/B_z (y-recovery)
 *              y_i = u(P_i + k_i·T_z) with bit 255 := r_i        (uniform 256-bit string)
 *              POPF program (MRR21's streamlined Feistel): t_i = y_i ⊕ H_popf(sid, i, c_i, s_i),
 *              s'_i = s_i ⊕ c_i·t_i                                              → φ_i = t_i ‖ s'_i
 *              key: K = X(b_i, A_{z_i}); k_{c_i} = H_key(sid, i, c_i, A_0‖A_1, φ_i, K)[0..16]
 *   sender     per OT, x ∈ {0,1}: Y_x = t_i ⊕ H_popf(sid, i, x, s'_i ⊕ x·t_i);
 *              K_x = X(a, Y_x); k_x = H_key(sid, i, x, A_0‖A_1, φ_i, K_x)[0..16]
 *
 * Preparation (mrrPrepare): b_i, z_i, k_i, r_i and y_i depend on neither the session, the
 * sender's A nor c_i, so a node computes them while idle (one fixed-base X25519 and, three
 * times in four, a square root per OT) and a session's receiver is left with the POPF program
 * (two hashes) and K (one X25519) per OT. The halves are secret and single use; the protocol's
 * messages and keys are distributed exactly as without preparation.
 *
 * Correctness: Y_{c} = y_i and clamp(a) kills k_i·T_z, so X(a, y_i) = u(clamp(a)·clamp(b_i)·G_z)
 * = X(b_i, A_{z_i}). Why y_i is uniform: P_i is uniform in the prime-order subgroup (up to the
 * clamping caveat in base-ot.ts), adding a uniform torsion point makes it uniform in E(F_p) or
 * E'(F_p), whose u-coordinates (choosing the curve with probability 1/2) are uniform in F_p up
 * to ≈ 2^-128, and r_i fills bit 255. The receiver's randomness is drawn per OT in the order
 * b_i (32 bytes), s_i (32), then one byte: bit 0 = z_i, bits 1..3 = k_i (mod h_z), bit 7 = r_i.
 *
 * Checks (each has a negative test in test/unit/mascot-offline/base-ot-mrr.test.ts):
 * - the receiver rejects A_z that is not 32 canonical bytes (< p, bit 255 clear), not on its
 *   curve (A_0 on E, A_1 on E'), or of low order (its key would be 0): ProtocolAbort
 *   "bad-encoding" naming the sender. No subgroup check is needed beyond that: φ_i is computed
 *   before and independently of A (one-round protocol), so A's torsion cannot reach the
 *   receiver's message, and the clamped b_i kills it in K.
 * - the sender rejects a message of the wrong length and any Y_x of low order (an all-zero
 *   K_x, which the receiver could predict): "bad-encoding" naming the receiver. The honest
 *   receiver's torsion in Y_c is intended and killed by the clamped a.
 * - states are single use; keys bind sid ‖ i ‖ x ‖ A ‖ φ_i, so a replayed φ in another
 *   session or position yields unrelated keys (caught later by the OT-extension checks).
 *
 * One protocol, several X25519 backends (protocol/crypto/x25519.ts): the sync functions use
 * Node's OpenSSL X25519 where present, else noble's ladder; the `…Async` ones also WebCrypto
 * X25519 (workerd, browsers). Same randomness draws, same messages, same keys (tested for
 * every backend). Not constant time (the y-recovery and POPF are not).
 */
import { Field, FpInvertBatch, FpLegendre } from "@noble/curves/abstract/modular.js";
import { sha256Parts } from "./hash.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import type { Rng } from "../rng.ts";
import { canonicalU, P25519, uFromBytes, uToBytes, x25519Many, x25519ManyAsync, type X25519Results } from "../crypto/x25519.ts";
import { ProtocolAbort } from "./errors.ts";

/** Byte length of each OT output key. */
export const MRR_KEY_BYTES = 16;
/** Sender message: A_0 ‖ A_1. */
export const MRR_SENDER_MESSAGE_BYTES = 64;
/** Receiver message per OT: φ_i = t_i ‖ s'_i. */
export const MRR_RECEIVER_BYTES_PER_OT = 64;

const Fp = Field(P25519);
const MA = 486662n;
/** B coefficient of E (1) and E' (2, a non-square). */
const CURVE_B = [1n, 2n] as const;
/** Cofactor part killed by clamping: h_0 = 8 (E), h_1 = 4 (E'). */
const H_TORSION = [8, 4] as const;
/** G_0 = 9 (RFC 7748 base point, on E); G_1 = 2 (smallest u on the twist E'). */
export const MRR_GENERATORS = [uToBytes(9n), uToBytes(2n)] as const;
const TAG_POPF = utf8("2pm/ot/mrr21-popf/v1");
const TAG_KEY = utf8("2pm/ot/mrr21-key/v1");

/** f(u) = u³ + A u² + u. */
function fU(u: bigint): bigint {
  return Fp.mul(u, Fp.add(Fp.mul(u, Fp.add(u, MA)), 1n));
}

/** Affine point of B·v² = f(u); null is the point at infinity. */
export type MontPoint = { u: bigint; v: bigint } | null;

/** Affine addition on B·v² = u³ + A u² + u (chord and tangent). */
export function montAdd(B: bigint, P: MontPoint, Q: MontPoint): MontPoint {
  if (!P) return Q;
  if (!Q) return P;
  let lam: bigint;
  if (P.u === Q.u) {
    if (Fp.add(P.v, Q.v) === 0n) return null;
    lam = Fp.div(Fp.add(Fp.add(Fp.mul(3n, Fp.sqr(P.u)), Fp.mul(Fp.mul(2n, MA), P.u)), 1n), Fp.mul(Fp.mul(2n, B), P.v));
  } else {
    lam = Fp.div(Fp.sub(Q.v, P.v), Fp.sub(Q.u, P.u));
  }
  const u = Fp.sub(Fp.sub(Fp.sub(Fp.mul(B, Fp.sqr(lam)), MA), P.u), Q.u);
  return { u, v: Fp.sub(Fp.mul(lam, Fp.sub(P.u, u)), P.v) };
}

const MASK255 = (1n << 255n) - 1n;

/**
 * y mod p for 0 ≤ y < 2^512 (a product of two values < 2^256), by folding 2^255 ≡ 19 twice
 * instead of a BigInt division: after the first fold y < 2^255 + 19·2^257, after the second
 * y < 2^255 + 19·2^8 < 2p, so one conditional subtraction is left.
 */
function reduce(y: bigint): bigint {
  y = (y & MASK255) + 19n * (y >> 255n);
  y = (y & MASK255) + 19n * (y >> 255n);
  return y >= P25519 ? y - P25519 : y;
}

/** x^(2^k) mod p (0 ≤ x < p). */
function sqrN(x: bigint, k: number): bigint {
  let r = x;
  for (let i = 0; i < k; i++) r = reduce(r * r);
  return r;
}

/** x^((p − 5)/8) = x^(2^252 − 3) by the ref10 addition chain (≈ 254 squarings + 11 multiplications; 0 ≤ x < p). */
function powP58(x: bigint): bigint {
  const b2 = reduce(reduce(x * x) * x); // 2^2 − 1
  const b4 = reduce(sqrN(b2, 2) * b2);
  const b5 = reduce(sqrN(b4, 1) * x);
  const b10 = reduce(sqrN(b5, 5) * b5);
  const b20 = reduce(sqrN(b10, 10) * b10);
  const b40 = reduce(sqrN(b20, 20) * b20);
  const b80 = reduce(sqrN(b40, 40) * b40);
  const b160 = reduce(sqrN(b80, 80) * b80);
  const b240 = reduce(sqrN(b160, 80) * b80);
  const b250 = reduce(sqrN(b240, 10) * b10);
  return reduce(sqrN(b250, 2) * x);
}

const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;
/** 1/B for B ∈ {1, 2}. */
const INV_B = [1n, (P25519 + 1n) / 2n] as const;

/** The even square root of n mod p (p ≡ 5 mod 8: r = n^((p+3)/8), times √−1 if r² = −n), or null for a non-square. */
function sqrtEven(n: bigint): bigint | null {
  const p = P25519;
  let r = (n * powP58(n)) % p;
  const r2 = (r * r) % p;
  if (r2 !== n) {
    if (r2 !== (p - n) % p) return null;
    r = (r * SQRT_M1) % p;
  }
  return r & 1n ? p - r : r;
}

/** The point of B·v² = f(u) (B = 1 or 2) with this u and an even v; null if u is not on that curve. */
export function liftEven(B: bigint, u: bigint): MontPoint {
  const v = sqrtEven((fU(u) * INV_B[B === 1n ? 0 : 1]) % P25519);
  return v === null ? null : { u, v };
}

/** Which curve u lies on: 0 (E), 1 (E'), or both (f(u) = 0: u = 0 only, low order anyway). */
function curveOf(u: bigint): 0 | 1 {
  return FpLegendre(Fp, fU(u)) === -1 ? 1 : 0;
}

/** u of the low-order points of E and E' (orders 1, 2, 4, 8): X(k, u) = 0 exactly for these. */
export const LOW_ORDER_U: readonly bigint[] = [
  0n, 1n, P25519 - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
];

const LOW_ORDER_BYTES = LOW_ORDER_U.map(uToBytes);
/** Is the canonical 32-byte u one of {@link LOW_ORDER_U}? */
function isLowOrder(u: Uint8Array): boolean {
  return LOW_ORDER_BYTES.some((lo) => lo.every((b, j) => b === u[j]));
}

let torsionTables: MontPoint[][] | undefined;
/** k·T_z for k ∈ [0, h_z): T_0 = the order-8 point of E with u = LOW_ORDER_U[3] (even v), T_1 = (−1, even v) on E' (order 4). */
export function torsionTable(z: 0 | 1): MontPoint[] {
  torsionTables ??= ([0, 1] as const).map((zz) => {
    const T = liftEven(CURVE_B[zz], zz === 0 ? LOW_ORDER_U[3]! : P25519 - 1n);
    if (!T) throw new Error("base-ot-mrr: torsion constant not on its curve");
    const out: MontPoint[] = [null];
    for (let k = 1; k < H_TORSION[zz]; k++) out.push(montAdd(CURVE_B[zz], out[k - 1]!, T));
    return out;
  });
  return torsionTables[z]!;
}

function u32(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}

/** i (u32, little-endian) ‖ x (one byte): the per-OT part of both hashes' inputs. */
function ix(i: number, x: number): Uint8Array {
  return Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24, x);
}

// Both hashes absorb their parts without building the concatenation (hash.ts sha256Parts; same digest).
function hPopf(sidP: Uint8Array, i: number, x: number, s: Uint8Array): Uint8Array {
  return sha256Parts(TAG_POPF, sidP, ix(i, x), s);
}

function hKey(sidP: Uint8Array, i: number, x: number, A: Uint8Array, phi: Uint8Array, K: Uint8Array): Uint8Array {
  return sha256Parts(TAG_KEY, sidP, ix(i, x), A, phi, K).subarray(0, MRR_KEY_BYTES);
}

/** sid, length-prefixed (so that sid ‖ i cannot be re-split). */
function sidPrefix(sid: Uint8Array): Uint8Array {
  return concatBytes(u32(sid.length), sid);
}

/** H_popf(sid, i, x, s) (32 bytes), for the vector generator and tests. */
export function mrrPopfHash(sid: Uint8Array, i: number, x: number, s: Uint8Array): Uint8Array {
  return hPopf(sidPrefix(sid), i, x, s);
}

/** H_key(sid, i, x, A, φ_i, K)[0..16], for the vector generator and tests. */
export function mrrKeyHash(sid: Uint8Array, i: number, x: number, A: Uint8Array, phi: Uint8Array, K: Uint8Array): Uint8Array {
  return hKey(sidPrefix(sid), i, x, A, phi, K);
}

function xorInto(dst: Uint8Array, a: Uint8Array, b: Uint8Array): void {
  for (let j = 0; j < dst.length; j++) dst[j] = a[j]! ^ b[j]!;
}

// ------------------------------------------------------------------ sender

/** Sender's private state between its two steps. Single use. */
export interface MrrSenderState { readonly sid: Uint8Array; readonly a: Uint8Array; readonly A: Uint8Array; used: boolean }

function senderState(sid: Uint8Array, a: Uint8Array, A0: Uint8Array | null, A1: Uint8Array | null): { state: MrrSenderState; message: Uint8Array } {
  if (!A0 || !A1) throw new Error("base-ot-mrr: sender key of low order"); // clamped a: impossible
  const A = concatBytes(A0, A1);
  return { state: { sid: sid.slice(), a, A, used: false }, message: A };
}

/** Sender step 1 (sync): returns the state and the 64-byte message A_0 ‖ A_1. */
export function mrrSenderStart(sid: Uint8Array, rng: Rng): { state: MrrSenderState; message: Uint8Array } {
  const a = rng.bytes(32);
  const [A0, A1] = x25519Many([{ scalar: a, us: [...MRR_GENERATORS] }])[0]!;
  return senderState(sid, a, A0!, A1!);
}

/** {@link mrrSenderStart} on the async backends (WebCrypto where it is the native one): same draws, same message. */
export async function mrrSenderStartAsync(sid: Uint8Array, rng: Rng): Promise<{ state: MrrSenderState; message: Uint8Array }> {
  const a = rng.bytes(32);
  const [A0, A1] = (await x25519ManyAsync([{ scalar: a, us: [...MRR_GENERATORS] }]))[0]!;
  return senderState(sid, a, A0!, A1!);
}

function checkFinish(state: MrrSenderState, messageB: Uint8Array, m: number, peer: number): void {
  if (state.used) throw new Error("mrrSenderFinish: state already used");
  if (!Number.isInteger(m) || m < 0) throw new RangeError(`mrrSenderFinish: m must be a non-negative integer, got ${m}`);
  if (messageB.length !== MRR_RECEIVER_BYTES_PER_OT * m) {
    throw new ProtocolAbort("bad-encoding", [peer], `base OT: expected ${MRR_RECEIVER_BYTES_PER_OT * m} bytes of φ, got ${messageB.length}`);
  }
  state.used = true;
}

/** The two POPF evaluations Y_0, Y_1 of OT i (canonical u, low-order rejected). */
function popfEval(sidP: Uint8Array, i: number, phi: Uint8Array, peer: number): [Uint8Array, Uint8Array] {
  const t = phi.subarray(0, 32), s1 = phi.subarray(32, 64);
  const sx = new Uint8Array(32);
  const out: Uint8Array[] = [];
  for (let x = 0; x < 2; x++) {
    if (x === 1) xorInto(sx, s1, t); else sx.set(s1);
    const Y = new Uint8Array(32);
    xorInto(Y, t, hPopf(sidP, i, x, sx));
    const u = canonicalU(Y);
    if (isLowOrder(u)) throw new ProtocolAbort("bad-encoding", [peer], `base OT: φ_${i} evaluates to a low-order point`);
    out.push(u);
  }
  return [out[0]!, out[1]!];
}

function finishKeys(state: MrrSenderState, sidP: Uint8Array, messageB: Uint8Array, m: number, K: ReadonlyArray<Uint8Array | null>, peer: number): { k0: Uint8Array; k1: Uint8Array } {
  const k0 = new Uint8Array(MRR_KEY_BYTES * m), k1 = new Uint8Array(MRR_KEY_BYTES * m);
  for (let i = 0; i < m; i++) {
    const phi = messageB.subarray(64 * i, 64 * i + 64);
    const K0 = K[2 * i], K1 = K[2 * i + 1];
    if (!K0 || !K1) throw new ProtocolAbort("bad-encoding", [peer], `base OT: φ_${i} evaluates to a low-order point`);
    k0.set(hKey(sidP, i, 0, state.A, phi, K0), MRR_KEY_BYTES * i);
    k1.set(hKey(sidP, i, 1, state.A, phi, K1), MRR_KEY_BYTES * i);
  }
  return { k0, k1 };
}

/**
 * Sender step 2 (sync): on the receiver's φ_1..φ_m returns both keys per OT (k0, k1: 16·m
 * bytes each, flat). Throws ProtocolAbort "bad-encoding" (culprit `peer`) on a wrong length or
 * a low-order evaluation, Error if the state was already used.
 */
export function mrrSenderFinish(state: MrrSenderState, messageB: Uint8Array, m: number, peer: number): { k0: Uint8Array; k1: Uint8Array } {
  checkFinish(state, messageB, m, peer);
  const sidP = sidPrefix(state.sid);
  return finishKeys(state, sidP, messageB, m, x25519Many([{ scalar: state.a, us: evalAll(sidP, messageB, m, peer) }])[0]!, peer);
}

/** {@link mrrSenderFinish} on the async backends (same keys). */
export async function mrrSenderFinishAsync(state: MrrSenderState, messageB: Uint8Array, m: number, peer: number): Promise<{ k0: Uint8Array; k1: Uint8Array }> {
  checkFinish(state, messageB, m, peer);
  const sidP = sidPrefix(state.sid);
  const us = evalAll(sidP, messageB, m, peer);
  return finishKeys(state, sidP, messageB, m, (await x25519ManyAsync([{ scalar: state.a, us }]))[0]!, peer);
}

function evalAll(sidP: Uint8Array, messageB: Uint8Array, m: number, peer: number): Uint8Array[] {
  const Ys: Uint8Array[] = [];
  for (let i = 0; i < m; i++) Ys.push(...popfEval(sidP, i, messageB.subarray(64 * i, 64 * i + 64), peer));
  return Ys;
}

// ------------------------------------------------------------------ receiver

interface Draw { b: Uint8Array; s: Uint8Array; z: 0 | 1; k: number; r: number; c: number }

function checkA(messageA: Uint8Array, peer: number): void {
  if (messageA.length !== MRR_SENDER_MESSAGE_BYTES) throw new ProtocolAbort("bad-encoding", [peer], `base OT: A must be ${MRR_SENDER_MESSAGE_BYTES} bytes, got ${messageA.length}`);
  for (const z of [0, 1] as const) {
    const Ab = messageA.subarray(32 * z, 32 * z + 32);
    const u = uFromBytes(Ab);
    if ((Ab[31]! & 0x80) !== 0 || !uToBytes(u).every((x, j) => x === Ab[j])) throw new ProtocolAbort("bad-encoding", [peer], `base OT: A_${z} is not a canonical u-coordinate`);
    if (LOW_ORDER_U.includes(u)) throw new ProtocolAbort("bad-encoding", [peer], `base OT: A_${z} has low order`);
    if (curveOf(u) !== z) throw new ProtocolAbort("bad-encoding", [peer], `base OT: A_${z} is not on ${z === 0 ? "Curve25519" : "its twist"}`);
  }
}

function draws(choices: Uint8Array, rng: Rng): Draw[] {
  const out: Draw[] = [];
  for (let i = 0; i < choices.length; i++) {
    const c = choices[i]!;
    if (c !== 0 && c !== 1) throw new RangeError(`mrrReceive: choice ${i} is not a bit`);
    const b = rng.bytes(32), s = rng.bytes(32), flags = rng.bytes(1)[0]!;
    const z = (flags & 1) as 0 | 1;
    out.push({ b, s, z, k: (flags >> 1) & (H_TORSION[z] - 1), r: flags >> 7, c });
  }
  return out;
}

/**
 * y_i = u(P_i + k_i·T_z) ‖ r_i from P_i = X(b_i, G_z) (u only), per draw: the receiver's uniform
 * 256-bit strings (y-recovery and torsion; one batched inversion).
 */
function pointStrings(d: ReadonlyArray<Omit<Draw, "s" | "c">>, Pu: ReadonlyArray<Uint8Array | null>): Uint8Array[] {
  const m = d.length;
  // Q_i = P_i + k_i·T_z: the chord slopes' denominators inverted in one batch.
  const P: MontPoint[] = [], Tk: MontPoint[] = [], den: bigint[] = [];
  for (let i = 0; i < m; i++) {
    const u = Pu[i] ? uFromBytes(Pu[i]!) : 0n;
    if (u === 0n) throw new Error("base-ot-mrr: receiver point of low order"); // clamped b: impossible
    const t = torsionTable(d[i]!.z)[d[i]!.k]!;
    // y-recovery (one square root) only when a torsion point of order > 2 is added. Adding the
    // point (0, 0) of order 2 maps u to 1/u (the chord through (u, v) and (0, 0) has slope v/u,
    // and B·v²/u² − A − u = f(u)/u² − A − u = 1/u), so that case needs no v.
    const half = t !== null && t.u === 0n;
    const pt = t && !half ? liftEven(CURVE_B[d[i]!.z], u) : { u, v: 0n };
    if (!pt) throw new Error("base-ot-mrr: receiver point not on its curve"); // impossible
    P.push(pt);
    Tk.push(t);
    den.push(half ? u : t ? Fp.sub(t.u, pt.u) : 1n);
  }
  const inv = FpInvertBatch(Fp, den);
  const out: Uint8Array[] = [];
  for (let i = 0; i < m; i++) {
    const { z, r } = d[i]!;
    const p = P[i]!, t = Tk[i]!;
    let u = p!.u;
    if (t && t.u === 0n) {
      u = inv[i]!; // P + (0, 0): u ↦ 1/u
    } else if (t) {
      const lam = Fp.mul(Fp.sub(t.v, p!.v), inv[i]!);
      u = Fp.sub(Fp.sub(Fp.sub(Fp.mul(CURVE_B[z], Fp.sqr(lam)), MA), p!.u), t.u);
    }
    const y = uToBytes(u);
    y[31]! |= r << 7;
    out.push(y);
  }
  return out;
}

/** The POPF messages φ_i = t_i ‖ s'_i programming each y_i at the choice c_i (MRR21's streamlined Feistel). */
function program(sidP: Uint8Array, ys: readonly Uint8Array[], cs: ReadonlyArray<{ c: number; s: Uint8Array }>): Uint8Array {
  const out = new Uint8Array(MRR_RECEIVER_BYTES_PER_OT * ys.length);
  for (let i = 0; i < ys.length; i++) {
    const { c, s } = cs[i]!;
    const tt = out.subarray(64 * i, 64 * i + 32), ss = out.subarray(64 * i + 32, 64 * i + 64);
    xorInto(tt, ys[i]!, hPopf(sidP, i, c, s));
    if (c === 1) xorInto(ss, s, tt); else ss.set(s);
  }
  return out;
}

function receiverKeys(sidP: Uint8Array, d: Draw[], A: Uint8Array, phis: Uint8Array, K: ReadonlyArray<Uint8Array | null>, peer: number): Uint8Array {
  const keys = new Uint8Array(MRR_KEY_BYTES * d.length);
  for (let i = 0; i < d.length; i++) {
    const Ki = K[i];
    if (!Ki) throw new ProtocolAbort("bad-encoding", [peer], "base OT: A has low order");
    keys.set(hKey(sidP, i, d[i]!.c, A, phis.subarray(64 * i, 64 * i + 64), Ki), MRR_KEY_BYTES * i);
  }
  return keys;
}

/**
 * One base OT's receiver half, computed before the session, the sender's A_0 ‖ A_1 or the choice
 * bit are known. MRR21's receiver message does not depend on A (φ_i is computed before and
 * independently of it), and y_i depends on neither the session nor c_i: only the POPF program
 * (two hashes) and the key K = X(b_i, A_{z_i}) remain for the session. Holds the secret scalar
 * b_i, its curve z_i and y_i = u(X(b_i, G_z) + k_i·T_z) with bit 255 := r_i, distributed exactly
 * as in {@link mrrReceive}. Secret and single use: whoever holds it learns the receiver's key of
 * the OT it is used for, so it must stay in the receiver's memory and be taken out once.
 */
export interface MrrPrepared { readonly b: Uint8Array; readonly z: 0 | 1; readonly y: Uint8Array }

function prepareDraws(count: number, rng: Rng): Array<Omit<Draw, "s" | "c">> {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`mrrPrepare: count must be a non-negative integer, got ${count}`);
  const out: Array<Omit<Draw, "s" | "c">> = [];
  for (let i = 0; i < count; i++) {
    const b = rng.bytes(32), flags = rng.bytes(1)[0]!;
    const z = (flags & 1) as 0 | 1;
    out.push({ b, z, k: (flags >> 1) & (H_TORSION[z] - 1), r: flags >> 7 });
  }
  return out;
}

function prepared(d: Array<Omit<Draw, "s" | "c">>, r: X25519Results): MrrPrepared[] {
  const ys = pointStrings(d, r.map((x) => x[0]!));
  return d.map((x, i) => ({ b: x.b, z: x.z, y: ys[i]! }));
}

/**
 * `count` receiver halves ({@link MrrPrepared}) on the sync backend: one fixed-base X25519 call,
 * and for three in four a square root, each. Randomness per point: b_i (32 bytes), then one
 * byte (bit 0 = z_i, bits 1..3 = k_i mod h_z, bit 7 = r_i). Throws RangeError on a bad count.
 */
export function mrrPrepare(count: number, rng: Rng): MrrPrepared[] {
  const d = prepareDraws(count, rng);
  return prepared(d, x25519Many(d.map((x) => ({ scalar: x.b, us: [MRR_GENERATORS[x.z]] }))));
}

/** {@link mrrPrepare} on the async backends (same draws, same points). */
export async function mrrPrepareAsync(count: number, rng: Rng): Promise<MrrPrepared[]> {
  const d = prepareDraws(count, rng);
  return prepared(d, await x25519ManyAsync(d.map((x) => ({ scalar: x.b, us: [MRR_GENERATORS[x.z]] }))));
}

/** The receiver's draws and, with prepared halves, their strings y_i (then only s_i is drawn per OT). */
interface ReceiverPlan { d: Draw[]; ys?: Uint8Array[] }

function receiverPlan(choices: Uint8Array, rng: Rng, pre: readonly MrrPrepared[] | undefined): ReceiverPlan {
  if (!pre) return { d: draws(choices, rng) };
  if (pre.length !== choices.length) throw new RangeError(`mrrReceive: ${pre.length} prepared halves for ${choices.length} OTs`);
  const d: Draw[] = [];
  for (let i = 0; i < choices.length; i++) {
    const c = choices[i]!, p = pre[i]!;
    if (c !== 0 && c !== 1) throw new RangeError(`mrrReceive: choice ${i} is not a bit`);
    if (p.b.length !== 32 || p.y.length !== 32 || (p.z !== 0 && p.z !== 1)) throw new RangeError(`mrrReceive: prepared half ${i} is malformed`);
    d.push({ b: p.b, s: rng.bytes(32), z: p.z, k: 0, r: 0, c });
  }
  return { d, ys: pre.map((p) => p.y) };
}

/**
 * Receiver (sync): on the sender's A_0 ‖ A_1, with choice bits `choices` (one byte 0/1 per OT),
 * returns the message φ_1..φ_m (64·m bytes) and the chosen keys k_{c_i} (16·m bytes, flat).
 * With `prepared` (one {@link MrrPrepared} per OT, from {@link mrrPrepare}; the caller never
 * uses them again) only the POPF program and one X25519 call per OT are left, and only s_i is
 * drawn per OT; without, the draws are b_i, s_i and one byte per OT. Throws ProtocolAbort
 * "bad-encoding" (culprit `peer`) on an invalid A; RangeError on bad choices or prepared halves.
 */
export function mrrReceive(sid: Uint8Array, choices: Uint8Array, messageA: Uint8Array, rng: Rng, peer: number, prepared?: readonly MrrPrepared[]): { message: Uint8Array; keys: Uint8Array } {
  checkA(messageA, peer);
  const plan = receiverPlan(choices, rng, prepared);
  return receiveFinish(sidPrefix(sid), plan, messageA, x25519Many(receiverJobs(plan, messageA)), peer);
}

/**
 * {@link mrrReceive} on the async backends (same draws, message and keys). The draws happen
 * before the first await, so callers that start several of these in a row consume their rng
 * in the same order as the sync loop.
 */
export async function mrrReceiveAsync(sid: Uint8Array, choices: Uint8Array, messageA: Uint8Array, rng: Rng, peer: number, prepared?: readonly MrrPrepared[]): Promise<{ message: Uint8Array; keys: Uint8Array }> {
  checkA(messageA, peer);
  const plan = receiverPlan(choices, rng, prepared);
  return receiveFinish(sidPrefix(sid), plan, messageA, await x25519ManyAsync(receiverJobs(plan, messageA)), peer);
}

/**
 * Per OT: b_i times G_{z_i} (the receiver's point; not with prepared halves) and times A_{z_i}
 * (the key); repeated u's are the same objects (imported once).
 */
function receiverJobs(plan: ReceiverPlan, messageA: Uint8Array): Array<{ scalar: Uint8Array; us: Uint8Array[] }> {
  const A = [messageA.slice(0, 32), messageA.slice(32, 64)] as const;
  return plan.d.map((x) => ({ scalar: x.b, us: plan.ys ? [A[x.z]] : [MRR_GENERATORS[x.z], A[x.z]] }));
}

function receiveFinish(sidP: Uint8Array, plan: ReceiverPlan, messageA: Uint8Array, r: X25519Results, peer: number): { message: Uint8Array; keys: Uint8Array } {
  const ys = plan.ys ?? pointStrings(plan.d, r.map((x) => x[0]!));
  const message = program(sidP, ys, plan.d);
  return { message, keys: receiverKeys(sidP, plan.d, messageA, message, r.map((x) => x[plan.ys ? 0 : 1]!), peer) };
}
