/**
 * Authenticated share vectors and the local linear operations on them (MASCOT §2, "[[x]]"
 * representation: x = Σ_i x_i, α·x = Σ_i γ_i, α = Σ_i α_i, Keller–Orsini–Scholl CCS 2016).
 *
 * Party i holds, for a vector x of length d, its value shares x_i and MAC shares γ_i(x) as
 * two field vectors of length d. Linear operations are local and need no messages; the
 * constant-addition rule is the only place where party 0 is special (it adds the constant
 * to its value share) and every party uses its MAC key share α_i (it adds α_i·c to its
 * MAC share). None of these functions checks anything: correctness is enforced by the
 * MAC check when values are opened (mac-check.ts).
 */
import { chacha12 } from "@noble/ciphers/chacha.js";
import { sha256 } from "./hash.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import type { Field, FieldVec } from "../field/types.ts";

/** Party i's share of an authenticated vector [[x]]: value shares x_i and MAC shares γ_i. */
export interface AuthShare {
  readonly value: FieldVec;
  readonly mac: FieldVec;
}

/** What the local operations need to know about the party: its index and α_i. */
export interface ShareContext {
  readonly field: Field;
  /** This party's index in committee order; party 0 adds public constants. */
  readonly me: number;
  /** α_i, this party's share of the global MAC key α. */
  readonly alpha: bigint;
}

function sameLength(what: string, a: { length: number }, b: { length: number }): void {
  if (a.length !== b.length) throw new RangeError(`${what}: length mismatch ${a.length} vs ${b.length}`);
}

/** Builds a share, checking that value and MAC have the same length. Throws RangeError otherwise. */
export function authShare(value: FieldVec, mac: FieldVec): AuthShare {
  sameLength("authShare", value, mac);
  return { value, mac };
}

/** [[x]] + [[y]] (element-wise). Throws RangeError on a length mismatch. */
export function addShares(f: Field, x: AuthShare, y: AuthShare): AuthShare {
  sameLength("addShares", x.value, y.value);
  return { value: f.add(x.value, y.value), mac: f.add(x.mac, y.mac) };
}

/** [[x]] − [[y]] (element-wise). Throws RangeError on a length mismatch. */
export function subShares(f: Field, x: AuthShare, y: AuthShare): AuthShare {
  sameLength("subShares", x.value, y.value);
  return { value: f.sub(x.value, y.value), mac: f.sub(x.mac, y.mac) };
}

/** Σ_k [[x_k]] (all of the same length); returns zeros of length `n` for an empty list. */
export function sumShares(f: Field, xs: readonly AuthShare[], n: number): AuthShare {
  const value = f.zeros(n);
  const mac = f.zeros(n);
  for (const x of xs) {
    sameLength("sumShares", x.value, value);
    f.addInPlace(value, x.value);
    f.addInPlace(mac, x.mac);
  }
  return { value, mac };
}

/** s·[[x]] for a public scalar s. */
export function scaleShare(f: Field, x: AuthShare, s: bigint): AuthShare {
  return { value: f.scale(x.value, s), mac: f.scale(x.mac, s) };
}

/**
 * [[x]] + c for a public vector c: party 0 adds c to its value share, every party adds
 * α_i·c to its MAC share, so that Σ γ_i = α·(x + c).
 */
export function addPublic(ctx: ShareContext, x: AuthShare, c: FieldVec): AuthShare {
  const f = ctx.field;
  sameLength("addPublic", x.value, c);
  return {
    value: ctx.me === 0 ? f.add(x.value, c) : x.value,
    mac: f.add(x.mac, f.scale(c, ctx.alpha)),
  };
}

/** Entries [start, end) of [[x]]. */
export function sliceShare(f: Field, x: AuthShare, start: number, end: number): AuthShare {
  return { value: f.slice(x.value, start, end), mac: f.slice(x.mac, start, end) };
}

/** Concatenation of authenticated vectors. */
export function concatShares(f: Field, xs: readonly AuthShare[]): AuthShare {
  return { value: f.concat(xs.map((x) => x.value)), mac: f.concat(xs.map((x) => x.mac)) };
}


const NONCE = new Uint8Array(12);

/** `n` pseudorandom bytes from a seed (≥ 16 bytes) and a domain label (ChaCha12, as {@link expandSeed}). */
export function expandBytes(seed: Uint8Array, label: string, n: number): Uint8Array {
  if (seed.length < 16) throw new RangeError(`expandBytes: seed must be at least 16 bytes, got ${seed.length}`);
  const key = sha256(concatBytes(utf8("2pm/mascot/expand-bytes/v1"), utf8(label), new Uint8Array([0]), seed));
  return chacha12(key, NONCE, new Uint8Array(n));
}

/**
 * Deterministically expands a seed (≥ 16 bytes) into `n` uniform field elements: ChaCha12
 * keystream (12 rounds, as Rust rand's StdRng; best known attacks reach 7) keyed by
 * SHA-256("2pm/mascot/expand/v1" ‖ label ‖ 0x00 ‖ seed). For m61: 8 bytes per element, top
 * 3 bits cleared, and if any element equals p (probability n·2^-61) the whole vector is
 * re-drawn by wide reduction (16 bytes per element) — exactly uniform either way. Other
 * fields: Field.fromUniformBytes (bias ≤ 2^-64 per element). Synchronous, so message
 * handlers stay synchronous. Used for PRG-compressed shares, COPE expansions (16-byte
 * base-OT keys) and public coefficients from a coin toss.
 * Throws RangeError if the seed is shorter than 16 bytes.
 */
export function expandSeed(f: Field, seed: Uint8Array, label: string, n: number): FieldVec {
  if (seed.length < 16) throw new RangeError(`expandSeed: seed must be at least 16 bytes, got ${seed.length}`);
  const key = sha256(concatBytes(utf8("2pm/mascot/expand/v1"), utf8(label), new Uint8Array([0]), seed));
  if (f.name === "m61") {
    // The stream format, not a representation: m61 draws byteLength bytes per element, masked.
    const v = f.fromMaskedBytes(chacha12(key, NONCE, new Uint8Array(8 * n)), n);
    if (v) return v;
  }
  const wide = chacha12(key, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array(n * f.uniformByteLength));
  return f.fromUniformBytes(wide, n);
}
