/**
 * OT-extension primitives shared by SoftSpokenOT (softspoken.ts) and the offline phase
 * (offline.ts): κ = 128, the padded count m' = m + κ + s (s = 64) rounded up to 32, arithmetic
 * in GF(2^128) (X^128 + X^7 + X^2 + X + 1) for the consistency check Σ q_j·χ_j = t̃ + x̃·Δ
 * ({@link checkCorrelation}), 32×32-block bit-matrix transposes, the padded-choice packing, the
 * kept base-OT material ({@link KosSenderBase} / {@link KosReceiverBase}), and the
 * tweakable correlation-robust hash TMMO_π(x, i) = π(π(x) ⊕ i) ⊕ π(x) of Guo–Katz–Wang–Yu
 * (S&P 2020), π = AES-128 *decryption* under a fixed public key (decryption, because WebCrypto
 * can evaluate it in bulk through CBC; see permuteAsync), tweak i = (global OT index, block).
 *
 * History: this file used to hold KOS15 (Keller–Orsini–Scholl, CRYPTO 2015) as a second,
 * selectable OT extension with Chou–Orlandi base OTs. Both were removed (issues 13/14): Roy
 * (SoftSpokenOT, CRYPTO 2022; eprint 2022/192) found a gap in the KOS proof, MP-SPDZ warns
 * that KOS's security is unclear, and SoftSpokenOT is the one OT extension now (docs/mascot.md).
 * The "Kos" in the base-OT type names is historical: they are the IKNP-style base OTs
 * (the extension receiver holds both keys per position, the sender the keys its Δ chose).
 */
import { ecb } from "@noble/ciphers/aes.js";
import { sha256 } from "./hash.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import { ProtocolAbort } from "./errors.ts";
import { nativeAesEcbDecrypt } from "./prg.ts";
import { mrrReceive, mrrSenderFinish, mrrSenderStart } from "./base-ot-mrr.ts";
import type { Rng } from "../rng.ts";

export const KAPPA = 128;
/** Statistical parameter s of the consistency check's padding (m' − m ≥ κ + s). */
export const STAT_S = 64;

/** m' for a request of m OTs. */
export function paddedCount(m: number): number {
  return Math.ceil((m + KAPPA + STAT_S) / 32) * 32;
}

// ---------------------------------------------------------------- GF(2^128), 4 LE words
/** a·X mod (X^128 + X^7 + X^2 + X + 1), in place. */
function gfMulX(a: Uint32Array): void {
  const carry = a[3]! >>> 31;
  a[3] = (a[3]! << 1) | (a[2]! >>> 31);
  a[2] = (a[2]! << 1) | (a[1]! >>> 31);
  a[1] = (a[1]! << 1) | (a[0]! >>> 31);
  a[0] = (a[0]! << 1) ^ (carry * 0x87);
}

/** a·b in GF(2^128). */
export function gfMul(a: Uint32Array, b: Uint32Array): Uint32Array {
  const acc = new Uint32Array(4);
  for (let i = 127; i >= 0; i--) {
    gfMulX(acc);
    if ((b[i >>> 5]! >>> (i & 31)) & 1) { acc[0]! ^= a[0]!; acc[1]! ^= a[1]!; acc[2]! ^= a[2]!; acc[3]! ^= a[3]!; }
  }
  return acc;
}

/**
 * Σ_j χ_j·t_j where t_j is row j of the bit matrix given by its κ columns (`cols`, column l
 * at words [l·W, (l+1)·W)): = Σ_l X^l·(⊕_{j: col_l[j] = 1} χ_j), Horner in X.
 */
export function checkSum(cols: Uint32Array, W: number, chi: Uint32Array): Uint32Array {
  // U_l = ⊕_{j: col_l[j] = 1} χ_j by the method of four Russians with 4-bit chunks: for each
  // word of 32 consecutive j, eight 16-entry tables (one per nibble) of XOR combinations of
  // their χ_j, then per column one word load and eight lookups, accumulated in registers.
  // (4-bit chunks: 8·16 table entries per word instead of 4·256, for 2× the lookups.)
  const U = new Int32Array(4 * KAPPA);
  const T = new Int32Array(8 * 16 * 4);
  for (let w = 0; w < W; w++) {
    for (let q = 0; q < 8; q++) {
      const tb = 64 * q, base = 4 * (32 * w + 4 * q);
      for (let b = 0; b < 4; b++) {
        const o = base + 4 * b, c0 = chi[o]! | 0, c1 = chi[o + 1]! | 0, c2 = chi[o + 2]! | 0, c3 = chi[o + 3]! | 0;
        const half = 1 << b;
        for (let v = 0; v < half; v++) {
          const src = tb + 4 * v, dst = tb + 4 * (half + v);
          T[dst] = T[src]! ^ c0; T[dst + 1] = T[src + 1]! ^ c1; T[dst + 2] = T[src + 2]! ^ c2; T[dst + 3] = T[src + 3]! ^ c3;
        }
      }
    }
    for (let l = 0; l < KAPPA; l++) {
      const word = cols[l * W + w]!;
      if (word === 0) continue;
      const i0 = 4 * (word & 15), i1 = 64 + 4 * ((word >>> 4) & 15), i2 = 128 + 4 * ((word >>> 8) & 15), i3 = 192 + 4 * ((word >>> 12) & 15);
      const i4 = 256 + 4 * ((word >>> 16) & 15), i5 = 320 + 4 * ((word >>> 20) & 15), i6 = 384 + 4 * ((word >>> 24) & 15), i7 = 448 + 4 * (word >>> 28);
      const u = 4 * l;
      U[u] = U[u]! ^ T[i0]! ^ T[i1]! ^ T[i2]! ^ T[i3]! ^ T[i4]! ^ T[i5]! ^ T[i6]! ^ T[i7]!;
      U[u + 1] = U[u + 1]! ^ T[i0 + 1]! ^ T[i1 + 1]! ^ T[i2 + 1]! ^ T[i3 + 1]! ^ T[i4 + 1]! ^ T[i5 + 1]! ^ T[i6 + 1]! ^ T[i7 + 1]!;
      U[u + 2] = U[u + 2]! ^ T[i0 + 2]! ^ T[i1 + 2]! ^ T[i2 + 2]! ^ T[i3 + 2]! ^ T[i4 + 2]! ^ T[i5 + 2]! ^ T[i6 + 2]! ^ T[i7 + 2]!;
      U[u + 3] = U[u + 3]! ^ T[i0 + 3]! ^ T[i1 + 3]! ^ T[i2 + 3]! ^ T[i3 + 3]! ^ T[i4 + 3]! ^ T[i5 + 3]! ^ T[i6 + 3]! ^ T[i7 + 3]!;
    }
  }
  const acc = new Uint32Array(4);
  for (let l = KAPPA - 1; l >= 0; l--) {
    gfMulX(acc);
    acc[0]! ^= U[4 * l]!; acc[1]! ^= U[4 * l + 1]!; acc[2]! ^= U[4 * l + 2]!; acc[3]! ^= U[4 * l + 3]!;
  }
  return acc;
}

/** ⊕_{j: x_j=1} χ_j for packed bits x. */
export function xorSelected(xw: Uint32Array, chi: Uint32Array): Uint32Array {
  const acc = new Uint32Array(4);
  for (let w = 0; w < xw.length; w++) {
    let word = xw[w]!;
    while (word !== 0) {
      const bit = 31 - Math.clz32(word & -word);
      word &= word - 1;
      const o = 4 * (32 * w + bit);
      acc[0]! ^= chi[o]!; acc[1]! ^= chi[o + 1]!; acc[2]! ^= chi[o + 2]!; acc[3]! ^= chi[o + 3]!;
    }
  }
  return acc;
}

// ---------------------------------------------------------------- transpose
/** κ columns of m' bits (W = m'/32 words each) → m' rows of 4 words. 32×32 block transposes. */
export function transposeColumns(cols: Uint32Array, W: number): Uint32Array {
  const rows = new Uint32Array(4 * 32 * W);
  const A = new Int32Array(32);
  for (let lb = 0; lb < 4; lb++) {
    for (let wb = 0; wb < W; wb++) {
      for (let r = 0; r < 32; r++) A[r] = cols[(lb * 32 + r) * W + wb]!;
      let m = 0x0000ffff;
      for (let j = 16; j !== 0; j >>>= 1, m ^= m << j) {
        for (let k = 0; k < 32; k = (k + j + 1) & ~j) {
          const t = ((A[k]! >>> j) ^ A[k + j]!) & m;
          A[k]! ^= t << j;
          A[k + j]! ^= t;
        }
      }
      const rowBase = 4 * (wb * 32);
      for (let c = 0; c < 32; c++) rows[rowBase + 4 * c + lb] = A[c]!;
    }
  }
  return rows;
}

// ---------------------------------------------------------------- hashing
/** π over whole blocks, sync: AES-128 *decryption* under the fixed key (see {@link permuteAsync}). */
function permuteSync(key: Uint8Array, blocks: Uint8Array): Uint8Array {
  const native = nativeAesEcbDecrypt();
  return native ? native(key, blocks) : ecb(key, { disablePadding: true }).decrypt(blocks);
}

/** A fixed key's WebCrypto AES-CBC handle and its constant padding tail (see {@link cbcDecryptRaw}). */
interface PiContext { key: CryptoKey; tail: Uint32Array }
const piContexts = new WeakMap<Uint8Array, Promise<PiContext>>();

/**
 * The WebCrypto context of fixed key `key` (cached per key object). The tail is the two
 * blocks Y = 0¹⁶, Z = E(0x10¹⁶): appended to any CBC ciphertext, the last plaintext block
 * is D(Z) ⊕ Y = 0x10¹⁶, a valid PKCS#7 padding, so WebCrypto accepts the decryption.
 */
function piContext(key: Uint8Array): Promise<PiContext> {
  let c = piContexts.get(key);
  if (!c) {
    c = (async () => {
      const k = await crypto.subtle.importKey("raw", key.slice(), "AES-CBC", false, ["encrypt", "decrypt"]);
      const z = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, k, new Uint8Array(16).fill(0x10)));
      const tail = new Uint32Array(8);
      tail.set(new Uint32Array(z.buffer, 0, 4), 4);
      return { key: k, tail };
    })();
    piContexts.set(key, c);
  }
  return c;
}

/**
 * Raw AES-CBC decryption (IV = 0) of `buf`, whose last 8 words must be the context's tail:
 * returns P with P_i = D(C_i) ⊕ C_{i−1} (C_{−1} = 0) for the n = buf.length/4 − 2 data blocks
 * (and one garbage block after them). The caller undoes the chaining XOR itself.
 */
async function cbcDecryptRaw(ctx: PiContext, buf: Uint32Array<ArrayBuffer>): Promise<Uint32Array> {
  buf.set(ctx.tail, buf.length - 8);
  const pt = await crypto.subtle.decrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, ctx.key, buf);
  return new Uint32Array(pt);
}

/**
 * π over whole blocks via WebCrypto: AES-CBC decryption is parallel, and with IV = 0 its
 * i-th output block is D(X_i) ⊕ X_{i−1}; a constant two-block tail makes the PKCS#7 check
 * pass (see {@link piContext}). So D over n blocks is one native call. Same output as permuteSync.
 */
export async function permuteAsync(key: Uint8Array, blocks: Uint8Array): Promise<Uint8Array> {
  if (nativeAesEcbDecrypt()) return permuteSync(key, blocks); // a native sync AES beats WebCrypto's async round trip
  const n = blocks.length / 16;
  if (n === 0) return new Uint8Array(0);
  const buf = new Uint32Array(4 * (n + 2));
  new Uint8Array(buf.buffer).set(blocks);
  const pt = await cbcDecryptRaw(await piContext(key), buf);
  for (let i = 4 * n - 1; i >= 4; i--) pt[i]! ^= buf[i - 4]!;
  return new Uint8Array(pt.buffer, 0, 16 * n);
}

/**
 * TMMO hash (Guo–Katz–Wang–Yu, S&P 2020) of n rows (4 words each), once per entry of
 * `deltas` (undefined = the rows as they are, else the rows ⊕ that 128-bit value): row j of
 * variant v → outBlocks blocks H(x, (start + j, l)) = π(π(x) ⊕ tweak) ⊕ π(x). Returns one
 * byte array per variant (n · outBlocks · 16 bytes, views of one buffer).
 *
 * Written as three passes so the sync (noble ECB) and async (WebCrypto CBC, see
 * {@link cbcDecryptRaw}) paths share them: `cbc` tells a pass to undo the CBC chaining.
 */
function tccrPass1(rows: Uint32Array, n: number, deltas: Array<Uint32Array | undefined>, tailWords: number): Uint32Array<ArrayBuffer> {
  const V = deltas.length, inp = new Uint32Array(4 * V * n + tailWords);
  for (let v = 0; v < V; v++) {
    const d = deltas[v], o = 4 * v * n;
    inp.set(rows.subarray(0, 4 * n), o);
    if (d) {
      const d0 = d[0]!, d1 = d[1]!, d2 = d[2]!, d3 = d[3]!;
      for (let i = o; i < o + 4 * n; i += 4) { inp[i]! ^= d0; inp[i + 1]! ^= d1; inp[i + 2]! ^= d2; inp[i + 3]! ^= d3; }
    }
  }
  return inp;
}

/** pi (in place) ← π(x) (undoing CBC chaining against `inp` if cbc); returns the tweaked second-π input. */
function tccrPass2(pi: Uint32Array, inp: Uint32Array, rows: number, n: number, start: number, outBlocks: number, cbc: boolean, tailWords: number): Uint32Array<ArrayBuffer> {
  if (cbc) for (let i = 4 * rows - 1; i >= 4; i--) pi[i]! ^= inp[i - 4]!;
  const tw = new Uint32Array(4 * rows * outBlocks + tailWords);
  for (let r = 0; r < rows; r++) {
    const g = start + (r % n), glo = g >>> 0, ghi = Math.floor(g / 4294967296);
    const p0 = pi[4 * r]!, p1 = pi[4 * r + 1]!, p2 = pi[4 * r + 2]!, p3 = pi[4 * r + 3]! ^ 0x4b4f5331; // "KOS1"
    let o = 4 * r * outBlocks;
    for (let l = 0; l < outBlocks; l++, o += 4) {
      tw[o] = p0 ^ glo; tw[o + 1] = p1 ^ ghi; tw[o + 2] = p2 ^ l; tw[o + 3] = p3;
    }
  }
  return tw;
}

/** out (in place) ← π(tweaked) ⊕ π(x), undoing CBC chaining against `tw` if cbc. */
function tccrPass3(out: Uint32Array, tw: Uint32Array, pi: Uint32Array, rows: number, outBlocks: number, cbc: boolean): void {
  const total = 4 * rows * outBlocks;
  if (cbc) for (let i = total - 1; i >= 4; i--) out[i]! ^= tw[i - 4]!;
  for (let r = 0; r < rows; r++) {
    const p0 = pi[4 * r]!, p1 = pi[4 * r + 1]!, p2 = pi[4 * r + 2]!, p3 = pi[4 * r + 3]!;
    let o = 4 * r * outBlocks;
    for (let l = 0; l < outBlocks; l++, o += 4) { out[o]! ^= p0; out[o + 1]! ^= p1; out[o + 2]! ^= p2; out[o + 3]! ^= p3; }
  }
}

function splitVariants(out: Uint32Array, V: number, n: number, outBlocks: number): Uint8Array[] {
  const len = 16 * n * outBlocks;
  return [...Array(V).keys()].map((v) => new Uint8Array(out.buffer, out.byteOffset + v * len, len));
}

/** TMMO hash of `n` rows (sync), one output per entry of `deltas` (see {@link tccrPass1}); shared with softspoken.ts. */
export function tccrHash(key: Uint8Array, rows: Uint32Array, n: number, start: number, outBlocks: number, deltas: Array<Uint32Array | undefined>): Uint8Array[] {
  const R = deltas.length * n;
  const inp = tccrPass1(rows, n, deltas, 0);
  const pi = words(permuteSync(key, new Uint8Array(inp.buffer)));
  const tw = tccrPass2(pi, inp, R, n, start, outBlocks, false, 0);
  const out = words(permuteSync(key, new Uint8Array(tw.buffer)));
  tccrPass3(out, tw, pi, R, outBlocks, false);
  return splitVariants(out, deltas.length, n, outBlocks);
}

/** {@link tccrHash} on WebCrypto (same output), or on the native sync AES when one is installed (prg.ts setNativeAesEcbDecrypt). */
export async function tccrHashAsync(key: Uint8Array, rows: Uint32Array, n: number, start: number, outBlocks: number, deltas: Array<Uint32Array | undefined>): Promise<Uint8Array[]> {
  if (nativeAesEcbDecrypt()) return tccrHash(key, rows, n, start, outBlocks, deltas);
  const R = deltas.length * n;
  if (R === 0) return deltas.map(() => new Uint8Array(0));
  const ctx = await piContext(key);
  const inp = tccrPass1(rows, n, deltas, 8);
  const pi = await cbcDecryptRaw(ctx, inp);
  const tw = tccrPass2(pi, inp, R, n, start, outBlocks, true, 8);
  const out = await cbcDecryptRaw(ctx, tw);
  tccrPass3(out, tw, pi, R, outBlocks, true);
  return splitVariants(out, deltas.length, n, outBlocks);
}

/** A Uint32Array view of `b` (a copy if `b` is not 4-byte aligned). */
export function words(b: Uint8Array): Uint32Array {
  if (b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
  return new Uint32Array(b.slice().buffer);
}

// ---------------------------------------------------------------- base-OT material, choices, check
/**
 * The κ base OTs of an OT-extension instance between two nodes (extension sender's side:
 * choice bits Δ and the chosen keys), kept to set up later sessions of the same ordered pair
 * without public-key operations (offline.ts). `tag` = H(A ‖ B) names the base OTs identically
 * on both sides. Later sessions key their PRGs with H(k ‖ sid) (softspoken.ts ssSenderSetup /
 * ssReceiverSetup): independent per session in the random-oracle model, with the same choice
 * bits Δ — so Δ is reused, which is why a node drops the material after any abort (a
 * consistency check that a cheater gets to retry against the same Δ leaks bits of it).
 */
export interface KosSenderBase { readonly tag: Uint8Array; readonly delta: Uint32Array; readonly keys: Uint8Array }
/** The extension receiver's side of {@link KosSenderBase}: both base-OT keys per position. */
export interface KosReceiverBase { readonly tag: Uint8Array; readonly k0: Uint8Array; readonly k1: Uint8Array }

/**
 * Both sides of the κ base OTs of one ordered pair, run in one process (tests, vectors,
 * benches; offline.ts runs the same MRR21 base OTs over the network): the extension sender
 * draws Δ from `rng`, the extension receiver (base-OT sender) gets both keys per position.
 * Deterministic for a seeded `rng`; `tag` = SHA-256 of both messages. Throws only if the
 * MRR21 base OTs do (ProtocolAbort on a malformed message, which cannot happen here).
 */
export function baseOtPairInProcess(sid: Uint8Array, rng: Rng): { receiver: KosReceiverBase; sender: KosSenderBase } {
  const a = mrrSenderStart(sid, rng);
  const delta = new Uint32Array(rng.bytes(KAPPA / 8).slice().buffer);
  const choices = new Uint8Array(KAPPA);
  for (let l = 0; l < KAPPA; l++) choices[l] = (delta[l >>> 5]! >>> (l & 31)) & 1;
  const b = mrrReceive(sid, choices, a.message, rng, 0);
  const { k0, k1 } = mrrSenderFinish(a.state, b.message, KAPPA, 1);
  const tag = sha256(concatBytes(utf8("2pm/ot-extension/in-process-tag/v1"), a.message, b.message));
  return { receiver: { tag, k0, k1 }, sender: { tag: tag.slice(), delta, keys: b.keys } };
}

/**
 * The receiver's padded choice bits x' packed into words: the m choices, then mp − m random
 * padding bits from `rng` (they hide the choices in the consistency check).
 * Throws RangeError (naming `who`) if a choice is not 0 or 1.
 */
export function packChoices(x: Uint8Array, mp: number, rng: Rng, who: string): Uint32Array {
  const m = x.length;
  for (let j = 0; j < m; j++) if (x[j] !== 0 && x[j] !== 1) throw new RangeError(`${who}: choice ${j} is not a bit`);
  const xp = new Uint8Array(mp / 8);
  xp.set(rng.bytes(mp / 8));
  xp.fill(0, 0, m >>> 3);
  for (let j = 0; j < (m & ~7); j++) xp[j >>> 3]! |= (x[j]! & 1) << (j & 7);
  for (let j = m & ~7; j < m; j++) xp[j >>> 3] = (xp[j >>> 3]! & ~(1 << (j & 7))) | ((x[j]! & 1) << (j & 7));
  return words(xp);
}

/**
 * The sender's consistency check (KOS15 Fig. 7 "Check correlation", as SoftSpokenOT uses it):
 * Σ q_j·χ_j = t̃ + x̃·Δ in GF(2^128), else ProtocolAbort "ot-check-failed" naming `peer`
 * (`what` says which extension); returns the rows q_j, transposed.
 */
export function checkCorrelation(q: Uint32Array, W: number, chi: Uint32Array, xt: Uint32Array, tt: Uint32Array, delta: Uint32Array, peer: number, what: string): Uint32Array {
  const qt = checkSum(q, W, chi);
  const xd = gfMul(xt, delta);
  let diff = 0;
  for (let w = 0; w < 4; w++) diff |= qt[w]! ^ tt[w]! ^ xd[w]!;
  if (diff !== 0) throw new ProtocolAbort("ot-check-failed", [peer], `${what} consistency check failed (inconsistent choice bits or corrections)`);
  return transposeColumns(q, W);
}
