/**
 * Hash commitments for commit-then-open (docs/ARCHITECTURE.md): commitment =
 * SHA-256("2pm/commit/v1" ‖ nonce ‖ value) with a fresh 32-byte nonce. Hiding in the
 * random-oracle model, binding by collision resistance. Used by the MASCOT parties (coin
 * tosses, MAC checks, sum shares, linear-only openings) and by the tests that play the relay.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import type { Rng } from "../rng.ts";

const TAG = utf8("2pm/commit/v1");

function digest(value: Uint8Array, nonce: Uint8Array): Uint8Array {
  return sha256(concatBytes(TAG, nonce, value));
}

/** Commits to `value`: returns the 32-byte commitment and the 32-byte nonce to open it with. */
export function commit(value: Uint8Array, rng: Rng): { commitment: Uint8Array; opening: Uint8Array } {
  if (!(value instanceof Uint8Array)) throw new TypeError("commit: value must be a Uint8Array");
  const opening = rng.bytes(32);
  return { commitment: digest(value, opening), opening };
}

/** True iff (value, nonce) opens `commitment`. Never throws on wrong lengths; returns false. */
export function verifyCommitment(commitment: Uint8Array, value: Uint8Array, nonce: Uint8Array): boolean {
  if (!(commitment instanceof Uint8Array) || !(value instanceof Uint8Array) || !(nonce instanceof Uint8Array)) return false;
  if (commitment.length !== 32 || nonce.length !== 32) return false;
  return bytesEqual(commitment, digest(value, nonce));
}
