/**
 * Randomness for every protocol step. Product code takes an {@link Rng} as an argument and
 * gets {@link cryptoRng} by default; only tests pass {@link seededRng}. Never the built-in
 * non-cryptographic generator of the language.
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** A source of uniformly random bytes. */
export interface Rng {
  /** Returns `n` fresh random bytes. Throws RangeError if `n` is negative or not an integer. */
  bytes(n: number): Uint8Array;
}

const MAX_GETRANDOM = 65536;

function checkLength(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`rng: byte count must be a non-negative integer, got ${n}`);
}

/** The platform CSPRNG (`crypto.getRandomValues`), available in Node ≥ 22, browsers and workerd. */
export const cryptoRng: Rng = {
  bytes(n: number): Uint8Array {
    checkLength(n);
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += MAX_GETRANDOM) {
      crypto.getRandomValues(out.subarray(off, Math.min(n, off + MAX_GETRANDOM)));
    }
    return out;
  },
};

/**
 * A deterministic ChaCha20 keystream keyed by SHA-256(seed). For tests and known-answer
 * vectors only: the same seed always yields the same bytes.
 */
export function seededRng(seed: string | Uint8Array): Rng {
  const key = sha256(typeof seed === "string" ? new TextEncoder().encode(seed) : seed);
  let counter = 0;
  return {
    bytes(n: number): Uint8Array {
      checkLength(n);
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setUint32(0, counter++, true);
      return chacha20(key, nonce, new Uint8Array(n));
    },
  };
}

/** Uniform integer in [0, bound) by rejection sampling; bound ≤ 2^32. */
export function randomBelow(rng: Rng, bound: number): number {
  if (!Number.isInteger(bound) || bound <= 0 || bound > 2 ** 32) throw new RangeError(`randomBelow: bad bound ${bound}`);
  const limit = Math.floor(2 ** 32 / bound) * bound;
  for (;;) {
    const b = rng.bytes(4);
    const x = ((b[0]! | (b[1]! << 8) | (b[2]! << 16)) >>> 0) + b[3]! * 2 ** 24;
    if (x < limit) return x % bound;
  }
}

/**
 * Serves small reads from `blockBytes` blocks of `src` (one call per block instead of one per
 * draw; samplers and shuffles draw a few bytes at a time); larger reads go straight to `src`.
 * Deterministic given `src` and `blockBytes` (a seeded stream yields different bytes for a
 * different block size, so keep it fixed where outputs must be reproducible). Never throws
 * beyond what `src` throws.
 */
export function bufferedRng(src: Rng, blockBytes = 8192): Rng {
  let buf: Uint8Array = new Uint8Array(0), off = 0;
  return {
    bytes(n: number): Uint8Array {
      if (n > blockBytes) return src.bytes(n);
      if (off + n > buf.length) { buf = src.bytes(blockBytes); off = 0; }
      off += n;
      return buf.slice(off - n, off);
    },
  };
}
