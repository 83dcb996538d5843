/**
 * Linear-only aggregation: a public sum of the parties' own inputs, without MACs.
 *
 * Protocol (three message rounds):
 *  1. "lin.seed" (point to point): party i draws a fresh 32-byte seed s_ij for every j ≠ i
 *     and sends it to j (the relay encrypts it). Party i's additive sharing of x_i is
 *     x_i − Σ_j PRG(s_ij) for itself and PRG(s_ij) for party j: PRG-seed-compressed shares,
 *     32 bytes per pair instead of d field elements.
 *  2. "lin.commit" (broadcast): party j adds what it holds, o_j = x_j − Σ_k PRG(s_jk) +
 *     Σ_k PRG(s_kj), and broadcasts only a hash commitment c_j = commit(encode(o_j)).
 *  3. "lin.open" (broadcast): once all commitments are in, party j broadcasts
 *     H(all commitments, in party order) ‖ nonce_j ‖ encode(o_j). Every party checks that
 *     every echoed commitment hash equals its own (else "equivocation": someone showed
 *     different commitments to different parties), that every opening matches its
 *     commitment (else "commitment-mismatch"), and outputs Σ_j o_j = Σ_j x_j.
 *
 * Why this is secure with abort for a public sum of the parties' own inputs, against any
 * number of corrupted parties but one (and a malicious relay):
 *  - Privacy: an honest party's o_j is masked by PRG(s_kj) from every other honest party k;
 *    the adversary sees seeds only on its own channels, so the honest o_j's are uniform
 *    subject to summing to (output − corrupted contributions): it learns only the sum.
 *  - Correctness up to input substitution: every corrupted party's o_c is fixed by its
 *    commitment, and all commitments are fixed (and echoed, so all honest parties hold the
 *    same ones) *before* any honest party opens anything. Whatever a corrupted party did in
 *    round 1 (wrong seeds, inconsistent seeds, garbage) or round 2 (any o_c) is therefore a
 *    function of its own view only, which is independent of the honest inputs (honest shares
 *    it received are uniform masks). The output Σ o_j then equals Σ_{honest} x_h + e with e
 *    chosen independently of the honest inputs: exactly the ideal sum with the corrupted
 *    parties' inputs replaced by some x'_c (put all of e into one x'_c). In round 3 a
 *    corrupted party can only open its commitment or be caught (binding of SHA-256
 *    commitments) — it can abort, which security with abort allows.
 *
 * What it does NOT give: no validation of any kind. A party may contribute any field
 * vector (out of range, huge norm); the sum is only as meaningful as the inputs, and
 * malicious inputs cannot be named or excluded. Nor does it compute anything but the sum
 * of inputs (no products, no comparisons). Use the validated mode for those.
 */
import { sha256 } from "./hash.ts";
import type { Field, FieldVec } from "../field/types.ts";
import type { Rng } from "../rng.ts";
import { concatBytes } from "../encoding.ts";
import { commit, verifyCommitment } from "../crypto/commitment.ts";
import { ProtocolAbort } from "./errors.ts";
import { expandSeed } from "./shares.ts";

/** Phase names of the three linear-only rounds. */
export const LIN_SEED = "lin.seed";
/** Broadcast: 32-byte commitment to the output share. */
export const LIN_COMMIT = "lin.commit";
/** Broadcast: H(commitments) ‖ nonce ‖ enc(output share). */
export const LIN_OPEN = "lin.open";

/** Round 1: fresh seeds for every other party (index = party; own slot empty). */
export function linearDealSeeds(n: number, me: number, rng: Rng): Array<Uint8Array | undefined> {
  return Array.from({ length: n }, (_, j) => (j === me ? undefined : rng.bytes(32)));
}

/**
 * Round 2: o_me = x − Σ_j PRG(sent_j) + Σ_j PRG(received_j). `sent[j]`/`received[j]` are
 * the seeds sent to / received from party j. Throws ProtocolAbort "bad-encoding" naming
 * the sender of a seed that is not 32 bytes.
 */
export function linearOutputShare(f: Field, x: FieldVec, me: number, sent: ReadonlyArray<Uint8Array | undefined>, received: ReadonlyArray<Uint8Array | undefined>): FieldVec {
  const o = f.add(x, f.zeros(x.length));
  const neg = f.zeros(x.length);
  for (let j = 0; j < sent.length; j++) {
    if (j === me) continue;
    const s = sent[j];
    const r = received[j];
    if (!s) throw new RangeError(`linearOutputShare: no seed sent to party ${j}`);
    if (!r || r.length !== 32) throw new ProtocolAbort("bad-encoding", [j], `lin.seed from party ${j} must be 32 bytes`);
    f.addInPlace(neg, expandSeed(f, s, `lin/${me}->${j}`, x.length));
    f.addInPlace(o, expandSeed(f, r, `lin/${j}->${me}`, x.length));
  }
  return f.sub(o, neg);
}

/** Hash of all commitments in party order (the echoed value of round 3). */
export function commitmentsDigest(commits: readonly Uint8Array[]): Uint8Array {
  return sha256(concatBytes(...commits));
}

/** Round 2 output: the "lin.commit" payload and the opening kept for round 3. */
export function linearCommit(f: Field, share: FieldVec, rng: Rng): { commitPayload: Uint8Array; value: Uint8Array; nonce: Uint8Array } {
  const value = f.encode(share);
  const { commitment, opening } = commit(value, rng);
  return { commitPayload: commitment, value, nonce: opening };
}

/** Round 3 payload: digest(32) ‖ nonce(32) ‖ encode(o). */
export function linearOpenPayload(digest: Uint8Array, nonce: Uint8Array, value: Uint8Array): Uint8Array {
  return concatBytes(digest, nonce, value);
}

/**
 * Checks every party's opening (echoed digest, then commitment) and returns Σ_j o_j.
 * `opens[me]` may be our own payload. Throws ProtocolAbort "bad-encoding",
 * "equivocation" or "commitment-mismatch" naming the culprits.
 */
export function linearFinish(f: Field, length: number, commits: readonly Uint8Array[], opens: readonly Uint8Array[]): FieldVec {
  const digest = commitmentsDigest(commits);
  const expect = 64 + length * f.byteLength;
  const equiv: number[] = [];
  for (let j = 0; j < opens.length; j++) {
    const o = opens[j]!;
    if (o.length !== expect) throw new ProtocolAbort("bad-encoding", [j], `lin.open from party ${j}: ${o.length} bytes, expected ${expect}`);
    let d = 0;
    for (let k = 0; k < 32; k++) d |= o[k]! ^ digest[k]!;
    if (d !== 0) equiv.push(j);
  }
  if (equiv.length > 0) throw new ProtocolAbort("equivocation", equiv, `commitments echoed by parties ${equiv.join(",")} differ from ours`);
  const sum = f.zeros(length);
  for (let j = 0; j < opens.length; j++) {
    const o = opens[j]!;
    const value = o.subarray(64);
    if (!verifyCommitment(commits[j]!, value, o.subarray(32, 64))) {
      throw new ProtocolAbort("commitment-mismatch", [j], `lin.open from party ${j} does not match its commitment`);
    }
    let v: FieldVec;
    try {
      v = f.decode(value);
    } catch {
      throw new ProtocolAbort("bad-encoding", [j], `lin.open from party ${j}: non-canonical field element`);
    }
    f.addInPlace(sum, v);
  }
  return sum;
}
