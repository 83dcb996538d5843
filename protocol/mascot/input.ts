/**
 * Authenticated input, MASCOT (Keller–Orsini–Scholl, CCS 2016) Fig. 7, Π_[[·]] "Input":
 * the owner P_i of x_1..x_L samples a mask x_0, and for every other party P_j runs COPE
 * Extend on (x_0, x_1..x_L) against P_j's MAC key share Δ = α_j, obtaining t_j while P_j
 * obtains q_j with q_j − t_j = α_j·x (element-wise). Then
 *   MAC shares:  P_i: γ_i = α_i·x − Σ_j t_j,   P_j: γ_j = q_j      (Σ γ = α·x),
 *   value shares: P_i: x − Σ_j PRG(s_ij),      P_j: PRG(s_ij)       (seed s_ij sent p2p;
 *                 the paper gives P_i the whole x; we also re-randomise the value shares so
 *                 that later openings of linear combinations reveal only what they should).
 * Check (Fig. 7, step 4): after x is fixed, coefficients r_0..r_L come from a coin toss,
 * P_i broadcasts y = Σ_h r_h·x_h, and y joins the batched MAC check with MAC shares
 * Σ_h r_h·γ(x_h). The mask x_0 (coefficient r_0 ≠ 0 w.h.p.) hides Σ r_h x_h. A malicious
 * owner using inconsistent x across the k COPE instances produces MACs that are not α·x
 * for any x and is caught except with probability ≈ 2/p, at the price of the selective-
 * failure leakage the paper bounds (a few bits of α_j, harmless to the check's soundness).
 *
 * COPE Extend (MASCOT §4, Π_COPE): from k = field.bits base OTs in which P_j chose the bits
 * Δ_ℓ of Δ = α_j, P_i holds seeds (k0_ℓ, k1_ℓ) and P_j holds kΔ_ℓ = k_{Δ_ℓ, ℓ}. For each ℓ,
 *   P_i: t0_ℓ = PRG(k0_ℓ), t1_ℓ = PRG(k1_ℓ), sends u_ℓ = t0_ℓ − t1_ℓ + x;
 *   P_j: q_ℓ = PRG(kΔ_ℓ) + Δ_ℓ·u_ℓ = t0_ℓ + Δ_ℓ·x;
 *   t = Σ_ℓ 2^ℓ·t0_ℓ, q = Σ_ℓ 2^ℓ·q_ℓ, so q − t = Δ·x.
 * Each call of Extend must use a fresh `label` (distinct PRG streams per extension).
 */
import type { Field, FieldVec } from "../field/types.ts";
import { ProtocolAbort } from "./errors.ts";
import { expandSeed, type AuthShare } from "./shares.ts";
import { M61Vec } from "../field/m61.ts";

const T32 = 4294967296;
const T29 = 536870912;

/** Steps between normalisations of the lazy Horner accumulators (2^(33+LAZY+1) < 2^53). */
const LAZY = 16;

/** Brings lazy limbs back below 2^32 / 2^29 (value mod 2^61 − 1, not necessarily canonical). */
function normaliseLazy(lo: Float64Array, hi: Float64Array): void {
  for (let j = 0; j < lo.length; j++) {
    let l = lo[j]!, h = hi[j]!;
    const c = Math.floor(l / T32);
    l -= c * T32;
    h += c;
    const top = Math.floor(h / T29);
    h -= top * T29;
    l += top;
    lo[j] = l;
    hi[j] = h;
  }
}

/**
 * Writes (lo + hi·2^32) mod (2^61 − 1) canonically as (lo32, hi29) at out[i], out[i+1].
 * lo, hi: non-negative integers with lo < 2^53 and hi < 2^50 (a lazy sum of a few words).
 */
function reduceInto(out: Uint32Array, i: number, lo: number, hi: number): void {
  const c = Math.floor(lo / T32);
  lo -= c * T32;
  hi += c;
  const top = Math.floor(hi / T29); // bits ≥ 61 fold back: 2^61 ≡ 1
  hi -= top * T29;
  lo += top;
  if (lo >= T32) { lo -= T32; hi += 1; }
  if (hi >= T29) { hi -= T29; lo += 1; }
  if (hi === 0x1fffffff && lo === 0xffffffff) { hi = 0; lo = 0; }
  out[i] = lo;
  out[i + 1] = hi;
}

/** P_i's (input owner, COPE sender) seeds for one ordered pair: k0_ℓ, k1_ℓ for ℓ < field.bits. */
export interface CopeSenderSeeds { readonly k0: readonly Uint8Array[]; readonly k1: readonly Uint8Array[] }
/** P_j's (MAC-key holder, COPE receiver) seeds: Δ (= α_j) and kΔ_ℓ = k_{Δ_ℓ, ℓ}. */
export interface CopeReceiverSeeds { readonly delta: bigint; readonly kDelta: readonly Uint8Array[] }
/** Pre-seeded COPE for the online input, per peer (offline.ts OfflineParty.inputCopeSeeds, or the test dealer). */
export interface InputCopeSeeds {
  /** Seeds for authenticating my input towards key holder j (I am the COPE sender). */
  sender(j: number): CopeSenderSeeds;
  /** Seeds for owner i's input under my α (I am the COPE receiver). */
  receiver(i: number): CopeReceiverSeeds;
}

/**
 * COPE Extend, sender side: returns the correction vector u (k·L elements, ℓ-major) to send
 * to the key holder and t (L elements). Throws RangeError if the seed lists are not field.bits long.
 */
export function copeExtendSender(f: Field, seeds: CopeSenderSeeds, x: FieldVec, label: string): { u: FieldVec; t: FieldVec } {
  const k = f.bits;
  if (seeds.k0.length !== k || seeds.k1.length !== k) throw new RangeError(`copeExtendSender: need ${k} seed pairs`);
  const L = x.length;
  if (x instanceof M61Vec) {
    // Hot path (m61): one fused pass per ℓ computing u_ℓ = t0 − t1 + x and t ← 2t + t0
    // (Horner from ℓ = k−1 down), with a lazy Mersenne reduction per element.
    const u = new Uint32Array(2 * k * L);
    // t by lazy Horner: lo/hi limbs kept unreduced in float64 (exact below 2^53) and
    // normalised every LAZY steps (each step at most doubles them and adds < 2^32).
    const tlo = new Float64Array(L), thi = new Float64Array(L);
    const xd = x.d;
    for (let l = k - 1; l >= 0; l--) {
      const t0 = (expandSeed(f, seeds.k0[l]!, `${label}/${l}`, L) as M61Vec).d;
      const t1 = (expandSeed(f, seeds.k1[l]!, `${label}/${l}`, L) as M61Vec).d;
      const o = 2 * l * L;
      for (let i = 0, j = 0; j < L; i += 2, j++) {
        const a = t0[i]!, b = t0[i + 1]!;
        reduceInto(u, o + i, a + (0xffffffff - t1[i]!) + xd[i]!, b + (0x1fffffff - t1[i + 1]!) + xd[i + 1]!);
        tlo[j] = 2 * tlo[j]! + a;
        thi[j] = 2 * thi[j]! + b;
      }
      if (l % LAZY === 0) normaliseLazy(tlo, thi);
    }
    const t = new Uint32Array(2 * L);
    for (let j = 0; j < L; j++) reduceInto(t, 2 * j, tlo[j]!, thi[j]!);
    return { u: new M61Vec(u), t: new M61Vec(t) };
  }
  const us: FieldVec[] = [];
  let t = f.zeros(L);
  for (let l = k - 1; l >= 0; l--) {
    const t0 = expandSeed(f, seeds.k0[l]!, `${label}/${l}`, L);
    const t1 = expandSeed(f, seeds.k1[l]!, `${label}/${l}`, L);
    const u = f.sub(t0, t1);
    f.addInPlace(u, x);
    us[l] = u;
    t = f.add(t, t);
    f.addInPlace(t, t0);
  }
  return { u: f.concat(us), t };
}

/**
 * COPE Extend, receiver side: q (L elements) from the sender's u (k·L elements).
 * Throws ProtocolAbort "bad-encoding" naming `from` if u has the wrong length.
 */
export function copeExtendReceiver(f: Field, seeds: CopeReceiverSeeds, u: FieldVec, L: number, label: string, from: number): FieldVec {
  const k = f.bits;
  if (seeds.kDelta.length !== k) throw new RangeError(`copeExtendReceiver: need ${k} seeds`);
  if (u.length !== k * L) throw new ProtocolAbort("bad-encoding", [from], `COPE correction from party ${from}: ${u.length} elements, expected ${k * L}`);
  if (u instanceof M61Vec) {
    const qlo = new Float64Array(L), qhi = new Float64Array(L);
    const ud = u.d;
    for (let l = k - 1; l >= 0; l--) {
      const ql = (expandSeed(f, seeds.kDelta[l]!, `${label}/${l}`, L) as M61Vec).d;
      if ((seeds.delta >> BigInt(l)) & 1n) {
        const o = 2 * l * L;
        for (let i = 0, j = 0; j < L; i += 2, j++) {
          qlo[j] = 2 * qlo[j]! + ql[i]! + ud[o + i]!;
          qhi[j] = 2 * qhi[j]! + ql[i + 1]! + ud[o + i + 1]!;
        }
      } else {
        for (let i = 0, j = 0; j < L; i += 2, j++) {
          qlo[j] = 2 * qlo[j]! + ql[i]!;
          qhi[j] = 2 * qhi[j]! + ql[i + 1]!;
        }
      }
      if (l % LAZY === 0) normaliseLazy(qlo, qhi);
    }
    const q = new Uint32Array(2 * L);
    for (let j = 0; j < L; j++) reduceInto(q, 2 * j, qlo[j]!, qhi[j]!);
    return new M61Vec(q);
  }
  let q = f.zeros(L);
  for (let l = k - 1; l >= 0; l--) {
    const ql = expandSeed(f, seeds.kDelta[l]!, `${label}/${l}`, L);
    if ((seeds.delta >> BigInt(l)) & 1n) f.addInPlace(ql, f.slice(u, l * L, (l + 1) * L));
    q = f.add(q, q);
    f.addInPlace(q, ql);
  }
  return q;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Encodes a COPE correction vector for the wire (Field.encode; for m61 on little-endian
 * hosts the word array already is the encoding, so no copy is made).
 */
export function encodeCorrection(f: Field, u: FieldVec): Uint8Array {
  if (LITTLE_ENDIAN && u instanceof M61Vec) return new Uint8Array(u.d.buffer, u.d.byteOffset, u.d.byteLength);
  return f.encode(u);
}

/**
 * Decodes a COPE correction of exactly n elements (canonical check included; for m61 on
 * little-endian hosts without copying when aligned). Throws ProtocolAbort "bad-encoding"
 * naming `from`.
 */
export function decodeCorrection(f: Field, bytes: Uint8Array, n: number, from: number): FieldVec {
  if (bytes.length !== n * f.byteLength) throw new ProtocolAbort("bad-encoding", [from], `input.cope from party ${from}: ${bytes.length} bytes, expected ${n * f.byteLength}`);
  if (LITTLE_ENDIAN && f.name === "m61" && bytes.byteOffset % 4 === 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * n);
    for (let i = 1; i < w.length; i += 2) {
      const hi = w[i]!;
      if (hi > 0x1fffffff || (hi === 0x1fffffff && w[i - 1] === 0xffffffff)) {
        throw new ProtocolAbort("bad-encoding", [from], `input.cope from party ${from}: non-canonical field element`);
      }
    }
    return new M61Vec(w);
  }
  try {
    return f.decode(bytes);
  } catch {
    throw new ProtocolAbort("bad-encoding", [from], `input.cope from party ${from}: non-canonical field element`);
  }
}

/** The owner's authenticated share of its own input x (Fig. 7): value x − Σ_j PRG(s_ij), MAC α_i·x − Σ_j t_j. */
export function ownerInputShare(f: Field, alpha: bigint, x: FieldVec, ts: readonly FieldVec[], valueMasks: readonly FieldVec[]): AuthShare {
  const mac = f.scale(x, alpha);
  for (const t of ts) f.addInPlace(mac, f.neg(t));
  const value = f.add(x, f.zeros(x.length));
  for (const m of valueMasks) f.addInPlace(value, f.neg(m));
  return { value, mac };
}

/** A non-owner's authenticated share of the owner's input (Fig. 7): value PRG(s_ij), MAC q_j. */
export function peerInputShare(valueMask: FieldVec, q: FieldVec): AuthShare {
  return { value: valueMask, mac: q };
}

/** y = Σ_h r_h·x_h, the owner's broadcast in the Fig. 7 check (x includes the mask x_0). */
export function inputCheckValue(f: Field, x: FieldVec, r: FieldVec): bigint {
  return f.dot(x, r);
}

/** Σ_h r_h·γ(x_h): this party's MAC share on y. */
export function inputCheckMac(f: Field, share: AuthShare, r: FieldVec): bigint {
  return f.dot(share.mac, r);
}
