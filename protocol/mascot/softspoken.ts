/**
 * SoftSpokenOT, malicious variant: Lawrence Roy, "SoftSpokenOT: Quieter OT Extension from
 * Small-Field Silent VOLE in the Minicrypt Model" (CRYPTO 2022, eprint 2022/192), the only
 * OT extension of the offline phase (KOS15 was removed, issue 13). Random OT with chosen
 * receiver bits, κ = 128, `outBlocks` 16-byte blocks per message, from κ base OTs
 * (MRR21, base-ot-mrr.ts), with about κ/k instead of KOS's κ bits of communication per OT.
 *
 * Roles (as in IKNP/KOS): the OT-extension *receiver* R (chooser) is the base-OT sender (holds
 * k0^l, k1^l) and plays the small-field VOLE *sender*; the OT-extension *sender* S is the
 * base-OT receiver with choice bits δ ∈ {0,1}^128 (holds k^l_{δ_l}) and plays the VOLE
 * receiver with Δ = δ.
 *
 * The 128 base-OT positions are cut into blocks of k bits (the last one 128 mod k when k ∤
 * 128); block i covers columns off_i .. off_i + k_i − 1 and Δ_i = Σ_b δ_{off_i+b} 2^b.
 *
 * Setup (once per session and ordered pair; "Setup" message of R, §3.1 + PPRF):
 *  1. Session keys K_b^l = H("…/base/v1" ‖ k_b^l ‖ sid) (the base-OT reuse rule of
 *     ot-extension.ts KosSenderBase: independent per session in the ROM, same δ).
 *  2. (2^k − 1)-of-2^k OT per block by a GGM punctured PRF (Roy §3.1 / KKRT): R draws a root
 *     seed, expands a depth-k_i tree with G(s) = SHA-256("…/ggm/v1" ‖ s) (left ‖ right); the
 *     level h (1-based) splits on bit h − 1 of the leaf index. For each level R sends
 *     c_{h,s} = (⊕ of the level-h nodes on side s) ⊕ K^l_{1−s} (l = off_i + h − 1), so S,
 *     holding K^l_{δ_l}, learns the side-(1 − δ_l) sum and with it every node off its path:
 *     every leaf except the one at x = Δ_i.
 *  3. PPRF consistency (malicious sender): each leaf s_x gives a PRG seed
 *     H("…/leaf-seed/v1" ‖ s_x)[0..16] and a check value t_x = H("…/leaf-check/v1" ‖ s_x);
 *     R sends τ_i = ⊕_x t_x per block and h = H("…/pprf/v1" ‖ sid ‖ all t_x). S recomputes
 *     t_{Δ_i} = τ_i ⊕ ⊕_{x≠Δ_i} t_x and aborts ("ot-check-failed") unless the hash matches:
 *     by collision resistance R is then committed to one set of leaves for every Δ, so an
 *     inconsistent tree is at most a selective abort on Δ (the same leakage the extension
 *     check below already allows).
 *
 * Extend(m), m' = paddedCount(m) = m + κ + s rounded up to 32 (as KOS):
 *  1. R: x' = x ‖ random padding. Per block i and leaf x, r_x = PRG(seed_x) ∈ {0,1}^{m'}
 *     (streams continue across Extends). Small-field VOLE (Roy §3.1):
 *       u_i = ⊕_x r_x,   v_{i,b} = ⊕_{x: x_b = 1} r_x   (b < k_i; column off_i + b of V)
 *     and R sends the corrections c_i = u_i ⊕ x' (subspace VOLE with the repetition code, §4).
 *  2. S: w_{i,b} = ⊕_{y: y_b = 1} r_{y⊕Δ_i} (the unknown r_{Δ_i} has y = 0 and drops out)
 *     = v_{i,b} ⊕ Δ_{i,b}·u_i; then w_{i,b} ⊕= Δ_{i,b}·c_i, so W = V ⊕ x'·Δ row-wise: the
 *     KOS/IKNP correlation q_j = t_j ⊕ x'_j·Δ with t_j = V_j.
 *  3. Consistency check (malicious subspace VOLE, §5, with a linear universal hash): χ_1..χ_m'
 *     ∈ GF(2^128) = PRG(H("…/chi/v1" ‖ sid ‖ counter ‖ H(c))) (Fiat–Shamir, as in our KOS);
 *     R sends x̃ = Σ x'_j χ_j and t̃ = Σ V_j χ_j with c; S accepts iff Σ W_j χ_j = t̃ + x̃·Δ.
 *     If block i used choice vector x'⊕e_i, the difference is Σ_i (Σ_j χ_j e_{ij})·Δ^{(i)}:
 *     unless every Σ_j χ_j e_{ij} = 0 (probability 2^-128 per hash query) passing means
 *     guessing Δ on the erring blocks (≥ k_i bits each, selective abort). The κ + s padding
 *     rows hide x in x̃ and are discarded.
 *  4. Outputs exactly as KOS: v_j = H(t_j), v0_j = H(q_j), v1_j = H(q_j ⊕ Δ) with the TMMO
 *     tweakable correlation-robust hash, key SHA-256("2pm/softspoken/tccr/v1" ‖ sid)[0..16],
 *     tweak (global OT index, block).
 *
 * Cost per OT (both directions of a pair count separately): ⌈128/k⌉ bits sent; R expands
 * ≈ 128·2^k/k PRG bits, S ≈ 128·(2^k − 1)/k. States advance with each call (one thread of
 * use per pair; never feed a message twice into the same state).
 */
import { hasNativeSha256, sha256, sha256Parts } from "./hash.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import type { Rng } from "../rng.ts";
import { ProtocolAbort } from "./errors.ts";
import {
  checkCorrelation, checkSum, KAPPA, packChoices, paddedCount, tccrHash, tccrHashAsync, transposeColumns, words, xorSelected,
  type KosReceiverBase, type KosSenderBase,
} from "./ot-extension.ts";
import { Prg } from "./prg.ts";

/** Smallest and largest supported k (bits per small-field VOLE). */
export const SS_MIN_K = 2;
export const SS_MAX_K = 8;
/** Default k, chosen by measurement (bench/mascot-offline.ts; docs/mascot.md). */
export const SS_DEFAULT_K = 3;

const T_BASE = utf8("2pm/softspoken/base/v1");
const T_GGM = utf8("2pm/softspoken/ggm/v1");
const T_SEED = utf8("2pm/softspoken/leaf-seed/v1");
const T_CHECK = utf8("2pm/softspoken/leaf-check/v1");
const T_PPRF = utf8("2pm/softspoken/pprf/v1");
const T_CHI = utf8("2pm/softspoken/chi/v1");
const T_TCCR = utf8("2pm/softspoken/tccr/v1");

/** Block sizes k_i (sum 128) for parameter k. Throws RangeError unless k is an integer in [2, 8]. */
export function ssBlockSizes(k: number): number[] {
  if (!Number.isInteger(k) || k < SS_MIN_K || k > SS_MAX_K) throw new RangeError(`SoftSpokenOT: k must be an integer in [${SS_MIN_K}, ${SS_MAX_K}], got ${k}`);
  const sizes: number[] = [];
  for (let left = KAPPA; left > 0; left -= k) sizes.push(Math.min(k, left));
  return sizes;
}

/** Byte length of R's setup message (GGM level corrections, τ_i, PPRF hash) for parameter k. */
export function ssSetupMessageLength(k: number): number {
  const sizes = ssBlockSizes(k);
  return 32 * KAPPA + 32 * sizes.length + 32;
}

/** Byte length of R's extend message for m OTs: one correction column per block, x̃, t̃. */
export function ssMessageLength(k: number, m: number): number {
  return (ssBlockSizes(k).length * paddedCount(m)) / 8 + 32;
}

/** R's state (VOLE sender): every leaf stream of every block. */
export interface SsReceiverState {
  readonly sid: Uint8Array; readonly k: number; readonly sizes: number[]; readonly offs: number[];
  /** leaves[i][x]: the PRG of leaf x of block i. */
  readonly leaves: Prg[][];
  readonly key: Uint8Array; counter: number;
}
/** S's state (VOLE receiver): Δ and the leaf streams except the punctured one per block. */
export interface SsSenderState {
  readonly sid: Uint8Array; readonly k: number; readonly sizes: number[]; readonly offs: number[];
  readonly delta: Uint32Array;
  /** Δ_i per block (the punctured leaf). */
  readonly points: number[];
  /** leaves[i][x]: the PRG of leaf x of block i; undefined at x = Δ_i. */
  readonly leaves: Array<Array<Prg | undefined>>;
  readonly key: Uint8Array; counter: number;
}

/** Every intermediate value of setup, for the known-answer vectors (test/vectors/mascot). */
export interface SsSetupTrace { roots: Uint8Array[]; leafSeeds: Uint8Array[][]; leafChecks: Uint8Array[][]; pprfHash: Uint8Array }

function offsets(sizes: number[]): number[] {
  const offs: number[] = [];
  let o = 0;
  for (const s of sizes) { offs.push(o); o += s; }
  return offs;
}

function sessionKey(key: Uint8Array, sid: Uint8Array): Uint8Array {
  return sha256Parts(T_BASE, key, sid).slice(0, 16);
}

function expand(s: Uint8Array): [Uint8Array, Uint8Array] {
  const d = sha256Parts(T_GGM, s);
  return [d.subarray(0, 16), d.subarray(16, 32)];
}

function xor16(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(16);
  for (let i = 0; i < 16; i++) o[i] = a[i]! ^ b[i]!;
  return o;
}

function xorInto(acc: Uint8Array, b: Uint8Array): void {
  for (let i = 0; i < acc.length; i++) acc[i]! ^= b[i]!;
}

function leafOf(s: Uint8Array): { seed: Uint8Array; check: Uint8Array } {
  return { seed: sha256Parts(T_SEED, s).slice(0, 16), check: sha256Parts(T_CHECK, s) };
}

function pprfHash(sid: Uint8Array, checks: Uint8Array[][]): Uint8Array {
  // SHA-256(T_PPRF ‖ sid ‖ every t_x), absorbed piecewise (no ~11 KB concatenation per pair).
  const parts: Uint8Array[] = [T_PPRF, sid];
  for (const block of checks) for (const t of block) parts.push(t);
  return sha256Parts(...parts);
}

function tccrKeySs(sid: Uint8Array): Uint8Array {
  return sha256(concatBytes(T_TCCR, sid)).slice(0, 16);
}

/**
 * Setup, R side (VOLE sender): from R's base (both keys per position; fresh or kept, see
 * {@link KosReceiverBase}) builds the GGM trees with fresh roots from `rng` and returns R's
 * state and the setup message for S. Throws RangeError on a bad k or malformed base.
 */
export function ssReceiverSetup(sid: Uint8Array, base: KosReceiverBase, k: number, rng: Rng, trace?: SsSetupTrace): { state: SsReceiverState; message: Uint8Array } {
  const sizes = ssBlockSizes(k), offs = offsets(sizes);
  if (base.k0.length !== 16 * KAPPA || base.k1.length !== 16 * KAPPA) throw new RangeError("ssReceiverSetup: malformed base");
  const msg = new Uint8Array(ssSetupMessageLength(k));
  let o = 0;
  const leaves: Prg[][] = [], checks: Uint8Array[][] = [], taus: Uint8Array[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const kb = sizes[i]!, root = rng.bytes(16);
    trace?.roots.push(root.slice());
    let level: Uint8Array[] = [root];
    for (let h = 1; h <= kb; h++) {
      const next: Uint8Array[] = new Array(1 << h);
      const half = 1 << (h - 1);
      const sum = [new Uint8Array(16), new Uint8Array(16)];
      for (let p = 0; p < half; p++) {
        const [l, r] = expand(level[p]!);
        next[p] = l; next[p | half] = r;
        xorInto(sum[0]!, l); xorInto(sum[1]!, r);
      }
      const l = offs[i]! + h - 1;
      const K0 = sessionKey(base.k0.subarray(16 * l, 16 * l + 16), sid), K1 = sessionKey(base.k1.subarray(16 * l, 16 * l + 16), sid);
      msg.set(xor16(sum[0]!, K1), o); msg.set(xor16(sum[1]!, K0), o + 16); o += 32;
      level = next;
    }
    const prgs: Prg[] = [], cs: Uint8Array[] = [], tau = new Uint8Array(32), seeds: Uint8Array[] = [];
    for (const s of level) {
      const lf = leafOf(s);
      prgs.push(new Prg(lf.seed)); cs.push(lf.check); seeds.push(lf.seed);
      xorInto(tau, lf.check);
    }
    trace?.leafSeeds.push(seeds); trace?.leafChecks.push(cs);
    leaves.push(prgs); checks.push(cs); taus.push(tau);
  }
  for (const t of taus) { msg.set(t, o); o += 32; }
  const h = pprfHash(sid, checks);
  if (trace) trace.pprfHash = h;
  msg.set(h, o);
  return { state: { sid: sid.slice(), k, sizes, offs, leaves, key: tccrKeySs(sid), counter: 0 }, message: msg };
}

/**
 * Setup, S side (VOLE receiver with Δ = the base choice bits δ): rebuilds every leaf off the
 * punctured points from R's message and checks the PPRF hash. Throws ProtocolAbort
 * "bad-encoding" (wrong length) or "ot-check-failed" (inconsistent trees), culprit `peer`.
 */
export function ssSenderSetup(sid: Uint8Array, base: KosSenderBase, k: number, message: Uint8Array, peer: number): SsSenderState {
  const sizes = ssBlockSizes(k), offs = offsets(sizes);
  if (base.keys.length !== 16 * KAPPA || base.delta.length !== KAPPA / 32) throw new RangeError("ssSenderSetup: malformed base");
  if (!(message instanceof Uint8Array) || message.length !== ssSetupMessageLength(k)) {
    throw new ProtocolAbort("bad-encoding", [peer], `SoftSpokenOT setup: expected ${ssSetupMessageLength(k)} bytes, got ${message?.length}`);
  }
  const bit = (l: number) => (base.delta[l >>> 5]! >>> (l & 31)) & 1;
  const tauOff = 32 * KAPPA;
  let o = 0;
  const leaves: Array<Array<Prg | undefined>> = [], checks: Uint8Array[][] = [], points: number[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const kb = sizes[i]!;
    let point = 0;
    for (let b = 0; b < kb; b++) point |= bit(offs[i]! + b) << b;
    points.push(point);
    // level[p] for every node p at the current level, undefined on the path to `point`.
    let level: Array<Uint8Array | undefined> = [undefined];
    for (let h = 1; h <= kb; h++) {
      const half = 1 << (h - 1), next: Array<Uint8Array | undefined> = new Array(1 << h).fill(undefined);
      const l = offs[i]! + h - 1, d = bit(l), side = 1 - d;
      const path = point & (half - 1);
      const sum = sessionKey(base.keys.subarray(16 * l, 16 * l + 16), sid);
      xorInto(sum, message.subarray(o + 16 * side, o + 16 * side + 16)); o += 32;
      for (let p = 0; p < half; p++) {
        if (p === path) continue;
        const [lc, rc] = expand(level[p]!);
        next[p] = lc; next[p | half] = rc;
        xorInto(sum, side ? rc : lc);
      }
      next[path | (side ? half : 0)] = sum;
      level = next;
    }
    const prgs: Array<Prg | undefined> = [], cs: Uint8Array[] = [];
    const tDelta = message.slice(tauOff + 32 * i, tauOff + 32 * i + 32);
    for (let x = 0; x < level.length; x++) {
      if (x === point) { prgs.push(undefined); cs.push(tDelta); continue; }
      const lf = leafOf(level[x]!);
      prgs.push(new Prg(lf.seed)); cs.push(lf.check);
      xorInto(tDelta, lf.check);
    }
    leaves.push(prgs); checks.push(cs);
  }
  const h = pprfHash(sid, checks);
  const got = message.subarray(tauOff + 32 * sizes.length);
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= h[i]! ^ got[i]!;
  if (diff !== 0) throw new ProtocolAbort("ot-check-failed", [peer], "SoftSpokenOT setup: punctured-PRF consistency check failed");
  return { sid: sid.slice(), k, sizes, offs, delta: base.delta.slice(), points, leaves, key: tccrKeySs(sid), counter: 0 };
}

// ---------------------------------------------------------------- small-field VOLE
/**
 * The XOR reduction of one block (Roy §3.1): from the 2^kb leaf columns r_x (W words; null =
 * zero) writes v_b = ⊕_{x: x_b = 1} r_x into cols[(off + b)·W ..] for b < kb and returns
 * u = ⊕_x r_x (a scratch view). 2·(2^kb − 1) column XORs, halving on each bit.
 */
function reduceBlock(leaves: Array<Uint32Array | null>, kb: number, W: number, cols: Uint32Array, off: number, scratch: Uint32Array): Uint32Array {
  const half0 = leaves.length >> 1;
  let cur: Uint32Array[] = new Array(half0);
  // bit 0: reads the (read-only) PRG views, writes the folded pairs into scratch
  {
    const v = cols.subarray(off * W, (off + 1) * W);
    for (let y = 0; y < half0; y++) {
      const a = leaves[2 * y], c = leaves[2 * y + 1], dst = scratch.subarray(y * W, (y + 1) * W);
      if (a && c) for (let w = 0; w < W; w++) { const cw = c[w]!; v[w]! ^= cw; dst[w] = a[w]! ^ cw; }
      else if (c) for (let w = 0; w < W; w++) { const cw = c[w]!; v[w]! ^= cw; dst[w] = cw; }
      else if (a) dst.set(a);
      else dst.fill(0);
      cur[y] = dst;
    }
  }
  for (let b = 1; b < kb; b++) {
    const v = cols.subarray((off + b) * W, (off + b + 1) * W), half = cur.length >> 1, next: Uint32Array[] = new Array(half);
    for (let y = 0; y < half; y++) {
      const a = cur[2 * y]!, c = cur[2 * y + 1]!;
      for (let w = 0; w < W; w++) { const cw = c[w]!; v[w]! ^= cw; a[w]! ^= cw; }
      next[y] = a;
    }
    cur = next;
  }
  return cur[0]!;
}

/** dst[o + w] = a[w] ⊕ b[w] for w < W (dst may alias a). */
function xorWordsInto(dst: Uint32Array, o: number, a: Uint32Array, b: Uint32Array, W: number): void {
  for (let w = 0; w < W; w++) dst[o + w] = a[w]! ^ b[w]!;
}


function chiSeed(sid: Uint8Array, counter: number, cHash: Uint8Array): Uint8Array {
  const c = new Uint8Array(8);
  new DataView(c.buffer).setFloat64(0, counter, true);
  return sha256(concatBytes(T_CHI, sid, c, cHash));
}

function chiFor(sid: Uint8Array, counter: number, corr: Uint8Array, mp: number): Uint32Array {
  return new Uint32Array(new Prg(chiSeed(sid, counter, sha256(corr))).next(16 * mp).buffer);
}

async function chiForAsync(sid: Uint8Array, counter: number, corr: Uint8Array, mp: number): Promise<Uint32Array> {
  // A native sync SHA-256 (hash.ts) when installed: no WebCrypto round trip, no copy of the corrections.
  const h = hasNativeSha256() ? sha256(corr) : new Uint8Array(await crypto.subtle.digest("SHA-256", corr.slice()));
  const p = new Prg(chiSeed(sid, counter, h));
  await p.prefetch(16 * mp);
  return new Uint32Array(p.next(16 * mp).buffer);
}

/** Every stream an Extend of m OTs reads, with the bytes it reads (for WebCrypto prefetch). */
export function ssStreams(st: SsReceiverState | SsSenderState): Prg[] {
  const out: Prg[] = [];
  for (const blk of st.leaves) for (const p of blk) if (p) out.push(p);
  return out;
}

/** Bytes each leaf stream yields per Extend of m OTs. */
export function ssStreamBytes(m: number): number {
  return paddedCount(m) / 8;
}

/** Intermediate values of one sync Extend, for the known-answer vectors: the 128-bit rows t_j = V_j (R) or q_j = W_j (S), m' of them. */
export interface SsExtendTrace { rows?: Uint32Array; chi0?: Uint32Array }

interface RPart { mp: number; W: number; msg: Uint8Array; corr: Uint8Array; t: Uint32Array; xw: Uint32Array }

/**
 * R's Extend after step 1 (see {@link ssReceiverCorrections}): the corrections c_i as they will
 * be sent, block i at bytes [i·W·4, (i + 1)·W·4) with W = m'/32 words, before the Fiat–Shamir
 * χ is drawn from them. Finish it once, with {@link ssReceiverFinish} or {@link ssReceiverFinishAsync}.
 */
export interface SsReceiverPart { readonly m: number; readonly corrections: Uint8Array; readonly words: number }
interface PartState { st: SsReceiverState; inner: RPart; finished: boolean }
const parts = new WeakMap<SsReceiverPart, PartState>();
/** States with an Extend begun and not finished: a second one would reuse its counter (χ and the hash tweaks). */
const pending = new WeakSet<SsReceiverState>();

/** Extend steps 1 (R): leaf columns → V (columns) and corrections c_i = u_i ⊕ x'. */
function receiverPart1(st: SsReceiverState, x: Uint8Array, rng: Rng): RPart {
  const mp = paddedCount(x.length), W = mp / 32, nb = st.sizes.length;
  const xw = packChoices(x, mp, rng, "ssReceiverExtend");
  const t = new Uint32Array(KAPPA * W);
  const msg = new Uint8Array(nb * W * 4 + 32), corr = msg.subarray(0, nb * W * 4);
  const cw = new Uint32Array(msg.buffer, 0, nb * W);
  const scratch = new Uint32Array((1 << (st.k - 1)) * W);
  // Plain loops, no per-call closures: V8 keeps the optimised code across rounds (see m61.ts m61RowCombineLimbs).
  for (let i = 0; i < nb; i++) {
    const blk = st.leaves[i]!, cols: Uint32Array[] = new Array(blk.length);
    for (let x = 0; x < blk.length; x++) cols[x] = words(blk[x]!.nextView(4 * W));
    const u = reduceBlock(cols, st.sizes[i]!, W, t, st.offs[i]!, scratch);
    xorWordsInto(cw, i * W, u, xw, W);
  }
  return { mp, W, msg, corr, t, xw };
}

/** Extend step 3 (R): x̃, t̃ into the message tail; the rows t_j. */
function receiverPart2(p: RPart, chi: Uint32Array): Uint32Array {
  const tail = new Uint32Array(p.msg.buffer, p.msg.byteOffset + p.corr.length, 8);
  tail.set(xorSelected(p.xw, chi));
  tail.set(checkSum(p.t, p.W, chi), 4);
  return transposeColumns(p.t, p.W);
}

/**
 * Extend step 1, R side: choice bits `x` (bytes 0/1) → the corrections (reads the leaf
 * streams; the state's counter moves only when the part is finished). The two-part form lets
 * the offline party pass its corrections through its fault seam before the χ of the
 * consistency check is drawn from them (testing/cheating-offline.ts: inconsistent choice bits
 * per block). Throws RangeError if a choice is not a bit.
 */
export function ssReceiverCorrections(st: SsReceiverState, x: Uint8Array, rng: Rng): SsReceiverPart {
  if (pending.has(st)) throw new RangeError("SoftSpokenOT: an Extend of this state is not finished yet");
  const inner = receiverPart1(st, x, rng);
  const part: SsReceiverPart = { m: x.length, corrections: inner.corr, words: inner.W };
  parts.set(part, { st, inner, finished: false });
  pending.add(st);
  return part;
}

function takePart(st: SsReceiverState, part: SsReceiverPart): RPart {
  const ps = parts.get(part);
  if (!ps || ps.st !== st) throw new RangeError("SoftSpokenOT: not an Extend of this state");
  if (ps.finished) throw new RangeError("SoftSpokenOT: this Extend was already finished");
  ps.finished = true;
  pending.delete(st);
  return ps.inner;
}

/**
 * Extend steps 3–4, R side, for a part from {@link ssReceiverCorrections} (the next Extend of
 * this state): χ from the corrections as they are now, x̃ and t̃, the chosen outputs v_{x_j}
 * (m · outBlocks · 16 bytes) and the message c ‖ x̃ ‖ t̃ for S. Throws RangeError if the part
 * was already finished or belongs to another state.
 */
export function ssReceiverFinish(st: SsReceiverState, part: SsReceiverPart, outBlocks = 1, trace?: SsExtendTrace): { message: Uint8Array; outputs: Uint8Array } {
  const p = takePart(st, part);
  const chi = chiFor(st.sid, st.counter, p.corr, p.mp);
  const rows = receiverPart2(p, chi);
  if (trace) { trace.rows = rows.slice(); trace.chi0 = chi.slice(0, 4); }
  const [outputs] = tccrHash(st.key, rows, part.m, st.counter, outBlocks, [undefined]);
  st.counter += p.mp;
  return { message: p.msg, outputs: outputs! };
}

/** {@link ssReceiverFinish} with χ and the hash on WebCrypto (or the native sync backends when installed). Same output. */
export async function ssReceiverFinishAsync(st: SsReceiverState, part: SsReceiverPart, outBlocks = 1): Promise<{ message: Uint8Array; outputs: Uint8Array }> {
  const p = takePart(st, part);
  const counter = st.counter;
  st.counter += p.mp;
  const rows = receiverPart2(p, await chiForAsync(st.sid, counter, p.corr, p.mp));
  const [outputs] = await tccrHashAsync(st.key, rows, part.m, counter, outBlocks, [undefined]);
  return { message: p.msg, outputs: outputs! };
}

/**
 * Extend, R side: choice bits `x` (bytes 0/1). Returns the message c ‖ x̃ ‖ t̃ for S and the
 * chosen outputs v_{x_j} (m · outBlocks · 16 bytes). Throws RangeError if a choice is not a bit.
 */
export function ssReceiverExtend(st: SsReceiverState, x: Uint8Array, rng: Rng, outBlocks = 1, trace?: SsExtendTrace): { message: Uint8Array; outputs: Uint8Array } {
  return ssReceiverFinish(st, ssReceiverCorrections(st, x, rng), outBlocks, trace);
}

/** {@link ssReceiverExtend} with the bulk AES (leaf streams, χ, hash) on WebCrypto. Same output. */
export async function ssReceiverExtendAsync(st: SsReceiverState, x: Uint8Array, rng: Rng, outBlocks = 1): Promise<{ message: Uint8Array; outputs: Uint8Array }> {
  await ssPrefetchStreams(st, x.length);
  return ssReceiverFinishAsync(st, ssReceiverCorrections(st, x, rng), outBlocks);
}

/** Makes the leaf streams an Extend of m OTs reads available from WebCrypto (a no-op without it, or with the native AES installed). Same bytes either way. */
export async function ssPrefetchStreams(st: SsReceiverState | SsSenderState, m: number): Promise<void> {
  const n = ssStreamBytes(m);
  try {
    await Promise.all(ssStreams(st).map((p) => p.prefetch(n)));
  } catch {
    // no WebCrypto: the streams are computed synchronously when read
  }
}

interface SPart { mp: number; W: number; corr: Uint8Array; q: Uint32Array; xt: Uint32Array; tt: Uint32Array }

/** Extend step 2 (S): W columns from the known leaves, plus Δ_{i,b}·c_i. */
function senderPart1(st: SsSenderState, m: number, message: Uint8Array, peer: number): SPart {
  const mp = paddedCount(m), W = mp / 32, nb = st.sizes.length;
  if (!(message instanceof Uint8Array) || message.length !== ssMessageLength(st.k, m)) {
    throw new ProtocolAbort("bad-encoding", [peer], `SoftSpokenOT: expected ${ssMessageLength(st.k, m)} bytes, got ${message?.length}`);
  }
  const corr = message.subarray(0, nb * W * 4), cw = words(corr);
  const tail = words(message.slice(nb * W * 4));
  const q = new Uint32Array(KAPPA * W);
  const scratch = new Uint32Array((1 << (st.k - 1)) * W);
  for (let i = 0; i < nb; i++) {
    const kb = st.sizes[i]!, point = st.points[i]!, blk = st.leaves[i]!;
    const cols: Array<Uint32Array | null> = new Array(1 << kb);
    for (let y = 0; y < cols.length; y++) { const p = blk[y ^ point]; cols[y] = p ? words(p.nextView(4 * W)) : null; }
    reduceBlock(cols, kb, W, q, st.offs[i]!, scratch);
    for (let b = 0; b < kb; b++) {
      if (((point >>> b) & 1) === 0) continue;
      const o = (st.offs[i]! + b) * W; // w_{i,b} ⊕= c_i where Δ_{i,b} = 1
      xorWordsInto(q, o, q.subarray(o, o + W), cw.subarray(i * W, (i + 1) * W), W);
    }
  }
  return { mp, W, corr, q, xt: tail.subarray(0, 4), tt: tail.subarray(4, 8) };
}

/** Extend step 3 (S): Σ W_j χ_j = t̃ + x̃·Δ, else abort; returns the rows q_j. */
function senderPart2(st: SsSenderState, p: SPart, chi: Uint32Array, peer: number): Uint32Array {
  return checkCorrelation(p.q, p.W, chi, p.xt, p.tt, st.delta, peer, "SoftSpokenOT");
}

/**
 * Extend, S side: checks and returns (v0, v1), each m · outBlocks · 16 bytes. Throws
 * ProtocolAbort "bad-encoding" on a wrong length and "ot-check-failed" (culprit `peer`) if
 * the consistency check fails.
 */
export function ssSenderExtend(st: SsSenderState, m: number, message: Uint8Array, peer: number, outBlocks = 1, trace?: SsExtendTrace): { v0: Uint8Array; v1: Uint8Array } {
  const p = senderPart1(st, m, message, peer);
  const rows = senderPart2(st, p, chiFor(st.sid, st.counter, p.corr, p.mp), peer);
  if (trace) trace.rows = rows.slice();
  const [v0, v1] = tccrHash(st.key, rows, m, st.counter, outBlocks, [undefined, st.delta]);
  st.counter += p.mp;
  return { v0: v0!, v1: v1! };
}

/** {@link ssSenderExtend} with the bulk AES on WebCrypto. Same output and checks. */
export async function ssSenderExtendAsync(st: SsSenderState, m: number, message: Uint8Array, peer: number, outBlocks = 1): Promise<{ v0: Uint8Array; v1: Uint8Array }> {
  await ssPrefetchStreams(st, m);
  const p = senderPart1(st, m, message, peer);
  const counter = st.counter;
  st.counter += p.mp;
  const rows = senderPart2(st, p, await chiForAsync(st.sid, counter, p.corr, p.mp), peer);
  const [v0, v1] = await tccrHashAsync(st.key, rows, m, counter, outBlocks, [undefined, st.delta]);
  return { v0: v0!, v1: v1! };
}
