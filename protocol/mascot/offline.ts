/**
 * The MASCOT offline phase as a message-driven party (Keller–Orsini–Scholl, CCS 2016):
 * MAC-key shares α_i, pairwise base OTs for the OT extension — SoftSpokenOT (Roy, CRYPTO 2022;
 * softspoken.ts, k = SS_DEFAULT_K unless `softspokenK` says otherwise; the only OT extension:
 * KOS15 was removed, docs/mascot.md) — whose OTs serve COPE (Fig. 4, over digits of α: digit-cope.ts) and the Gilboa products, and
 * `count` authenticated triples by Fig. 9 (Multiply → Combine → Authenticate → Sacrifice).
 *
 * ## Usage (for party.ts / online.ts)
 * ```ts
 * const off = new OfflineParty({ field, parties: n, me, sessionId, count }, rng);
 * send(off.start());                     // OutboundMessage[] ({to, phase, payload})
 * on inbound m (phase starts with "offline."): send(off.receive(m));  // may throw ProtocolAbort
 * when off.done: off.alpha() → α_i (bigint), off.triples() → { a, b, c } AuthShare, length count
 * ```
 * Faster, same bytes: `await off.receiveAsync(m)` precomputes each batch's PRG streams and
 * the OT extension's fixed-key-AES hashing with WebCrypto (bulk, native AES) instead of sync noble AES;
 * use it wherever the caller can await (benchmarks use it via runOfflineInMemoryAsync).
 * `off.bytesSent` counts payload bytes sent (a broadcast once per recipient).
 * `OfflineParty` structurally implements online.ts's `OfflineSource`. Every phase name starts
 * with "offline.". The steps (setup1..3; per batch: start, then the nine message steps
 * below) run on the shared step driver (step-driver.ts): each sender's phases must come in
 * the order it sends them (else "unexpected-message"; a phase it already sent in the current
 * setup block or batch: "replay"); messages of later steps are buffered. Each batch's state
 * is a record tagged with the step that takes it next (`BatchState`), used once. Sequence
 * numbers are the caller's business (party.ts / the relay). testing/transport.ts's
 * `runOfflineInMemory` runs n parties in one process (tests, benchmarks).
 *
 * ## Message flow (per ordered pair S → R, S = OT-extension sender; "bcast" = to "all")
 * setup1  R → S: A_0 ‖ A_1 ‖ tag    (base-OT sender message, McQuoid–Rosulek–Roy POPF-OT on X25519,
 *                                     base-ot-mrr.ts; tag ≠ 0 offers the SoftSpokenOT state kept
 *                                     from an earlier session, KeptOtStore, at its position keptTag)
 * setup2  S → R: φ_1..φ_128 | "reuse" (base-OT choice bits = S's Δ; "reuse" if S holds the offered
 *                                     state at the same position). Fresh base OTs key this
 *                                     session's GGM trees with H(k ‖ sid) (ssReceiverSetup /
 *                                     ssSenderSetup); a reused state continues its streams.
 *         receiveAsync runs the base-OT X25519 multiplications of all peers at once on the async
 *         backend (node:crypto in Node, WebCrypto in workerd/browsers); receive() on the sync one
 *         (node:crypto, else noble): same messages, same keys (protocol/crypto/x25519.ts).
 * setup3  R → S: [SoftSpokenOT: R's GGM-tree setup message under this session's keys H(k ‖ sid),
 *         softspoken.ts; absent when a kept state is reused] ‖ OT extend for k OTs with choice
 *         bits = bits of R's α: the COPE Initialize OTs (Fig. 4) come from the OT extension, as
 *         in MP-SPDZ. When the offline phase has finished, each public-key direction's state
 *         goes back to the store for the next session with that peer (keepWhenDone).
 *
 * ## One public-key direction per pair (`derivedBaseOts`, default)
 * Only the extension with the lower index as sender (S = lo, R = hi) runs the steps above on
 * public-key base OTs. In setup3 hi extends κ more OTs with choice bits = a fresh Δ' of its
 * own: lo's (v0, v1) and hi's v_{Δ'} of those OTs are the base OTs of the extension hi → lo
 * (S = hi, R = lo): lo holds both keys of each, hi the key its Δ' bit chose — exactly what
 * a base OT gives (the extension's outputs realise random OT with chosen choice bits;
 * SoftSpokenOT's checks cover the extra OTs like the others). lo then sends that
 * direction's setup3 (GGM trees ‖ COPE extend) ahead of its batch-0 `kos` message, so there
 * is no extra message round; the other setup messages of the derived direction are empty.
 * Public-key work per pair halves; with count > 0 the derived base is fresh every session (Δ'
 * too) and never kept.
 * With count = 0 there is no batch to carry it: a pair is derived only when it is new to both
 * sides (neither offers a kept state in setup1: both decide alike from the two offers), lo
 * sends the derived direction's setup in a step of its own (setup4; empty for every other
 * pair), and both directions are kept afterwards (the derived one named H(tag ‖ public-key
 * base tag), derivedTag). A first meeting thus pays half the public-key work for one more
 * message round; a pair with a kept state on either side does not derive (its missing
 * directions run public-key base OTs).
 *
 * per batch b of m ≤ batchSize triples, phases "offline.<b>.<step>":
 *  kos     OT-extension message (SoftSpokenOT; the phase keeps its historical name) for the k·m·τ
 *          Gilboa OTs, choice bits = bits of my a  (Fig. 9 Multiply;
 *          τ = combineTau(field): 4 for m61, 3 for p128, for ≥ 2^-60 triple privacy, triples.ts)
 *  coins   bcast: commitments to three coin-toss seeds
 *  gilboa  d = m0 − m1 + b for each OT (b = my b_t for the peer's a_{t,l})         (Fig. 9 Multiply)
 *  coin1   bcast: opening → r, r̂                                                    (Fig. 9 Combine)
 *  cope    COPE corrections for X = (x0, a, b, c, â, ĉ) under the peer's α, over 2^w-ary digits
 *          of α (digit-cope.ts, w = DIGIT_COPE_WIDTH); batch 0's message starts with the
 *          GGM setup (32·k bytes)                                                    (Fig. 9 Authenticate, Fig. 4)
 *  coin2   bcast: opening → input-check coefficients, sacrifice t                   (Π_[[·]] check, Fig. 9 Sacrifice)
 *  open    bcast: y_i = x0 + Σ r_h X_h and my share of ρ = t·a − â
 *  coin3   bcast: opening → MAC-check coefficients                                   (Fig. 10 MACCheck)
 *  sigma.commit / sigma.open   bcast: σ_cope, σ_sac committed then opened; accept iff both sums are 0
 * Aborts: "ot-check-failed" (OT-extension checks: SoftSpokenOT's PPRF and consistency checks), "cope-check-failed" (input/COPE check), "sacrifice-failed",
 * "commitment-mismatch", "bad-encoding", "replay", "unexpected-message".
 */
import type { Field, FieldVec } from "../field/types.ts";
import { sha256 } from "./hash.ts";
import type { CopeReceiverSeeds, CopeSenderSeeds, InputCopeSeeds } from "./input.ts";
import type { Rng } from "../rng.ts";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import { coinCommit, coinFinish, coinOpenPayload, type CoinState } from "./coin-toss.ts";
import { commit, verifyCommitment } from "../crypto/commitment.ts";
import {
  deltaBits, DIGIT_COPE_WIDTH, digitCopeReceiverExtend, digitCopeReceiverFromOts, digitCopeSenderExtend, digitCopeSenderFromOts,
  digitCopeSetupLength, digitCopeStreams, type DigitCopeReceiverState, type DigitCopeSenderState,
} from "./digit-cope.ts";
import { mrrReceive, mrrReceiveAsync, mrrSenderFinish, mrrSenderFinishAsync, mrrSenderStart, MRR_RECEIVER_BYTES_PER_OT, MRR_SENDER_MESSAGE_BYTES, type MrrPrepared, type MrrSenderState } from "./base-ot-mrr.ts";
import { ProtocolAbort } from "./errors.ts";
import { type KosReceiverBase, type KosSenderBase, KAPPA, paddedCount } from "./ot-extension.ts";
import {
  SS_DEFAULT_K, ssBlockSizes, ssMessageLength, ssPrefetchStreams, ssReceiverCorrections, ssReceiverExtend, ssReceiverFinish, ssReceiverFinishAsync,
  ssReceiverSetup, ssSenderExtend, ssSenderExtendAsync, ssSenderSetup, ssSetupMessageLength, ssStreams, type SsReceiverPart, type SsReceiverState, type SsSenderState,
} from "./softspoken.ts";
import { Prg } from "./prg.ts";
import { StepDriver } from "./step-driver.ts";
import type { InboundMessage, Inbox, OutboundMessage, Step } from "./types.ts";
import type { AuthShare } from "./shares.ts";
import { combine, combineTau, gather, gilboaBlocks, gilboaChoices, gilboaReceiver, gilboaSender, sacrificeRho, sacrificeZero, type TripleShares } from "./triples.ts";

export type OfflineOutbound = OutboundMessage;
export type OfflineInbound = InboundMessage;

export interface OfflineConfig {
  field: Field;
  parties: number;
  me: number;
  /** Binds job/round/attempt; every OT and hash is domain-separated by it. */
  sessionId: Uint8Array;
  /** Triples to produce (0 allowed: then only α_i and the setup). */
  count: number;
  /** Triples per batch (default 1024). */
  batchSize?: number;
  /**
   * SoftSpokenOT's k (bits per small-field VOLE, 2..8; default SS_DEFAULT_K), the OT extension
   * of every OT of the offline phase (COPE Initialize and Gilboa). All parties must use the same.
   */
  softspokenK?: number;
  /**
   * Public-key base OTs for one direction per pair only (default true): the OT extension with
   * the lower-indexed party as sender runs on public-key base OTs, and the other direction's
   * κ base OTs are κ more OTs of that extension (see the module comment; with count = 0 only
   * for pairs new to both sides). All parties must use the same setting.
   */
  derivedBaseOts?: boolean;
}

/**
 * One batch's state, tagged with the step that takes it next (Fig. 9 Multiply → Combine →
 * Authenticate → Sacrifice, Fig. 10 MACCheck). A step takes the record of its own stage once
 * (OfflineParty.take) and leaves the next one, without what later steps do not need.
 */
interface BatchCoins { m: number; coins: CoinState[]; coinCommits: Uint8Array[][] /* [coin][party] */ }
interface BatchTriple { m: number; A: AuthShare; B: AuthShare; C: AuthShare }
type BatchState =
  | (BatchCoins & { stage: "kos"; a: FieldVec; b: FieldVec; kosOut: Uint8Array[] })
  | (BatchCoins & { stage: "gilboa"; a: FieldVec; b: FieldVec; kosOut: Uint8Array[]; cProd: FieldVec })
  | (BatchCoins & { stage: "coin1"; a: FieldVec; b: FieldVec; cProd: FieldVec })
  | (BatchCoins & { stage: "cope"; X: FieldVec; macOwn: FieldVec })
  | (BatchCoins & { stage: "coin2"; X: FieldVec; macOwn: FieldVec; macOf: FieldVec[] })
  | (BatchCoins & BatchTriple & { stage: "open"; macOwn: FieldVec; macOf: FieldVec[]; rr: FieldVec; tt: FieldVec; CH: AuthShare; yMe: bigint; rho: AuthShare })
  | (BatchCoins & BatchTriple & { stage: "coin3"; rho: AuthShare; rhoOpen: FieldVec; z: AuthShare; y: FieldVec; gy: FieldVec })
  | (BatchTriple & { stage: "sigma.commit" | "sigma.open"; sigmaOpen: Uint8Array; sigmaCommits: Uint8Array[] });
/** My COPE Initialize extend as OT-extension receiver: the message, my chosen outputs, and a derived direction's fresh Δ'. */
interface ReceiverInit { readonly message: Uint8Array; readonly outputs: Uint8Array; readonly delta2?: Uint32Array }
/** Steps before the first batch (setup1..3), and per batch (start, then the nine message steps). */
const SETUP_STEPS = 3, BATCH_STEPS = 10;
const DERIVED_TAG = utf8("2pm/offline/derived-base/v1");
type Msgs = Array<Uint8Array | undefined>;

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export class OfflineParty {
  private readonly F: Field;
  private readonly n: number;
  private readonly me: number;
  private readonly sid: Uint8Array;
  private readonly count: number;
  private readonly batchSize: number;
  private readonly rng: Rng;
  private readonly alphaShare: bigint;
  private readonly peers: number[];
  /** τ of Fig. 9 Combine for this field (triples.ts combineTau). */
  private readonly tau: number;
  /** The steps (setup1..3, then per batch: start and the nine message steps) on the shared step driver. */
  private readonly driver: StepDriver;
  private batchNo = 0;
  private produced = 0;
  /** The current batch's state record (tagged with the step that takes it next). */
  private batch: BatchState | undefined;
  private results: TripleShares[] = [];
  private aborted = false;
  /** My base-OT sender state towards each peer until setup2 (its A_0 ‖ A_1 names a fresh base: baseTag). */
  private basePending: Array<MrrSenderState | undefined> = [];
  private otR: Array<SsReceiverState | undefined> = [];
  private otS: Array<SsSenderState | undefined> = [];
  /** SoftSpokenOT's k. */
  private readonly ssK: number;
  /** SoftSpokenOT, per peer (me as OT-extension sender): the base kept from setup1 until the peer's setup message (setup3). */
  private ssSenderBase: Array<KosSenderBase | undefined> = [];
  /** COPE (digit-cope.ts) per peer: my sender state, and its GGM setup until it rides on my first `cope` message. */
  private copeS: Array<DigitCopeSenderState | undefined> = [];
  private copeSetupOut: Array<Uint8Array | undefined> = [];
  /** COPE receiver per peer: built from my COPE Initialize OT keys once the peer's setup arrives (batch 0's `cope`). */
  private copeR: Array<DigitCopeReceiverState | undefined> = [];
  private copeKeysR: Array<Uint8Array | undefined> = [];
  private inputSeedsS: Array<CopeSenderSeeds | undefined> = [];
  private readonly baseOts: KeptOtStore | undefined;
  /** Per peer (as OT-extension receiver): the kept state I offered to reuse in setup1, if any (taken from the store: mine alone while this session runs). */
  private offered: Array<KeptReceiver | undefined> = [];
  /** Per peer, the tag of the public-key base OTs my SoftSpokenOT state grew from (as receiver / as sender); none for a derived direction, which is never kept. */
  private baseTagR: Array<Uint8Array | undefined> = [];
  private baseTagS: Array<Uint8Array | undefined> = [];
  /** The states were handed back to the store (once, when the offline phase finished). */
  private keptSaved = false;
  /** Per peer (as OT-extension receiver): what my setup1 extend on the offered state gives me, applied once the peer answers "reuse". */
  private pendingInit: Array<ReceiverInit | undefined> = [];
  /**
   * Peers whose public-key base OTs were reused this session (with derived base OTs each pair
   * has one such direction, counted at both ends; without, ordered pairs with me as receiver).
   */
  reusedBaseOts = 0;
  /** One public-key direction per pair, the lower index's extension as sender (derivedBaseOts and count > 0). */
  private readonly derive: boolean;
  /**
   * One public-key direction per pair that neither side holds anything for (derivedBaseOts and
   * count = 0): decided per pair in setup1, the derived direction's setup goes in setup4.
   */
  private readonly deriveFresh: boolean;
  /** count = 0: pairs (by peer) whose two directions are both fresh, the higher index's as OT-extension sender derived. */
  private derivedPair: boolean[] = [];
  /** Derived direction (me as OT-extension receiver, peer j > me): my setup message for j, sent ahead of batch 0's extension message. */
  private derivedSetup: Array<Uint8Array | undefined> = [];
  /** Derived direction (me as OT-extension sender, peer j < me): j's setup message was consumed (batch 0). */
  private derivedTaken = false;
  private inputSeedsR: Array<CopeReceiverSeeds | undefined> = [];
  /** Payload bytes this party sent (a broadcast counts once per recipient). */
  bytesSent = 0;
  /** {@link bytesSent} per step ("setup1".."setup3", and "kos", "gilboa", … summed over batches). */
  bytesByStep: Record<string, number> = {};

  /** Throws TypeError/RangeError on a bad config. */
  constructor(cfg: OfflineConfig, rng: Rng, opts: { baseOts?: KeptOtStore } = {}) {
    if (!cfg || typeof cfg !== "object" || !cfg.field) throw new TypeError("OfflineParty: cfg.field is required");
    if (!Number.isInteger(cfg.parties) || cfg.parties < 2) throw new RangeError(`OfflineParty: parties must be an integer ≥ 2, got ${cfg.parties}`);
    if (!Number.isInteger(cfg.me) || cfg.me < 0 || cfg.me >= cfg.parties) throw new RangeError(`OfflineParty: me out of range: ${cfg.me}`);
    if (!Number.isSafeInteger(cfg.count) || cfg.count < 0) throw new RangeError(`OfflineParty: count must be a non-negative integer, got ${cfg.count}`);
    if (!(cfg.sessionId instanceof Uint8Array) || cfg.sessionId.length === 0) throw new TypeError("OfflineParty: sessionId must be non-empty bytes");
    const bs = cfg.batchSize ?? 1024;
    if (!Number.isInteger(bs) || bs < 1) throw new RangeError(`OfflineParty: batchSize must be a positive integer, got ${bs}`);
    this.F = cfg.field; this.n = cfg.parties; this.me = cfg.me; this.sid = cfg.sessionId.slice();
    this.count = cfg.count; this.batchSize = bs; this.rng = rng; this.baseOts = opts.baseOts;
    this.ssK = cfg.softspokenK ?? SS_DEFAULT_K;
    ssBlockSizes(this.ssK); // throws RangeError on a bad k
    this.derive = (cfg.derivedBaseOts ?? true) && cfg.count > 0;
    this.deriveFresh = (cfg.derivedBaseOts ?? true) && cfg.count === 0;
    this.alphaShare = this.F.get(this.F.random(1, rng), 0);
    this.tau = combineTau(this.F);
    this.peers = [...Array(this.n).keys()].filter((j) => j !== this.me);
    const steps: Step[] = [];
    const add = (name: string, expect: string[], run: (m: Msgs[]) => OfflineOutbound[], runAsync?: (m: Msgs[]) => Promise<OfflineOutbound[]>): void => {
      const got = (box: Inbox): Msgs[] => expect.map((ph) => box.get(ph)!);
      steps.push({ name, expect, run: (box) => run(got(box)), ...(runAsync ? { runAsync: (box: Inbox) => runAsync(got(box)) } : {}) });
    };
    add("setup1", ["setup1"], ([x]) => this.onSetup1(x!), ([x]) => this.onSetup1Async(x!));
    add("setup2", ["setup2"], ([x]) => this.onSetup2(x!), ([x]) => this.onSetup2Async(x!));
    add("setup3", ["setup3"], ([x]) => this.onSetup3(x!));
    // Without a batch to carry a derived direction's setup, it gets a step of its own.
    if (this.deriveFresh) add("setup4", ["setup4"], ([x]) => this.onSetup4(x!));
    for (let b = 0; b * bs < cfg.count; b++) {
      add("start", [], () => this.startBatch(), async () => { await this.prefetchBatch(); return this.startBatchAsync(); });
      add(`${b}.kos`, [`${b}.kos`, `${b}.coins`], ([k, c]) => this.onKos(k!, c!), ([k, c]) => this.onKosAsync(k!, c!));
      add(`${b}.gilboa`, [`${b}.gilboa`], ([x]) => this.onGilboa(x!));
      // coin1 (COPE sender) and cope (COPE receiver) read the COPE streams: async, native AES-CTR instead of the sync fallback.
      add(`${b}.coin1`, [`${b}.coin1`], ([x]) => this.onCoin1(x!), async ([x]) => { await this.prefetchCopeStreams(true); return this.onCoin1(x!); });
      // (batch 0's cope: the receiver states exist once the peers' COPE setups are taken)
      add(`${b}.cope`, [`${b}.cope`], ([x]) => this.onCope(x!), async ([x]) => { this.takeCopeSetup(x!); await this.prefetchCopeStreams(false); return this.onCope(x!); });
      add(`${b}.coin2`, [`${b}.coin2`], ([x]) => this.onCoin2(x!));
      add(`${b}.open`, [`${b}.open`], ([x]) => this.onOpen(x!));
      add(`${b}.coin3`, [`${b}.coin3`], ([x]) => this.onCoin3(x!));
      add(`${b}.sigma.commit`, [`${b}.sigma.commit`], ([x]) => this.onSigmaCommit(x!));
      add(`${b}.sigma.open`, [`${b}.sigma.open`], ([x]) => this.onSigmaOpen(x!));
    }
    // A phase already received from a sender is a "replay" within the current setup block or
    // batch and later; from an earlier block, "unexpected-message" (stale).
    const setupSteps = this.deriveFresh ? SETUP_STEPS + 1 : SETUP_STEPS;
    const blockStart = (k: number): number => (k < setupSteps ? 0 : k - ((k - setupSteps) % BATCH_STEPS));
    this.driver = new StepDriver(this.n, this.me, steps, { label: "offline: ", replaysFrom: () => blockStart(this.driver.index) });
  }

  /** The current batch's state, which must be at `stage`; taken (a record is used once). Throws Error otherwise (a bug). */
  private take<K extends BatchState["stage"]>(stage: K): BatchState & { stage: K } {
    const B = this.batch;
    if (B?.stage !== stage) throw new Error(`OfflineParty: step ${stage} found the batch at ${B?.stage ?? "no batch"}`);
    this.batch = undefined;
    return B as BatchState & { stage: K };
  }

  get done(): boolean { return this.driver.current === undefined; }
  /** Current step: "setup1".."setup3", "start" (a batch is about to begin), "<batch>.<step>", "done" or "aborted". */
  get phase(): string { return this.aborted ? "aborted" : this.driver.current?.name ?? "done"; }
  /** α_i, this party's MAC-key share. Available from construction. */
  alpha(): bigint { return this.alphaShare; }
  /**
   * COPE seeds for the online phase's authenticated inputs (online.ts), derived from this
   * session's COPE Initialize OTs: for each key bit ℓ, H("…/input-cope-seed/v1" ‖ k_ℓ) of
   * the OT output k_ℓ. Hashing random-OT outputs gives random OTs with the same choice bits
   * (the bits of α), independent of the offline COPE streams in the random-oracle model, so
   * the online input needs no base OTs of its own. Throws Error before done.
   */
  inputCopeSeeds(): InputCopeSeeds {
    if (!this.inputReady()) throw new Error("OfflineParty.inputCopeSeeds: COPE Initialize not finished with every peer");
    const pick = <T>(xs: Array<T | undefined>, j: number, what: string): T => {
      const v = xs[j];
      if (!v) throw new RangeError(`inputCopeSeeds: no ${what} seeds for party ${j}`);
      return v;
    };
    return {
      sender: (j) => pick(this.inputSeedsS, j, "sender"),
      receiver: (i) => pick(this.inputSeedsR, i, "receiver"),
      receiverReady: (i) => this.inputSeedsR[i] !== undefined,
    };
  }
  /**
   * True once {@link inputCopeSeeds} can be called: the COPE Initialize OTs with me as the
   * OT-extension sender are done with every peer, so my input can go out (after setup3; with a
   * kept state, after setup1; with derived base OTs, as the sender of a derived direction, after
   * batch 0's extension message). My receiver side towards peer i is done by the time i's
   * input can arrive: i sends it after its setup2 to me, whose step completes that side
   * (`receiverReady`). From then on the online input can run while the rest of the offline phase
   * (its last setup messages, the triples) is still under way (party.ts overlaps them).
   */
  inputReady(): boolean {
    return this.peers.every((j) => this.inputSeedsS[j] !== undefined);
  }
  /**
   * Peers whose messages the current stage still lacks (empty when done, or between stages):
   * what a driver names when the offline phase times out.
   */
  get waitingFor(): number[] {
    return this.aborted ? [] : this.driver.waitingFor();
  }
  /** The `count` triples. Throws Error before done. */
  triples(): TripleShares {
    if (!this.done) throw new Error("OfflineParty.triples: offline phase not finished");
    const F = this.F;
    const cat = (k: "a" | "b" | "c"): AuthShare => ({ value: F.concat(this.results.map((t) => t[k].value)), mac: F.concat(this.results.map((t) => t[k].mac)) });
    return { a: cat("a"), b: cat("b"), c: cat("c") };
  }

  /** Pair session id: binds the session, the ordered pair (sender-of-key-material, other) and the purpose. */
  private pairSid(purpose: string, from: number, to: number): Uint8Array {
    return concatBytes(utf8(`2pm/offline/${purpose}/`), this.sid, u32(from), u32(to));
  }

  private out(to: number | "all", phase: string, payload: Uint8Array): OfflineOutbound {
    const len = to === "all" ? payload.length * (this.n - 1) : payload.length;
    this.bytesSent += len;
    const step = phase.slice(phase.indexOf(".") + 1);
    this.bytesByStep[step.startsWith("setup") ? phase : step] = (this.bytesByStep[step.startsWith("setup") ? phase : step] ?? 0) + len;
    return { to, phase: `offline.${phase}`, payload };
  }

  /** Does the OT extension with sender S and receiver R run on public-key base OTs (else on OTs of the R → S extension)? */
  private publicKey(S: number, R: number): boolean {
    if (this.deriveFresh) return !(this.derivedPair[S === this.me ? R : S] === true && S > R);
    return !this.derive || S < R;
  }

  /** Setup step 1: base-OT first messages to every peer. */
  start(): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      // j = OT-extension sender (base-OT receiver), me = OT-extension receiver (base-OT sender).
      if (!this.publicKey(j, this.me)) { outs.push(this.out(j, "setup1", new Uint8Array(0))); continue; }
      const k = mrrSenderStart(baseOtSid(this.pairSid("kos", j, this.me)), this.rng);
      this.basePending[j] = k.state;
      // A_0 ‖ A_1 ‖ tag [‖ extend]: the tag offers a SoftSpokenOT state kept from an earlier
      // session with j (zeros: none). With an offer, the COPE Initialize extend on that state
      // rides along at once: if j holds the same state it is done with this direction one
      // message round after the start, else it answers with fresh base OTs and the extend is void.
      const offered = this.baseOts?.receiver(j);
      this.offered[j] = offered;
      if (!offered) { outs.push(this.out(j, "setup1", concatBytes(k.message, new Uint8Array(32)))); continue; }
      const init = this.receiverInit(j, offered.state);
      this.pendingInit[j] = init;
      outs.push(this.out(j, "setup1", concatBytes(k.message, offered.tag, init.message)));
    }
    return outs;
  }

  /** Handles one inbound offline message; returns what to send. Throws ProtocolAbort on a fault. */
  receive(m: OfflineInbound): OfflineOutbound[] {
    try {
      this.accept(m);
      const outs: OfflineOutbound[] = [];
      while (this.driver.ready) outs.push(...this.driver.run());
      this.keepWhenDone();
      return outs;
    } catch (e) {
      throw this.fail(e);
    }
  }

  /**
   * Like {@link receive}, but before each batch precomputes that batch's PRG streams (COPE
   * and OT-extension streams) with WebCrypto AES-CTR, which is several times faster than the sync
   * AES, and runs the base OTs on the async X25519 backend. Output and messages are identical to the sync path.
   */
  async receiveAsync(m: OfflineInbound): Promise<OfflineOutbound[]> {
    try {
      this.accept(m);
      const outs: OfflineOutbound[] = [];
      while (this.driver.ready) outs.push(...(await this.driver.runAsync()));
      this.keepWhenDone();
      return outs;
    } catch (e) {
      throw this.fail(e);
    }
  }

  /**
   * Once the offline phase has finished (every Extend with every peer done and checked), hands
   * each public-key direction's SoftSpokenOT state back to the store, named by its position
   * ({@link keptTag}), for the next session with that peer. An aborted phase never gets here:
   * the states it took from the store are dropped with it.
   */
  private keepWhenDone(): void {
    if (!this.done || this.keptSaved || !this.baseOts) return;
    this.keptSaved = true;
    for (const j of this.peers) {
      const r = this.otR[j], tr = this.baseTagR[j];
      if (r && tr) this.baseOts.saveReceiver(j, { tag: keptTag(tr, r.k, r.counter), baseTag: tr, state: r });
      const s = this.otS[j], ts = this.baseTagS[j];
      if (s && ts) this.baseOts.saveSender(j, { tag: keptTag(ts, s.k, s.counter), baseTag: ts, state: s });
    }
  }

  /** An abort ends the party: every later call aborts "unexpected-message". Returns `e`. */
  private fail(e: unknown): unknown { if (e instanceof ProtocolAbort) this.aborted = true; return e; }

  /** Precomputes every PRG stream the next batch reads (WebCrypto). No-op when done. */
  async prefetchBatch(): Promise<void> {
    if (this.produced >= this.count || this.driver.index < SETUP_STEPS) return;
    const F = this.F, m = Math.min(this.batchSize, this.count - this.produced);
    const colBytes = paddedCount(F.bits * m * this.tau) / 8, copeBytes = (5 * m + 1) * F.byteLength;
    const jobs: Promise<void>[] = [];
    for (const j of this.peers) {
      // (A derived direction's sender side exists only once batch 0's message arrived.)
      for (const p of ssStreams(this.otR[j]!)) jobs.push(p.prefetch(colBytes));
      if (this.otS[j]) for (const p of ssStreams(this.otS[j])) jobs.push(p.prefetch(colBytes));
      for (const p of this.copeStreams(j)) jobs.push(p.prefetch(copeBytes));
    }
    await Promise.all(jobs);
  }

  /**
   * Makes the COPE streams the next step reads available from WebCrypto (Prg.prefetch: what
   * the batch start already reserved in the background is awaited, the rest — e.g. a derived
   * direction's streams, which exist only once batch 0's message arrived — computed now).
   * `sender`: the streams coin1's Extend reads (my X under each peer's α); else cope's (each
   * peer's X under my α). Same bytes as the sync path.
   */
  private async prefetchCopeStreams(sender: boolean): Promise<void> {
    const copeBytes = (5 * this.batch!.m + 1) * this.F.byteLength;
    const jobs: Promise<void>[] = [];
    for (const j of this.peers) {
      const st = sender ? this.copeS[j] : this.copeR[j];
      for (const p of st ? digitCopeStreams(st) : []) jobs.push(p.prefetch(copeBytes));
    }
    await Promise.all(jobs);
  }

  /** The COPE leaf streams of both directions with peer j that exist so far (the receiver's only once j's setup arrived). */
  private copeStreams(j: number): Prg[] {
    const s = this.copeS[j], r = this.copeR[j];
    return [...(s ? digitCopeStreams(s) : []), ...(r ? digitCopeStreams(r) : [])];
  }

  /** My COPE sender state towards j from the COPE Initialize OTs (I hold both keys); its setup waits for my first `cope` message. */
  private initCopeSender(j: number, k0: Uint8Array, k1: Uint8Array): void {
    if (this.count === 0) return; // no triple to authenticate: the online input has its own COPE (inputCopeSeeds)
    const { state, setup } = digitCopeSenderFromOts(this.F, DIGIT_COPE_WIDTH, k0, k1);
    this.copeSetupFault(setup);
    this.copeS[j] = state;
    this.copeSetupOut[j] = setup;
  }

  /**
   * Batch 0's `cope` messages (in place): strips each peer's COPE setup from the front and
   * builds my receiver state from it. Idempotent (a peer whose state exists is skipped).
   * Throws ProtocolAbort "bad-encoding" naming the peer if the message is too short for it
   * (digitCopeReceiverFromOts checks the setup's length; the Extend, the corrections').
   */
  private takeCopeSetup(msgs: Array<Uint8Array | undefined>): void {
    const head = digitCopeSetupLength(this.F);
    for (const j of this.peers) {
      if (this.copeR[j] || msgs[j] === undefined) continue;
      const msg = msgs[j]!;
      this.copeR[j] = digitCopeReceiverFromOts(this.F, DIGIT_COPE_WIDTH, this.alphaShare, this.copeKeysR[j]!, msg.subarray(0, head), j);
      this.copeKeysR[j] = undefined;
      msgs[j] = msg.subarray(head);
    }
  }

  /** Validates one inbound message and hands it to the step driver (which checks its phase against the sender's sequence). */
  private accept(m: OfflineInbound): void {
    if (this.aborted) throw new ProtocolAbort("unexpected-message", [], "offline phase already aborted");
    const from = m.from;
    if (!Number.isInteger(from) || from < 0 || from >= this.n || from === this.me) throw new ProtocolAbort("unexpected-message", [], `offline: unknown sender ${String(from)}`);
    if (!(m.payload instanceof Uint8Array) || typeof m.phase !== "string" || !m.phase.startsWith("offline.")) {
      throw new ProtocolAbort("unexpected-message", [from], `offline: unexpected phase ${String(m.phase)}`);
    }
    if (this.done) throw new ProtocolAbort("unexpected-message", [from], `offline: ${m.phase} after the offline phase ended`);
    this.driver.accept(from, m.phase.slice("offline.".length), m.payload);
  }

  // ------------------------------------------------------------------ setup
  /**
   * Setup step 2 (me = OT-extension sender, base-OT receiver with choice bits Δ), per peer in
   * order: checks the length, answers "reuse" to an offered base I hold, else draws Δ and runs
   * the base-OT receiver through `receive` (sync or native). Errors are kept per peer so that
   * both paths report the first failing peer's.
   */
  private planSetup1<R>(msgs: Array<Uint8Array | undefined>, receive: (sid: Uint8Array, choices: Uint8Array, A: Uint8Array, j: number, pre?: MrrPrepared[]) => R, lazy?: (e: unknown) => R): Array<{ j: number; kept?: KeptSender; ext?: Uint8Array; A?: Uint8Array; delta?: Uint32Array; ot?: R; none?: true }> {
    return perPeer<number, { j: number; kept?: KeptSender; ext?: Uint8Array; A?: Uint8Array; delta?: Uint32Array; ot?: R; none?: true }>(this.peers, lazy !== undefined, (j) => {
      const p = msgs[j]!;
      if (!this.publicKey(this.me, j)) {
        if (p.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup1: expected an empty message (derived base OTs)");
        return { j, none: true };
      }
      const head = MRR_SENDER_MESSAGE_BYTES + 32;
      const offer = p.subarray(MRR_SENDER_MESSAGE_BYTES, Math.min(head, p.length));
      const offers = offer.some((b) => b !== 0);
      const want = head + (offers ? ssMessageLength(this.ssK, this.setup3Ots(this.me, j)) : 0);
      if (p.length !== want) throw new ProtocolAbort("bad-encoding", [j], `offline setup1: expected ${want} bytes`);
      // Taken from the store either way: a kept state that the peer does not offer is out of step with its copy and is dropped.
      const kept = this.baseOts?.sender(j);
      // Both sides still hold the same state at the same position: no public-key operation and no GGM setup this
      // session; the peer's COPE Initialize extend on it came with the offer.
      if (kept && offers && bytesEqual(kept.tag, offer)) return { j, kept, ext: p.subarray(head) };
      // Neither of us holds anything for the pair (j offered nothing, nor did I): one direction on
      // public-key base OTs, the other derived from it (setup4). Both sides decide alike from
      // the same two offers. If mine (me as OT-extension sender) is the derived one, j's A is unused.
      if (this.deriveFresh && !offers && !this.offered[j]) {
        this.derivedPair[j] = true;
        if (!this.publicKey(this.me, j)) return { j, none: true };
      }
      const delta = new Uint32Array(this.rng.bytes(KAPPA / 8).slice().buffer);
      const choices = deltaChoices(delta);
      const A = p.subarray(0, MRR_SENDER_MESSAGE_BYTES);
      // The receiver halves prepared in idle time, if the store has them (else computed here).
      return { j, A, delta, ot: receive(baseOtSid(this.pairSid("kos", this.me, j)), choices, A, j, this.baseOts?.prepared?.(KAPPA)) };
    }, (j, e) => ({ j, ot: lazy!(e) }));
  }

  private finishSetup1(plan: Array<{ j: number; kept?: KeptSender; ext?: Uint8Array; A?: Uint8Array; delta?: Uint32Array; ot?: { message: Uint8Array; keys: Uint8Array }; none?: true }>): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    for (const { j, kept, ext, A, delta, ot, none } of plan) {
      if (none) { outs.push(this.out(j, "setup2", new Uint8Array(0))); continue; }
      if (kept) {
        this.baseTagS[j] = kept.baseTag;
        this.otS[j] = kept.state;
        this.senderInit(j, ext!);
        if (this.derive) this.reusedBaseOts++;
        outs.push(this.out(j, "setup2", REUSE));
      } else {
        const base: KosSenderBase = { tag: baseTag(A!, ot!.message), delta: delta!, keys: ot!.keys };
        this.ssSenderBase[j] = base;
        this.baseTagS[j] = base.tag;
        outs.push(this.out(j, "setup2", ot!.message));
      }
    }
    return outs;
  }

  private onSetup1(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    return this.finishSetup1(this.planSetup1(msgs, (sid, ch, A, j, pre) => mrrReceive(sid, ch, A, this.rng, j, pre)));
  }

  private async onSetup1Async(msgs: Array<Uint8Array | undefined>): Promise<OfflineOutbound[]> {
    const plan = this.planSetup1(msgs, (sid, ch, A, j, pre) => mrrReceiveAsync(sid, ch, A, this.rng, j, pre), (e) => Promise.reject(e));
    // All peers at once: one peer's native X25519 work overlaps another's JS.
    const ots = await inPeerOrder(plan.map((x) => x.ot ?? Promise.resolve(undefined)));
    return this.finishSetup1(plan.map((x, k) => ({ ...x, ot: ots[k] })));
  }

  /** Setup step 3's base OTs (me = base-OT sender): per peer, "reuse" of what I offered or the sender's keys from φ. */
  private planSetup2<R>(msgs: Array<Uint8Array | undefined>, finish: (st: MrrSenderState, phi: Uint8Array, j: number) => R, lazy?: (e: unknown) => R): Array<{ j: number; reused?: KeptReceiver; phi?: Uint8Array; ot?: R; none?: true }> {
    const kb = MRR_RECEIVER_BYTES_PER_OT * KAPPA;
    return perPeer<number, { j: number; reused?: KeptReceiver; phi?: Uint8Array; ot?: R; none?: true }>(this.peers, lazy !== undefined, (j) => {
      const p = msgs[j]!;
      if (!this.publicKey(j, this.me)) {
        if (p.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup2: expected an empty message (derived base OTs)");
        return { j, none: true };
      }
      if (bytesEqual(p, REUSE)) {
        const offered = this.offered[j];
        if (!offered) throw new ProtocolAbort("bad-encoding", [j], "offline setup2: reuse of a state that was not offered");
        return { j, reused: offered };
      }
      if (p.length !== kb) throw new ProtocolAbort("bad-encoding", [j], `offline setup2: expected ${kb} bytes`);
      return { j, phi: p, ot: finish(this.basePending[j]!, p, j) };
    }, (j, e) => ({ j, ot: lazy!(e) }));
  }

  private onSetup2(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    return this.finishSetup2(this.planSetup2(msgs, (st, phi, j) => mrrSenderFinish(st, phi, KAPPA, j)));
  }

  private async onSetup2Async(msgs: Array<Uint8Array | undefined>): Promise<OfflineOutbound[]> {
    const plan = this.planSetup2(msgs, (st, phi, j) => mrrSenderFinishAsync(st, phi, KAPPA, j), (e) => Promise.reject(e));
    const ots = await inPeerOrder(plan.map((x) => x.ot ?? Promise.resolve(undefined)));
    return this.finishSetup2(plan.map((x, k) => ({ ...x, ot: ots[k] })));
  }

  private finishSetup2(plan: Array<{ j: number; reused?: KeptReceiver; phi?: Uint8Array; ot?: { k0: Uint8Array; k1: Uint8Array }; none?: true }>): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    for (const { j, reused, phi, ot, none } of plan) {
      if (none) { outs.push(this.out(j, "setup3", new Uint8Array(0))); continue; }
      const A = this.basePending[j]!.A;
      this.basePending[j] = undefined;
      if (reused) {
        // j holds the offered state: my extend on it (sent in setup1) stands, and setup3 is empty.
        this.otR[j] = reused.state;
        this.baseTagR[j] = reused.baseTag;
        this.applyReceiverInit(j, this.pendingInit[j]!);
        this.pendingInit[j] = undefined;
        this.reusedBaseOts++;
        outs.push(this.out(j, "setup3", new Uint8Array(0)));
        continue;
      }
      // Fresh base OTs (an offered state, if any, is void: j did not hold it; it is dropped with its extend).
      this.pendingInit[j] = undefined;
      const base: KosReceiverBase = { tag: baseTag(A, phi!), k0: ot!.k0, k1: ot!.k1 };
      outs.push(this.out(j, "setup3", this.freshReceiver(j, base, base.tag)));
    }
    return outs;
  }

  /**
   * My COPE Initialize extend (Fig. 4) towards j as OT-extension receiver on state `st`: choice
   * bits = bits of α_i — and, when the direction me → j is derived, κ more OTs with choice bits
   * = my fresh Δ' for it: their outputs are its base OTs (I am its OT-extension sender, j its
   * receiver). Returns the extend message for j and what it gives me ({@link applyReceiverInit}).
   */
  private receiverInit(j: number, st: SsReceiverState): ReceiverInit {
    const derived = !this.publicKey(this.me, j);
    const delta2 = derived ? new Uint32Array(this.rng.bytes(KAPPA / 8).slice().buffer) : undefined;
    const bits = deltaBits(this.F, this.alphaShare);
    const ext = ssReceiverExtend(st, delta2 ? concatBytes(bits, deltaChoices(delta2)) : bits, this.rng, 1);
    return { message: ext.message, outputs: ext.outputs, ...(delta2 ? { delta2 } : {}) };
  }

  /** Takes the outputs of my COPE Initialize extend towards j: my COPE receiver keys, the input's seeds, a derived direction's base. */
  private applyReceiverInit(j: number, init: ReceiverInit): void {
    const nb = this.F.bits;
    if (this.count > 0) this.copeKeysR[j] = init.outputs.slice(0, 16 * nb); // (the triples' COPE receiver, batch 0)
    this.inputSeedsR[j] = { delta: this.alphaShare, kDelta: inputCopeSeeds(init.outputs, nb) };
    if (init.delta2) this.ssSenderBase[j] = { tag: new Uint8Array(32), delta: init.delta2, keys: init.outputs.slice(16 * nb, 16 * (nb + KAPPA)) };
  }

  /**
   * My receiver side towards j on a new base: SoftSpokenOT's GGM trees (fresh roots) under this
   * session's keys H(k ‖ sid) of the base, then my COPE Initialize extend on them (applied at
   * once). Returns the setup message for j (trees ‖ extend); `tag` names the base for the store
   * (none: the direction is not kept).
   */
  private freshReceiver(j: number, base: KosReceiverBase, tag: Uint8Array | undefined): Uint8Array {
    const ss = ssReceiverSetup(this.pairSid("kos", j, this.me), base, this.ssK, this.rng);
    this.otR[j] = ss.state;
    this.baseTagR[j] = tag;
    const init = this.receiverInit(j, ss.state);
    this.applyReceiverInit(j, init);
    return concatBytes(ss.message, init.message);
  }

  /** Extra OTs in the setup3 extension: κ when the reverse direction's base OTs are derived from it. */
  private setup3Ots(S: number, R: number): number {
    return this.F.bits + (this.publicKey(R, S) ? 0 : KAPPA);
  }

  /** Byte length of a SoftSpokenOT setup message (GGM trees) plus an extend message for m OTs. */
  private setupLength(m: number): { head: number; total: number } {
    const head = ssSetupMessageLength(this.ssK);
    return { head, total: head + ssMessageLength(this.ssK, m) };
  }

  /**
   * Derived direction j → me (j the OT-extension sender, j > me): from the κ extra OTs of my
   * extension towards j (my v0, v1), set up my receiver side and build the setup message
   * that j gets ahead of batch 0's extension message: SoftSpokenOT's GGM trees and the COPE
   * Initialize extend (choice bits = bits of α_i), exactly what setup3 would carry.
   */
  private deriveReceiver(j: number, k0: Uint8Array, k1: Uint8Array): void {
    // Kept like a public-key direction when count = 0, named after the base it was derived from.
    const tag = this.deriveFresh ? derivedTag(this.baseTagS[j]!) : undefined;
    this.derivedSetup[j] = this.freshReceiver(j, { tag: new Uint8Array(32), k0, k1 }, tag);
  }


  /**
   * Derived direction, me as OT-extension sender (peers j < me), batch 0: strips j's setup
   * message from the front of its extension message (in place) and sets up my sender side
   * and COPE Initialize. Throws ProtocolAbort "bad-encoding" on a short message.
   */
  private takeDerivedSetup(msgs: Array<Uint8Array | undefined>): void {
    if (!this.derive || this.derivedTaken || this.batchNo !== 0) return;
    this.derivedTaken = true;
    for (const j of this.peers) {
      if (this.publicKey(this.me, j)) continue;
      const { head, total } = this.setupLength(this.F.bits);
      const msg = msgs[j]!;
      if (msg.length < total) throw new ProtocolAbort("bad-encoding", [j], `offline 0.kos: expected ${total} bytes of setup ahead of the extension`);
      this.otS[j] = ssSenderSetup(this.pairSid("kos", this.me, j), this.ssSenderBase[j]!, this.ssK, msg.subarray(0, head), j);
      this.ssSenderBase[j] = undefined;
      const { v0, v1 } = ssSenderExtend(this.otS[j]!, this.F.bits, msg.subarray(head, total), j, 1);
      this.initCopeSender(j, v0, v1);
      this.inputSeedsS[j] = { k0: inputCopeSeeds(v0, this.F.bits), k1: inputCopeSeeds(v1, this.F.bits) };
      msgs[j] = msg.subarray(total);
    }
  }

  private onSetup3(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    for (const j of this.peers) {
      const msg = msgs[j]!;
      if (!this.publicKey(this.me, j)) {
        // Derived direction: j's setup comes ahead of its batch-0 extension message.
        if (msg.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup3: expected an empty message (derived base OTs)");
        continue;
      }
      if (this.otS[j]) {
        // A kept state: j's extend came with its setup1 offer.
        if (msg.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup3: expected an empty message (kept state)");
        continue;
      }
      // COPE Initialize for (me → j): j chose with the bits of α_j; I hold both keys.
      const m = this.setup3Ots(this.me, j), { head, total } = this.setupLength(m);
      if (msg.length !== total) throw new ProtocolAbort("bad-encoding", [j], `offline setup3: expected ${total} bytes`);
      this.otS[j] = ssSenderSetup(this.pairSid("kos", this.me, j), this.ssSenderBase[j]!, this.ssK, msg.subarray(0, head), j);
      this.ssSenderBase[j] = undefined;
      this.senderInit(j, msg.subarray(head));
    }
    if (!this.deriveFresh) return [];
    // count = 0: every peer gets a setup4, the derived direction's setup (GGM trees ‖ COPE extend) or nothing.
    const outs = this.peers.map((j) => this.out(j, "setup4", this.derivedSetup[j] ?? new Uint8Array(0)));
    this.derivedSetup = [];
    return outs;
  }

  /**
   * count = 0, setup4: for a pair whose direction with me as OT-extension sender is derived
   * (j < me), j's setup for it — SoftSpokenOT's GGM trees under the base from my setup3
   * extend, then its COPE Initialize extend; from every other peer an empty message. Throws
   * ProtocolAbort "bad-encoding" (wrong length) or "ot-check-failed" (SoftSpokenOT's checks),
   * naming j.
   */
  private onSetup4(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    for (const j of this.peers) {
      const msg = msgs[j]!;
      if (this.publicKey(this.me, j)) {
        if (msg.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup4: expected an empty message");
        continue;
      }
      const { head, total } = this.setupLength(this.F.bits);
      if (msg.length !== total) throw new ProtocolAbort("bad-encoding", [j], `offline setup4: expected ${total} bytes`);
      this.otS[j] = ssSenderSetup(this.pairSid("kos", this.me, j), this.ssSenderBase[j]!, this.ssK, msg.subarray(0, head), j);
      this.ssSenderBase[j] = undefined;
      this.baseTagS[j] = derivedTag(this.baseTagR[j]!);
      this.senderInit(j, msg.subarray(head));
    }
    return [];
  }

  /**
   * j's COPE Initialize extend towards me (me the OT-extension sender on otS[j]): my COPE
   * sender state and the input's sender seeds; with κ extra OTs, the reverse direction's
   * base (j the OT-extension sender, me its receiver). Throws ProtocolAbort "bad-encoding" /
   * "ot-check-failed" naming j (SoftSpokenOT's length and consistency checks).
   */
  private senderInit(j: number, ext: Uint8Array): void {
    const m = this.setup3Ots(this.me, j), nb = this.F.bits;
    const { v0, v1 } = ssSenderExtend(this.otS[j]!, m, ext, j, 1);
    this.initCopeSender(j, v0.subarray(0, 16 * nb), v1.subarray(0, 16 * nb));
    this.inputSeedsS[j] = { k0: inputCopeSeeds(v0, nb), k1: inputCopeSeeds(v1, nb) };
    if (m > nb) this.deriveReceiver(j, v0.slice(16 * nb, 16 * (nb + KAPPA)), v1.slice(16 * nb, 16 * (nb + KAPPA)));
  }

  // ------------------------------------------------------------------ batch
  /** Samples a, b for the next batch (Fig. 9 Multiply: the Gilboa choice bits are the bits of a, all τ copies). */
  private beginBatch(): { m: number; a: FieldVec; b: FieldVec; choices: Uint8Array } {
    const F = this.F, m = Math.min(this.batchSize, this.count - this.produced);
    const a = F.random(m * this.tau, this.rng), b = F.random(m, this.rng);
    return { m, a, b, choices: gilboaChoices(F, a) };
  }

  // Fault seams, no-ops here (an honest party); testing/cheating-offline.ts overrides them for negative tests:
  protected extendFault(_st: SsReceiverState, _corrections: Uint8Array): void {} // my OT-extension corrections to one peer in a batch, as sent (before χ is drawn from them), changed in place
  protected copeSetupFault(_setup: Uint8Array): void {} // the COPE setup as sent, changed in place
  protected copeFault(_F: Field, _message: Uint8Array, _m: number): void {} // my COPE corrections to one peer (digit-major, m per digit) as sent, changed in place
  protected tripleFault(_F: Field, c: FieldVec): FieldVec { return c; } // my c shares before Combine

  /** Batch step "start": I am the OT receiver with the bits of my a towards every peer; coin commitments. */
  private startBatch(): OfflineOutbound[] {
    const { m, a, b, choices } = this.beginBatch();
    const ext = this.peers.map((j) => ssReceiverFinish(this.otR[j]!, this.corrections(j, choices), gilboaBlocks(this.F)));
    return this.finishStart(m, a, b, ext);
  }

  private async startBatchAsync(): Promise<OfflineOutbound[]> {
    const { m, a, b, choices } = this.beginBatch();
    const ext = await inPeerOrder(this.peers.map(async (j) => {
      await ssPrefetchStreams(this.otR[j]!, choices.length);
      return ssReceiverFinishAsync(this.otR[j]!, this.corrections(j, choices), gilboaBlocks(this.F));
    }));
    return this.finishStart(m, a, b, ext);
  }

  /** A batch's OT-extension corrections towards j (Extend step 1), through the {@link extendFault} seam. */
  private corrections(j: number, choices: Uint8Array): SsReceiverPart {
    const part = ssReceiverCorrections(this.otR[j]!, choices, this.rng);
    this.extendFault(this.otR[j]!, part.corrections);
    return part;
  }

  private finishStart(m: number, a: FieldVec, b: FieldVec, ext: Array<{ message: Uint8Array; outputs: Uint8Array }>): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    const kosOut: Uint8Array[] = [];
    this.peers.forEach((j, k) => {
      kosOut[j] = ext[k]!.outputs;
      const pre = this.batchNo === 0 ? this.derivedSetup[j] : undefined;
      if (!pre) { outs.push(this.out(j, `${this.batchNo}.kos`, ext[k]!.message)); return; }
      // Derived direction: my setup for j rides ahead of batch 0's extension message (counted as setup).
      outs.push(this.out(j, `${this.batchNo}.kos`, concatBytes(pre, ext[k]!.message)));
      this.bytesByStep.kos! -= pre.length;
      this.bytesByStep.setup3 = (this.bytesByStep.setup3 ?? 0) + pre.length;
      this.derivedSetup[j] = undefined;
    });
    const coins = [coinCommit(this.rng), coinCommit(this.rng), coinCommit(this.rng)];
    const coinCommits: Uint8Array[][] = coins.map((c) => { const row: Uint8Array[] = []; row[this.me] = c.commitment; return row; });
    this.batch = { stage: "kos", m, a, b, kosOut, coins, coinCommits };
    outs.push(this.out("all", `${this.batchNo}.coins`, concatBytes(...coins.map((c) => c.commitment))));
    this.prefetchInBackground(m);
    return outs;
  }

  /**
   * Starts WebCrypto work for PRG streams read later (this batch's OT-extension sender
   * streams and COPE streams, the next batch's OT-extension receiver streams) without waiting: the sync
   * {@link receive} path uses whatever has arrived by the time it reads them (the event loop
   * runs between messages) and computes the rest itself. Same output either way; a no-op
   * for streams {@link prefetchBatch} already fetched.
   */
  private prefetchInBackground(m: number): void {
    const F = this.F;
    const colBytes = paddedCount(F.bits * m * this.tau) / 8, copeBytes = (5 * m + 1) * F.byteLength;
    const mNext = Math.min(this.batchSize, this.count - this.produced - m);
    const nextCol = mNext > 0 ? paddedCount(F.bits * mNext * this.tau) / 8 : 0;
    try {
      for (const j of this.peers) {
        if (this.otS[j]) for (const p of ssStreams(this.otS[j])) p.prefetchInBackground(colBytes);
        for (const p of this.copeStreams(j)) p.prefetchInBackground(copeBytes);
        if (nextCol > 0) for (const p of ssStreams(this.otR[j]!)) p.prefetchInBackground(nextCol);
      }
    } catch {
      // no WebCrypto: the streams are computed synchronously when read
    }
  }

  /** {@link onKos} with the OT-extension sender hashing of all peers at once (WebCrypto), so one peer's native AES overlaps another's JS work. */
  private async onKosAsync(msgs: Msgs, coins: Msgs): Promise<OfflineOutbound[]> {
    this.takeDerivedSetup(msgs);
    const m = this.batch!.m;
    const pre = await inPeerOrder(this.peers.map((j) => ssSenderExtendAsync(this.otS[j]!, this.F.bits * m * this.tau, msgs[j]!, j, gilboaBlocks(this.F))));
    return this.onKos(msgs, coins, pre);
  }

  /** Fig. 9 Multiply: the peers' coin commitments; my Gilboa sender messages; own products a_l·b. */
  private onKos(msgs: Msgs, coins: Msgs, pre?: Array<{ v0: Uint8Array; v1: Uint8Array }>): OfflineOutbound[] {
    this.takeDerivedSetup(msgs);
    const F = this.F, B = this.take("kos"), outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      const cm = coins[j]!;
      if (cm.length !== 96) throw new ProtocolAbort("bad-encoding", [j], "offline: coin commitments must be 96 bytes");
      for (let c = 0; c < 3; c++) B.coinCommits[c]![j] = cm.slice(32 * c, 32 * c + 32);
    }
    // own products a_l·b (Fig. 9 Multiply, the i = j term)
    const rep = new Uint32Array(B.m * this.tau);
    for (let i = 0; i < rep.length; i++) rep[i] = Math.floor(i / this.tau);
    const bRep = gather(F, B.b, rep);
    let cProd = F.mul(B.a, bRep);
    this.peers.forEach((j, k) => {
      const { v0, v1 } = pre ? pre[k]! : ssSenderExtend(this.otS[j]!, F.bits * B.m * this.tau, msgs[j]!, j, gilboaBlocks(F));
      const g = gilboaSender(F, bRep, v0, v1);
      cProd = F.add(cProd, g.share);
      outs.push(this.out(j, `${this.batchNo}.gilboa`, g.message));
    });
    this.batch = { ...B, stage: "gilboa", cProd };
    return outs;
  }

  /** Fig. 9 Multiply, receiver side: the peers' Gilboa corrections complete c. */
  private onGilboa(msgs: Msgs): OfflineOutbound[] {
    const F = this.F, { kosOut, cProd, ...B } = this.take("gilboa");
    let c = cProd;
    for (const j of this.peers) c = F.add(c, gilboaReceiver(F, B.a, kosOut[j]!, msgs[j]!, j));
    this.batch = { ...B, stage: "coin1", cProd: c };
    return [this.out("all", `${this.batchNo}.coin1`, coinOpenPayload(B.coins[0]!))];
  }

  private coinSeed(B: BatchCoins, c: number, msgs: Msgs): Uint8Array {
    const opens = [...Array(this.n).keys()].map((j) => (j === this.me ? coinOpenPayload(B.coins[c]!) : msgs[j]!));
    return coinFinish(B.coinCommits[c]!, opens);
  }

  /** Fig. 9 Combine, then Authenticate: X = (x0, a, b, c, â, ĉ) through COPE with every peer. */
  private onCoin1(msgs: Msgs): OfflineOutbound[] {
    const F = this.F, { a, b, cProd, ...B } = this.take("coin1"), m = B.m;
    const prg = new Prg(this.coinSeed(B, 0, msgs));
    const r = prg.nextField(F, m * this.tau), rHat = prg.nextField(F, m * this.tau);
    // Fig. 9 Combine
    const cb = combine(F, a, this.tripleFault(F, cProd), r, rHat, this.tau);
    // Fig. 9 Authenticate: X = (x0, a, b, c, â, ĉ) through COPE with every peer (Π_[[·]], MASCOT §4: authenticated input with a random-linear-combination check)
    const X = F.concat([F.random(1, this.rng), cb.a, b, cb.c, cb.aHat, cb.cHat]);
    let mac = F.scale(X, this.alphaShare);
    const outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      const e = digitCopeSenderExtend(this.copeS[j]!, X);
      this.copeFault(F, e.message, X.length);
      mac = F.add(mac, e.t); // q + t = α_j·X
      // The first COPE message to j carries the GGM setup ahead of the corrections (digit-cope.ts).
      const setup = this.copeSetupOut[j];
      this.copeSetupOut[j] = undefined;
      outs.push(this.out(j, `${this.batchNo}.cope`, setup ? concatBytes(setup, e.message) : e.message));
    }
    this.batch = { ...B, stage: "cope", X, macOwn: mac };
    return outs;
  }

  /** Fig. 4 Extend, receiver side: my MAC shares on every peer's X. */
  private onCope(msgs: Msgs): OfflineOutbound[] {
    const B = this.take("cope"), len = 5 * B.m + 1, macOf: FieldVec[] = [];
    this.takeCopeSetup(msgs);
    for (const j of this.peers) macOf[j] = digitCopeReceiverExtend(this.copeR[j]!, len, msgs[j]!, j);
    this.batch = { ...B, stage: "coin2", macOf };
    return [this.out("all", `${this.batchNo}.coin2`, coinOpenPayload(B.coins[1]!))];
  }

  /** Π_[[·]] check value y_i and Fig. 9 Sacrifice ρ = t·[a] − [â], under coin 2. */
  private onCoin2(msgs: Msgs): OfflineOutbound[] {
    const F = this.F, { X, ...B } = this.take("coin2"), m = B.m;
    const prg = new Prg(this.coinSeed(B, 1, msgs));
    const rr = prg.nextField(F, 5 * m);
    const tt = prg.nextField(F, m);
    // MAC shares on the shared values: own input's MAC plus q from every peer's input.
    let macAll = B.macOwn;
    for (const j of this.peers) macAll = F.add(macAll, B.macOf[j]!);
    const part = (k: number): AuthShare => ({ value: F.slice(X, 1 + k * m, 1 + (k + 1) * m), mac: F.slice(macAll, 1 + k * m, 1 + (k + 1) * m) });
    const A = part(0), AH = part(3);
    const yMe = (F.get(X, 0) + F.dot(rr, F.slice(X, 1, 5 * m + 1))) % F.p;
    // Fig. 9 Sacrifice: ρ = t·[a] − [â]
    const rho = sacrificeRho(F, tt, A, AH);
    this.batch = { ...B, stage: "open", rr, tt, A, B: part(1), C: part(2), CH: part(4), yMe, rho };
    return [this.out("all", `${this.batchNo}.open`, F.encode(F.concat([F.fromBigInts([yMe]), rho.value])))];
  }

  /** The opened y_j and ρ; MAC shares on y_j; Fig. 9 Sacrifice z = t·[c] − ρ·[b] − [ĉ]. */
  private onOpen(msgs: Msgs): OfflineOutbound[] {
    const F = this.F, { macOwn, macOf, rr, tt, CH, yMe, ...B } = this.take("open"), m = B.m;
    const ys: bigint[] = new Array(this.n);
    const rho = F.slice(B.rho.value, 0, m);
    ys[this.me] = yMe;
    for (const j of this.peers) {
      const p = msgs[j]!;
      if (p.length !== (m + 1) * F.byteLength) throw new ProtocolAbort("bad-encoding", [j], "offline open: wrong length");
      let v: FieldVec;
      try { v = F.decode(p); } catch { throw new ProtocolAbort("bad-encoding", [j], "offline open: non-canonical element"); }
      ys[j] = F.get(v, 0);
      F.addInPlace(rho, F.slice(v, 1, m + 1));
    }
    // MAC shares on y_j: γ(x0_j) + Σ r_h γ(X_j[h]) from the MACs on party j's input.
    const gy: bigint[] = new Array(this.n);
    for (let j = 0; j < this.n; j++) {
      const M = j === this.me ? macOwn : macOf[j]!;
      gy[j] = F.get(M, 0) + F.dot(rr, F.slice(M, 1, 5 * m + 1));
    }
    const z = sacrificeZero(F, tt, rho, B.B, B.C, CH);
    this.batch = { ...B, stage: "coin3", y: F.fromBigInts(ys), gy: F.fromBigInts(gy), rhoOpen: rho, z };
    return [this.out("all", `${this.batchNo}.coin3`, coinOpenPayload(B.coins[2]!))];
  }

  /** Fig. 10 MACCheck, batched, two independent sums so a failure names the check: commit to σ_cope, σ_sac. */
  private onCoin3(msgs: Msgs): OfflineOutbound[] {
    const F = this.F, B = this.take("coin3"), m = B.m;
    const prg = new Prg(this.coinSeed(B, 2, msgs));
    const r1 = prg.nextField(F, this.n), r2 = prg.nextField(F, 2 * m);
    const alpha = this.alphaShare, p = F.p;
    const sig = (vals: FieldVec, macs: FieldVec, r: FieldVec) => (((F.dot(r, macs) - alpha * F.dot(r, vals)) % p) + p) % p;
    const sCope = sig(B.y, B.gy, r1);
    const sSac = sig(F.concat([B.rhoOpen, F.zeros(m)]), F.concat([B.rho.mac, B.z.mac]), r2);
    const value = F.encode(F.fromBigInts([sCope, sSac]));
    const { commitment, opening } = commit(value, this.rng);
    const sigmaCommits: Uint8Array[] = [];
    sigmaCommits[this.me] = commitment;
    this.batch = { stage: "sigma.commit", m, A: B.A, B: B.B, C: B.C, sigmaOpen: concatBytes(opening, value), sigmaCommits };
    return [this.out("all", `${this.batchNo}.sigma.commit`, commitment)];
  }

  private onSigmaCommit(msgs: Msgs): OfflineOutbound[] {
    const B = this.take("sigma.commit");
    for (const j of this.peers) {
      if (msgs[j]!.length !== 32) throw new ProtocolAbort("bad-encoding", [j], "offline: σ commitment must be 32 bytes");
      B.sigmaCommits[j] = msgs[j]!;
    }
    this.batch = { ...B, stage: "sigma.open" };
    return [this.out("all", `${this.batchNo}.sigma.open`, B.sigmaOpen)];
  }

  /** Opens σ: accept the batch iff both sums are 0 (else cope-check-failed / sacrifice-failed). */
  private onSigmaOpen(msgs: Msgs): OfflineOutbound[] {
    const F = this.F, B = this.take("sigma.open");
    let sCope = 0n, sSac = 0n;
    const bad: number[] = [];
    for (let j = 0; j < this.n; j++) {
      const o = j === this.me ? B.sigmaOpen : msgs[j]!;
      if (o.length !== 32 + 2 * F.byteLength) throw new ProtocolAbort("bad-encoding", [j], "offline: σ opening has the wrong length");
      const value = o.subarray(32);
      if (!verifyCommitment(B.sigmaCommits[j]!, value, o.subarray(0, 32))) { bad.push(j); continue; }
      let v: FieldVec;
      try { v = F.decode(value); } catch { throw new ProtocolAbort("bad-encoding", [j], "offline: non-canonical σ"); }
      sCope += F.get(v, 0); sSac += F.get(v, 1);
    }
    if (bad.length) throw new ProtocolAbort("commitment-mismatch", bad, "offline: σ opening does not match its commitment");
    if (sCope % F.p !== 0n) throw new ProtocolAbort("cope-check-failed", [], "offline: authentication (COPE input) check failed");
    if (sSac % F.p !== 0n) throw new ProtocolAbort("sacrifice-failed", [], "offline: triple sacrifice check failed");
    this.results.push({ a: B.A, b: B.B, c: B.C });
    this.produced += B.m;
    this.batchNo++;
    return [];
  }
}

/**
 * Awaits all `jobs` (one per peer, in peer order); if any fails, throws the failure of the
 * first failing peer in that order — the error the sequential sync path would throw.
 */
async function inPeerOrder<T>(jobs: Array<Promise<T>>): Promise<T[]> {
  const r = await Promise.allSettled(jobs);
  for (const x of r) if (x.status === "rejected") throw x.reason;
  return r.map((x) => (x as PromiseFulfilledResult<T>).value);
}

const INPUT_SEED_TAG = utf8("2pm/mascot/input-cope-seed/v1");

/** k 16-byte seeds H(tag ‖ k_ℓ) from k concatenated 16-byte OT outputs. */
function inputCopeSeeds(flat: Uint8Array, k: number): Uint8Array[] {
  if (flat.length < 16 * k) throw new RangeError(`inputCopeSeeds: expected ${16 * k} bytes of OT output, got ${flat.length}`);
  const out: Uint8Array[] = new Array(k);
  for (let l = 0; l < k; l++) out[l] = sha256(concatBytes(INPUT_SEED_TAG, flat.subarray(16 * l, 16 * l + 16))).slice(0, 16);
  return out;
}

/** Δ (κ bits in words) as κ choice bytes 0/1. */
function deltaChoices(delta: Uint32Array): Uint8Array {
  const c = new Uint8Array(KAPPA);
  for (let l = 0; l < KAPPA; l++) c[l] = (delta[l >>> 5]! >>> (l & 31)) & 1;
  return c;
}

/** setup2 payload meaning "reuse the base OTs you offered" (a fresh reply is 64·κ bytes). */
const REUSE = utf8("reuse");

const BASE_TAG = utf8("2pm/offline/base-ot-tag/v2");
/** Names a pair's base OTs identically on both sides: H(tag ‖ A_0 ‖ A_1 ‖ φ_1..φ_κ). */
function baseTag(messageA: Uint8Array, messageB: Uint8Array): Uint8Array {
  return sha256(concatBytes(BASE_TAG, messageA, messageB));
}

/** The base-OT session id of an ordered pair's OT extension. */
function baseOtSid(pairSid: Uint8Array): Uint8Array {
  return concatBytes(utf8("base-ot/"), pairSid);
}

/** Runs `f` for each item; with `lazy`, a throw becomes that item's rejected promise (so inPeerOrder reports the first failing peer, as the sync loop would). */
function perPeer<T, R>(items: T[], lazy: boolean, f: (x: T) => R, fail: (x: T, e: unknown) => R): R[] {
  return items.map((x) => {
    if (!lazy) return f(x);
    try { return f(x); } catch (e) { return fail(x, e); }
  });
}

/**
 * One ordered pair's SoftSpokenOT state kept across sessions (docs/mascot.md, "Kept
 * SoftSpokenOT state"): the next session with that peer continues its leaf streams and its
 * counter, so it runs no public-key base OTs and no GGM setup for the pair. `tag` names the
 * state at its current position identically on both sides ({@link keptTag}); `baseTag` names
 * the public-key base OTs it grew from.
 */
export interface KeptReceiver { readonly tag: Uint8Array; readonly baseTag: Uint8Array; readonly state: SsReceiverState }
/** The OT-extension sender's side of {@link KeptReceiver} (its Δ and the punctured leaves). */
export interface KeptSender { readonly tag: Uint8Array; readonly baseTag: Uint8Array; readonly state: SsSenderState }

const KEPT_TAG = utf8("2pm/offline/kept-softspoken/v1");

/** The base tag of a direction derived from the pair's public-key direction with base tag `base` (both sides compute it alike). */
function derivedTag(base: Uint8Array): Uint8Array {
  return sha256(concatBytes(DERIVED_TAG, base));
}
/**
 * H(tag ‖ base tag ‖ k ‖ counter): both sides of a pair compute the same name for a state
 * that went through the same Extends, and different names once their counters differ, so a
 * state that fell out of step with its peer's copy is never offered as theirs.
 */
export function keptTag(base: Uint8Array, k: number, counter: number): Uint8Array {
  const c = new Uint8Array(12);
  const dv = new DataView(c.buffer);
  dv.setUint32(0, k, true);
  dv.setFloat64(4, counter, true);
  return sha256(concatBytes(KEPT_TAG, base, c));
}

/**
 * A node's SoftSpokenOT states kept across sessions, per peer party index of the current
 * session (the caller maps indices to node identities). `receiver(j)`: I was the OT-extension
 * receiver towards j; `sender(j)`: I was its sender. Both *take* the state out of the store:
 * a session has it to itself (two concurrent sessions with the same peer never share
 * streams), and hands it back through `saveReceiver` / `saveSender` only when its offline
 * phase finished; an aborted session drops it. The offline party offers a kept state in
 * setup1 and continues it only if j holds the same (tag). The holder must also forget a
 * peer's states after any round with it that did not end cleanly (see {@link KosSenderBase}).
 */
export interface KeptOtStore {
  receiver(j: number): KeptReceiver | undefined;
  sender(j: number): KeptSender | undefined;
  saveReceiver(j: number, kept: KeptReceiver): void;
  saveSender(j: number, kept: KeptSender): void;
  /**
   * `count` base-OT receiver halves prepared while the node was idle (base-ot-mrr.ts
   * MrrPrepared), taken out of the store for one base-OT batch of this session, or undefined
   * if it holds fewer (the session then computes them itself, with the same distribution).
   * Optional: a store without it always leaves them to the session.
   */
  prepared?(count: number): MrrPrepared[] | undefined;
}
