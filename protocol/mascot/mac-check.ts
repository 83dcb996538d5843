/**
 * Batched MAC check, MASCOT (Keller–Orsini–Scholl, CCS 2016) Fig. 10 "MACCheck": for opened
 * values a_1..a_t with MAC shares γ_i(a_j), coefficients r_j = PRG(seed) with the seed from
 * a commit-then-open coin toss made *after* the a_j were fixed; each party computes
 *   σ_i = Σ_j r_j·(γ_i(a_j) − α_i·a_j),
 * commits to σ_i (phase "maccheck.commit", payload = 32-byte commitment), then opens
 * (phase "maccheck.open", payload = nonce(32) ‖ encode(σ_i)); everyone accepts iff
 * Σ_i σ_i = 0. A wrong opened value passes with probability ≤ 2/p (the α guess plus the
 * coefficient collision), ≈ 2^-60 for m61.
 *
 * The pure functions here are shared by the parties and by the RoundDO (which sees only the
 * commitment and opening payloads and can recheck Σσ_i = 0 itself).
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { Rng } from "../rng.ts";
import { concatBytes } from "../encoding.ts";
import { commit, verifyCommitment } from "../crypto/commitment.ts";
import { ProtocolAbort } from "./errors.ts";
import { expandSeed } from "./shares.ts";
import { mod } from "../field/modular.ts";

/** Phase names of the two MAC-check broadcasts (fixed by docs/ARCHITECTURE.md). */
export const MACCHECK_COMMIT = "maccheck.commit";
export const MACCHECK_OPEN = "maccheck.open";

/**
 * The public coefficients r_1..r_t of a MAC-check batch from the coin-toss seed (32 bytes).
 * Deterministic: every party and the RoundDO derive the same vector.
 */
export function macCheckCoefficients(f: Field, seed: Uint8Array, t: number): FieldVec {
  return expandSeed(f, seed, "maccheck", t);
}

/**
 * Accumulates opened values and this party's MAC shares on them until the (deferred) check.
 * Add every opened vector exactly once; `sigma` then gives σ_i for one coefficient seed.
 */
export class MacCheckBatch {
  private readonly values: FieldVec[] = [];
  private readonly macs: FieldVec[] = [];
  private count = 0;
  constructor(private readonly field: Field) {}

  /** Records opened public values `a` and this party's MAC shares γ_i(a). Throws RangeError on length mismatch. */
  add(opened: FieldVec, macShares: FieldVec): void {
    if (opened.length !== macShares.length) throw new RangeError(`MacCheckBatch.add: ${opened.length} values, ${macShares.length} MACs`);
    this.values.push(opened);
    this.macs.push(macShares);
    this.count += opened.length;
  }

  /** Number of opened values recorded. */
  get size(): number {
    return this.count;
  }

  /** σ_i = Σ_j r_j·(γ_i(a_j) − α_i·a_j) with r = macCheckCoefficients(seed, size). */
  sigma(alphaShare: bigint, seed: Uint8Array): bigint {
    const f = this.field;
    const r = macCheckCoefficients(f, seed, this.count);
    return macCheckSigma(f, alphaShare, f.concat(this.values), f.concat(this.macs), r);
  }
}

/** σ_i = Σ_j r_j·(γ_j − α_i·a_j) = ⟨r, γ⟩ − α_i·⟨r, a⟩ (mod p). Throws RangeError on length mismatch. */
export function macCheckSigma(f: Field, alphaShare: bigint, opened: FieldVec, macShares: FieldVec, coeffs: FieldVec): bigint {
  if (opened.length !== macShares.length || opened.length !== coeffs.length) {
    throw new RangeError(`macCheckSigma: lengths ${opened.length}/${macShares.length}/${coeffs.length}`);
  }
  const ra = f.dot(coeffs, opened);
  const rg = f.dot(coeffs, macShares);
  return mod(rg - mod(alphaShare * ra, f.p), f.p);
}

/** Commits to σ_i: returns the "maccheck.commit" payload and the "maccheck.open" payload to send later. */
export function commitSigma(f: Field, sigma: bigint, rng: Rng): { commitPayload: Uint8Array; openPayload: Uint8Array } {
  const value = f.encode(f.fromBigInts([sigma]));
  const { commitment, opening } = commit(value, rng);
  return { commitPayload: commitment, openPayload: concatBytes(opening, value) };
}

/**
 * Verifies one party's opening against its commitment and returns σ_j.
 * Throws ProtocolAbort "bad-encoding" on a malformed payload and "commitment-mismatch"
 * if the opening does not match, naming `from`.
 */
export function openSigma(f: Field, from: number, commitPayload: Uint8Array, openPayload: Uint8Array): bigint {
  if (commitPayload.length !== 32 || openPayload.length !== 32 + f.byteLength) {
    throw new ProtocolAbort("bad-encoding", [from], `maccheck: bad payload length from party ${from}`);
  }
  const nonce = openPayload.subarray(0, 32);
  const value = openPayload.subarray(32);
  let sigma: bigint;
  try {
    sigma = f.get(f.decode(value), 0);
  } catch {
    throw new ProtocolAbort("bad-encoding", [from], `maccheck: non-canonical σ from party ${from}`);
  }
  if (!verifyCommitment(commitPayload, value, nonce)) {
    throw new ProtocolAbort("commitment-mismatch", [from], `maccheck: opening from party ${from} does not match its commitment`);
  }
  return sigma;
}

/**
 * The whole acceptance rule, usable by the RoundDO: opens every party's σ_j against its
 * commitment and accepts iff Σ_j σ_j = 0. Throws ProtocolAbort "commitment-mismatch" /
 * "bad-encoding" (culprit named) or "mac-check-failed" (culprits unknown: all parties).
 */
export function verifyMacCheck(f: Field, commits: readonly Uint8Array[], opens: readonly Uint8Array[]): void {
  if (commits.length !== opens.length) throw new RangeError("verifyMacCheck: one commitment and one opening per party");
  let total = 0n;
  for (let j = 0; j < commits.length; j++) total += openSigma(f, j, commits[j]!, opens[j]!);
  if (total % f.p !== 0n) {
    throw new ProtocolAbort("mac-check-failed", [], "MAC check failed: Σσ_i ≠ 0 (some opened value or MAC share was wrong)");
  }
}
