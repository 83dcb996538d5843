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
 * to the key holder and t (L elements), by the field's fused fold ({@link Field.copeSenderFold}).
 * Throws RangeError if the seed lists are not field.bits long.
 */
export function copeExtendSender(f: Field, seeds: CopeSenderSeeds, x: FieldVec, label: string): { u: FieldVec; t: FieldVec } {
  const k = f.bits;
  if (seeds.k0.length !== k || seeds.k1.length !== k) throw new RangeError(`copeExtendSender: need ${k} seed pairs`);
  const L = x.length;
  return f.copeSenderFold(x, k, (l) => [
    expandSeed(f, seeds.k0[l]!, `${label}/${l}`, L),
    expandSeed(f, seeds.k1[l]!, `${label}/${l}`, L),
  ]);
}

/**
 * COPE Extend, receiver side: q (L elements) from the sender's u (k·L elements), by the
 * field's fused fold ({@link Field.copeReceiverFold}).
 * Throws ProtocolAbort "bad-encoding" naming `from` if u has the wrong length.
 */
export function copeExtendReceiver(f: Field, seeds: CopeReceiverSeeds, u: FieldVec, L: number, label: string, from: number): FieldVec {
  const k = f.bits;
  if (seeds.kDelta.length !== k) throw new RangeError(`copeExtendReceiver: need ${k} seeds`);
  if (u.length !== k * L) throw new ProtocolAbort("bad-encoding", [from], `COPE correction from party ${from}: ${u.length} elements, expected ${k * L}`);
  return f.copeReceiverFold(u, L, k, seeds.delta, (l) => expandSeed(f, seeds.kDelta[l]!, `${label}/${l}`, L));
}

/**
 * Encodes a COPE correction vector for the wire ({@link Field.encodeView}: the bytes of
 * Field.encode, zero-copy where the field allows; do not mutate u while the bytes are in use).
 */
export function encodeCorrection(f: Field, u: FieldVec): Uint8Array {
  return f.encodeView(u);
}

/**
 * Decodes a COPE correction of exactly n elements ({@link Field.decodeExact}: canonical
 * check included, zero-copy where the field allows). Throws ProtocolAbort "bad-encoding"
 * naming `from` on a wrong length or a non-canonical element.
 */
export function decodeCorrection(f: Field, bytes: Uint8Array, n: number, from: number): FieldVec {
  try {
    return f.decodeExact(bytes, n);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new ProtocolAbort("bad-encoding", [from], `input.cope from party ${from}: ${e.message}`);
    throw e;
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
