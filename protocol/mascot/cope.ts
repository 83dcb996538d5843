/**
 * COPE — correlated oblivious product evaluation, MASCOT (Keller–Orsini–Scholl, CCS 2016)
 * §4.1, Fig. 4 (Π_COPE). Between a sender P_A (inputs x ∈ F^m per Extend) and a receiver
 * P_B holding a fixed Δ ∈ F (its MAC-key share α_B):
 *
 *   Initialize: k = ⌈log p⌉ base OTs; P_A is the OT sender with random seeds (k0^i, k1^i),
 *               P_B the receiver with choice bits Δ_i (the bits of Δ) and gets k^i_{Δ_i}.
 *   Extend(x):  t_b^i = PRG(k_b^i) ∈ F^m (streams continue across Extends);
 *               P_A sends u^i = t_0^i − t_1^i + x                          (Fig. 4, Extend 2)
 *               P_B sets q^i = t_{Δ_i}^i + Δ_i·u^i = t_0^i + Δ_i·x           (Fig. 4, Extend 3)
 *               q = Σ_i 2^i q^i,  t = −Σ_i 2^i t_0^i,  so  q + t = Δ·x.      (Fig. 4, Extend 4)
 *
 * COPE alone does not stop P_A from using a different x in each u^i ("wrong correction");
 * that is caught by the random-linear-combination MAC check of the authentication step
 * (offline.ts, MASCOT §4 Π_[[·]]), as in the paper.
 *
 * Steps are functions of explicit state; a state's PRG streams advance with each Extend.
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { Rng } from "../rng.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import { baseOtReceive, baseOtSenderFinish, baseOtSenderStart, type BaseOtSenderState } from "./base-ot.ts";
import { ProtocolAbort } from "./errors.ts";
import { Prg } from "./prg.ts";

/** P_A's state: both seed streams per bit i. */
export interface CopeSenderState { readonly field: Field; readonly prg0: Prg[]; readonly prg1: Prg[] }
/** P_B's state: Δ, its bits, and the chosen seed stream per bit i. */
export interface CopeReceiverState { readonly field: Field; readonly delta: bigint; readonly bits: Uint8Array; readonly prg: Prg[] }

function sidFor(sid: Uint8Array): Uint8Array {
  return concatBytes(utf8("cope-base/"), sid);
}

/** Δ's bits, little-endian, k = field.bits of them. */
export function deltaBits(field: Field, delta: bigint): Uint8Array {
  if (delta < 0n || delta >= field.p) throw new RangeError("COPE: Δ must be a canonical field element");
  const bits = new Uint8Array(field.bits);
  for (let i = 0; i < field.bits; i++) bits[i] = Number((delta >> BigInt(i)) & 1n);
  return bits;
}

/** Initialize, P_A step 1 (Fig. 4 Initialize): base-OT sender message A. */
export function copeSenderInitStart(sid: Uint8Array, rng: Rng): { pending: BaseOtSenderState; message: Uint8Array } {
  const { state, message } = baseOtSenderStart(sidFor(sid), rng);
  return { pending: state, message };
}

/** Initialize, P_B (Fig. 4 Initialize): k base OTs with choice bits Δ_i; returns its state and reply. */
export function copeReceiverInit(field: Field, sid: Uint8Array, delta: bigint, messageA: Uint8Array, rng: Rng, peer: number): { state: CopeReceiverState; message: Uint8Array } {
  const bits = deltaBits(field, delta);
  const { message, keys } = baseOtReceive(sidFor(sid), bits, messageA, rng, peer);
  const prg: Prg[] = [];
  for (let i = 0; i < field.bits; i++) prg.push(new Prg(keys.slice(16 * i, 16 * i + 16)));
  return { state: { field, delta, bits, prg }, message };
}

/** Initialize, P_A step 2: finishes the base OTs. */
export function copeSenderInitFinish(field: Field, pending: BaseOtSenderState, messageB: Uint8Array, peer: number): CopeSenderState {
  const { k0, k1 } = baseOtSenderFinish(pending, messageB, field.bits, peer);
  const prg0: Prg[] = [], prg1: Prg[] = [];
  for (let i = 0; i < field.bits; i++) {
    prg0.push(new Prg(k0.slice(16 * i, 16 * i + 16)));
    prg1.push(new Prg(k1.slice(16 * i, 16 * i + 16)));
  }
  return { field, prg0, prg1 };
}

/**
 * Initialize from k random OTs made elsewhere (e.g. KOS15 extension, as MP-SPDZ does):
 * P_B received keys k^i_{Δ_i} (16·k bytes) with choice bits = bits of Δ.
 */
export function copeReceiverFromOts(field: Field, delta: bigint, keys: Uint8Array): CopeReceiverState {
  const bits = deltaBits(field, delta);
  if (keys.length !== 16 * field.bits) throw new RangeError(`COPE: need ${16 * field.bits} bytes of OT keys`);
  const prg: Prg[] = [];
  for (let i = 0; i < field.bits; i++) prg.push(new Prg(keys.slice(16 * i, 16 * i + 16)));
  return { field, delta, bits, prg };
}

/** Initialize from k random OTs made elsewhere: P_A holds both keys (k0, k1: 16·k bytes each). */
export function copeSenderFromOts(field: Field, k0: Uint8Array, k1: Uint8Array): CopeSenderState {
  if (k0.length !== 16 * field.bits || k1.length !== 16 * field.bits) throw new RangeError(`COPE: need ${16 * field.bits} bytes of OT keys`);
  const prg0: Prg[] = [], prg1: Prg[] = [];
  for (let i = 0; i < field.bits; i++) {
    prg0.push(new Prg(k0.slice(16 * i, 16 * i + 16)));
    prg1.push(new Prg(k1.slice(16 * i, 16 * i + 16)));
  }
  return { field, prg0, prg1 };
}

/**
 * Extend, P_A (Fig. 4 Extend 1–2, 4): returns the message u^1..u^k (k·m encoded elements)
 * and P_A's share t with q + t = Δ·x. `tamper` (tests only) adds 1 to u^i's first element.
 */
export function copeSenderExtend(st: CopeSenderState, x: FieldVec, tamper?: { bit: number }): { message: Uint8Array; t: FieldVec } {
  const F = st.field, m = x.length, n = F.uniformByteLength * m;
  // u^i = t^i_0 − t^i_1 + x and Σ_i 2^i t^i_0 by the field's fused fold (the streams are independent).
  const { u, t } = F.copeSenderFoldUniform(x, F.bits, (i) => [st.prg0[i]!.nextView(n), st.prg1[i]!.nextView(n)]);
  if (tamper && m > 0) F.set(u, tamper.bit * m, F.get(u, tamper.bit * m) + 1n);
  return { message: F.encode(u), t: F.neg(t) };
}

/**
 * Extend, P_B (Fig. 4 Extend 1, 3–4): on u^1..u^k for m elements returns q = Σ 2^i q^i.
 * The whole message is decoded before any use, so whether it aborts does not depend on Δ's bits.
 * Throws ProtocolAbort "bad-encoding" (culprit `peer`) on a wrong length or non-canonical element.
 */
export function copeReceiverExtend(st: CopeReceiverState, m: number, message: Uint8Array, peer: number): FieldVec {
  const F = st.field, L = m * F.byteLength, n = F.uniformByteLength * m;
  if (message.length !== F.bits * L) throw new ProtocolAbort("bad-encoding", [peer], `COPE: expected ${F.bits * L} bytes, got ${message.length}`);
  let u: FieldVec;
  try { u = F.decodeExact(message, F.bits * m); } catch {
    throw new ProtocolAbort("bad-encoding", [peer], "COPE: non-canonical field element");
  }
  return F.copeReceiverFoldUniform(u, m, F.bits, st.delta, (i) => st.prg[i]!.nextView(n)); // q^i = t^i_{Δ_i} + Δ_i·u^i
}
