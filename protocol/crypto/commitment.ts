/**
 * Hash commitments for commit-then-open: commitment = SHA-256("2pm/commit/v1" ‖ nonce(32) ‖ value).
 * The canonical implementation is protocol/mascot/commit.ts (the parties use it); this module
 * re-exports it so the relay (RoundDO) checks openings with exactly the same function.
 */
export { commit, verifyCommitment } from "../mascot/commit.ts";
