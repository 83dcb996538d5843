/**
 * PRG: AES-128 in counter mode (DESIGN.md §4). A 16-byte seed is the AES key with initial
 * counter block 0; a 32-byte seed is key ‖ initial counter block. The counter is the low
 * 64 bits of the block, big-endian, wrapping mod 2^64 (WebCrypto AES-CTR with length 64).
 *
 * Two implementations with identical output: {@link prgBytes} (async, WebCrypto, fastest
 * for long single streams) and {@link Prg} / {@link prgBytesSync} (sync, @noble/ciphers AES
 * over counter blocks, used by the step functions because they are synchronous).
 */
import { ecb } from "@noble/ciphers/aes.js";
import type { Field, FieldVec } from "../field/types.ts";

function splitSeed(seed: Uint8Array): { key: Uint8Array; iv: Uint8Array } {
  if (!(seed instanceof Uint8Array)) throw new TypeError("prg: seed must be a Uint8Array");
  if (seed.length === 16) return { key: seed, iv: new Uint8Array(16) };
  if (seed.length === 32) return { key: seed.subarray(0, 16), iv: seed.subarray(16, 32) };
  throw new RangeError(`prg: seed must be 16 or 32 bytes, got ${seed.length}`);
}

/** Counter blocks iv + start .. iv + start + nBlocks − 1 (low 64 bits, big-endian, mod 2^64). */
function counterBlocks(iv: Uint8Array, start: number, nBlocks: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16 * nBlocks);
  const dv = new DataView(iv.buffer, iv.byteOffset, 16);
  const hi0 = dv.getUint32(8, false), lo0 = dv.getUint32(12, false);
  const startHi = Math.floor(start / 4294967296), startLo = start >>> 0;
  let lo = lo0 + startLo, hi = hi0 + startHi;
  if (lo >= 4294967296) { lo -= 4294967296; hi += 1; }
  hi >>>= 0;
  const odv = new DataView(out.buffer);
  const head = iv.subarray(0, 8);
  for (let b = 0; b < nBlocks; b++) {
    const o = 16 * b;
    out.set(head, o);
    odv.setUint32(o + 8, hi, false);
    odv.setUint32(o + 12, lo, false);
    if (++lo === 4294967296) { lo = 0; hi = (hi + 1) >>> 0; }
  }
  return out;
}

/** A synchronous PRG stream: successive `next(n)` calls return consecutive keystream bytes. */
export class Prg {
  private readonly key: Uint8Array;
  private readonly iv: Uint8Array;
  private block = 0;
  private cryptoKey: Promise<CryptoKey> | undefined;
  private spare: Uint8Array = new Uint8Array(0);
  constructor(seed: Uint8Array) {
    const { key, iv } = splitSeed(seed);
    this.key = key.slice();
    this.iv = iv.slice();
  }
  /**
   * Precomputes the next ≥ `n` keystream bytes with WebCrypto AES-CTR (much faster than the
   * sync path for bulk) so that later `next` calls are served from the buffer. Same output.
   */
  async prefetch(n: number): Promise<void> {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Prg.prefetch: bad byte count ${n}`);
    const want = n - this.spare.length;
    if (want <= 0) return;
    const nBlocks = Math.ceil(want / 16);
    this.cryptoKey ??= crypto.subtle.importKey("raw", this.key.slice(), "AES-CTR", false, ["encrypt"]);
    const counter = new Uint8Array(counterBlocks(this.iv, this.block, 1));
    const ks = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 64 }, await this.cryptoKey, new Uint8Array(16 * nBlocks)));
    this.block += nBlocks;
    if (this.spare.length === 0) { this.spare = ks; return; }
    const merged = new Uint8Array(this.spare.length + ks.length);
    merged.set(this.spare);
    merged.set(ks, this.spare.length);
    this.spare = merged;
  }

  /**
   * Like {@link next} but, when the bytes are already buffered (see {@link prefetch}),
   * returns a read-only view into the buffer instead of a copy. Do not modify the result.
   */
  nextView(n: number): Uint8Array {
    if (Number.isSafeInteger(n) && n >= 0 && n <= this.spare.length) {
      const r = this.spare.subarray(0, n);
      this.spare = this.spare.subarray(n);
      return r;
    }
    return this.next(n);
  }

  /** The next `n` keystream bytes. Throws RangeError on a bad count. */
  next(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Prg.next: bad byte count ${n}`);
    const out = new Uint8Array(n);
    const fromSpare = Math.min(n, this.spare.length);
    out.set(this.spare.subarray(0, fromSpare));
    this.spare = this.spare.subarray(fromSpare);
    const rest = n - fromSpare;
    if (rest > 0) {
      const nBlocks = Math.ceil(rest / 16);
      const ks = ecb(this.key, { disablePadding: true }).encrypt(counterBlocks(this.iv, this.block, nBlocks));
      this.block += nBlocks;
      out.set(ks.subarray(0, rest), fromSpare);
      this.spare = ks.subarray(rest);
    }
    return out;
  }
  /** The next `n` uniform field elements (field.uniformByteLength bytes each). */
  nextField(field: Field, n: number): FieldVec {
    return field.fromUniformBytes(this.next(n * field.uniformByteLength), n);
  }
}

/** `n` keystream bytes of `seed` (sync). Throws TypeError/RangeError on a bad seed or count. */
export function prgBytesSync(seed: Uint8Array, n: number): Uint8Array {
  return new Prg(seed).next(n);
}

/** `n` keystream bytes of `seed` via WebCrypto AES-CTR (same output as {@link prgBytesSync}). */
export async function prgBytes(seed: Uint8Array, n: number): Promise<Uint8Array> {
  const { key, iv } = splitSeed(seed);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`prgBytes: bad byte count ${n}`);
  const k = await crypto.subtle.importKey("raw", key.slice(), "AES-CTR", false, ["encrypt"]);
  const ct = await crypto.subtle.encrypt({ name: "AES-CTR", counter: iv.slice(), length: 64 }, k, new Uint8Array(n));
  return new Uint8Array(ct);
}

/** `n` uniform field elements from `seed` (async, WebCrypto). */
export async function prgField(field: Field, seed: Uint8Array, n: number): Promise<FieldVec> {
  return field.fromUniformBytes(await prgBytes(seed, n * field.uniformByteLength), n);
}

/** `n` uniform field elements from `seed` (sync). */
export function prgFieldSync(field: Field, seed: Uint8Array, n: number): FieldVec {
  return new Prg(seed).nextField(field, n);
}
