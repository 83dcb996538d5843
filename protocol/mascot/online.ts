/**
 * MASCOT online phase (Keller–Orsini–Scholl, CCS 2016, Fig. 1 Π_Online on top of F_Prep):
 * input (Π_[[·]] Fig. 7 via COPE, input.ts; late inputs "via masks": broadcast c − r for a
 * mask [[r]] authenticated earlier), local linear operations (shares.ts), Beaver
 * multiplication with a triple ([[a]], [[b]], [[c]]): open ε = x − a, δ = y − b, then
 * [[xy]] = [[c]] + ε[[b]] + δ[[a]] + εδ; opening: every party broadcasts its value share,
 * MAC shares are kept for the deferred, batched MAC check (mac-check.ts, Fig. 10).
 *
 * {@link buildValidatedSteps} assembles the validated secure sum as a list of steps driven
 * by party.ts's phase machine. Message rounds (after the optional offline prelude that
 * supplies α_i and triples):
 *   0  start         cope.ot.A        base OTs (CO15) for COPE, we are the base-OT sender
 *   1  cope.ot.A  →  cope.ot.B        base-OT receiver with choices = bits of α_i
 *   2  cope.ot.B  →  input.seed, input.cope, coin.commit      Fig. 7 Input (COPE Extend)
 *   3  input      →  coin.open (A)                           (after all inputs are fixed)
 *   4  coin A     →  input.y + input.mask  Fig. 7 check y; late input: the product proof H
 *                                         (no projection: γ = fold coefficients from coin A)
 *                                         or the coin-A-dependent late inputs e (with a projection
 *                                         or PINE: slack bits; success bits and window bits)
 *  with a projection or PINE only (the late inputs e are covered by the fold):
 *   4a late e     →  coin.open (G)   fold coefficients γ, after every owner's e is fixed
 *   4b coin G     →  input.mask      the product proof H under γ
 *  with predicates (validation, validation.ts + product-proof.ts):
 *   5  proof      →  coin.open (C)   (after every owner's proof is fixed)
 *   6  coin C     →  mult.open       proofs queried at r_1..r_q; q·s Beaver products per owner
 *   7  layer 1    →  mult.open       z_j (folded zero terms + Σ_k μ_k·proof check at r_k); ρ_j·z_j (Beaver)
 *   8  layer 2    →  valid.open      w_j = ρ_j·z_j
 *   9  valid      →  coin.open (B)
 *  10  coin B     →  maccheck.commit (checks y, ε, δ, w before anything depends on them)
 *  11  commit     →  maccheck.open, echo (+ coin.open (S) with noise)
 *  12  open       →  open.sum        Σ over parties whose input passed (with noise: Σ x_j + r ⊙ z_j)
 *  13  sum        →  coin.open (final)
 *  14  coin       →  maccheck.commit
 *  15  commit     →  maccheck.open, echo
 *  16  open       →  result
 *  without predicates, step 4 sends input.y and open.sum together and steps 5–12 vanish.
 *
 * Order of coins and what each covers (DESIGN §1 "every challenge or fold coefficient is
 * drawn after every value it covers is fixed"; every coin is committed at step 2 and opened
 * only once the messages it covers have been received from every party):
 *   A  Fig. 7 check coefficients (cover the extended inputs, fixed at 2), projection R and
 *      PINE vectors z_k (cover x), and γ when there are no coin-A-dependent late inputs;
 *   G  γ (covers inputs, witnesses and the late inputs e — projection slack bits, PINE
 *      success and window bits — fixed at 4);
 *   C  proof challenges r_k and μ_k (cover H, fixed at 4 or 4b, and everything before);
 *   B  MAC-check coefficients (cover every opened value up to 8);
 *   S  (only with `noise`, noise.ts) the public signs r of y = Σ (x_j + r ⊙ z_j): opened at 11,
 *      after every input and noise vector (fixed at 2), the exclusion decision (8) and every
 *      party's MAC-check commitment (10) are fixed, so no party can choose its noise, or
 *      whether it is counted, knowing r;
 *   final  MAC-check coefficients for the sum.
 * An owner that saw γ before sending e could pick non-bit "slack bits" that cancel its
 * folded terms, so an out-of-bound input would pass (test/unit/mascot/adaptive-late-input.test.ts).
 * The exclusion decision is MAC-checked before the sum is opened: otherwise a cheater could
 * make an honest input look invalid and learn a sum without it.
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { Rng } from "../rng.ts";
import { concatBytes, utf8 } from "../encoding.ts";
import { baseOtReceive, baseOtSenderFinish, baseOtSenderStart, OT_KEY_BYTES, type BaseOtSenderState } from "./base-ot.ts";
import { coinCommit, coinFinish, coinOpenPayload, type CoinState } from "./coin-toss.ts";
import { checkEchoes, ECHO_PHASE, type Transcript } from "./echo.ts";
import { ProtocolAbort } from "./errors.ts";
import {
  copeExtendReceiver, copeExtendSender, decodeCorrection, encodeCorrection, inputCheckMac, inputCheckValue, ownerInputShare, peerInputShare,
  type CopeReceiverSeeds, type CopeSenderSeeds, type InputCopeSeeds,
} from "./input.ts";
import { commitSigma, MACCHECK_COMMIT, MACCHECK_OPEN, MacCheckBatch, openSigma } from "./mac-check.ts";
import type { Inbox, OutboundMessage, Predicate, SecureSumConfig, SecureSumResult, Step } from "./party.ts";
import { addPublic, expandSeed, sliceShare, sumShares, type AuthShare, type ShareContext } from "./shares.ts";
import { foldTerms, ValidationPlan, type LateCoins } from "./validation.ts";
import { noisePredicate, sampleNoise, signVector } from "./noise.ts";
import { proveProducts, queryProducts, type ProductQuery } from "./product-proof.ts";
import { mod } from "../field/modular.ts";

/** A batch of authenticated triples (vectors of equal length): c = a·b. */
export interface Triples { a: AuthShare; b: AuthShare; c: AuthShare }

/**
 * What the validated mode needs from the offline phase: α_i and `count` triples. The
 * offline party (offline.ts) is message-driven; party.ts routes its messages to it first.
 */
export interface OfflineSource {
  start(): OutboundMessage[];
  receive(m: { from: number; phase: string; seq: number; payload: Uint8Array }): OutboundMessage[];
  /** Optional: the same as `receive` (same messages and outputs), faster (WebCrypto AES). */
  receiveAsync?(m: { from: number; phase: string; seq: number; payload: Uint8Array }): Promise<OutboundMessage[]>;
  readonly done: boolean;
  /** α_i (available once done). */
  alpha(): bigint;
  /** The triples (available once done). */
  triples(): Triples;
  /** Optional (available once done): COPE seeds for the online input, so it needs no base OTs (offline.ts). */
  inputCopeSeeds?(): InputCopeSeeds;
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

/**
 * Input via masks (MASCOT Fig. 1 Π_Online, Input): the owner of a preprocessed mask [[r]]
 * (r known to it) broadcasts e = c − r; every party sets [[c]] = [[r]] + e (public-constant
 * addition: party 0 adds e to its value share, everyone adds α_i·e to its MAC share).
 */
export function inputViaMask(ctx: ShareContext, mask: AuthShare, e: FieldVec): AuthShare {
  return addPublic(ctx, mask, e);
}

/** Beaver step 1: this party's shares of ε = x − a and δ = y − b (to open). */
export function beaverMasks(f: Field, x: AuthShare, y: AuthShare, t: Triples): { eps: AuthShare; delta: AuthShare } {
  return {
    eps: { value: f.sub(x.value, t.a.value), mac: f.sub(x.mac, t.a.mac) },
    delta: { value: f.sub(y.value, t.b.value), mac: f.sub(y.mac, t.b.mac) },
  };
}

/** Beaver step 2: [[xy]] = [[c]] + ε[[b]] + δ[[a]] + εδ, given the opened ε, δ. */
export function beaverFinish(ctx: ShareContext, t: Triples, eps: FieldVec, delta: FieldVec): AuthShare {
  const f = ctx.field;
  const value = f.add(t.c.value, f.add(f.mul(eps, t.b.value), f.mul(delta, t.a.value)));
  const mac = f.add(t.c.mac, f.add(f.mul(eps, t.b.mac), f.mul(delta, t.a.mac)));
  return addPublic(ctx, { value, mac }, f.mul(eps, delta));
}

function sliceTriples(f: Field, t: Triples, s: number, e: number): Triples {
  return { a: sliceShare(f, t.a, s, e), b: sliceShare(f, t.b, s, e), c: sliceShare(f, t.c, s, e) };
}

function alphaBits(alpha: bigint, k: number): Uint8Array {
  const out = new Uint8Array(k);
  for (let l = 0; l < k; l++) out[l] = Number((alpha >> BigInt(l)) & 1n);
  return out;
}

function splitKeys(flat: Uint8Array, k: number): Uint8Array[] {
  return Array.from({ length: k }, (_, l) => flat.subarray(OT_KEY_BYTES * l, OT_KEY_BYTES * (l + 1)));
}

/**
 * TEST-ONLY replacement of the COPE base OTs: returns the base-OT key pairs (16 bytes each,
 * k = field.bits of them) for the ordered pair owner → holder, identically at both parties.
 * The cope.ot.A/B messages are still exchanged (empty) so the phase machine is unchanged.
 */
export type CopeDealer = (owner: number, holder: number) => { k0: Uint8Array[]; k1: Uint8Array[] };

/** The validated secure sum as party.ts drives it: steps, first messages, offline prelude. */
export interface ValidatedEngine {
  steps: Step[];
  /** First messages of the main protocol (after the offline prelude, if any). */
  start(): OutboundMessage[];
  /** The offline prelude (triples, α), or undefined when no triples are needed. */
  offline: OfflineSource | undefined;
  /** Triples the configuration needs (0 without predicates). */
  tripleCount: number;
}

/**
 * Number of triples a validated run with these predicates consumes: n·(q·s + 2), with s the
 * width of each owner's product proof (product-proof.ts), ≈ √(products/32), and q its
 * number of challenge points (2 in m61, 1 in p128). Throws RangeError on bad predicates.
 */
export function triplesNeeded(cfg: Pick<SecureSumConfig, "field" | "parties" | "length" | "predicates" | "noise">): number {
  const plan = planFor(cfg);
  return plan.proof ? cfg.parties * (plan.proof.queries * plan.proof.width + 2) : 0;
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
 * Builds the validated secure sum for party.ts. `makeOffline(count, alpha?)` supplies the
 * offline phase when triples are needed; when none are, α_i is sampled here. With
 * `cfg.noise`, `noise` is this party's noise vector z (length cfg.length; sampled from `rng`
 * when omitted): [x | z] is authenticated, ‖z‖² is bounded, and the output is
 * Σ (x_j + r ⊙ z_j) with signs r from the sign coin (noise.ts, docs/dp.md).
 */
export function buildValidatedSteps(
  cfg: SecureSumConfig, input: FieldVec, rng: Rng, transcript: Transcript, done: (r: SecureSumResult) => void,
  makeOffline?: (tripleCount: number) => OfflineSource,
  copeDealer?: CopeDealer,
  noise?: FieldVec,
): ValidatedEngine {
  const f = cfg.field;
  const { parties: n, me, length: d } = cfg;
  const k = f.bits;
  const plan = planFor(cfg);
  // With noise the authenticated input is [x | z] (length 2d); only x + r ⊙ z is opened.
  const noised = cfg.noise !== undefined;
  if (!noised && noise !== undefined) throw new RangeError("buildValidatedSteps: a noise vector needs cfg.noise");
  const z = noised ? noise ?? sampleNoise(f, rng, cfg.noise!) : undefined;
  if (z && z.length !== d) throw new RangeError(`buildValidatedSteps: noise has ${z.length} entries, expected ${d}`);
  const full = z ? f.concat([input, z]) : input;
  const D = plan.d; // authenticated input length (d, or 2d with noise)
  let signs: FieldVec | undefined;
  const P = plan.products;
  const E = plan.extendedLength;
  const shape = plan.proof;
  const S = shape?.width ?? 0; // Beaver products per owner and challenge point
  const Q = shape?.queries ?? 0; // challenge points r_1..r_Q of the product proof
  const QS = Q * S; // Beaver products per owner (the proof's checks)
  const tripleCount = shape ? n * (QS + 2) : 0;
  const offline = tripleCount > 0 ? makeOfflineOrThrow(makeOffline, tripleCount) : undefined;
  const peers = [...Array(n).keys()].filter((j) => j !== me);
  const sid = (owner: number, holder: number) => concatBytes(utf8("2pm/mascot/input-cope/v1"), cfg.sessionId, new Uint8Array([owner & 255, owner >> 8, holder & 255, holder >> 8]));
  const copeLabel = (owner: number, holder: number) => `input-cope/${owner}->${holder}`;

  let alpha = 0n;
  let ctx: ShareContext;
  const otSender = new Map<number, BaseOtSenderState>();
  const copeSend = new Map<number, CopeSenderSeeds>();
  const copeRecv = new Map<number, CopeReceiverSeeds>();
  let ext: FieldVec; // our extended input [x | witness | masks | x0]
  const seedsSent = new Map<number, Uint8Array>();
  const shares: AuthShare[] = []; // per owner: our share of its extended vector
  const coins: CoinState[] = [];
  let coinCommits: Uint8Array[][] = []; // [party][coin index]
  let coinsOpened = 0;
  let seedA: Uint8Array = new Uint8Array(32);
  let seedFold: Uint8Array = new Uint8Array(32); // coin A without coin-A-dependent late inputs, coin G with them
  let R: LateCoins = { projection: undefined, wrap: [] };
  const lateE: FieldVec[] = []; // per owner: [coin-A-dependent late e | proof H − masks]
  const lateProj: FieldVec[] = []; // per owner: the coin-A-dependent part (projection slack, PINE bits; sent at step 4)
  let triples: Triples | undefined;
  let batch = new MacCheckBatch(f);
  let yMacs: bigint[] = [];
  let myY = 0n;
  let layer1: { eps: AuthShare; delta: AuthShare } | undefined;
  let layer2: { eps: AuthShare; delta: AuthShare } | undefined;
  let w: AuthShare | undefined;
  let excluded: number[] = [];
  let sigmaOpen: Uint8Array | undefined;
  let sigmaCommit: Uint8Array | undefined;
  let sigmaCommits: Array<Uint8Array | undefined> = [];
  let mySum: AuthShare | undefined;
  let openedSum: FieldVec | undefined;

  const bcast = (phase: string, payload: Uint8Array): OutboundMessage => ({ to: "all", phase, payload });
  const enc1 = (x: bigint) => f.encode(f.fromBigInts([x]));
  const PM = plan.lateMaskLength;
  // With a projection or PINE checks the late inputs (slack bits; success and window bits) depend on
  // coin A and the fold covers them: γ then needs its own coin G.
  const foldCoin = PM > 0;
  // + the sign coin with noise (always validated: the noise predicate makes the plan active).
  const coinCount = (!plan.active ? 2 : foldCoin ? 5 : 4) + (noised ? 1 : 0);
  // Validation: fold coefficients γ_j (coin A, or coin G after the slack bits), the product-proof challenges r_k, μ_k (coin C).
  const gammaOf = (j: number) => expandSeed(f, seedFold, `validation/${j}`, plan.termCount);
  const masksOf = (v: AuthShare) => sliceShare(f, v, D + plan.auxLength, D + plan.auxLength + plan.maskLength);
  const queries: ProductQuery[][] = []; // [owner][challenge point]
  let mus: bigint[] = [];

  const nextCoin = (box: Inbox): Uint8Array => {
    const idx = coinsOpened++;
    const opens = box.get("coin.open")!.map((p, j) => (j === me ? coinOpenPayload(coins[idx]!) : p!));
    return coinFinish(coinCommits.map((c) => c[idx]!), opens);
  };
  const openCoin = (): OutboundMessage => bcast("coin.open", coinOpenPayload(coins[coinsOpened]!));

  const macCommit = (seed: Uint8Array): OutboundMessage => {
    const sigma = batch.sigma(alpha, seed);
    const c = commitSigma(f, sigma, rng);
    sigmaCommit = c.commitPayload;
    sigmaOpen = c.openPayload;
    return bcast(MACCHECK_COMMIT, c.commitPayload);
  };
  const macOpen = (box: Inbox, stepIndex: number): OutboundMessage[] => {
    sigmaCommits = box.get(MACCHECK_COMMIT)!.map((c, j) => (j === me ? sigmaCommit! : c));
    transcript.closeThrough(stepIndex);
    return [bcast(MACCHECK_OPEN, sigmaOpen!), bcast(ECHO_PHASE, transcript.digest())];
  };
  const macVerify = (box: Inbox): void => {
    let total = 0n;
    const opens = box.get(MACCHECK_OPEN)!;
    for (let j = 0; j < n; j++) total += j === me ? f.get(f.decode(sigmaOpen!.subarray(32)), 0) : openSigma(f, j, sigmaCommits[j]!, opens[j]!);
    // The MAC check decides correctness, then the echo decides consistency of the views.
    if (total % f.p !== 0n) throw new ProtocolAbort("mac-check-failed", [], "MAC check failed: Σσ_i ≠ 0 (an opened value or a MAC share was wrong)");
    const echoes = new Map<number, Uint8Array>();
    for (const j of peers) echoes.set(j, box.get(ECHO_PHASE)![j]!);
    checkEchoes(transcript.digest(), echoes);
    batch = new MacCheckBatch(f);
  };

  // Σ_{j not excluded} x_j, or with noise Σ_{j not excluded} (x_j + r ⊙ z_j) (r public: a local linear map).
  const sumShare = (): AuthShare => {
    const kept = shares.filter((_, j) => !excluded.includes(j));
    const xs = sumShares(f, kept.map((s) => sliceShare(f, s, 0, d)), d);
    if (!noised) return xs;
    const zs = sumShares(f, kept.map((s) => sliceShare(f, s, d, 2 * d)), d);
    return { value: f.add(xs.value, f.mul(zs.value, signs!)), mac: f.add(xs.mac, f.mul(zs.mac, signs!)) };
  };

  const ctxOf = (): ShareContext => ctx;

  // Pre-seeded COPE (no base OTs here): from the test dealer, or from the offline phase's COPE OTs.
  let seeded: InputCopeSeeds | undefined;
  const start = (): OutboundMessage[] => {
    alpha = offline ? offline.alpha() : f.get(f.random(1, rng), 0);
    ctx = { field: f, me, alpha };
    if (offline) triples = offline.triples();
    seeded = copeDealer ? dealerSeeds(copeDealer, me, alpha, k) : offline?.inputCopeSeeds?.();
    const out: OutboundMessage[] = [];
    for (const j of peers) {
      if (seeded) { out.push({ to: j, phase: "cope.ot.A", payload: new Uint8Array(0) }); continue; }
      const { state, message } = baseOtSenderStart(sid(me, j), rng);
      otSender.set(j, state);
      out.push({ to: j, phase: "cope.ot.A", payload: message });
    }
    return out;
  };

  const steps: Step[] = [];
  let stepNo = 0;
  const push = (name: string, expect: string[], run: (box: Inbox, idx: number) => OutboundMessage[], eager?: Step["eager"]) => {
    const idx = stepNo++;
    steps.push(eager ? { name, expect, run: (box) => run(box, idx), eager } : { name, expect, run: (box) => run(box, idx) });
  };

  // 1: base-OT receiver for COPE where we hold the MAC key (choices = bits of α_i).
  push("cope.ot.A", ["cope.ot.A"], (box) => {
    const out: OutboundMessage[] = [];
    const choices = alphaBits(alpha, k);
    for (const i of peers) {
      if (seeded) {
        if (box.get("cope.ot.A")![i]!.length !== 0) throw new ProtocolAbort("bad-encoding", [i], "cope.ot.A must be empty when COPE is pre-seeded");
        copeRecv.set(i, seeded.receiver(i));
        out.push({ to: i, phase: "cope.ot.B", payload: new Uint8Array(0) });
        continue;
      }
      const { message, keys } = baseOtReceive(sid(i, me), choices, box.get("cope.ot.A")![i]!, rng, i);
      copeRecv.set(i, { delta: alpha, kDelta: splitKeys(keys, k) });
      out.push({ to: i, phase: "cope.ot.B", payload: message });
    }
    return out;
  });
  // 2: base-OT sender finish; Fig. 7 Input: shares and COPE corrections for our extended input.
  push("cope.ot.B", ["cope.ot.B"], (box) => {
    for (const j of peers) {
      if (seeded) {
        if (box.get("cope.ot.B")![j]!.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "cope.ot.B must be empty when COPE is pre-seeded");
        copeSend.set(j, seeded.sender(j));
        continue;
      }
      const { k0, k1 } = baseOtSenderFinish(otSender.get(j)!, box.get("cope.ot.B")![j]!, k, j);
      copeSend.set(j, { k0: splitKeys(k0, k), k1: splitKeys(k1, k) });
    }
    ext = f.concat([full, plan.witness(full), f.random(plan.maskLength + 1, rng)]);
    const out: OutboundMessage[] = [];
    const ts: FieldVec[] = [];
    const masks: FieldVec[] = [];
    for (const j of peers) {
      const s = rng.bytes(32);
      seedsSent.set(j, s);
      masks.push(expandSeed(f, s, `input-share/${me}->${j}`, E));
      const { u, t } = copeExtendSender(f, copeSend.get(j)!, ext, copeLabel(me, j));
      ts.push(t);
      out.push({ to: j, phase: "input.seed", payload: s }, { to: j, phase: "input.cope", payload: encodeCorrection(f, u) });
    }
    shares[me] = ownerInputShare(f, alpha, ext, ts, masks);
    for (let c = 0; c < coinCount; c++) coins.push(coinCommit(rng));
    out.push(bcast("coin.commit", concatBytes(...coins.map((c) => c.commitment))));
    return out;
  });
  // 3: peers' inputs authenticated (our MAC shares via COPE); open coin A.
  // COPE Extend, receiver side, for one owner's correction (consumed on arrival when possible).
  const qs = new Map<number, FieldVec>();
  const receiveCorrection = (i: number, payload: Uint8Array): void => {
    const u = decodeCorrection(f, payload, k * E, i);
    qs.set(i, copeExtendReceiver(f, copeRecv.get(i)!, u, E, copeLabel(i, me), i));
  };
  push("input", ["input.seed", "input.cope", "coin.commit"], (box) => {
    for (const i of peers) {
      const s = box.get("input.seed")![i]!;
      if (s.length !== 32) throw new ProtocolAbort("bad-encoding", [i], `input.seed from party ${i} must be 32 bytes`);
      if (!qs.has(i)) receiveCorrection(i, box.get("input.cope")![i]!);
      shares[i] = peerInputShare(expandSeed(f, s, `input-share/${i}->${me}`, E), qs.get(i)!);
    }
    qs.clear();
    coinCommits = box.get("coin.commit")!.map((c, j) => {
      if (j === me) return coins.map((x) => x.commitment);
      if (c!.length !== 32 * coinCount) throw new ProtocolAbort("bad-encoding", [j], `coin.commit from party ${j}: ${c!.length} bytes`);
      return Array.from({ length: coinCount }, (_, t) => c!.subarray(32 * t, 32 * t + 32));
    });
    return [openCoin()];
  }, (phase, from, payload) => {
    // Bound memory: turn a k·E-element correction into E elements as soon as it arrives,
    // provided our base-OT receiver step for that owner has run (it has for any honest owner).
    if (phase !== "input.cope" || !copeRecv.has(from)) return payload;
    receiveCorrection(from, payload);
    return new Uint8Array(0);
  });
  // 4: coin A → Fig. 7 check value y, and either the first late input (validation) or the sum opening.
  push("coin.A", ["coin.open"], (box) => {
    seedA = nextCoin(box);
    const r = expandSeed(f, seedA, "input-check", E);
    yMacs = shares.map((s) => inputCheckMac(f, s, r));
    myY = inputCheckValue(f, ext, r);
    const out = [bcast("input.y", enc1(myY))];
    if (!plan.active) {
      mySum = sumShare();
      out.push(bcast("open.sum", f.encode(mySum.value)));
      return out;
    }
    R = plan.coinVectors(seedA);
    // Late inputs via masks. With a projection or PINE: only the values that depend on R or z
    // (slack bits; success and window bits), and γ comes from coin G once every owner's are
    // fixed. Without: γ is coin A's
    // (every folded value was fixed at step 2) and the product proof goes out now.
    if (foldCoin) {
      lateProj[me] = plan.lateInput(full, f.slice(ext, D + plan.auxLength, D + plan.auxLength + PM), R);
      out.push(bcast("input.mask", f.encode(lateProj[me]!)));
      return out;
    }
    seedFold = seedA;
    lateE[me] = proofLateInput(f.zeros(0));
    out.push(bcast("input.mask", f.encode(lateE[me]!)));
    return out;
  });
  /**
   * Our product proof for the gadget inputs (c∘left, right) under the fold coefficients γ
   * (already drawn), as the late input e_H = H − masks; returns [eProj | e_H].
   */
  const proofLateInput = (eProj: FieldVec): FieldVec => {
    const masks = f.slice(ext, D + plan.auxLength, D + plan.auxLength + plan.maskLength);
    const clear = plan.operands({ field: f, me: 0, alpha: 0n }, { value: ext, mac: f.zeros(E) }, R);
    const h = proveProducts(f, shape!, f.mul(clear.left.value, plan.productCoefficients(gammaOf(me))), clear.right.value);
    return f.concat([eProj, f.sub(h, f.slice(masks, PM, plan.maskLength))]);
  };
  const collectY = (box: Inbox): void => {
    const ys = box.get("input.y")!;
    const yv: bigint[] = [];
    for (let j = 0; j < n; j++) yv.push(j === me ? myY : f.get(decodeVec(f, ys[j]!, 1, j, "input.y"), 0));
    batch.add(f.fromBigInts(yv), f.fromBigInts(yMacs));
  };
  if (!plan.active) {
    push("open.sum", ["input.y", "open.sum"], (box) => {
      collectY(box);
      openedSum = openValues(f, mySum!.value, box.get("open.sum")!, me, "open.sum");
      batch.add(openedSum, mySum!.mac);
      return [openCoin()];
    });
  } else {
    const PL = shape!.length;
    if (foldCoin) {
      // 4a: every owner's projection slack bits are fixed; open coin G (the fold coefficients).
      push("slack", ["input.y", "input.mask"], (box) => {
        collectY(box);
        for (const j of peers) lateProj[j] = decodeVec(f, box.get("input.mask")![j]!, PM, j, "input.mask");
        return [openCoin()];
      });
      // 4b: coin G → γ; our product proof under γ.
      push("coin.G", ["coin.open"], (box) => {
        seedFold = nextCoin(box);
        lateE[me] = proofLateInput(lateProj[me]!);
        return [bcast("input.mask", f.encode(f.slice(lateE[me]!, PM, plan.maskLength)))];
      });
      // 5: every owner's proof is in; open coin C (the proof challenges).
      push("proof", ["input.mask"], (box) => {
        for (const j of peers) lateE[j] = f.concat([lateProj[j]!, decodeVec(f, box.get("input.mask")![j]!, PL, j, "input.mask")]);
        return [openCoin()];
      });
    } else {
      // 5: every owner's late inputs are in; open coin C (the proof challenges).
      push("proof", ["input.y", "input.mask"], (box) => {
        collectY(box);
        for (const j of peers) lateE[j] = decodeVec(f, box.get("input.mask")![j]!, plan.maskLength, j, "input.mask");
        return [openCoin()];
      });
    }
    // 6: coin C → each owner's proof queried at r_1..r_Q (linear); Beaver for A_i(r_k)·B_i(r_k).
    push("coin.C", ["coin.open"], (box) => {
      const seedC = nextCoin(box);
      const ch = f.toBigInts(expandSeed(f, seedC, "validation/product-proof", 2 * Q));
      const rs = Array.from({ length: Q }, (_, k) => ch[2 * k]!);
      mus = Array.from({ length: Q }, (_, k) => ch[2 * k + 1]!);
      const lefts: AuthShare[] = [], rights: AuthShare[] = [];
      for (let j = 0; j < n; j++) {
        const o = plan.operands(ctxOf(), shares[j]!, R);
        const c = plan.productCoefficients(gammaOf(j));
        const a = { value: f.mul(o.left.value, c), mac: f.mul(o.left.mac, c) };
        const hShare = inputViaMask(ctxOf(), sliceShare(f, masksOf(shares[j]!), PM, plan.maskLength), f.slice(lateE[j]!, PM, plan.maskLength));
        queries[j] = rs.map((r) => queryProducts(f, shape!, a, o.right, hShare, r));
        for (const q of queries[j]!) { lefts.push(q.ar); rights.push(q.br); }
      }
      layer1 = beaverMasks(f, sumConcat(f, lefts), sumConcat(f, rights), sliceTriples(f, triples!, 0, n * QS));
      return [bcast("mult.open", f.encode(f.concat([layer1.eps.value, layer1.delta.value])))];
    });
    // 7: layer 1 opened → z_j = fold(terms) with Σ_t c_t·prod_t = Σ_{l≤L} H_j(l), plus Σ_k μ_k·(H_j(r_k) − Σ_i A_i(r_k)·B_i(r_k)); Beaver for ρ_j·z_j.
    push("layer1", ["mult.open"], (box) => {
      const opened = openValues(f, f.concat([layer1!.eps.value, layer1!.delta.value]), box.get("mult.open")!, me, "mult.open");
      const eps = f.slice(opened, 0, n * QS), delta = f.slice(opened, n * QS, 2 * n * QS);
      batch.add(eps, layer1!.eps.mac);
      batch.add(delta, layer1!.delta.mac);
      const prods = beaverFinish(ctxOf(), sliceTriples(f, triples!, 0, n * QS), eps, delta);
      const noProducts = { value: f.zeros(P), mac: f.zeros(P) };
      const zs: AuthShare[] = [];
      for (let j = 0; j < n; j++) {
        const qs = queries[j]!;
        const terms = plan.terms(ctxOf(), shares[j]!, noProducts, f.slice(lateE[j]!, 0, PM), R);
        const folded = foldTerms(f, terms, gammaOf(j));
        let value = f.get(folded.value, 0) + f.get(qs[0]!.sum.value, 0);
        let mac = f.get(folded.mac, 0) + f.get(qs[0]!.sum.mac, 0);
        qs.forEach((q, k) => {
          const pj = sliceShare(f, prods, (j * Q + k) * S, (j * Q + k + 1) * S);
          value += mus[k]! * (f.get(q.hr.value, 0) - f.sum(pj.value));
          mac += mus[k]! * (f.get(q.hr.mac, 0) - f.sum(pj.mac));
        });
        zs.push({ value: f.fromBigInts([mod(value, f.p)]), mac: f.fromBigInts([mod(mac, f.p)]) });
      }
      const z = sumConcat(f, zs);
      const rho = sliceTriples(f, triples!, n * QS, n * QS + n).a;
      layer2 = beaverMasks(f, rho, z, sliceTriples(f, triples!, n * QS + n, n * QS + 2 * n));
      return [bcast("mult.open", f.encode(f.concat([layer2.eps.value, layer2.delta.value])))];
    });
    // 8: w_j = ρ_j·z_j, opened.
    push("layer2", ["mult.open"], (box) => {
      const opened = openValues(f, f.concat([layer2!.eps.value, layer2!.delta.value]), box.get("mult.open")!, me, "mult.open");
      const eps = f.slice(opened, 0, n), delta = f.slice(opened, n, 2 * n);
      batch.add(eps, layer2!.eps.mac);
      batch.add(delta, layer2!.delta.mac);
      w = beaverFinish(ctxOf(), sliceTriples(f, triples!, n * QS + n, n * QS + 2 * n), eps, delta);
      return [bcast("valid.open", f.encode(w.value))];
    });
    // 9: pass/fail bits; open coin B.
    push("valid", ["valid.open"], (box) => {
      const opened = openValues(f, w!.value, box.get("valid.open")!, me, "valid.open");
      batch.add(opened, w!.mac);
      excluded = [];
      for (let j = 0; j < n; j++) if (f.get(opened, j) !== 0n) excluded.push(j);
      return [openCoin()];
    });
    push("coin.B", ["coin.open"], (box) => [macCommit(nextCoin(box))]);
    // 11: with noise, the sign coin S is opened here, with σ already committed: every input,
    // noise vector and the exclusion decision are fixed, so r cannot steer any of them (a party
    // can still refuse to go on after seeing r, but only by a named fault: docs/dp.md).
    push("maccheck.commit", [MACCHECK_COMMIT], (box, idx) => (noised ? [...macOpen(box, idx), openCoin()] : macOpen(box, idx)));
    // 12: validation openings verified; open the sum of the inputs that passed (noised: signs from coin S).
    push("maccheck.open", noised ? [MACCHECK_OPEN, ECHO_PHASE, "coin.open"] : [MACCHECK_OPEN, ECHO_PHASE], (box) => {
      macVerify(box);
      if (noised) signs = signVector(f, nextCoin(box), d);
      mySum = sumShare();
      return [bcast("open.sum", f.encode(mySum.value))];
    });
    push("open.sum", ["open.sum"], (box) => {
      openedSum = openValues(f, mySum!.value, box.get("open.sum")!, me, "open.sum");
      batch.add(openedSum, mySum!.mac);
      return [openCoin()];
    });
  }
  push("coin.final", ["coin.open"], (box) => [macCommit(nextCoin(box))]);
  push("maccheck.commit.final", [MACCHECK_COMMIT], (box, idx) => macOpen(box, idx));
  push("maccheck.open.final", [MACCHECK_OPEN, ECHO_PHASE], (box, idx) => {
    macVerify(box);
    transcript.closeThrough(idx);
    done({ sum: openedSum!, excluded: [...excluded], transcriptHash: transcript.digest(), ...(signs ? { signs: f.toBigInts(signs).map((v) => (v === 1n ? 1 : -1)) } : {}) });
    return [];
  });

  return { steps, start, offline, tripleCount };
}

/** The test dealer as pre-seeded COPE: both keys for our input, the α-chosen ones for the peers'. */
function dealerSeeds(dealer: CopeDealer, me: number, alpha: bigint, k: number): InputCopeSeeds {
  const choices = alphaBits(alpha, k);
  return {
    sender: (j) => dealer(me, j),
    receiver: (i) => {
      const { k0, k1 } = dealer(i, me);
      return { delta: alpha, kDelta: Array.from({ length: k }, (_, l) => (choices[l] ? k1[l]! : k0[l]!)) };
    },
  };
}

function makeOfflineOrThrow(make: ((count: number) => OfflineSource) | undefined, count: number): OfflineSource {
  if (!make) throw new RangeError(`validated mode with predicates needs ${count} triples but no offline phase is available`);
  return make(count);
}

/** Concatenates per-owner shares into one vector. */
function sumConcat(f: Field, xs: AuthShare[]): AuthShare {
  return { value: f.concat(xs.map((x) => x.value)), mac: f.concat(xs.map((x) => x.mac)) };
}
