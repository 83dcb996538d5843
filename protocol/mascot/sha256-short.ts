/**
 * SHA-256 (FIPS 180-4) of a short message — at most {@link SHA256_SHORT_MAX} bytes, i.e. one
 * or two compression blocks after padding — in plain JavaScript with no allocation besides
 * the digest. The protocol hashes thousands of such inputs per pair and session (SoftSpokenOT's
 * GGM nodes and leaves, digit COPE's trees, the base-OT POPF and keys, session keys): there a
 * native SHA-256 call costs more in call overhead (≈ 2.3 µs per node:crypto `hash`, ≈ 9 µs for
 * @noble/hashes with its hasher object) than the compression itself; this function takes
 * ≈ 1.3 µs for one block and ≈ 2.1 µs for two (bench machine, issue 13). Same digest as any
 * SHA-256 (test/unit/mascot/sha256-short.test.ts checks every length against @noble/hashes).
 * Not constant time in the message length only.
 */

/** The longest message {@link sha256Short} takes: 2 blocks of 64 bytes minus the padding (1 + 8 bytes). */
export const SHA256_SHORT_MAX = 119;

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

// Scratch state of this thread (JS runs one call at a time per thread; nothing survives a call).
const W = new Int32Array(64);
const H = new Int32Array(8);
const BLOCKS = new Uint8Array(128);

/** One compression of the 64-byte block at `off` of `b` into H. A top-level kernel (no closure), so V8 keeps its optimised code. */
function compress(b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const o = off + 4 * i;
    W[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!, y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H[0]!, b1 = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b1) ^ (a & c) ^ (b1 & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b1; b1 = a; a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0; H[1] = (H[1]! + b1) | 0; H[2] = (H[2]! + c) | 0; H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0; H[5] = (H[5]! + f) | 0; H[6] = (H[6]! + g) | 0; H[7] = (H[7]! + h) | 0;
}

/**
 * SHA-256(parts[0] ‖ parts[1] ‖ …) as a fresh 32-byte Uint8Array the caller owns. Throws
 * RangeError if the parts add up to more than {@link SHA256_SHORT_MAX} bytes (callers route
 * longer messages to a general SHA-256).
 */
export function sha256Short(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  if (n > SHA256_SHORT_MAX) throw new RangeError(`sha256Short: ${n} bytes > ${SHA256_SHORT_MAX}`);
  n = 0;
  for (const p of parts) { BLOCKS.set(p, n); n += p.length; }
  const blocks = n + 9 <= 64 ? 1 : 2, end = 64 * blocks;
  BLOCKS[n] = 0x80;
  BLOCKS.fill(0, n + 1, end);
  const bits = 8 * n; // < 2^10: the 64-bit big-endian length fits in its last two bytes
  BLOCKS[end - 2] = bits >>> 8;
  BLOCKS[end - 1] = bits & 0xff;
  H.set(IV);
  compress(BLOCKS, 0);
  if (blocks === 2) compress(BLOCKS, 64);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    out[4 * i] = v >>> 24; out[4 * i + 1] = (v >>> 16) & 0xff; out[4 * i + 2] = (v >>> 8) & 0xff; out[4 * i + 3] = v & 0xff;
  }
  return out;
}
