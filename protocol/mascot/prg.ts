/**
 * PRG: AES-128 in counter mode (DESIGN.md §4). A 16-byte seed is the AES key with initial
 * counter block 0; a 32-byte seed is key ‖ initial counter block. The counter is the low
 * 64 bits of the block, big-endian, wrapping mod 2^64 (WebCrypto AES-CTR with length 64).
 *
 * Two implementations with identical output: {@link prgBytes} (async, WebCrypto, fastest
 * for long single streams) and {@link Prg} / {@link prgBytesSync} (sync, @noble/ciphers AES
 * over counter blocks, used by the step functions because they are synchronous). A host with
 * a native synchronous AES-128-CTR (Node's node:crypto; the party thread installs it,
 * client/agent/party-aes.ts) can hand it to {@link setNativeAesCtr}: every sync read then uses
 * it and the WebCrypto prefetch is skipped (a party reads thousands of short streams — one
 * per SoftSpokenOT leaf and COPE position — where WebCrypto's per-call cost dominates). The
 * output never depends on which implementation ran.
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

/**
 * A native synchronous AES-128-CTR: a keystream for `key` (16 bytes) starting at the counter
 * block `counter` (16 bytes, incremented as a big-endian integer); each call of the returned
 * function yields the next `nBytes` bytes. Callers never let the low 64 counter bits wrap
 * within one stream, so any standard CTR mode agrees with the WebCrypto (length 64) one.
 */
export type NativeAesCtr = (key: Uint8Array, counter: Uint8Array) => (nBytes: number) => Uint8Array;
let nativeCtr: NativeAesCtr | undefined;

/**
 * Installs a native synchronous AES-128-CTR for every {@link Prg} of this thread (undefined
 * removes it). Same keystream as without it — the caller guarantees `f` is AES-128-CTR; a
 * wrong `f` shows up as an OT/MAC check failure against honest peers, never as a silent error
 * in the sum. Throws TypeError if `f` is neither a function nor undefined.
 */
export function setNativeAesCtr(f: NativeAesCtr | undefined): void {
  if (f !== undefined && typeof f !== "function") throw new TypeError("setNativeAesCtr: expected a function or undefined");
  nativeCtr = f;
}

/**
 * A native synchronous AES-128 *decryption* of whole blocks under `key` (ECB: block i of the
 * result is D_key(block i of `blocks`)); `blocks.length` is a multiple of 16. Used for the
 * OT extension's fixed-key permutation π (ot-extension.ts), where WebCrypto needs an async
 * AES-CBC round trip per call.
 */
export type NativeAesEcbDecrypt = (key: Uint8Array, blocks: Uint8Array) => Uint8Array;
let nativeEcb: NativeAesEcbDecrypt | undefined;

/**
 * Installs a native synchronous AES-128-ECB decryption for this thread's fixed-key π (undefined
 * removes it). Same output as without it — the caller guarantees `f` is AES-128 decryption; a
 * wrong `f` shows up as an OT check failure against honest peers. Throws TypeError if `f` is
 * neither a function nor undefined.
 */
export function setNativeAesEcbDecrypt(f: NativeAesEcbDecrypt | undefined): void {
  if (f !== undefined && typeof f !== "function") throw new TypeError("setNativeAesEcbDecrypt: expected a function or undefined");
  nativeEcb = f;
}

/** The installed native AES-128-ECB decryption, if any (see {@link setNativeAesEcbDecrypt}). */
export function nativeAesEcbDecrypt(): NativeAesEcbDecrypt | undefined {
  return nativeEcb;
}

let zeroBuf = new Uint8Array(0);
/** n zero bytes (a shared read-only buffer: the AES-CTR plaintext). */
function zeros(n: number): Uint8Array<ArrayBuffer> {
  if (zeroBuf.length < n) zeroBuf = new Uint8Array(Math.max(n, 2 * zeroBuf.length));
  return zeroBuf.subarray(0, n);
}

/** A reserved run of keystream blocks being computed by WebCrypto (see {@link Prg.prefetch}). */
interface Segment { readonly start: number; readonly nBlocks: number; data: Uint8Array | undefined; claimed: boolean; done: Promise<void> }

/**
 * A synchronous PRG stream: successive `next(n)` calls return consecutive keystream bytes.
 *
 * Keystream can be computed ahead with WebCrypto ({@link prefetch}, awaited, or
 * {@link prefetchInBackground}, not awaited): that reserves the next blocks of the stream
 * as a segment. A synchronous read that reaches a segment whose WebCrypto result has not
 * arrived computes the same blocks with the sync AES and drops the late result, so the
 * output never depends on timing.
 */
export class Prg {
  private readonly key: Uint8Array;
  private readonly iv: Uint8Array;
  /** First block not yet read or reserved. */
  private block = 0;
  private cryptoKey: Promise<CryptoKey> | undefined;
  /** Bytes ready to read, followed (in stream order) by the pending segments. */
  private spare: Uint8Array = new Uint8Array(0);
  private pending: Segment[] = [];
  /** The native keystream (see {@link setNativeAesCtr}) positioned at block `at`, valid up to block `end` (the low-64-bit wrap). */
  private native: { f: NativeAesCtr; read: (nBytes: number) => Uint8Array; at: number; end: number } | undefined;
  constructor(seed: Uint8Array) {
    const { key, iv } = splitSeed(seed);
    this.key = key.slice();
    this.iv = iv.slice();
  }

  /** Reserves blocks so that ≥ n bytes are buffered or pending; starts their WebCrypto computation. */
  private reserve(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Prg.${what}: bad byte count ${n}`);
    let have = this.spare.length;
    for (const s of this.pending) have += 16 * s.nBlocks;
    const want = n - have;
    if (want <= 0 || nativeCtr) return; // native sync AES: nothing to compute ahead
    const nBlocks = Math.ceil(want / 16);
    this.cryptoKey ??= crypto.subtle.importKey("raw", this.key.slice(), "AES-CTR", false, ["encrypt"]);
    const cryptoKey = this.cryptoKey;
    const seg: Segment = { start: this.block, nBlocks, data: undefined, claimed: false, done: Promise.resolve() };
    this.block += nBlocks;
    seg.done = (async () => {
      try {
        const counter = new Uint8Array(counterBlocks(this.iv, seg.start, 1));
        const ks = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 64 }, await cryptoKey, zeros(16 * nBlocks)));
        if (!seg.claimed) seg.data = ks;
      } catch {
        // left to the synchronous fallback in next()
      }
    })();
    this.pending.push(seg);
  }

  /** Moves the finished segments at the head of the queue into the ready buffer. */
  private absorb(): void {
    for (let seg = this.pending[0]; seg?.data; seg = this.pending[0]) {
      this.pending.shift();
      seg.claimed = true;
      if (this.spare.length === 0) { this.spare = seg.data; continue; }
      const merged = new Uint8Array(this.spare.length + seg.data.length);
      merged.set(this.spare);
      merged.set(seg.data, this.spare.length);
      this.spare = merged;
    }
  }

  /**
   * Precomputes the next ≥ `n` keystream bytes with WebCrypto AES-CTR (much faster than the
   * sync path for bulk) so that later `next` calls are served from the buffer. Same output.
   */
  async prefetch(n: number): Promise<void> {
    this.reserve(n, "prefetch");
    await Promise.all(this.pending.map((s) => s.done));
    this.absorb();
  }

  /**
   * Starts computing the next ≥ `n` keystream bytes with WebCrypto without waiting: if the
   * event loop delivers them before they are read they are used, else they are recomputed
   * synchronously. Same output either way.
   */
  prefetchInBackground(n: number): void {
    this.reserve(n, "prefetchInBackground");
  }

  /**
   * Like {@link next} but, when the bytes are already buffered (see {@link prefetch}),
   * returns a read-only view into the buffer instead of a copy. Do not modify the result.
   */
  nextView(n: number): Uint8Array {
    if (this.pending.length > 0) this.absorb();
    if (Number.isSafeInteger(n) && n >= 0 && n <= this.spare.length) {
      const r = this.spare.subarray(0, n);
      this.spare = this.spare.subarray(n);
      return r;
    }
    if (Number.isSafeInteger(n) && n > 0 && this.spare.length === 0 && this.pending.length === 0) {
      // Nothing buffered: a view of freshly computed blocks (no copy).
      const nBlocks = Math.ceil(n / 16), ks = this.syncBlocks(this.block, nBlocks);
      this.block += nBlocks;
      this.spare = ks.subarray(n);
      return ks.subarray(0, n);
    }
    return this.next(n);
  }

  /** The next `n` keystream bytes. Throws RangeError on a bad count. */
  next(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Prg.next: bad byte count ${n}`);
    if (this.pending.length > 0) this.absorb();
    const out = new Uint8Array(n);
    let filled = Math.min(n, this.spare.length);
    out.set(this.spare.subarray(0, filled));
    this.spare = this.spare.subarray(filled);
    while (filled < n) {
      const seg = this.pending.shift();
      let ks: Uint8Array;
      if (seg) {
        seg.claimed = true;
        ks = seg.data ?? this.syncBlocks(seg.start, seg.nBlocks);
      } else {
        const nBlocks = Math.ceil((n - filled) / 16);
        ks = this.syncBlocks(this.block, nBlocks);
        this.block += nBlocks;
      }
      const take = Math.min(n - filled, ks.length);
      out.set(ks.subarray(0, take), filled);
      filled += take;
      this.spare = ks.subarray(take);
    }
    return out;
  }

  /** Keystream blocks start .. start + nBlocks − 1 with the sync AES. */
  private syncBlocks(start: number, nBlocks: number): Uint8Array {
    if (nativeCtr && nBlocks > 0) {
      let out: Uint8Array | undefined; // only when the read spans two native streams (a 2^64-block wrap)
      for (let done = 0; done < nBlocks;) {
        let st = this.native;
        if (!st || st.f !== nativeCtr || st.at !== start + done || st.at >= st.end) {
          // A new native stream from block start + done, good until the low 64 counter bits wrap.
          // Block 0 of a stream is the IV itself (no counter arithmetic: a party opens thousands of streams).
          const c0 = start + done === 0 ? this.iv : counterBlocks(this.iv, start + done, 1);
          const hi = (c0[8]! << 24 | c0[9]! << 16 | c0[10]! << 8 | c0[11]!) >>> 0, lo = (c0[12]! << 24 | c0[13]! << 16 | c0[14]! << 8 | c0[15]!) >>> 0;
          const toWrap = hi === 0xffffffff ? 4294967296 - lo : Infinity;
          st = this.native = { f: nativeCtr, read: nativeCtr(this.key, c0), at: start + done, end: start + done + toWrap };
        }
        const take = Math.min(nBlocks - done, st.end - st.at);
        const ks = st.read(16 * take);
        if (done === 0 && take === nBlocks) { st.at += take; return ks; }
        (out ??= new Uint8Array(16 * nBlocks)).set(ks, 16 * done);
        st.at += take;
        done += take;
      }
      return out!;
    }
    return ecb(this.key, { disablePadding: true }).encrypt(counterBlocks(this.iv, start, nBlocks));
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
