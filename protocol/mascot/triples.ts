/**
 * Triple generation, MASCOT (Keller–Orsini–Scholl, CCS 2016) §5, Fig. 9 (Π_Triple), in the
 * paper's order — Multiply, Combine, Authenticate, Sacrifice — as pure functions over field
 * vectors. The message flow that strings them together is in offline.ts.
 *
 * Layouts: a batch has m triples and τ ({@link combineTau}: 4 for m61, 3 for p128) products
 * per triple. Vectors indexed by (triple t, copy l) use index t·τ + l. Per ordered pair
 * (i, j) the Gilboa OTs have party i as chooser with the bits of its a ∈ F^{m·τ} (OT number
 * h·mτ + t·τ + l for bit h of a_{t,l}) and party j as sender with correlation b_t (repeated
 * per copy): the order of MASCOT Fig. 9 and MP-SPDZ, in which selective-failure leakage hits
 * only the a's, removed by Combine.
 */
import type { Field, FieldVec } from "../field/types.ts";
import { ProtocolAbort } from "./errors.ts";
import type { AuthShare } from "./shares.ts";

/** Statistical security target of the offline phase, in bits (DESIGN §4: ≥ 60 at p = 2^61 − 1). */
export const STAT_SECURITY = 60;

/**
 * τ of Fig. 9 (Combine): products per output triple, combined with coin-tossed coefficients.
 * Selective failure in Multiply lets a corrupt OT sender learn c bits of the τ copies of an
 * honest a at the price of an abort with probability 1 − 2^-c. Conditioned on passing
 * (c ≤ s bits learned, else passing has probability ≤ 2^-s), the copies keep min-entropy
 * τ·k − s (k = log2 p), and by the leftover hash lemma the combination a = Σ r_l a_l is
 * 2^-s-close to uniform when τ·k − s ≥ k + 2s, i.e. s ≤ (τ − 1)·k/3 (MASCOT §5). With
 * k ≈ 61 (m61) τ = 3 gives only s ≈ 40; τ = 4 gives s ≈ 61. For p128 (k ≈ 127) τ = 3 gives
 * s ≈ 84. Returns the least τ ≥ 3 with (τ − 1)·⌊log2 p⌋ ≥ 3·{@link STAT_SECURITY}.
 */
export function combineTau(field: Field): number {
  const k = field.p.toString(2).length - 1; // ⌊log2 p⌋ (60 for 2^61 − 1, conservatively)
  let tau = 3;
  while ((tau - 1) * k < 3 * STAT_SECURITY) tau++;
  return tau;
}

/** A batch of authenticated triples held by one party: [[a]], [[b]], [[c]] with c = a·b. */
export interface TripleShares { readonly a: AuthShare; readonly b: AuthShare; readonly c: AuthShare }

/** 16-byte blocks of one Gilboa OT message: one field element of uniformByteLength bytes. */
export function gilboaBlocks(field: Field): number {
  return Math.ceil(field.uniformByteLength / 16);
}

/** out[i] = v[idx[i]] ({@link Field.gather}). Throws RangeError if an index is out of range. */
export function gather(field: Field, v: FieldVec, idx: Uint32Array): FieldVec {
  return field.gather(v, idx);
}

/** Index map (t,l) → (l,t) for m triples of τ copies: (l,t)-ordered = gather(v, tl2lt(m, τ)). */
function tl2lt(m: number, tau: number): Uint32Array {
  const idx = new Uint32Array(m * tau);
  for (let l = 0; l < tau; l++) for (let t = 0; t < m; t++) idx[l * m + t] = t * tau + l;
  return idx;
}

/**
 * OT messages (n messages of gilboaBlocks·16 bytes) → the uniformByteLength·n bytes that
 * {@link Field.fromUniformBytes} reads for n elements (the bytes themselves when one block
 * per element, else the first uniformByteLength bytes of each message, packed).
 */
function otUniformBytes(field: Field, bytes: Uint8Array, n: number): Uint8Array {
  const per = field.uniformByteLength, stride = gilboaBlocks(field) * 16;
  if (per === stride) return bytes;
  const packed = new Uint8Array(n * per);
  for (let j = 0; j < n; j++) packed.set(bytes.subarray(j * stride, j * stride + per), j * per);
  return packed;
}

/** Row h (the L messages of bit h, contiguous) of k·L OT messages, as uniform bytes. */
function otRow(field: Field, bytes: Uint8Array, L: number, h: number): Uint8Array {
  const stride = gilboaBlocks(field) * 16;
  return otUniformBytes(field, bytes.subarray(stride * L * h, stride * L * (h + 1)), L);
}

/**
 * Choice bits for the Gilboa OTs of the chooser's vector x (length L): bit h of x_e at
 * index h·L + e (little-endian bits, k = field.bits of them per element).
 */
export function gilboaChoices(field: Field, x: FieldVec): Uint8Array {
  return field.choiceBits(x);
}

/**
 * Multiply (Fig. 9 step 2), OT sender side of one ordered pair (Gilboa product over random
 * OT, as in COPE Fig. 4): the sender holds the correlation y ∈ F^L (here its b, repeated per
 * copy l) and the messages (v0, v1) of the k·L random OTs whose choice bits are the bits of
 * the peer's a (so a selective-failure attack can only leak bits of a, which Combine
 * removes). Sends d_h = m0_h − m1_h + y; its share of a_peer·y is −Σ_h 2^h m0_h.
 */
export function gilboaSender(field: Field, y: FieldVec, v0: Uint8Array, v1: Uint8Array): { message: Uint8Array; share: FieldVec } {
  // d_h = m0_h − m1_h + y and Σ_h 2^h m0_h: the COPE sender fold, rows = the messages of bit h.
  const L = y.length;
  const { u, t } = field.copeSenderFoldUniform(y, field.bits, (h) => [otRow(field, v0, L, h), otRow(field, v1, L, h)]);
  return { message: field.encode(u), share: field.neg(t) };
}

/**
 * Multiply (Fig. 9 step 2), OT receiver side: with its vector x (the choice bits' source),
 * the chosen messages and the sender's d, returns its share Σ_h 2^h (m_{x_h} + x_h·d_h) of
 * x·y_peer. Throws ProtocolAbort "bad-encoding" (culprit `peer`) on a malformed d.
 */
export function gilboaReceiver(field: Field, x: FieldVec, outputs: Uint8Array, message: Uint8Array, peer: number): FieldVec {
  const k = field.bits, L = x.length;
  if (message.length !== k * L * field.byteLength) throw new ProtocolAbort("bad-encoding", [peer], "Gilboa: wrong message length");
  let d: FieldVec;
  try { d = field.decodeExact(message, k * L); } catch { throw new ProtocolAbort("bad-encoding", [peer], "Gilboa: non-canonical element"); }
  return field.chooserFoldUniform(x, k, d, (h) => otRow(field, outputs, L, h)); // Σ_h 2^h (m_{x_h} + x_h·d_h)
}

/**
 * Combine (Fig. 9 step 3): from τ products per triple (a, c in (t,l) order) and public
 * r, r̂ ∈ F^{m·τ} (coin toss opened after the products are fixed, (t,l) order) returns
 * a = Σ r_l a_l, c = Σ r_l c_l, â = Σ r̂_l a_l, ĉ = Σ r̂_l c_l (each of length m; all linear,
 * so shares combine locally). τ defaults to {@link combineTau}(field). Throws RangeError if
 * the lengths are not m·τ.
 */
export function combine(field: Field, a: FieldVec, c: FieldVec, r: FieldVec, rHat: FieldVec, tau = combineTau(field)): { a: FieldVec; c: FieldVec; aHat: FieldVec; cHat: FieldVec } {
  if (a.length % tau !== 0 || c.length !== a.length || r.length !== a.length || rHat.length !== a.length) throw new RangeError(`combine: lengths must be equal multiples of τ = ${tau}`);
  const m = a.length / tau, idx = tl2lt(m, tau);
  const A = gather(field, a, idx), C = gather(field, c, idx), R = gather(field, r, idx), RH = gather(field, rHat, idx);
  const sumL = (v: FieldVec) => {
    let acc = field.zeros(m);
    for (let l = 0; l < tau; l++) acc = field.add(acc, field.slice(v, l * m, (l + 1) * m));
    return acc;
  };
  return { a: sumL(field.mul(A, R)), c: sumL(field.mul(C, R)), aHat: sumL(field.mul(A, RH)), cHat: sumL(field.mul(C, RH)) };
}

/**
 * Sacrifice (Fig. 9 step 5), local part: ρ-shares = t·[a] − [â] (to be opened), and after
 * opening ρ, z = t·[c] − [ĉ] − ρ·[b] whose claimed value is 0 (checked by the MAC check).
 */
export function sacrificeRho(field: Field, t: FieldVec, a: AuthShare, aHat: AuthShare): AuthShare {
  return { value: field.sub(field.mul(t, a.value), aHat.value), mac: field.sub(field.mul(t, a.mac), aHat.mac) };
}

/** z-shares for the sacrifice zero check; `me` = 0 adds nothing special (no constants). */
export function sacrificeZero(field: Field, t: FieldVec, rho: FieldVec, b: AuthShare, c: AuthShare, cHat: AuthShare): AuthShare {
  return {
    value: field.sub(field.sub(field.mul(t, c.value), cHat.value), field.mul(rho, b.value)),
    mac: field.sub(field.sub(field.mul(t, c.mac), cHat.mac), field.mul(rho, b.mac)),
  };
}
