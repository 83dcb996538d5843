/**
 * COPE — correlated oblivious product evaluation, MASCOT (Keller–Orsini–Scholl, CCS 2016)
 * §4.1, Fig. 4 (Π_COPE), over 2^w-ary digits of Δ: the one COPE of the protocol (offline
 * Authenticate, offline.ts; the online input, input.ts). Between a sender P_A (inputs x ∈ F^m
 * per Extend) and a receiver P_B holding a fixed Δ ∈ F (its MAC-key share α_B). Fig. 4 uses
 * one correlation per bit of Δ; here Δ is split into digits of w bits, each digit served by an
 * (N−1)-out-of-N correlation (N = 2^w) punctured out of w random OTs with a GGM tree — the
 * small-field VOLE of SoftSpokenOT (Roy, CRYPTO 2022, §3–4), used over F_p with integer digit
 * values. Base OTs as Fig. 4: k = field.bits random OTs whose choice bits are Δ's bits
 * (little-endian). Per element and ordered pair it sends ⌈k/w⌉ field elements instead of k,
 * for 2^w/w times Fig. 4's PRG work (w = DIGIT_COPE_WIDTH).
 *
 *   Digits:  Δ = Σ_i 2^{o_i}·Δ_i with Δ_i ∈ [0, N_i), N_i = 2^{w_i} (w_i = w except a
 *            narrower last digit), bits o_i .. o_i + w_i − 1 of Δ.
 *   Setup (once per pair, P_A → P_B, 32 bytes per base OT, on P_A's first Extend message):
 *            for digit i, P_A derives a root seed from the digit's first OT pair and expands a
 *            GGM tree of depth w_i; for level ℓ it sends c^b_ℓ = H_pad(k^b_ℓ) ⊕ X^b_ℓ, X^b_ℓ the
 *            XOR of all level-(ℓ+1) nodes that are b-children (leaf index bit ℓ = b, least
 *            significant bit first). P_B, with choice bit β_ℓ = bit ℓ of Δ_i, learns X^{β_ℓ}_ℓ
 *            and so every leaf except π_i = (N_i − 1) − Δ_i (the path through the (1 − β)-children).
 *   Extend(x ∈ F^m): leaf streams r_j = PRG(leaf_j) ∈ F^m (continuing across Extends), value
 *            v(j) = N_i − 1 − j (so v(π_i) = Δ_i).
 *            P_A: a_i = Σ_j r_j, b_i = Σ_j v(j)·r_j; sends c_i = x − a_i; t = Σ_i 2^{o_i}·b_i.
 *            P_B: q_i = Σ_{j≠π_i} (Δ_i − v(j))·r_j + Δ_i·c_i = Δ_i·a_i − b_i + Δ_i·c_i
 *                     = Δ_i·x − b_i;  q = Σ_i 2^{o_i}·q_i,  so  q + t = Δ·x.
 *            Both sums run in the field's fused kernel (Field.digitCopeSenderFoldUniform /
 *            digitCopeReceiverFoldUniform), straight from the PRG bytes.
 *
 * Security (as Fig. 4): c_i is masked by r_{π_i}, which P_B cannot compute (its seed is the
 * punctured GGM leaf), so P_B learns nothing of x; P_A receives nothing. A malicious P_A may
 * use a different x per digit or a wrong setup ("COPE with errors"): the error term is then
 * Σ_i 2^{o_i}·Δ_i·e_i (or, for a bad setup, a pseudorandom error on the leaves P_B derived
 * through the corrupted correction, present iff a given bit of Δ selects it), which the
 * authentication step's random-linear-combination MAC check (offline.ts, MASCOT §4
 * Π_[[·]]; the online input's Fig. 7 check) catches unless it vanishes — which happens only on
 * a guess of Δ's digits (selective failure: passing reveals c bits of Δ with probability
 * ≤ 2^−c, the same leak budget MASCOT's proof already charges for bit-wise COPE;
 * docs/mascot.md, "COPE").
 *
 * Steps are functions of explicit state; a state's leaf streams advance with each Extend.
 */
import { sha256Parts } from "./hash.ts";
import type { Field, FieldVec } from "../field/types.ts";
import { MAX_DIGIT_WIDTH } from "../field/kernels.ts";
import { utf8 } from "../encoding.ts";
import { ProtocolAbort } from "./errors.ts";
import { Prg } from "./prg.ts";

/** Largest digit width accepted (2^8 leaf streams per digit: 32× the PRG work of bit-wise COPE); the field kernels' limit. */
export const MAX_DIGIT_BITS = MAX_DIGIT_WIDTH;

/**
 * The digit width every COPE of the protocol uses (offline Authenticate, online input): w = 3,
 * ⌈61/3⌉ = 21 corrections per element and ordered pair instead of Fig. 4's 61 (2.9× fewer
 * bytes) for ≈ 1.7× its PRG leaf streams, which the fused kernel keeps at about bit-wise
 * COPE's CPU; w = 4 saves a further 24 % of the bytes for ≈ 25 % more party CPU at d = 10k
 * (measured, docs/mascot.md "COPE"). Part of the transcript: all parties must use the same;
 * not a user setting.
 */
export const DIGIT_COPE_WIDTH = 3;

/** Bytes of a setup message: two 16-byte corrections per base OT (k = field.bits of them). */
export function digitCopeSetupLength(field: Field): number {
  return 32 * field.bits;
}

/** Bytes of an Extend message for m elements at width `width`: ⌈k/w⌉·m encoded elements. */
export function digitCopeMessageLength(field: Field, width: number, m: number): number {
  return digitLayout(field, width).length * m * field.byteLength;
}

/** Δ's bits, little-endian, k = field.bits of them (the choice bits of COPE's base OTs). Throws RangeError unless 0 ≤ Δ < p. */
export function deltaBits(field: Field, delta: bigint): Uint8Array {
  if (delta < 0n || delta >= field.p) throw new RangeError("COPE: Δ must be a canonical field element");
  const bits = new Uint8Array(field.bits);
  for (let i = 0; i < field.bits; i++) bits[i] = Number((delta >> BigInt(i)) & 1n);
  return bits;
}

/** One digit of Δ: its first bit o and width w (N = 2^w leaves). */
export interface Digit { readonly offset: number; readonly width: number }

/** P_A's state: every leaf stream of every digit. */
export interface DigitCopeSenderState { readonly field: Field; readonly digits: readonly Digit[]; readonly leaves: readonly (readonly Prg[])[] }
/** P_B's state: Δ, its digits, and the leaf streams of each digit except the punctured one (null). */
export interface DigitCopeReceiverState {
  readonly field: Field;
  readonly delta: bigint;
  readonly digits: readonly Digit[];
  readonly values: readonly number[];
  readonly leaves: readonly (readonly (Prg | null)[])[];
}

const GGM = utf8("2pm/digit-cope/ggm");
const PAD = utf8("2pm/digit-cope/pad");
const ROOT = utf8("2pm/digit-cope/root");

/** The digits of a k-bit Δ with width w: ⌈k/w⌉ digits, the last one narrower if w ∤ k. Throws RangeError on a width outside [1, MAX_DIGIT_BITS]. */
export function digitLayout(field: Field, width: number): Digit[] {
  if (!Number.isInteger(width) || width < 1 || width > MAX_DIGIT_BITS) throw new RangeError(`digit COPE: width must be an integer in [1, ${MAX_DIGIT_BITS}], got ${width}`);
  const out: Digit[] = [];
  for (let o = 0; o < field.bits; o += width) out.push({ offset: o, width: Math.min(width, field.bits - o) });
  return out;
}

function ggmChildren(seed: Uint8Array): [Uint8Array, Uint8Array] {
  const h = sha256Parts(GGM, seed);
  return [h.slice(0, 16), h.slice(16, 32)];
}

function pad(key: Uint8Array): Uint8Array {
  return sha256Parts(PAD, key).subarray(0, 16);
}

function xorInto(acc: Uint8Array, x: Uint8Array): void {
  for (let i = 0; i < 16; i++) acc[i]! ^= x[i]!;
}

function keyAt(keys: Uint8Array, i: number): Uint8Array {
  return keys.subarray(16 * i, 16 * i + 16);
}

/**
 * P_A's state and the setup message (32 bytes per base OT) from k random OTs made elsewhere
 * (the COPE Initialize OTs, Fig. 4): P_A holds both keys k0, k1 (16·k bytes each). The setup
 * must reach P_B before its first Extend. Throws RangeError on a key length or width problem.
 */
export function digitCopeSenderFromOts(field: Field, width: number, k0: Uint8Array, k1: Uint8Array): { state: DigitCopeSenderState; setup: Uint8Array } {
  if (k0.length !== 16 * field.bits || k1.length !== 16 * field.bits) throw new RangeError(`digit COPE: need ${16 * field.bits} bytes of OT keys`);
  const digits = digitLayout(field, width);
  const setup = new Uint8Array(32 * field.bits);
  const leaves: Prg[][] = [];
  for (const d of digits) {
    let level: Uint8Array[] = [sha256Parts(ROOT, keyAt(k0, d.offset), keyAt(k1, d.offset)).slice(0, 16)];
    for (let l = 0; l < d.width; l++) {
      const next: Uint8Array[] = new Array(2 * level.length);
      const x0 = new Uint8Array(16), x1 = new Uint8Array(16);
      level.forEach((node, j) => {
        const [c0, c1] = ggmChildren(node);
        next[j] = c0; // bit l of the leaf index = 0
        next[j + level.length] = c1; // bit l = 1
        xorInto(x0, c0);
        xorInto(x1, c1);
      });
      xorInto(x0, pad(keyAt(k0, d.offset + l)));
      xorInto(x1, pad(keyAt(k1, d.offset + l)));
      setup.set(x0, 32 * (d.offset + l));
      setup.set(x1, 32 * (d.offset + l) + 16);
      level = next;
    }
    leaves.push(level.map((s) => new Prg(s)));
  }
  return { state: { field, digits, leaves }, setup };
}

/**
 * P_B's state from the random OTs it received (16·k bytes, choice bits = bits of Δ) and P_A's
 * setup message. Throws RangeError on a key length or width problem, ProtocolAbort
 * "bad-encoding" (culprit `peer`) if the setup has the wrong length. A wrong-but-well-formed
 * setup is not detectable here; it is caught like any COPE error (see the module comment).
 */
export function digitCopeReceiverFromOts(field: Field, width: number, delta: bigint, keys: Uint8Array, setup: Uint8Array, peer: number): DigitCopeReceiverState {
  const bits = deltaBits(field, delta);
  if (keys.length !== 16 * field.bits) throw new RangeError(`digit COPE: need ${16 * field.bits} bytes of OT keys`);
  if (setup.length !== 32 * field.bits) throw new ProtocolAbort("bad-encoding", [peer], `digit COPE: setup must be ${32 * field.bits} bytes, got ${setup.length}`);
  const digits = digitLayout(field, width);
  const values: number[] = [];
  const leaves: (Prg | null)[][] = [];
  for (const d of digits) {
    let value = 0;
    for (let l = 0; l < d.width; l++) value |= bits[d.offset + l]! << l;
    values.push(value);
    // Known nodes of the current level (null on the path to the punctured leaf π = N − 1 − value).
    let level: (Uint8Array | null)[] = [null];
    for (let l = 0; l < d.width; l++) {
      const beta = bits[d.offset + l]!;
      const x = setup.slice(32 * (d.offset + l) + 16 * beta, 32 * (d.offset + l) + 16 * beta + 16);
      xorInto(x, pad(keyAt(keys, d.offset + l)));
      const next: (Uint8Array | null)[] = new Array(2 * level.length).fill(null);
      let hole = -1;
      level.forEach((node, j) => {
        if (node === null) { hole = j; return; }
        const [c0, c1] = ggmChildren(node);
        next[j] = c0;
        next[j + level.length] = c1;
        xorInto(x, beta === 0 ? c0 : c1);
      });
      // The path node's β-child is X^β minus the known β-children; its (1 − β)-child stays unknown.
      next[hole + beta * level.length] = x;
      level = next;
    }
    leaves.push(level.map((s) => (s === null ? null : new Prg(s))));
  }
  return { field, delta, digits, values, leaves };
}

/** Every leaf stream a state reads (for WebCrypto prefetch, offline.ts); each Extend of m elements reads field.byteLength·m bytes from each (one word more per word skipped as equal to p: field/kernels.ts leafElements). */
export function digitCopeStreams(st: DigitCopeSenderState | DigitCopeReceiverState): Prg[] {
  const rows: readonly (readonly (Prg | null)[])[] = st.leaves;
  return rows.flatMap((row) => row.filter((p): p is Prg => p !== null));
}

/**
 * Extend, P_A: the message c_1..c_D (D·m encoded elements, D = number of digits, digit-major)
 * and P_A's share t with q + t = Δ·x. Advances every leaf stream by m elements (m words of
 * field.byteLength bytes, plus one per word equal to p, skipped: field/kernels.ts leafElements).
 */
export function digitCopeSenderExtend(st: DigitCopeSenderState, x: FieldVec): { message: Uint8Array; t: FieldVec } {
  const F = st.field, u = F.byteLength;
  // c_i = x − Σ_j r_j and t = Σ_i 2^{o_i}·Σ_j (N_i − 1 − j)·r_j, by the field's fused fold (it reads the leaves in chunks).
  const { c, t } = F.digitCopeSenderFoldUniform(x, st.digits.map((d) => d.width), (i, j, n) => st.leaves[i]![j]!.nextView(u * n));
  return { message: F.encodeView(c), t };
}

/**
 * Extend, P_B: on c_1..c_D for m elements returns q with q + t = Δ·x. The whole message is
 * decoded before any use, so whether it aborts does not depend on Δ. Throws ProtocolAbort
 * "bad-encoding" (culprit `peer`) on a wrong length or a non-canonical element.
 */
export function digitCopeReceiverExtend(st: DigitCopeReceiverState, m: number, message: Uint8Array, peer: number): FieldVec {
  const F = st.field, D = st.digits.length, u = F.byteLength;
  if (message.length !== D * m * F.byteLength) throw new ProtocolAbort("bad-encoding", [peer], `digit COPE: expected ${D * m * F.byteLength} bytes, got ${message.length}`);
  let c: FieldVec;
  try { c = F.decodeExact(message, D * m); } catch {
    throw new ProtocolAbort("bad-encoding", [peer], "digit COPE: non-canonical field element");
  }
  // q_i = Δ_i·(A′ + c_i) − B′ with A′, B′ the sender's sums without the punctured leaf.
  return F.digitCopeReceiverFoldUniform(c, m, st.digits.map((d) => d.width), st.values, (i, j, n) => st.leaves[i]![j]?.nextView(u * n) ?? null);
}
