/**
 * Triple generation, MASCOT (Keller–Orsini–Scholl, CCS 2016) §5, Fig. 9 (Π_Triple), in the
 * paper's order — Multiply, Combine, Authenticate, Sacrifice — as pure functions over field
 * vectors. The message flow that strings them together is in offline.ts.
 *
 * Layouts: a batch has m triples and τ = 3 (TAU) products per triple. Vectors indexed by
 * (triple t, copy l) use index t·τ + l; OT number j for bit h of b_t is h·m + t.
 */
import type { Field, FieldVec } from "../field/types.ts";
import { M61Vec, m61AddWords, m61DoubleAddWords, m61FromUniformInto, m61SubAddWords } from "../field/m61.ts";
import { P128Vec } from "../field/p128.ts";
import { ProtocolAbort } from "./errors.ts";
import type { AuthShare } from "./shares.ts";

/** τ of Fig. 9: products per output triple (one kept, one sacrificed after combining). */
export const TAU = 3;

/** A batch of authenticated triples held by one party: [[a]], [[b]], [[c]] with c = a·b. */
export interface TripleShares { readonly a: AuthShare; readonly b: AuthShare; readonly c: AuthShare }

/** 16-byte blocks of one Gilboa OT message: τ field elements of uniformByteLength bytes. */
export function gilboaBlocks(field: Field): number {
  return Math.ceil((TAU * field.uniformByteLength) / 16);
}

/** out[i] = v[idx[i]]. */
export function gather(field: Field, v: FieldVec, idx: Uint32Array): FieldVec {
  if (v instanceof M61Vec) {
    const d = new Uint32Array(2 * idx.length);
    for (let i = 0; i < idx.length; i++) { d[2 * i] = v.d[2 * idx[i]!]!; d[2 * i + 1] = v.d[2 * idx[i]! + 1]!; }
    return new M61Vec(d);
  }
  if (v instanceof P128Vec) return new P128Vec(Array.from(idx, (k) => v.v[k]!));
  return field.fromBigInts(Array.from(idx, (k) => field.get(v, k)));
}

/** Index map (t,l) → (l,t) for m triples: (l,t)-ordered = gather(v, tl2lt(m)). */
function tl2lt(m: number): Uint32Array {
  const idx = new Uint32Array(m * TAU);
  for (let l = 0; l < TAU; l++) for (let t = 0; t < m; t++) idx[l * m + t] = t * TAU + l;
  return idx;
}

/** OT messages (n messages of gilboaBlocks·16 bytes) → n·τ field elements. */
function otToField(field: Field, bytes: Uint8Array, n: number): FieldVec {
  const per = TAU * field.uniformByteLength, stride = gilboaBlocks(field) * 16;
  if (per === stride) return field.fromUniformBytes(bytes, n * TAU);
  const packed = new Uint8Array(n * per);
  for (let j = 0; j < n; j++) packed.set(bytes.subarray(j * stride, j * stride + per), j * per);
  return field.fromUniformBytes(packed, n * TAU);
}

/** Choice bits for the Gilboa OTs: bit h of b_t at index h·m + t (b is this party's b shares). */
export function gilboaChoices(field: Field, b: FieldVec): Uint8Array {
  const m = b.length, k = field.bits;
  if (b instanceof M61Vec) {
    const x = new Uint8Array(k * m), d = b.d;
    for (let t = 0; t < m; t++) {
      const lo = d[2 * t]!, hi = d[2 * t + 1]!;
      for (let h = 0; h < 32; h++) x[h * m + t] = (lo >>> h) & 1;
      for (let h = 32; h < k; h++) x[h * m + t] = (hi >>> (h - 32)) & 1;
    }
    return x;
  }
  const bs = field.toBigInts(b);
  const x = new Uint8Array(k * m);
  for (let t = 0; t < m; t++) {
    let v = bs[t]!;
    for (let h = 0; h < k; h++) { x[h * m + t] = Number(v & 1n); v >>= 1n; }
  }
  return x;
}

function horner(field: Field, v: FieldVec, k: number, seg: number): FieldVec {
  let acc = field.zeros(seg);
  for (let h = k - 1; h >= 0; h--) {
    acc = field.add(acc, acc);
    field.addInPlace(acc, field.slice(v, h * seg, (h + 1) * seg));
  }
  return acc;
}

/**
 * Multiply (Fig. 9 step 2), OT sender side of one ordered pair: this party holds a ∈ F^{m·τ}
 * and random-OT messages (v0, v1) for the k·m OTs whose choice bits are the bits of the peer's
 * b. Sends d_{h,t,l} = m0 − m1 + a_{t,l}; its share of a·b_peer is −Σ_h 2^h m0_h.
 */
export function gilboaSender(field: Field, a: FieldVec, v0: Uint8Array, v1: Uint8Array): { message: Uint8Array; share: FieldVec } {
  const k = field.bits, seg = a.length, n = (k * seg) / TAU;
  if (a instanceof M61Vec && gilboaBlocks(field) === TAU) {
    // Fused m61 path (same output): message blocks of OT h are contiguous, seg elements each.
    const msg = new Uint32Array(2 * seg * k), acc = new Uint32Array(2 * seg);
    const w0 = new Uint32Array(2 * seg), w1 = new Uint32Array(2 * seg);
    for (let h = k - 1; h >= 0; h--) {
      m61FromUniformInto(v0.subarray(16 * seg * h, 16 * seg * (h + 1)), seg, w0, 0);
      m61FromUniformInto(v1.subarray(16 * seg * h, 16 * seg * (h + 1)), seg, w1, 0);
      m61SubAddWords(msg.subarray(2 * seg * h, 2 * seg * (h + 1)), w0, w1, a.d);
      m61DoubleAddWords(acc, w0);
    }
    return { message: field.encode(new M61Vec(msg)), share: field.neg(new M61Vec(acc)) };
  }
  const m0 = otToField(field, v0, n), m1 = otToField(field, v1, n);
  const aRep = field.concat(new Array<FieldVec>(k).fill(a));
  const d = field.add(field.sub(m0, m1), aRep);
  return { message: field.encode(d), share: field.neg(horner(field, m0, k, seg)) };
}

/**
 * Multiply (Fig. 9 step 2), OT receiver side: with its b (m elements), the chosen messages
 * and the sender's d, returns its share Σ_h 2^h (m_{b_h} + b_h·d_h) of a_peer·b.
 * Throws ProtocolAbort "bad-encoding" (culprit `peer`) on a malformed d.
 */
export function gilboaReceiver(field: Field, b: FieldVec, outputs: Uint8Array, message: Uint8Array, peer: number): FieldVec {
  const k = field.bits, m = b.length, seg = m * TAU;
  if (message.length !== k * seg * field.byteLength) throw new ProtocolAbort("bad-encoding", [peer], "Gilboa: wrong message length");
  let d: FieldVec;
  try { d = field.decode(message); } catch { throw new ProtocolAbort("bad-encoding", [peer], "Gilboa: non-canonical element"); }
  const bits = gilboaChoices(field, b);
  if (d instanceof M61Vec && gilboaBlocks(field) === TAU) {
    const acc = new Uint32Array(2 * seg), w = new Uint32Array(2 * seg), dd = d.d;
    for (let h = k - 1; h >= 0; h--) {
      m61FromUniformInto(outputs.subarray(16 * seg * h, 16 * seg * (h + 1)), seg, w, 0);
      const dh = dd.subarray(2 * seg * h, 2 * seg * (h + 1));
      const sel = new Uint32Array(2 * seg);
      for (let t = 0; t < m; t++) {
        if (!bits[h * m + t]) continue;
        for (let o = 2 * TAU * t; o < 2 * TAU * (t + 1); o++) sel[o] = dh[o]!;
      }
      m61AddWords(w, sel); // m_{b_h} + b_h·d_h
      m61DoubleAddWords(acc, w);
    }
    return new M61Vec(acc);
  }
  const mb = otToField(field, outputs, k * m);
  const sel = new Array<number>(k * seg);
  for (let h = 0; h < k; h++) for (let t = 0; t < m; t++) for (let l = 0; l < TAU; l++) sel[h * seg + t * TAU + l] = bits[h * m + t]!;
  return horner(field, field.add(mb, field.mul(field.fromInts(sel), d)), k, seg);
}

/**
 * Combine (Fig. 9 step 3): from τ products per triple (a, c in (t,l) order) and public
 * r, r̂ ∈ F^{m·τ} (coin toss, (t,l) order) returns a = Σ r_l a_l, c = Σ r_l c_l,
 * â = Σ r̂_l a_l, ĉ = Σ r̂_l c_l (each of length m; all linear, so shares combine locally).
 */
export function combine(field: Field, a: FieldVec, c: FieldVec, r: FieldVec, rHat: FieldVec): { a: FieldVec; c: FieldVec; aHat: FieldVec; cHat: FieldVec } {
  const m = a.length / TAU, idx = tl2lt(m);
  const A = gather(field, a, idx), C = gather(field, c, idx), R = gather(field, r, idx), RH = gather(field, rHat, idx);
  const sumL = (v: FieldVec) => {
    let acc = field.zeros(m);
    for (let l = 0; l < TAU; l++) acc = field.add(acc, field.slice(v, l * m, (l + 1) * m));
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
