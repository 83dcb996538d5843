/**
 * MASCOT online phase (Keller–Orsini–Scholl, CCS 2016, Fig. 1 Π_Online on top of F_Prep):
 * input (Π_[[·]] Fig. 7 via COPE, input.ts; late inputs "via masks": broadcast c − r for a
 * mask [[r]] authenticated earlier), local linear operations (shares.ts); opening: every
 * party broadcasts its value share, MAC shares are kept for the deferred, batched MAC check
 * (mac-check.ts, Fig. 10). The one non-linear relation the validation needs, products of
 * an owner's own values, is proven by the owner (product-proof.ts), so no Beaver
 * multiplication and no triple is used (offline.ts still makes triples for MASCOT's general
 * multiplication; no job needs them).
 *
 * {@link buildValidatedSteps} assembles the validated secure sum as a list of steps driven
 * by party.ts's phase machine. Message rounds R (relay trips on the critical path, as
 * testing/transport.ts counts them; the PINE learning round, N = 3, in brackets;
 * test/unit/mascot/rounds.test.ts pins the totals):
 *  offline prelude (offline.ts with count = 0, always: the validation uses no triples):
 *     setup1–3 (R1–3: MRR21 POPF-OT base OTs on X25519 and SoftSpokenOT's GGM setup, or the
 *     SoftSpokenOT state kept from the last session with that peer, KeptOtStore; then the COPE
 *     Initialize OTs by SoftSpokenOT).
 *   start            input.seed, input.cope, coin.commit   Fig. 7 Input (COPE Extend) [R4]
 *                    — as soon as the offline party's COPE Initialize with every peer is done
 *                    (OfflineSource.inputReady; the test dealer deals them at once).
 *   input      →  coin.open (A)                           (after all inputs are fixed) [5]
 *   coin A     →  input.y + input.mask  Fig. 7 check y; late input: the product proof H [6]
 *                                         (no projection: γ = fold coefficients from coin A)
 *                                         or the coin-A-dependent late inputs e (with a projection
 *                                         or PINE: slack bits; success bits and window bits)
 *  with a projection or PINE only (the late inputs e are covered by the fold):
 *   late e     →  coin.open (G)   fold coefficients γ, after every owner's e is fixed [7]
 *   coin G     →  input.mask      the product proof H under γ [8]
 *  with predicates (validation, validation.ts + product-proof.ts):
 *   proof      →  coin.open (C)   (after every owner's proof is fixed) [9]
 *   coin C     →  valid.open      per owner j: its proof queried at r_1..r_q (A_i(r_k), B_i(r_k),
 *                                 H(r_k): zero knowledge, the seed calls make them uniform) and
 *                                 z_j = folded zero terms with Σ_t c_t·prod_t = Σ_{l≤L} H_j(l) [10]
 *   valid      →  coin.open (B) + sum.commit   owner j passes iff H_j(r_k) = Σ_i A_i(r_k)·B_i(r_k)
 *                                 for every k and z_j = 0 (in the clear); without noise our sum
 *                                 share is fixed by that decision: commit to it, hiding [11]
 *   coin B     →  maccheck.commit (checks y and every validation opening before anything
 *                 depends on them) + coin.open (final) without noise: it covers only the
 *                 committed sum shares [12]
 *   commit     →  maccheck.open, echo (+ coin.open (S) with noise) [13]
 *   open       →  open.sum        Σ over parties whose input passed (with noise: Σ x_j + r ⊙ z_j;
 *                                 without: the opening of the commitment) [14]
 *   sum        →  maccheck.commit (final coin already open) [15]
 *                 — with noise: coin.open (final), then maccheck.commit (one round more)
 *   commit     →  maccheck.open, echo [16]
 *   open       →  result
 *  without predicates: the offline setup, the input, coin A → input.y and open.sum together,
 *  then coin.open (final), maccheck.commit, maccheck.open + echo.
 *  There is one base-OT design: the offline setup's; the online phase runs no base OTs of its own.
 * Round totals (before issue 13 → merges → zero-knowledge proof): no predicates 8 → 9 → 9;
 * range/bits 28 → 21 → 14; PINE or projection 30 → 21 → 16; PINE + noise 30 → 22 → 17;
 * dealer α and COPE (tests) 16 → 13 → 11.
 * Why the validation openings may be opened without a mask: for an honest owner every zero
 * term is exactly 0 (so z_j = 0) and the proof queries are uniform (zero knowledge), so they
 * reveal nothing; for a deviating owner they may reveal a combination of its own invalid data,
 * which the model does not protect (as in Prio3's FLP). A tampered opening by another party
 * is caught by the MAC check at coin B before any owner is excluded or the sum is opened.
 * Merged steps and why each is sound:
 *  - the input and coins A, G, C run as soon as COPE Initialize is done with every peer: they
 *    use only α_i and the COPE seeds, final at that moment (its OT extension's consistency
 *    check ran then), and every coin still waits for what it covers;
 *  - the sum share is committed at "valid" and opened only after the validation openings'
 *    MAC check, so the final coin can be opened at "coin B" (it covers only the sum, which the
 *    commitments fix; a party that then opens something else is named: commitment-mismatch).
 *    With noise the sum depends on coin S (opened after the first σ commitments), so that
 *    schedule keeps its separate final-coin round.
 *
 * Order of coins and what each covers (DESIGN §1 "every challenge or fold coefficient is
 * drawn after every value it covers is fixed"; every coin is committed with the input and
 * opened only once the messages it covers have been received from every party —
 * rounds.test.ts checks this for every party and configuration under random interleavings):
 *   A  Fig. 7 check coefficients (cover the extended inputs), projection R and PINE vectors
 *      z_k (cover x), and γ when there are no coin-A-dependent late inputs;
 *   G  γ (covers inputs, witnesses and the late inputs e — projection slack bits, PINE
 *      success and window bits — sent after coin A);
 *   C  proof challenges r_k (cover H and everything before);
 *   B  MAC-check coefficients (cover every opened value up to valid.open);
 *   S  (only with `noise`, noise.ts) the public signs r of y = Σ (x_j + r ⊙ z_j): opened with
 *      the first maccheck.open, after every input and noise vector, the exclusion decision
 *      and every party's MAC-check commitment are fixed, so no party can choose its noise, or
 *      whether it is counted, knowing r;
 *   final  MAC-check coefficients for the sum: without noise after every sum.commit, with
 *      noise after every open.sum.
 * An owner that saw γ before sending e could pick non-bit "slack bits" that cancel its
 * folded terms, so an out-of-bound input would pass (test/unit/mascot/adaptive-late-input.test.ts).
 * The exclusion decision is MAC-checked before the sum is opened: otherwise a cheater could
 * make an honest input look invalid and learn a sum without it.
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { Rng } from "../rng.ts";
import { concatBytes } from "../encoding.ts";
import { coinCommit, coinFinish, coinOpenPayload, type CoinState } from "./coin-toss.ts";
import { checkEchoes, ECHO_PHASE, type Transcript } from "./echo.ts";
import { ProtocolAbort } from "./errors.ts";
import { commit, verifyCommitment } from "../crypto/commitment.ts";
import {
  copeExtendReceiver, copeExtendSender, inputCheckMac, inputCheckValue, ownerInputShare, peerInputShare,
  type CopeReceiverSeeds, type CopeSenderSeeds, type InputCopeSeeds,
} from "./input.ts";
import { commitSigma, MACCHECK_COMMIT, MACCHECK_OPEN, MacCheckBatch, openSigma } from "./mac-check.ts";
import type { InboundMessage, Inbox, OutboundMessage, Predicate, SecureSumConfig, SecureSumResult, Step } from "./types.ts";
import { addPublic, expandSeed, sliceShare, sumShares, type AuthShare, type ShareContext } from "./shares.ts";
import { foldTerms, ValidationPlan, type LateCoins } from "./validation.ts";
import { noisePredicate, sampleNoise, signVector } from "./noise.ts";
import { proofChallenges, proofCheckHolds, proofPoints, proveProducts, queryProducts, type ProofShape } from "./product-proof.ts";

/** Broadcast commitment to a party's share of the sum (with predicates, without noise: at the valid step). */
export const SUM_COMMIT = "sum.commit";

/**
 * What the validated mode needs from the offline phase: α_i and the input's COPE seeds (the
 * validation itself uses no multiplication triples: product-proof.ts). The offline party
 * (offline.ts, with count = 0) is message-driven; party.ts routes its messages to it first.
 */
export interface OfflineSource {
  start(): OutboundMessage[];
  receive(m: InboundMessage): OutboundMessage[];
  /** Optional: the same as `receive` (same messages and outputs), faster (WebCrypto AES). */
  receiveAsync?(m: InboundMessage): Promise<OutboundMessage[]>;
  readonly done: boolean;
  /** α_i (available once done). */
  alpha(): bigint;
  /**
   * COPE seeds for the online input (offline.ts: derived from its COPE Initialize OTs, which
   * run on its base OTs). Available once done, or earlier once {@link inputReady} says so.
   */
  inputCopeSeeds(): InputCopeSeeds;
  /**
   * Optional: true once α_i and {@link inputCopeSeeds} are available although the offline
   * phase has not ended (offline.ts: after COPE Initialize with every peer). The online input
   * then starts at once.
   */
  inputReady?(): boolean;
  /** Optional: the peers the offline phase is waiting for (named on a timeout). */
  readonly waitingFor?: number[];
}

/** Opening, online phase: shares to broadcast are the value shares; returns Σ_j shares. */
export function openValues(f: Field, mine: FieldVec, payloads: ReadonlyArray<Uint8Array | undefined>, me: number, what: string): FieldVec {
  const acc = f.add(mine, f.zeros(mine.length));
  for (let j = 0; j < payloads.length; j++) {
    if (j === me) continue;
    const v = decodeVec(f, payloads[j]!, mine.length, j, what);
    f.addInPlace(acc, v);
  }
  return acc;
}

/** Decodes exactly `n` canonical field elements. Throws ProtocolAbort "bad-encoding" naming `from`. */
export function decodeVec(f: Field, bytes: Uint8Array, n: number, from: number, what: string): FieldVec {
  if (bytes.length !== n * f.byteLength) throw new ProtocolAbort("bad-encoding", [from], `${what} from party ${from}: ${bytes.length} bytes, expected ${n * f.byteLength}`);
  try {
    return f.decode(bytes);
  } catch {
    throw new ProtocolAbort("bad-encoding", [from], `${what} from party ${from}: non-canonical field element`);
  }
}

/** The validated secure sum as party.ts drives it: steps, first messages, offline prelude. */
export interface ValidatedEngine {
  steps: Step[];
  /** True once {@link start} may run: the offline phase is done, or it has made α and the input's COPE material ({@link OfflineSource.inputReady}). */
  canStart(): boolean;
  /** First messages of the main protocol: our input (Fig. 7) and the coin commitments. */
  start(): OutboundMessage[];
  /** The offline prelude (α and the input's COPE seeds). */
  offline: OfflineSource;
}

/**
 * The validation plan of a configuration: over the input x, or with `noise` over [x | z]
 * with the noise-norm predicate (noise.ts) on z and the caller's predicates scoped to x. The
 * caller may list the noise predicate itself (a node's task does, so that a party built
 * without `noise` fails on its out-of-range indices instead of releasing an exact sum); it is
 * then used once. Throws RangeError on bad predicates or noise.
 */
export function planFor(cfg: Pick<SecureSumConfig, "field" | "length" | "predicates" | "noise">): ValidationPlan {
  if (!cfg.noise) return new ValidationPlan(cfg.field, cfg.length, cfg.predicates);
  const np = noisePredicate(cfg.field, cfg.noise, cfg.length);
  const isNoise = (p: Predicate) => p.kind === "l2-norm" && p.bound === np.bound && p.method === "pine" && !p.projection && !p.pine && p.indices?.[0] === np.indices[0] && p.indices?.[1] === np.indices[1];
  return new ValidationPlan(cfg.field, 2 * cfg.length, [...cfg.predicates.filter((p) => !isNoise(p)), np], cfg.length);
}

/**
 * Public parameters of one party's validated run: fixed when the steps are built and never
 * changed by a step (sizes, flags, the committee, where randomness and the result go).
 */
interface RunParams {
  readonly f: Field;
  readonly n: number;
  readonly me: number;
  readonly d: number;
  readonly sessionId: Uint8Array;
  readonly plan: ValidationPlan;
  /** Authenticated input length (d, or 2d with noise), extended input length, products per owner. */
  readonly D: number;
  readonly E: number;
  readonly P: number;
  readonly shape: ProofShape | undefined;
  /** Product-proof width (s) and challenge points (q): each owner's opened check is q·(2s + 1) + 1 elements. */
  readonly S: number;
  readonly Q: number;
  /** Coin-A-dependent late inputs per owner (projection slack bits, PINE success and window bits). */
  readonly PM: number;
  readonly noised: boolean;
  /** γ needs its own coin G (the coin-A-dependent late inputs are folded too). */
  readonly foldCoin: boolean;
  /** The sum share is committed at the valid step and the final coin opened at coin B (no noise). */
  readonly commitSum: boolean;
  readonly coinCount: number;
  readonly peers: readonly number[];
  /** Our authenticated input: x, or [x | z] with noise. */
  readonly full: FieldVec;
  readonly rng: Rng;
  readonly transcript: Transcript;
  readonly done: (r: SecureSumResult) => void;
  readonly offline: OfflineSource;
}

/**
 * One party's run state, secret values included: the one record every step function reads
 * and writes (no step keeps state of its own). Single-use values — our coin seeds and
 * openings, the σ and sum openings — are dropped once used; using one again is our bug and
 * throws ({@link takeCoin}, {@link takeSigma}).
 */
interface RunState {
  alpha: bigint;
  ctx: ShareContext | undefined;
  copeSend: Map<number, CopeSenderSeeds>;
  copeRecv: Map<number, CopeReceiverSeeds>;
  /** The offline phase's input COPE seeds (my receiver sides are taken from it as they appear). */
  seeded: InputCopeSeeds | undefined;
  /** Our extended input [x | witness | masks | x0]. */
  ext: FieldVec | undefined;
  /** Per owner: our share of its extended vector. */
  shares: AuthShare[];
  /** Per owner: COPE Extend receiver output, computed when its correction arrives. */
  qs: Map<number, FieldVec>;
  /** Our coin-toss states (dropped once opened and finished), everyone's commitments [party][coin]. */
  coins: Array<CoinState | undefined>;
  coinCommits: Uint8Array[][];
  coinsOpened: number;
  seedA: Uint8Array | undefined;
  /** γ's seed: coin A without coin-A-dependent late inputs, coin G with them. */
  seedFold: Uint8Array | undefined;
  R: LateCoins;
  /** Per owner: [coin-A-dependent late e | proof H − masks]; and its coin-A-dependent part. */
  lateE: FieldVec[];
  lateProj: FieldVec[];
  batch: MacCheckBatch;
  yMacs: bigint[];
  myY: bigint;
  /** Our shares of the validation openings: per owner [A(r_k), B(r_k), H(r_k) for each k | z_j]. */
  w: AuthShare | undefined;
  excluded: number[];
  /** Our σ commitment and its opening (single use), everyone's commitments. */
  sigma: { commit: Uint8Array; open: Uint8Array } | undefined;
  sigmaCommits: Array<Uint8Array | undefined>;
  mySum: AuthShare | undefined;
  openedSum: FieldVec | undefined;
  /** Opening of our sum commitment (single use), everyone's commitments, the final coin's seed. */
  sumOpen: Uint8Array | undefined;
  sumCommits: Uint8Array[];
  seedFinal: Uint8Array | undefined;
  signs: FieldVec | undefined;
}

const bcast = (phase: string, payload: Uint8Array): OutboundMessage => ({ to: "all", phase, payload });
const enc1 = (f: Field, x: bigint) => f.encode(f.fromBigInts([x]));
const ctxOf = (s: RunState): ShareContext => s.ctx!;
const copeLabel = (owner: number, holder: number) => `input-cope/${owner}->${holder}`;
/** Fold coefficients γ_j (coin A, or coin G after the coin-A-dependent late inputs). */
const gammaOf = (p: RunParams, s: RunState, j: number) => expandSeed(p.f, s.seedFold!, `validation/${j}`, p.plan.termCount);
const masksOf = (p: RunParams, v: AuthShare) => sliceShare(p.f, v, p.D + p.plan.auxLength, p.D + p.plan.auxLength + p.plan.maskLength);

/** Our opening of the next coin (commit-then-open, coin-toss.ts). Throws Error if that coin was used. */
function openCoin(s: RunState): OutboundMessage {
  const c = s.coins[s.coinsOpened];
  if (!c) throw new Error(`coin ${s.coinsOpened} already used`);
  return bcast("coin.open", coinOpenPayload(c));
}
/** Joint seed of the next coin from every party's opening (checked against the commitments); drops our coin state. */
function takeCoin(p: RunParams, s: RunState, box: Inbox): Uint8Array {
  const idx = s.coinsOpened++;
  const mine = s.coins[idx];
  if (!mine) throw new Error(`coin ${idx} already used`);
  s.coins[idx] = undefined;
  const opens = box.get("coin.open")!.map((x, j) => (j === p.me ? coinOpenPayload(mine) : x!));
  return coinFinish(s.coinCommits.map((c) => c[idx]!), opens);
}
/** Fig. 10 MACCheck, 1st message: commit to σ_i over every value opened since the last check. */
function macCommit(p: RunParams, s: RunState, seed: Uint8Array): OutboundMessage {
  const c = commitSigma(p.f, s.batch.sigma(s.alpha, seed), p.rng);
  s.sigma = { commit: c.commitPayload, open: c.openPayload };
  return bcast(MACCHECK_COMMIT, c.commitPayload);
}
/** Fig. 10 MACCheck, 2nd message: open σ_i, and echo the transcript through this step (echo.ts). */
function macOpen(p: RunParams, s: RunState, box: Inbox, stepIndex: number): OutboundMessage[] {
  s.sigmaCommits = box.get(MACCHECK_COMMIT)!.map((c, j) => (j === p.me ? s.sigma!.commit : c));
  p.transcript.closeThrough(stepIndex);
  return [bcast(MACCHECK_OPEN, s.sigma!.open), bcast(ECHO_PHASE, p.transcript.digest())];
}
/** Our σ opening, dropped once used. Throws Error on reuse. */
function takeSigma(s: RunState): Uint8Array {
  if (!s.sigma) throw new Error("σ opening already used");
  const o = s.sigma.open;
  s.sigma = undefined;
  return o;
}
/** Fig. 10 MACCheck, verdict: Σσ_i = 0, then equal echoes; starts a new batch. */
function macVerify(p: RunParams, s: RunState, box: Inbox): void {
  const { f, n, me } = p;
  const mine = takeSigma(s);
  let total = 0n;
  const opens = box.get(MACCHECK_OPEN)!;
  for (let j = 0; j < n; j++) total += j === me ? f.get(f.decode(mine.subarray(32)), 0) : openSigma(f, j, s.sigmaCommits[j]!, opens[j]!);
  // The MAC check decides correctness, then the echo decides consistency of the views.
  if (total % f.p !== 0n) throw new ProtocolAbort("mac-check-failed", [], "MAC check failed: Σσ_i ≠ 0 (an opened value or a MAC share was wrong)");
  const echoes = new Map<number, Uint8Array>();
  for (const j of p.peers) echoes.set(j, box.get(ECHO_PHASE)![j]!);
  checkEchoes(p.transcript.digest(), echoes);
  s.batch = new MacCheckBatch(f);
}
/** Σ_{j not excluded} x_j, or with noise Σ_{j not excluded} (x_j + r ⊙ z_j) (r public: a local linear map). */
function sumShare(p: RunParams, s: RunState): AuthShare {
  const { f, d } = p;
  const kept = s.shares.filter((_, j) => !s.excluded.includes(j));
  const xs = sumShares(f, kept.map((x) => sliceShare(f, x, 0, d)), d);
  if (!p.noised) return xs;
  const zs = sumShares(f, kept.map((x) => sliceShare(f, x, d, 2 * d)), d);
  return { value: f.add(xs.value, f.mul(zs.value, s.signs!)), mac: f.add(xs.mac, f.mul(zs.mac, s.signs!)) };
}

/** Fig. 7 Input (Π_[[·]]): shares and COPE corrections of our extended input, and every coin commitment. */
function sendInput(p: RunParams, s: RunState): OutboundMessage[] {
  const { f, me, plan, E, rng } = p;
  const ext = f.concat([p.full, plan.witness(p.full), f.random(plan.maskLength + 1, rng)]);
  s.ext = ext;
  const out: OutboundMessage[] = [];
  const ts: FieldVec[] = [];
  const masks: FieldVec[] = [];
  for (const j of p.peers) {
    const seed = rng.bytes(32);
    masks.push(expandSeed(f, seed, `input-share/${me}->${j}`, E));
    const { u, t } = copeExtendSender(f, s.copeSend.get(j)!, ext, copeLabel(me, j)); // u = GGM setup ‖ digit corrections
    ts.push(t);
    out.push({ to: j, phase: "input.seed", payload: seed }, { to: j, phase: "input.cope", payload: u });
  }
  s.shares[me] = ownerInputShare(f, s.alpha, ext, ts, masks);
  for (let c = 0; c < p.coinCount; c++) s.coins.push(coinCommit(rng));
  out.push(bcast("coin.commit", concatBytes(...s.coins.map((c) => c!.commitment))));
  return out;
}

/** First messages: α_i and the input's COPE seeds from the offline phase, then our input (Fig. 7). */
function startRun(p: RunParams, s: RunState): OutboundMessage[] {
  s.alpha = p.offline.alpha();
  s.ctx = { field: p.f, me: p.me, alpha: s.alpha };
  const seeded = p.offline.inputCopeSeeds();
  s.seeded = seeded;
  for (const j of p.peers) s.copeSend.set(j, seeded.sender(j));
  return sendInput(p, s);
}

/**
 * My COPE receiver seeds for owner i's input, once the offline phase has them (my side of the
 * COPE Initialize with i can finish after my input went out: OfflineSource.inputReady), else
 * undefined.
 */
function copeReceiverSeeds(s: RunState, i: number): CopeReceiverSeeds | undefined {
  let r = s.copeRecv.get(i);
  if (!r && s.seeded && (s.seeded.receiverReady?.(i) ?? true)) {
    r = s.seeded.receiver(i);
    s.copeRecv.set(i, r);
  }
  return r;
}

/**
 * COPE Extend, receiver side (Fig. 4 over digits, input.ts), for one owner's message (GGM setup ‖ corrections).
 * Throws ProtocolAbort "unexpected-message" naming i if my COPE Initialize with i is not done: an
 * honest owner sends its input only after the offline message that completes it.
 */
function receiveCorrection(p: RunParams, s: RunState, i: number, payload: Uint8Array): void {
  const seeds = copeReceiverSeeds(s, i);
  if (!seeds) throw new ProtocolAbort("unexpected-message", [i], `input.cope from party ${i} before its COPE Initialize with me finished`);
  s.qs.set(i, copeExtendReceiver(p.f, seeds, payload, p.E, copeLabel(i, p.me), i));
}

/** input: peers' inputs authenticated (Fig. 7: our MAC shares via COPE); the coin commitments; open coin A. */
function stepInput(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const { f, me, E, coinCount } = p;
  for (const i of p.peers) {
    const seed = box.get("input.seed")![i]!;
    if (seed.length !== 32) throw new ProtocolAbort("bad-encoding", [i], `input.seed from party ${i} must be 32 bytes`);
    if (!s.qs.has(i)) receiveCorrection(p, s, i, box.get("input.cope")![i]!);
    s.shares[i] = peerInputShare(expandSeed(f, seed, `input-share/${i}->${me}`, E), s.qs.get(i)!);
  }
  s.qs.clear();
  s.coinCommits = box.get("coin.commit")!.map((c, j) => {
    if (j === me) return s.coins.map((x) => x!.commitment);
    if (c!.length !== 32 * coinCount) throw new ProtocolAbort("bad-encoding", [j], `coin.commit from party ${j}: ${c!.length} bytes`);
    return Array.from({ length: coinCount }, (_, t) => c!.subarray(32 * t, 32 * t + 32));
  });
  return [openCoin(s)];
}

/** input, on arrival: turn a COPE message (⌈k/w⌉·E corrections) into E elements at once (bounds memory), once our COPE receiver seeds exist. */
function eagerInput(p: RunParams, s: RunState, phase: string, from: number, payload: Uint8Array): Uint8Array {
  if (phase !== "input.cope" || !copeReceiverSeeds(s, from)) return payload;
  receiveCorrection(p, s, from, payload);
  return new Uint8Array(0);
}

/**
 * coin A → Fig. 7 check value y, and either the sum opening (no predicates) or the first late
 * input via masks (Fig. 1 Input): with a projection or PINE only the values that depend on R
 * or z (γ then comes from coin G); without, γ is coin A's and the product proof goes out now.
 */
function stepCoinA(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const { f, me, plan, E, D, PM } = p;
  s.seedA = takeCoin(p, s, box);
  const r = expandSeed(f, s.seedA, "input-check", E);
  s.yMacs = s.shares.map((x) => inputCheckMac(f, x, r));
  s.myY = inputCheckValue(f, s.ext!, r);
  const out = [bcast("input.y", enc1(f, s.myY))];
  if (!plan.active) {
    s.mySum = sumShare(p, s);
    out.push(bcast("open.sum", f.encode(s.mySum.value)));
    return out;
  }
  s.R = plan.coinVectors(s.seedA);
  if (p.foldCoin) {
    s.lateProj[me] = plan.lateInput(p.full, f.slice(s.ext!, D + plan.auxLength, D + plan.auxLength + PM), s.R);
    out.push(bcast("input.mask", f.encode(s.lateProj[me]!)));
    return out;
  }
  s.seedFold = s.seedA;
  s.lateE[me] = proofLateInput(p, s, f.zeros(0));
  out.push(bcast("input.mask", f.encode(s.lateE[me]!)));
  return out;
}

/**
 * Our product proof (product-proof.ts, BBCGGI FLPCP) for the gadget inputs (c∘left, right)
 * under the fold coefficients γ (already drawn), as the late input e_H = H − masks; returns [eProj | e_H].
 */
function proofLateInput(p: RunParams, s: RunState, eProj: FieldVec): FieldVec {
  const { f, plan, D, E, PM } = p;
  const masks = f.slice(s.ext!, D + plan.auxLength, D + plan.auxLength + plan.maskLength);
  const clear = plan.operands({ field: f, me: 0, alpha: 0n }, { value: s.ext!, mac: f.zeros(E) }, s.R);
  const seeds = f.slice(masks, plan.lateLength, plan.maskLength); // the proof's random seed calls: masks never broadcast
  const h = proveProducts(f, p.shape!, f.mul(clear.left.value, plan.productCoefficients(gammaOf(p, s, p.me))), clear.right.value, seeds);
  return f.concat([eProj, f.sub(h, f.slice(masks, PM, plan.lateLength))]);
}

/** Every party's Fig. 7 check value y joins the MAC-check batch. */
function collectY(p: RunParams, s: RunState, box: Inbox): void {
  const { f, n, me } = p;
  const ys = box.get("input.y")!;
  const yv: bigint[] = [];
  for (let j = 0; j < n; j++) yv.push(j === me ? s.myY : f.get(decodeVec(f, ys[j]!, 1, j, "input.y"), 0));
  s.batch.add(f.fromBigInts(yv), f.fromBigInts(s.yMacs));
}

/** open.sum without predicates: y and the sum opened; open the final coin. */
function stepOpenSumPlain(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  collectY(p, s, box);
  s.openedSum = openValues(p.f, s.mySum!.value, box.get("open.sum")!, p.me, "open.sum");
  s.batch.add(s.openedSum, s.mySum!.mac);
  return [openCoin(s)];
}

/** late e (projection or PINE): every owner's coin-A-dependent late inputs are fixed; open coin G. */
function stepSlack(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  collectY(p, s, box);
  for (const j of p.peers) s.lateProj[j] = decodeVec(p.f, box.get("input.mask")![j]!, p.PM, j, "input.mask");
  return [openCoin(s)];
}

/** coin G → γ; our product proof under γ (late input via masks). */
function stepCoinG(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  s.seedFold = takeCoin(p, s, box);
  s.lateE[p.me] = proofLateInput(p, s, s.lateProj[p.me]!);
  return [bcast("input.mask", p.f.encode(p.f.slice(s.lateE[p.me]!, p.PM, p.plan.lateLength)))];
}

/** proof: every owner's proof H (and, without coin G, y) is in; open coin C (the proof challenges). */
function stepProof(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const { f, plan } = p;
  if (p.foldCoin) {
    for (const j of p.peers) s.lateE[j] = f.concat([s.lateProj[j]!, decodeVec(f, box.get("input.mask")![j]!, p.shape!.length, j, "input.mask")]);
  } else {
    collectY(p, s, box);
    for (const j of p.peers) s.lateE[j] = decodeVec(f, box.get("input.mask")![j]!, plan.lateLength, j, "input.mask");
  }
  return [openCoin(s)];
}

/**
 * coin C → each owner's proof queried at r_1..r_q (linear, zero-knowledge FLPCP,
 * product-proof.ts) and its zero check z_j = fold(terms) with Σ_t c_t·prod_t = Σ_{l≤L} H_j(l);
 * all of it opened at once: per owner [A(r_k), B(r_k), H(r_k) for each k | z_j].
 */
function stepCoinC(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const { f, n, plan, Q, PM, P } = p;
  const shape = p.shape!;
  const seedC = takeCoin(p, s, box);
  const points = proofPoints(f, shape, proofChallenges(f, shape, f.toBigInts(expandSeed(f, seedC, "validation/product-proof", Q))));
  const noProducts = { value: f.zeros(P), mac: f.zeros(P) };
  const opens: AuthShare[] = [];
  for (let j = 0; j < n; j++) {
    const o = plan.operands(ctxOf(s), s.shares[j]!, s.R);
    const c = plan.productCoefficients(gammaOf(p, s, j));
    const a = { value: f.mul(o.left.value, c), mac: f.mul(o.left.mac, c) };
    const masks = masksOf(p, s.shares[j]!);
    // Input via masks (MASCOT Fig. 1 Π_Online, Input): the owner broadcast e = c − r for its mask [[r]]; [[c]] = [[r]] + e (public constant).
    const hShare = addPublic(ctxOf(s), sliceShare(f, masks, PM, plan.lateLength), f.slice(s.lateE[j]!, PM, plan.lateLength));
    const seeds = sliceShare(f, masks, plan.lateLength, plan.maskLength);
    const queries = queryProducts(f, shape, a, o.right, seeds, hShare, points);
    for (const q of queries) opens.push(q.ar, q.br, q.hr);
    const terms = plan.terms(ctxOf(s), s.shares[j]!, noProducts, f.slice(s.lateE[j]!, 0, PM), s.R);
    const folded = foldTerms(f, terms, gammaOf(p, s, j));
    const sum = queries[0]!.sum;
    opens.push({ value: f.add(folded.value, sum.value), mac: f.add(folded.mac, sum.mac) });
  }
  s.w = sumConcat(f, opens);
  return [bcast("valid.open", f.encode(s.w.value))];
}

/**
 * valid: the proof queries and zero checks opened → owner j is excluded unless
 * H_j(r_k) = Σ_i A_i(r_k)·B_i(r_k) at every k and z_j = 0 (decided in the clear; the openings
 * are MAC-checked at coin B before the sum is opened); open coin B. Without noise our sum
 * share is now fixed: commit to it (hiding; opened at maccheck.open only after the validation
 * openings are verified), so that the final coin can be opened before the sum is.
 */
function stepValid(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const { f, n, me, S, Q } = p;
  const opened = openValues(f, s.w!.value, box.get("valid.open")!, me, "valid.open");
  s.batch.add(opened, s.w!.mac);
  const per = Q * (2 * S + 1) + 1;
  s.excluded = [];
  for (let j = 0; j < n; j++) {
    const base = j * per;
    let ok = f.get(opened, base + per - 1) === 0n;
    for (let k = 0; ok && k < Q; k++) {
      const o = base + k * (2 * S + 1);
      ok = proofCheckHolds(f, f.slice(opened, o, o + S), f.slice(opened, o + S, o + 2 * S), f.get(opened, o + 2 * S));
    }
    if (!ok) s.excluded.push(j);
  }
  if (!p.commitSum) return [openCoin(s)];
  s.mySum = sumShare(p, s);
  const value = f.encode(s.mySum.value);
  const c = commit(value, p.rng);
  s.sumOpen = concatBytes(c.opening, value);
  s.sumCommits[me] = c.commitment;
  return [openCoin(s), bcast(SUM_COMMIT, c.commitment)];
}

/** coin B → Fig. 10 σ commitment; without noise also the final coin, which covers only the (now received) sum commitments. */
function stepCoinB(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const out = [macCommit(p, s, takeCoin(p, s, box))];
  if (!p.commitSum) return out;
  const cs = box.get(SUM_COMMIT)!;
  for (const j of p.peers) {
    if (cs[j]!.length !== 32) throw new ProtocolAbort("bad-encoding", [j], `${SUM_COMMIT} from party ${j} must be 32 bytes`);
    s.sumCommits[j] = cs[j]!;
  }
  out.push(openCoin(s));
  return out;
}

/**
 * maccheck.commit: every σ commitment is in → σ opening and echo (Fig. 10). With noise the
 * sign coin S is opened here, with σ already committed: every input, noise vector and the
 * exclusion decision are fixed, so r cannot steer any of them (a party can still refuse to go
 * on after seeing r, but only by a named fault: docs/dp.md). Without noise the final coin's
 * openings arrive here.
 */
function stepMacCommit(p: RunParams, s: RunState, box: Inbox, idx: number): OutboundMessage[] {
  if (p.commitSum) s.seedFinal = takeCoin(p, s, box);
  return p.noised ? [...macOpen(p, s, box, idx), openCoin(s)] : macOpen(p, s, box, idx);
}

/** maccheck.open: validation openings verified → open the sum of the inputs that passed (committed, or with noise under the signs of coin S). */
function stepMacOpen(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  macVerify(p, s, box);
  if (p.commitSum) {
    const o = s.sumOpen;
    if (!o) throw new Error("sum opening already used");
    s.sumOpen = undefined;
    return [bcast("open.sum", o)];
  }
  if (p.noised) s.signs = signVector(p.f, takeCoin(p, s, box), p.d);
  s.mySum = sumShare(p, s);
  return [bcast("open.sum", p.f.encode(s.mySum.value))];
}

/** open.sum: the sum (checked against the commitments, or opened directly with noise) joins the final MAC check. */
function stepOpenSum(p: RunParams, s: RunState, box: Inbox): OutboundMessage[] {
  const { f, me } = p;
  if (!p.commitSum) {
    s.openedSum = openValues(f, s.mySum!.value, box.get("open.sum")!, me, "open.sum");
    s.batch.add(s.openedSum, s.mySum!.mac);
    return [openCoin(s)];
  }
  s.openedSum = openCommittedSum(f, s.mySum!.value, s.sumCommits, box.get("open.sum")!, me);
  s.batch.add(s.openedSum, s.mySum!.mac);
  return [macCommit(p, s, s.seedFinal!)];
}

/** maccheck.open.final: the sum's MAC check and the echo pass → the result. */
function stepFinish(p: RunParams, s: RunState, box: Inbox, idx: number): OutboundMessage[] {
  macVerify(p, s, box);
  p.transcript.closeThrough(idx);
  p.done({ sum: s.openedSum!, excluded: [...s.excluded], transcriptHash: p.transcript.digest(), ...(s.signs ? { signs: p.f.toBigInts(s.signs).map((v) => (v === 1n ? 1 : -1)) } : {}) });
  return [];
}

/**
 * Builds the validated secure sum for party.ts. `makeOffline()` supplies the offline phase:
 * α_i and the input's COPE seeds (offline.ts's setup with no triples, so every validated run
 * uses the same base OTs). With
 * `cfg.noise`, `noise` is this party's noise vector z (length cfg.length; sampled from `rng`
 * when omitted): [x | z] is authenticated, ‖z‖² is bounded, and the output is
 * Σ (x_j + r ⊙ z_j) with signs r from the sign coin (noise.ts, docs/dp.md). Every step is a
 * function of the run's parameters and its one state record (RunParams, RunState), named
 * after the schedule in the module comment. Throws RangeError on a bad noise vector.
 */
export function buildValidatedSteps(
  cfg: SecureSumConfig, input: FieldVec, rng: Rng, transcript: Transcript, done: (r: SecureSumResult) => void,
  makeOffline: () => OfflineSource,
  noise?: FieldVec,
): ValidatedEngine {
  const f = cfg.field;
  const { parties: n, me, length: d } = cfg;
  const plan = planFor(cfg);
  // With noise the authenticated input is [x | z] (length 2d); only x + r ⊙ z is opened.
  const noised = cfg.noise !== undefined;
  if (!noised && noise !== undefined) throw new RangeError("buildValidatedSteps: a noise vector needs cfg.noise");
  const z = noised ? noise ?? sampleNoise(f, rng, cfg.noise!) : undefined;
  if (z && z.length !== d) throw new RangeError(`buildValidatedSteps: noise has ${z.length} entries, expected ${d}`);
  const shape = plan.proof;
  const S = shape?.width ?? 0;
  const Q = shape?.queries ?? 0;
  const offline = makeOffline();
  const PM = plan.lateMaskLength;
  const p: RunParams = {
    f, n, me, d, sessionId: cfg.sessionId, plan, D: plan.d, E: plan.extendedLength, P: plan.products, shape, S, Q, PM,
    noised, foldCoin: PM > 0, commitSum: plan.active && !noised,
    // A and the final coin; with validation C, B, and G when γ must follow coin-A-dependent late inputs; S with noise.
    coinCount: (!plan.active ? 2 : PM > 0 ? 5 : 4) + (noised ? 1 : 0),
    peers: [...Array(n).keys()].filter((j) => j !== me),
    full: z ? f.concat([input, z]) : input, rng, transcript, done, offline,
  };
  const s: RunState = {
    alpha: 0n, ctx: undefined, copeSend: new Map(), copeRecv: new Map(), seeded: undefined, ext: undefined, shares: [], qs: new Map(),
    coins: [], coinCommits: [], coinsOpened: 0, seedA: undefined, seedFold: undefined, R: { projection: undefined, wrap: [] },
    lateE: [], lateProj: [], batch: new MacCheckBatch(f), yMacs: [], myY: 0n,
    w: undefined, excluded: [], sigma: undefined, sigmaCommits: [],
    mySum: undefined, openedSum: undefined, sumOpen: undefined, sumCommits: [], seedFinal: undefined, signs: undefined,
  };

  const steps: Step[] = [];
  type Run = (p: RunParams, s: RunState, box: Inbox, idx: number) => OutboundMessage[];
  const push = (name: string, expect: string[], run: Run, opts: { eager?: Step["eager"] } = {}) => {
    const idx = steps.length;
    steps.push({ name, expect, run: (box) => run(p, s, box, idx), ...(opts.eager ? { eager: opts.eager } : {}) });
  };
  push("input", ["input.seed", "input.cope", "coin.commit"], stepInput, { eager: (phase, from, payload) => eagerInput(p, s, phase, from, payload) });
  push("coin.A", ["coin.open"], stepCoinA);
  if (!plan.active) {
    push("open.sum", ["input.y", "open.sum"], stepOpenSumPlain);
  } else {
    if (p.foldCoin) {
      push("slack", ["input.y", "input.mask"], stepSlack);
      push("coin.G", ["coin.open"], stepCoinG);
      push("proof", ["input.mask"], stepProof);
    } else {
      push("proof", ["input.y", "input.mask"], stepProof);
    }
    push("coin.C", ["coin.open"], stepCoinC);
    push("valid", ["valid.open"], stepValid);
    push("coin.B", p.commitSum ? ["coin.open", SUM_COMMIT] : ["coin.open"], stepCoinB);
    push("maccheck.commit", p.commitSum ? [MACCHECK_COMMIT, "coin.open"] : [MACCHECK_COMMIT], stepMacCommit);
    push("maccheck.open", noised ? [MACCHECK_OPEN, ECHO_PHASE, "coin.open"] : [MACCHECK_OPEN, ECHO_PHASE], stepMacOpen);
    push("open.sum", ["open.sum"], stepOpenSum);
  }
  if (!p.commitSum) push("coin.final", ["coin.open"], (pp, ss, box) => [macCommit(pp, ss, takeCoin(pp, ss, box))]);
  push("maccheck.commit.final", [MACCHECK_COMMIT], (pp, ss, box, idx) => macOpen(pp, ss, box, idx));
  push("maccheck.open.final", [MACCHECK_OPEN, ECHO_PHASE], stepFinish);

  const canStart = (): boolean => offline.done || offline.inputReady?.() === true;
  const start = (): OutboundMessage[] => {
    if (!canStart()) throw new Error("buildValidatedSteps: start() before the offline phase has made α and the COPE seeds");
    return startRun(p, s);
  };
  return { steps, canStart, start, offline };
}

/**
 * Opens a committed sum: every peer's payload must be nonce(32) ‖ enc(share) opening its
 * commitment (`commits[j]`, sent at the valid step). Returns Σ_j shares. Throws ProtocolAbort
 * "bad-encoding" (length, non-canonical element) or "commitment-mismatch" naming every peer
 * whose opening does not match.
 */
function openCommittedSum(f: Field, mine: FieldVec, commits: readonly Uint8Array[], payloads: ReadonlyArray<Uint8Array | undefined>, me: number): FieldVec {
  const acc = f.add(mine, f.zeros(mine.length));
  const bad: number[] = [];
  for (let j = 0; j < payloads.length; j++) {
    if (j === me) continue;
    const p = payloads[j]!;
    if (p.length !== 32 + mine.length * f.byteLength) throw new ProtocolAbort("bad-encoding", [j], `open.sum from party ${j}: ${p.length} bytes, expected ${32 + mine.length * f.byteLength}`);
    const value = p.subarray(32);
    if (!verifyCommitment(commits[j]!, value, p.subarray(0, 32))) { bad.push(j); continue; }
    f.addInPlace(acc, decodeVec(f, value, mine.length, j, "open.sum"));
  }
  if (bad.length) throw new ProtocolAbort("commitment-mismatch", bad, `open.sum from ${bad.length > 1 ? "parties" : "party"} ${bad.join(", ")} does not open the committed share`);
  return acc;
}

/** Concatenates per-owner shares into one vector. */
function sumConcat(f: Field, xs: AuthShare[]): AuthShare {
  return { value: f.concat(xs.map((x) => x.value)), mac: f.concat(xs.map((x) => x.mac)) };
}
