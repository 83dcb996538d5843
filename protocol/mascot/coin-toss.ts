/**
 * Commit-then-open coin tossing (F_Rand in MASCOT, realised as in its §2 / Fig. 10 usage):
 * each party commits to a 32-byte seed share, then opens it; the joint seed is
 * SHA-256("2pm/coin/v1" ‖ s_0 ‖ … ‖ s_{n−1}). Uniform and unpredictable as long as one party
 * is honest and openings happen only after every commitment was received.
 *
 * Step functions: {@link coinCommit} → broadcast `commitment` (32 bytes);
 * {@link coinOpenPayload} → broadcast nonce ‖ seed (64 bytes); {@link coinFinish} checks all
 * openings and returns the joint seed.
 */
import { sha256 } from "./hash.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import type { Rng } from "../rng.ts";
import { commit, verifyCommitment } from "../crypto/commitment.ts";
import { ProtocolAbort } from "./errors.ts";

export interface CoinState { readonly seed: Uint8Array; readonly nonce: Uint8Array; readonly commitment: Uint8Array }

const TAG = utf8("2pm/coin/v1");

/** Step 1: sample a seed share and commit to it. Broadcast `state.commitment`. */
export function coinCommit(rng: Rng): CoinState {
  const seed = rng.bytes(32);
  const { commitment, opening } = commit(seed, rng);
  return { seed, nonce: opening, commitment };
}

/** Step 2 payload: nonce(32) ‖ seed(32). Send only after all commitments were received. */
export function coinOpenPayload(state: CoinState): Uint8Array {
  return concatBytes(state.nonce, state.seed);
}

/**
 * Step 3: verifies every party's opening (index = party) against its commitment and returns
 * the 32-byte joint seed. Throws ProtocolAbort "bad-encoding" (wrong length) or
 * "commitment-mismatch" naming every party whose opening fails.
 */
export function coinFinish(commitments: readonly Uint8Array[], openings: readonly Uint8Array[]): Uint8Array {
  if (commitments.length !== openings.length) throw new RangeError("coinFinish: one commitment and one opening per party");
  const bad: number[] = [];
  const seeds: Uint8Array[] = [];
  for (let j = 0; j < openings.length; j++) {
    const o = openings[j]!;
    if (o.length !== 64) throw new ProtocolAbort("bad-encoding", [j], `coin toss: opening of party ${j} has ${o.length} bytes`);
    const seed = o.subarray(32);
    if (!verifyCommitment(commitments[j]!, seed, o.subarray(0, 32))) bad.push(j);
    seeds.push(seed);
  }
  if (bad.length) throw new ProtocolAbort("commitment-mismatch", bad, "coin toss opening does not match commitment");
  return sha256(concatBytes(TAG, ...seeds));
}
