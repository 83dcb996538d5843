/**
 * Hash commitments for commit-then-open, as fixed in docs/ARCHITECTURE.md:
 * commitment = SHA-256("2pm/commit/v1" ‖ nonce(32 bytes) ‖ value).
 * NOTE: protocol/mascot/commit.ts (MASCOT engineer) is the canonical home of this function;
 * it did not exist when the RoundDO was written, so the RoundDO uses this identical check.
 * Both must stay byte-for-byte equal.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import { cryptoRng, type Rng } from "../rng.ts";

const DOMAIN = utf8("2pm/commit/v1");

/** Commits to `value` with a fresh 32-byte nonce. */
export function commit(value: Uint8Array, rng: Rng = cryptoRng): { commitment: Uint8Array; opening: Uint8Array } {
  const opening = rng.bytes(32);
  return { commitment: sha256(concatBytes(DOMAIN, opening, value)), opening };
}

/** True iff `commitment` opens to `value` with `nonce` (32 bytes). Never throws. */
export function verifyCommitment(commitment: Uint8Array, value: Uint8Array, nonce: Uint8Array): boolean {
  if (commitment.length !== 32 || nonce.length !== 32) return false;
  return bytesEqual(sha256(concatBytes(DOMAIN, nonce, value)), commitment);
}
