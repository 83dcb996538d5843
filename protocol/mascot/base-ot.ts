/**
 * # Base OTs: the choice (issue 13)
 *
 * The offline setup's κ = 128 base OTs per ordered pair — the only public-key OTs of a
 * validated round — use **McQuoid–Rosulek–Roy POPF-OT** ("Batching Base Oblivious
 * Transfers", ASIACRYPT 2021, eprint 2021/682; libOTe's McRosRoyTwistMul): Curve25519 and its
 * twist with the streamlined Feistel POPF, one sender key per batch, specified and
 * implemented in base-ot-mrr.ts. Every scalar multiplication is an RFC 7748 X25519 call, so
 * it runs natively: Node's OpenSSL (node:crypto, sync and async paths), WebCrypto X25519
 * (workerd, Chrome/Edge ≥ 133, Firefox ≥ 130, Safari ≥ 17; checked in workerd 2026-12 by a
 * miniflare run: RFC 7748 vector, twist points, low-order refusal), noble's ladder elsewhere.
 * Same messages and keys on every backend (tests and a known-answer vector).
 *
 * Proof model. MRR21 prove the batched POPF-OT (one sender message for all m OTs, POPF and
 * key hash domain-separated by the OT index) UC-secure against a static malicious sender or
 * receiver in the random-oracle model (H_popf and H_key programmable), from the POPF's
 * programmable-once security (their streamlined Feistel, in the ROM) and a key agreement
 * whose messages are uniformly random strings and which resists their (strong-)CDH-style
 * attacks: X25519 on Curve25519 and its twist, both ≈ 2^126 (#E = 8ℓ, #E' = 4ℓ', ℓ and ℓ'
 * prime). That is what the OT extensions (SoftSpokenOT, KOS) assume of their base OTs:
 * F_OT for random OT. Chou–Orlandi, used before, has no such proof (below).
 *
 * Caveats (where we depart from the paper's instantiation):
 * 1. Clamped scalars. Native X25519 clamps (a multiple of 8 with bit 254 set), so the
 *    receiver's prime-order point has a discrete log whose top bit (curve) or top two bits
 *    (twist) are fixed. Its string is then uniform only computationally, assuming those bits
 *    of the discrete log are (simultaneously) hardcore — true under DL for O(log κ) top bits
 *    (Blum–Micali-type reductions; Schnorr 1998; the short-exponent DDH assumption of
 *    Koshiba–Kurosawa covers it) — instead of statistically as with libOTe's unclamped
 *    scalars. The sender's clamped key is the usual X25519 key (≈ 2^251 choices).
 * 2. Torsion on purpose. Clamping also puts every X25519 output in the prime-order subgroup,
 *    which anyone can test; the receiver therefore adds a uniform point of E[8] or E'[4]
 *    (affine Montgomery addition after a y-recovery square root in JavaScript, since the
 *    platform APIs return u only) and sets bit 255 at random. Without that a sender would
 *    read the choice bit off Y_0, Y_1 (a test runs that attack and fails if the torsion step
 *    is removed). The sender's clamped scalar kills the torsion, so keys agree.
 * 3. Statistical slack: curve or twist is chosen with probability 1/2 instead of
 *    |u(E)|/p (distance ≈ 2^-128); strings ≥ p occur with probability ≈ 2^-250.
 * 4. Checks: A_0 ‖ A_1 must be canonical, A_0 on the curve, A_1 on the twist, neither of low
 *    order; any POPF output of low order (whose key the receiver could predict) aborts with
 *    `bad-encoding` naming the receiver. No subgroup check on A is needed: the receiver's
 *    message is computed before and independently of A (one-round protocol) and its clamped
 *    scalar kills A's torsion (tested). Keys bind sid ‖ i ‖ x ‖ A ‖ φ_i.
 * 5. Not constant time (y-recovery, POPF, BigInt arithmetic); the native X25519 calls are.
 * 6. node:crypto is reached through `process.getBuiltinModule` (a runtime capability check,
 *    not an import: protocol/ still imports nothing from Node); each native backend is used
 *    only after it reproduces RFC 7748's first vector.
 * 7. The pure-JS fallback is slower than Chou–Orlandi was (two variable-base multiplications
 *    per OT for the sender instead of one); it only runs where no native X25519 exists.
 * Measured (`npm run bench -- base-ot`, docs/mascot.md "Base OTs on native X25519").
 *
 * # Chou–Orlandi (this file)
 *
 * No protocol run uses it: every validated run, with or without predicates, takes its base
 * OTs from the offline setup (MRR21 above; issue 13 removed the online phase's own
 * Chou–Orlandi COPE base OTs, `cope.ot.A`/`cope.ot.B`). Kept only for ot-extension.ts's
 * stand-alone KOS setup helpers (kosReceiverSetupStart, kosSenderSetup,
 * kosReceiverSetupFinish[WithBase]), which the OT-extension tests, the KOS / SoftSpokenOT /
 * COPE vector generators (test/vectors/mascot/generate*.ts), bench/mascot-offline.ts and
 * bench/base-ot.ts's "before" row use; moving those helpers to MRR21 would let this file go.
 *
 * Base OT: Chou–Orlandi "The Simplest Protocol for Oblivious Transfer" (LATINCRYPT 2015),
 * random-OT form, batched, over ristretto255 (@noble/curves).
 *
 *   sender    a ← Z_ℓ, A = a·G                          → A
 *   receiver  b_i ← Z_ℓ, B_i = b_i·G + c_i·A             → B_1..B_m
 *             k_i = H(sid, i, A, B_i, b_i·A)
 *   sender    k0_i = H(sid, i, A, B_i, a·B_i), k1_i = H(sid, i, A, B_i, a·B_i − a·A)
 *
 * with H = SHA-256("2pm/ot/co15/v1" ‖ sid ‖ u32le(i) ‖ A ‖ B_i ‖ P) truncated to 16 bytes.
 *
 * Security caveats of this choice (write them down, they matter):
 * - CO15 as published claimed UC security; the proof is flawed (Genç, Iovino, Rial, "The
 *   simplest protocol for oblivious transfer revisited", 2017; Hauck–Loss 2017; McQuoid–
 *   Rosulek–Roy 2020): a simulator cannot extract a malicious receiver's choice bits in
 *   general, so it is not UC-secure in the standard model. It is secure for *random* OT in
 *   the random-oracle model against a malicious receiver and a malicious sender when the
 *   key derivation binds (A, B_i) and the index — which is why H hashes sid ‖ i ‖ A ‖ B_i.
 *   Binding the session id `sid` (which must encode job/round/attempt and the ordered pair)
 *   stops keys from being reused across sessions or pairs; binding i stops a receiver from
 *   relating two OTs of the same batch (reusing B_i).
 * - The sender reuses one A across the batch (as CO15 allows); a sender can only choose A,
 *   which it cannot use to learn c_i (B_i is uniform for either bit).
 * - ristretto255 is a prime-order group, so the small-subgroup attacks of the Curve25519
 *   instantiation do not apply; both sides reject the identity and invalid encodings.
 * - Not constant time (noble's point arithmetic is not guaranteed constant time; the
 *   receiver computes both candidates for B_i and selects).
 * Masny–Rindal (CCS 2019) would give UC security with a programmable RO but needs three
 * hash-to-curve evaluations per OT in JavaScript (≈ 2 exponentiations each), which costs more
 * than the native multiplications save; MRR21's twist variant needs none (see above).
 */
import { ristretto255 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8 } from "../encoding.ts";
import type { Rng } from "../rng.ts";
import { ProtocolAbort } from "./errors.ts";

const Point = ristretto255.Point;
type Pt = InstanceType<typeof Point>;
const ELL = 2n ** 252n + 27742317777372353535851937790883648493n;
const TAG = utf8("2pm/ot/co15/v1");
/** Byte length of each OT output key. */
export const OT_KEY_BYTES = 16;

function randomScalar(rng: Rng): bigint {
  for (;;) {
    const b = rng.bytes(64);
    let x = 0n;
    for (let i = 63; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
    x %= ELL;
    if (x !== 0n) return x;
  }
}

function decodePoint(bytes: Uint8Array, peer: number, what: string): Pt {
  let p: Pt;
  try {
    p = Point.fromBytes(bytes);
  } catch {
    throw new ProtocolAbort("bad-encoding", [peer], `base OT: invalid ${what}`);
  }
  if (p.equals(Point.ZERO)) throw new ProtocolAbort("bad-encoding", [peer], `base OT: ${what} is the identity`);
  return p;
}

function kdf(sid: Uint8Array, i: number, A: Uint8Array, B: Uint8Array, P: Pt): Uint8Array {
  const idx = new Uint8Array(4);
  new DataView(idx.buffer).setUint32(0, i, true);
  return sha256(concatBytes(TAG, sid, idx, A, B, P.toBytes())).subarray(0, OT_KEY_BYTES);
}

/** Sender's private state between its two steps. Single use. */
/** `aA` (a·A, a ristretto point) is opaque outside this module: noble's point class is not exported, so declarations cannot name it. */
export interface BaseOtSenderState { readonly sid: Uint8Array; readonly a: bigint; readonly A: Uint8Array; readonly aA: unknown; used: boolean }

/** Sender step 1: returns the state and the 32-byte message A. */
export function baseOtSenderStart(sid: Uint8Array, rng: Rng): { state: BaseOtSenderState; message: Uint8Array } {
  const a = randomScalar(rng);
  const Ap = Point.BASE.multiply(a);
  const A = Ap.toBytes();
  return { state: { sid: sid.slice(), a, A, aA: Ap.multiply(a), used: false }, message: A };
}

/**
 * Receiver step: on the sender's A, with choice bits `choices` (one byte 0/1 per OT),
 * returns the 32·m-byte message B_1..B_m and the chosen keys k_{c_i} (16·m bytes, flat).
 * Throws ProtocolAbort "bad-encoding" (culprit `peer`) on an invalid A; RangeError on bad choices.
 */
export function baseOtReceive(sid: Uint8Array, choices: Uint8Array, messageA: Uint8Array, rng: Rng, peer: number): { message: Uint8Array; keys: Uint8Array } {
  if (messageA.length !== 32) throw new ProtocolAbort("bad-encoding", [peer], "base OT: A must be 32 bytes");
  // Every b_i·A uses the same A: a window table for A makes them fixed-base multiplications.
  const A = decodePoint(messageA, peer, "A").precompute(8, false);
  const m = choices.length;
  const out = new Uint8Array(32 * m);
  const keys = new Uint8Array(OT_KEY_BYTES * m);
  for (let i = 0; i < m; i++) {
    const c = choices[i]!;
    if (c !== 0 && c !== 1) throw new RangeError(`baseOtReceive: choice ${i} is not a bit`);
    const b = randomScalar(rng);
    const bG = Point.BASE.multiply(b);
    const bGA = bG.add(A);
    const B = (c === 1 ? bGA : bG).toBytes();
    out.set(B, 32 * i);
    keys.set(kdf(sid, i, messageA, B, A.multiply(b)), OT_KEY_BYTES * i);
  }
  return { message: out, keys };
}

/**
 * Sender step 2: on the receiver's B_1..B_m returns both keys per OT (k0, k1: 16·m bytes
 * each, flat). Throws ProtocolAbort "bad-encoding" (culprit `peer`) on a malformed message,
 * Error if the state was already used.
 */
export function baseOtSenderFinish(state: BaseOtSenderState, messageB: Uint8Array, m: number, peer: number): { k0: Uint8Array; k1: Uint8Array } {
  if (state.used) throw new Error("baseOtSenderFinish: state already used");
  if (messageB.length !== 32 * m) throw new ProtocolAbort("bad-encoding", [peer], `base OT: expected ${32 * m} bytes of B, got ${messageB.length}`);
  state.used = true;
  const k0 = new Uint8Array(OT_KEY_BYTES * m), k1 = new Uint8Array(OT_KEY_BYTES * m);
  for (let i = 0; i < m; i++) {
    const Bb = messageB.subarray(32 * i, 32 * i + 32);
    const aB = decodePoint(Bb, peer, `B_${i}`).multiply(state.a);
    k0.set(kdf(state.sid, i, state.A, Bb, aB), OT_KEY_BYTES * i);
    k1.set(kdf(state.sid, i, state.A, Bb, aB.subtract(state.aA as Pt)), OT_KEY_BYTES * i);
  }
  return { k0, k1 };
}
