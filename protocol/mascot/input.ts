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
 * owner using inconsistent x across the ⌈k/w⌉ digit instances of COPE (or a bad setup) gets MACs that are not α·x
 * for any x and is caught except with probability ≈ 2/p, at the price of the selective-
 * failure leakage the paper bounds (a few bits of α_j, harmless to the check's soundness).
 *
 * COPE (MASCOT §4, Π_COPE, over 2^w-ary digits of Δ: digit-cope.ts): from k = field.bits
 * base OTs in which P_j chose the bits of Δ = α_j, P_i holds seeds (k0_ℓ, k1_ℓ) and P_j holds
 * kΔ_ℓ = k_{Δ_ℓ, ℓ}. Keyed by the Extend's label (H(label ‖ k) for every key, so each label
 * gives independent streams), P_i builds the GGM trees and sends their setup (32·k bytes)
 * ahead of its corrections c_i = x − a_i (⌈k/w⌉·L elements); P_j gets q with q + t′ = α_j·x.
 * Here t = −t′ (so q − t = α_j·x, as above). Each call of Extend must use a fresh `label`.
 */
import { sha256 } from "./hash.ts";
import type { Field, FieldVec } from "../field/types.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import {
  DIGIT_COPE_WIDTH, digitCopeMessageLength, digitCopeReceiverExtend, digitCopeReceiverFromOts, digitCopeSenderExtend, digitCopeSenderFromOts,
  digitCopeSetupLength,
} from "./digit-cope.ts";
import { type AuthShare } from "./shares.ts";
/** P_i's (input owner, COPE sender) seeds for one ordered pair: k0_ℓ, k1_ℓ for ℓ < field.bits. */
export interface CopeSenderSeeds { readonly k0: readonly Uint8Array[]; readonly k1: readonly Uint8Array[] }
/** P_j's (MAC-key holder, COPE receiver) seeds: Δ (= α_j) and kΔ_ℓ = k_{Δ_ℓ, ℓ}. */
export interface CopeReceiverSeeds { readonly delta: bigint; readonly kDelta: readonly Uint8Array[] }
/** Pre-seeded COPE for the online input, per peer (offline.ts OfflineParty.inputCopeSeeds, or the test dealer). */
export interface InputCopeSeeds {
  /** Seeds for authenticating my input towards key holder j (I am the COPE sender). */
  sender(j: number): CopeSenderSeeds;
  /** Seeds for owner i's input under my α (I am the COPE receiver). Throws RangeError while they do not exist yet (see `receiverReady`). */
  receiver(i: number): CopeReceiverSeeds;
  /** Optional: whether {@link receiver}(i) exists yet (absent: always). */
  receiverReady?(i: number): boolean;
}

const LABEL_TAG = utf8("2pm/mascot/input-cope-label/v1");

/** k seeds re-keyed by the Extend's label: H(tag ‖ label ‖ k_ℓ)[0, 16), concatenated. */
function labelled(f: Field, seeds: readonly Uint8Array[], label: string, what: string): Uint8Array {
  if (seeds.length !== f.bits) throw new RangeError(`${what}: need ${f.bits} seeds, got ${seeds.length}`);
  const lab = utf8(label), out = new Uint8Array(16 * f.bits);
  for (let l = 0; l < seeds.length; l++) out.set(sha256(concatBytes(LABEL_TAG, lab, seeds[l]!)).subarray(0, 16), 16 * l);
  return out;
}

/** Bytes of the COPE message for L elements: the GGM setup (32·k) and ⌈k/w⌉·L encoded corrections. */
export function copeMessageLength(f: Field, L: number): number {
  return digitCopeSetupLength(f) + digitCopeMessageLength(f, DIGIT_COPE_WIDTH, L);
}

/**
 * COPE Extend, sender side: the wire message u = setup ‖ corrections ({@link copeMessageLength}
 * bytes) to send to the key holder, and t (L elements) with q − t = Δ·x. Throws RangeError if
 * the seed lists are not field.bits long.
 */
export function copeExtendSender(f: Field, seeds: CopeSenderSeeds, x: FieldVec, label: string): { u: Uint8Array; t: FieldVec } {
  const k0 = labelled(f, seeds.k0, label, "copeExtendSender"), k1 = labelled(f, seeds.k1, label, "copeExtendSender");
  const { state, setup } = digitCopeSenderFromOts(f, DIGIT_COPE_WIDTH, k0, k1);
  const { message, t } = digitCopeSenderExtend(state, x);
  return { u: concatBytes(setup, message), t: f.neg(t) };
}

/**
 * COPE Extend, receiver side: q (L elements) from the sender's message u (setup ‖ corrections).
 * The whole message is checked (length, canonical corrections) before Δ is used. Throws
 * ProtocolAbort "bad-encoding" naming `from` on a wrong length or a non-canonical element;
 * RangeError if the seed list is not field.bits long.
 */
export function copeExtendReceiver(f: Field, seeds: CopeReceiverSeeds, u: Uint8Array, L: number, label: string, from: number): FieldVec {
  if (!(u instanceof Uint8Array)) throw new TypeError("copeExtendReceiver: u must be a Uint8Array");
  const head = digitCopeSetupLength(f);
  // The setup's length is checked by digitCopeReceiverFromOts, the corrections' by the Extend (both: bad-encoding naming `from`).
  const st = digitCopeReceiverFromOts(f, DIGIT_COPE_WIDTH, seeds.delta, labelled(f, seeds.kDelta, label, "copeExtendReceiver"), u.subarray(0, head), from);
  return digitCopeReceiverExtend(st, L, u.subarray(head), from);
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
