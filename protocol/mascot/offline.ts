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
 * with "offline.". Messages of later stages/batches may arrive early and are buffered; a
 * second message with the same phase from the same sender is a "replay". Sequence numbers
 * are the caller's business (party.ts / the relay). transport.ts's `runOfflineInMemory` runs n
 * parties in one process (tests, benchmarks).
 *
 * ## Message flow (per ordered pair S → R, S = OT-extension sender; "bcast" = to "all")
 * setup1  R → S: A_0 ‖ A_1 ‖ tag    (base-OT sender message, McQuoid–Rosulek–Roy POPF-OT on X25519,
 *                                     base-ot-mrr.ts; tag ≠ 0 offers base OTs kept from an earlier
 *                                     session, KosBaseStore)
 * setup2  S → R: φ_1..φ_128 | "reuse" (base-OT choice bits = S's Δ; "reuse" if S holds the offered
 *                                     base). Fresh or reused, both key this session's PRGs with
 *                                     H(k ‖ sid) (ssReceiverSetup / ssSenderSetup).
 *         receiveAsync runs the base-OT X25519 multiplications of all peers at once on the async
 *         backend (node:crypto in Node, WebCrypto in workerd/browsers); receive() on the sync one
 *         (node:crypto, else noble): same messages, same keys (protocol/crypto/x25519.ts).
 * setup3  R → S: [SoftSpokenOT: R's GGM-tree setup message under this session's keys H(k ‖ sid),
 *         softspoken.ts] ‖ OT extend for k OTs with choice bits = bits of R's α: the COPE
 *         Initialize OTs (Fig. 4) come from the OT extension, as in MP-SPDZ.
 *
 * ## One public-key direction per pair (`derivedBaseOts`, default when count > 0)
 * Only the extension with the lower index as sender (S = lo, R = hi) runs the steps above on
 * public-key base OTs. In setup3 hi extends κ more OTs with choice bits = a fresh Δ' of its
 * own: lo's (v0, v1) and hi's v_{Δ'} of those OTs are the base OTs of the extension hi → lo
 * (S = hi, R = lo): lo holds both keys of each, hi the key its Δ' bit chose — exactly what
 * a base OT gives (the extension's outputs realise random OT with chosen choice bits;
 * SoftSpokenOT's checks cover the extra OTs like the others). lo then sends that
 * direction's setup3 (GGM trees ‖ COPE extend) ahead of its batch-0 `kos` message, so there
 * is no extra message round; the other setup messages of the derived direction are empty.
 * Public-key work per pair halves; the derived base is fresh every session (Δ' too) and never
 * kept. With count = 0 (no batch to carry it) both directions use public-key base OTs.
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
import { sha256 } from "@noble/hashes/sha2.js";
import type { CopeReceiverSeeds, CopeSenderSeeds, InputCopeSeeds } from "./input.ts";
import type { Rng } from "../rng.ts";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import { coinCommit, coinFinish, coinOpenPayload, type CoinState } from "./coin-toss.ts";
import { commit, verifyCommitment } from "../crypto/commitment.ts";
import {
  deltaBits, DIGIT_COPE_WIDTH, digitCopeReceiverExtend, digitCopeReceiverFromOts, digitCopeSenderExtend, digitCopeSenderFromOts,
  digitCopeSetupLength, digitCopeStreams, type DigitCopeReceiverState, type DigitCopeSenderState,
} from "./digit-cope.ts";
import { mrrReceive, mrrReceiveAsync, mrrSenderFinish, mrrSenderFinishAsync, mrrSenderStart, MRR_RECEIVER_BYTES_PER_OT, MRR_SENDER_MESSAGE_BYTES, type MrrSenderState } from "./base-ot-mrr.ts";
import { ProtocolAbort } from "./errors.ts";
import { type KosReceiverBase, type KosSenderBase, KAPPA, paddedCount } from "./ot-extension.ts";
import {
  SS_DEFAULT_K, ssBlockSizes, ssMessageLength, ssReceiverExtend, ssReceiverExtendAsync, ssReceiverSetup, ssSenderExtend, ssSenderExtendAsync,
  ssSenderSetup, ssSetupMessageLength, ssStreams, type SsReceiverState, type SsSenderState,
} from "./softspoken.ts";
import { Prg } from "./prg.ts";
import type { AuthShare } from "./shares.ts";
import { combine, combineTau, gather, gilboaBlocks, gilboaChoices, gilboaReceiver, gilboaSender, sacrificeRho, sacrificeZero, type TripleShares } from "./triples.ts";

export interface OfflineOutbound { to: number | "all"; phase: string; payload: Uint8Array }
export interface OfflineInbound { from: number; phase: string; seq: number; payload: Uint8Array }

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
   * Public-key base OTs for one direction per pair only (default true; ignored when count = 0):
   * the OT extension with the lower-indexed party as sender runs on public-key base OTs, and
   * the other direction's κ base OTs are κ more OTs of that extension (see the module
   * comment). All parties must use the same setting.
   */
  derivedBaseOts?: boolean;
}

type Cheat = { columns: number[]; bit: number } | undefined;

/** Deviations for negative tests only (a cheating party). */
export interface OfflineCheat {
  /** Use inconsistent OT-extension choice bits in the SoftSpokenOT blocks containing these columns (caught by the consistency check). */
  kosColumns?: number[];
  /** Deviate in digit `copeBit` of my COPE corrections (a per-digit wrong x; caught by the authentication check unless the peer's α digit is 0). */
  copeBit?: number;
  /** Corrupt both halves of the COPE setup correction of base OT `copeSetup` (caught by the authentication check). */
  copeSetup?: number;
  /** Add 1 to my share of every c before authenticating (caught by the sacrifice). */
  badTriple?: boolean;
}

const STEPS = ["kos", "gilboa", "coin1", "cope", "coin2", "open", "coin3", "sigma.commit", "sigma.open"] as const;
type Step = (typeof STEPS)[number];
/** Extra broadcast phases expected together with a step. */
const EXTRA: Partial<Record<Step, string>> = { kos: "coins" };

interface Batch {
  m: number;
  a?: FieldVec; b?: FieldVec; cProd?: FieldVec;
  kosOut: Uint8Array[];
  coins: CoinState[];
  coinCommits: Uint8Array[][]; // [coin][party]
  X?: FieldVec; macOwn?: FieldVec; macOf: FieldVec[];
  rr?: FieldVec; tt?: FieldVec;
  A?: AuthShare; B?: AuthShare; C?: AuthShare; AH?: AuthShare; CH?: AuthShare;
  yMe?: bigint; rho?: AuthShare; rhoOpen?: FieldVec; z?: AuthShare; y?: FieldVec; gy?: FieldVec;
  sigmaOpen?: Uint8Array; sigmaCommits: Uint8Array[];
}

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
  private readonly cheat: OfflineCheat;
  private readonly alphaShare: bigint;
  private readonly peers: number[];
  /** τ of Fig. 9 Combine for this field (triples.ts combineTau). */
  private readonly tau: number;
  private inbox = new Map<string, Array<Uint8Array | undefined>>();
  /** (phase|from) pairs received in the current batch and setup, for replay detection. */
  private seen = new Set<string>();
  private stage = "setup1";
  private batchNo = 0;
  private produced = 0;
  private batch: Batch | undefined;
  private results: TripleShares[] = [];
  private _done = false;
  private aborted = false;
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
  private readonly baseOts: KosBaseStore | undefined;
  /** Per peer (as OT-extension receiver): the base I offered to reuse in setup1, if any. */
  private offered: Array<KosReceiverBase | undefined> = [];
  /**
   * Peers whose public-key base OTs were reused this session (with derived base OTs each pair
   * has one such direction, counted at both ends; without, ordered pairs with me as receiver).
   */
  reusedBaseOts = 0;
  /** One public-key direction per pair (derivedBaseOts and count > 0). */
  private readonly derive: boolean;
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
  constructor(cfg: OfflineConfig, rng: Rng, opts: { cheat?: OfflineCheat; baseOts?: KosBaseStore } = {}) {
    if (!cfg || typeof cfg !== "object" || !cfg.field) throw new TypeError("OfflineParty: cfg.field is required");
    if (!Number.isInteger(cfg.parties) || cfg.parties < 2) throw new RangeError(`OfflineParty: parties must be an integer ≥ 2, got ${cfg.parties}`);
    if (!Number.isInteger(cfg.me) || cfg.me < 0 || cfg.me >= cfg.parties) throw new RangeError(`OfflineParty: me out of range: ${cfg.me}`);
    if (!Number.isSafeInteger(cfg.count) || cfg.count < 0) throw new RangeError(`OfflineParty: count must be a non-negative integer, got ${cfg.count}`);
    if (!(cfg.sessionId instanceof Uint8Array) || cfg.sessionId.length === 0) throw new TypeError("OfflineParty: sessionId must be non-empty bytes");
    const bs = cfg.batchSize ?? 1024;
    if (!Number.isInteger(bs) || bs < 1) throw new RangeError(`OfflineParty: batchSize must be a positive integer, got ${bs}`);
    this.F = cfg.field; this.n = cfg.parties; this.me = cfg.me; this.sid = cfg.sessionId.slice();
    this.count = cfg.count; this.batchSize = bs; this.rng = rng; this.cheat = opts.cheat ?? {}; this.baseOts = opts.baseOts;
    this.ssK = cfg.softspokenK ?? SS_DEFAULT_K;
    ssBlockSizes(this.ssK); // throws RangeError on a bad k
    this.derive = (cfg.derivedBaseOts ?? true) && cfg.count > 0;
    this.alphaShare = this.F.get(this.F.random(1, rng), 0);
    this.tau = combineTau(this.F);
    this.peers = [...Array(this.n).keys()].filter((j) => j !== this.me);
  }

  get done(): boolean { return this._done; }
  /** Current stage: "setup1".."setup3", "start" (a batch is about to begin), "<batch>.<step>", "done" or "aborted". */
  get phase(): string { return this.aborted ? "aborted" : this._done ? "done" : this.stage; }
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
    return { sender: (j) => pick(this.inputSeedsS, j, "sender"), receiver: (i) => pick(this.inputSeedsR, i, "receiver") };
  }
  /**
   * True once {@link inputCopeSeeds} can be called: the COPE Initialize OTs are done with every
   * peer, in both directions (after setup3, or — with derived base OTs, as the OT-extension
   * sender of a derived direction — after batch 0's extension message). From then on the
   * online input can run while the triples are still being made (party.ts overlaps them).
   */
  inputReady(): boolean {
    return this.peers.every((j) => this.inputSeedsS[j] !== undefined && this.inputSeedsR[j] !== undefined);
  }
  /**
   * Peers whose messages the current stage still lacks (empty when done, or between stages):
   * what a driver names when the offline phase times out.
   */
  get waitingFor(): number[] {
    if (this._done || this.aborted || this.stage === "start") return [];
    return this.peers.filter((j) => this.needed().some((p) => this.inbox.get(p)?.[j] === undefined));
  }
  /** The `count` triples. Throws Error before done. */
  triples(): TripleShares {
    if (!this._done) throw new Error("OfflineParty.triples: offline phase not finished");
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
      // A_0 ‖ A_1 ‖ tag: the tag offers base OTs kept from an earlier session with j (zeros: none).
      this.offered[j] = this.baseOts?.receiver(j);
      outs.push(this.out(j, "setup1", concatBytes(k.message, this.offered[j]?.tag ?? new Uint8Array(32))));
    }
    return outs;
  }

  /** Handles one inbound offline message; returns what to send. Throws ProtocolAbort on a fault. */
  receive(m: OfflineInbound): OfflineOutbound[] {
    if (this.aborted) throw new ProtocolAbort("unexpected-message", [], "offline phase already aborted");
    try {
      return this.receiveInner(m);
    } catch (e) {
      if (e instanceof ProtocolAbort) this.aborted = true;
      throw e;
    }
  }

  private receiveInner(m: OfflineInbound): OfflineOutbound[] {
    this.accept(m);
    const outs: OfflineOutbound[] = [];
    for (;;) {
      const o = this.step();
      if (!o) break;
      outs.push(...o);
    }
    return outs;
  }

  /**
   * Like {@link receive}, but before each batch precomputes that batch's PRG streams (COPE
   * and OT-extension streams) with WebCrypto AES-CTR, which is several times faster than the sync
   * AES. Output and messages are identical to the sync path.
   */
  async receiveAsync(m: OfflineInbound): Promise<OfflineOutbound[]> {
    if (this.aborted) throw new ProtocolAbort("unexpected-message", [], "offline phase already aborted");
    try {
      this.accept(m);
      const outs: OfflineOutbound[] = [];
      for (;;) {
        let o: OfflineOutbound[] | null;
        if (this.stage === "start") {
          await this.prefetchBatch();
          o = await this.startBatchAsync();
        } else if ((this.stage === "setup1" || this.stage === "setup2") && this.complete(this.stage)) {
          const msgs = this.inbox.get(this.stage)!;
          this.inbox.delete(this.stage);
          o = this.stage === "setup1" ? await this.onSetup1Async(msgs) : await this.onSetup2Async(msgs);
        } else if (this.stage.endsWith(".kos") && this.needed().every((p) => this.complete(p))) {
          const need = this.needed();
          const got = need.map((p) => this.inbox.get(p)!);
          for (const p of need) this.inbox.delete(p);
          const B = this.batch!, msgs = got[0]!;
          this.takeDerivedSetup(msgs);
          // All peers at once, so one peer's native AES overlaps another's JS work.
          const pre = await inPeerOrder(this.peers.map((j) => ssSenderExtendAsync(this.otS[j]!, this.F.bits * B.m * this.tau, msgs[j]!, j, gilboaBlocks(this.F))));
          o = this.onKos(msgs, got[1]!, pre);
        } else {
          // coin1 (COPE sender) and cope (COPE receiver) read the COPE streams: native AES-CTR
          // instead of the sync fallback.
          const copeStep = this.batch && (this.stage.endsWith(".coin1") || this.stage.endsWith(".cope"));
          if (copeStep && this.needed().every((p) => this.complete(p))) {
            if (this.stage.endsWith(".cope")) this.takeCopeSetup(this.inbox.get(this.stage)!); // batch 0: the receiver states exist from here
            await this.prefetchCopeStreams(this.stage.endsWith(".coin1"));
          }
          o = this.step();
        }
        if (!o) break;
        outs.push(...o);
      }
      return outs;
    } catch (e) {
      if (e instanceof ProtocolAbort) this.aborted = true;
      throw e;
    }
  }

  /** Precomputes every PRG stream the next batch reads (WebCrypto). No-op when done. */
  async prefetchBatch(): Promise<void> {
    if (this.produced >= this.count || this.stage.startsWith("setup")) return;
    const F = this.F, m = Math.min(this.batchSize, this.count - this.produced);
    const colBytes = paddedCount(F.bits * m * this.tau) / 8, copeBytes = (5 * m + 1) * F.uniformByteLength;
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
    const copeBytes = (5 * this.batch!.m + 1) * this.F.uniformByteLength;
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
    const { state, setup } = digitCopeSenderFromOts(this.F, DIGIT_COPE_WIDTH, k0, k1);
    if (this.cheat.copeSetup !== undefined) {
      const o = 32 * this.cheat.copeSetup;
      for (let b = 0; b < 32; b++) setup[o + b]! ^= 0x5a;
    }
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

  /** Validates and buffers one inbound message. */
  private accept(m: OfflineInbound): void {
    const from = m.from;
    if (!Number.isInteger(from) || from < 0 || from >= this.n || from === this.me) throw new ProtocolAbort("unexpected-message", [], `offline: unknown sender ${String(from)}`);
    if (!(m.payload instanceof Uint8Array) || typeof m.phase !== "string" || !m.phase.startsWith("offline.")) {
      throw new ProtocolAbort("unexpected-message", [from], `offline: unexpected phase ${String(m.phase)}`);
    }
    if (this._done) throw new ProtocolAbort("unexpected-message", [from], `offline: ${m.phase} after the offline phase ended`);
    const ph = m.phase.slice("offline.".length);
    if (!this.validPhase(ph)) throw new ProtocolAbort("unexpected-message", [from], `offline: unknown or stale phase ${m.phase}`);
    let slot = this.inbox.get(ph);
    if (!slot) { slot = new Array<Uint8Array | undefined>(this.n).fill(undefined); this.inbox.set(ph, slot); }
    const key = `${ph}|${from}`;
    if (slot[from] !== undefined || this.seen.has(key)) throw new ProtocolAbort("replay", [from], `offline: second ${m.phase} from party ${from}`);
    this.seen.add(key);
    slot[from] = m.payload;
  }

  /** Advances one stage if all its messages are in; returns its outbound or null. */
  private step(): OfflineOutbound[] | null {
    if (this._done) return null;
    if (this.stage === "start") return this.startBatch();
    const need = this.needed();
    if (!need.every((p) => this.complete(p))) return null;
    const got = need.map((p) => this.inbox.get(p)!);
    for (const p of need) this.inbox.delete(p);
    return this.advance(got);
  }

  private validPhase(ph: string): boolean {
    if (ph === "setup1" || ph === "setup2" || ph === "setup3") return this.stage.startsWith("setup");
    if (this.stage === "done") return false;
    const dot = ph.indexOf(".");
    if (dot < 0) return false;
    const bs = ph.slice(0, dot), step = ph.slice(dot + 1);
    const b = Number(bs);
    if (!Number.isInteger(b) || String(b) !== bs) return false;
    if (!(STEPS as readonly string[]).includes(step) && step !== "coins") return false;
    return b >= this.batchNo && b <= this.batchNo + 1 && b * this.batchSize < this.count;
  }

  private needed(): string[] {
    if (this.stage.startsWith("setup")) return [this.stage];
    const step = this.stage.slice(this.stage.indexOf(".") + 1) as Step;
    const extra = EXTRA[step];
    return extra ? [this.stage, `${this.batchNo}.${extra}`] : [this.stage];
  }

  private complete(ph: string): boolean {
    const s = this.inbox.get(ph);
    return !!s && this.peers.every((j) => s[j] !== undefined);
  }

  private advance(got: Array<Array<Uint8Array | undefined>>): OfflineOutbound[] {
    const msgs = got[0]!;
    switch (this.stage) {
      case "setup1": return this.onSetup1(msgs);
      case "setup2": return this.onSetup2(msgs);
      case "setup3": return this.onSetup3(msgs);
    }
    const step = this.stage.slice(this.stage.indexOf(".") + 1) as Step;
    switch (step) {
      case "kos": return this.onKos(msgs, got[1]!);
      case "gilboa": return this.onGilboa(msgs);
      case "coin1": return this.onCoin1(msgs);
      case "cope": return this.onCope(msgs);
      case "coin2": return this.onCoin2(msgs);
      case "open": return this.onOpen(msgs);
      case "coin3": return this.onCoin3(msgs);
      case "sigma.commit": return this.onSigmaCommit(msgs);
      case "sigma.open": return this.onSigmaOpen(msgs);
    }
  }

  private setStage(step: Step): void { this.stage = `${this.batchNo}.${step}`; }

  // ------------------------------------------------------------------ setup
  /**
   * Setup step 2 (me = OT-extension sender, base-OT receiver with choice bits Δ), per peer in
   * order: checks the length, answers "reuse" to an offered base I hold, else draws Δ and runs
   * the base-OT receiver through `receive` (sync or native). Errors are kept per peer so that
   * both paths report the first failing peer's.
   */
  private planSetup1<R>(msgs: Array<Uint8Array | undefined>, receive: (sid: Uint8Array, choices: Uint8Array, A: Uint8Array, j: number) => R, lazy?: (e: unknown) => R): Array<{ j: number; kept?: KosSenderBase; A?: Uint8Array; delta?: Uint32Array; ot?: R; none?: true }> {
    return perPeer<number, { j: number; kept?: KosSenderBase; A?: Uint8Array; delta?: Uint32Array; ot?: R; none?: true }>(this.peers, lazy !== undefined, (j) => {
      const p = msgs[j]!;
      if (!this.publicKey(this.me, j)) {
        if (p.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup1: expected an empty message (derived base OTs)");
        return { j, none: true };
      }
      const want = MRR_SENDER_MESSAGE_BYTES + 32;
      if (p.length !== want) throw new ProtocolAbort("bad-encoding", [j], `offline setup1: expected ${want} bytes`);
      const offer = p.subarray(MRR_SENDER_MESSAGE_BYTES);
      const kept = this.baseOts?.sender(j);
      // Both sides still hold the same base OTs: no public-key operations this session.
      if (kept && offer.some((b) => b !== 0) && bytesEqual(kept.tag, offer)) return { j, kept };
      const delta = new Uint32Array(this.rng.bytes(KAPPA / 8).slice().buffer);
      const choices = deltaChoices(delta);
      const A = p.subarray(0, MRR_SENDER_MESSAGE_BYTES);
      return { j, A, delta, ot: receive(baseOtSid(this.pairSid("kos", this.me, j)), choices, A, j) };
    }, (j, e) => ({ j, ot: lazy!(e) }));
  }

  private finishSetup1(plan: Array<{ j: number; kept?: KosSenderBase; A?: Uint8Array; delta?: Uint32Array; ot?: { message: Uint8Array; keys: Uint8Array }; none?: true }>): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    for (const { j, kept, A, delta, ot, none } of plan) {
      if (none) { outs.push(this.out(j, "setup2", new Uint8Array(0))); continue; }
      let base: KosSenderBase;
      if (kept) {
        base = kept;
        if (this.derive) this.reusedBaseOts++;
        outs.push(this.out(j, "setup2", REUSE));
      } else {
        base = { tag: baseTag(A!, ot!.message), delta: delta!, keys: ot!.keys };
        this.baseOts?.saveSender(j, base);
        outs.push(this.out(j, "setup2", ot!.message));
      }
      this.ssSenderBase[j] = base;
    }
    this.stage = "setup2";
    return outs;
  }

  private onSetup1(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    return this.finishSetup1(this.planSetup1(msgs, (sid, ch, A, j) => mrrReceive(sid, ch, A, this.rng, j)));
  }

  private async onSetup1Async(msgs: Array<Uint8Array | undefined>): Promise<OfflineOutbound[]> {
    const plan = this.planSetup1(msgs, (sid, ch, A, j) => mrrReceiveAsync(sid, ch, A, this.rng, j), (e) => Promise.reject(e));
    // All peers at once: one peer's native X25519 work overlaps another's JS.
    const ots = await inPeerOrder(plan.map((x) => x.ot ?? Promise.resolve(undefined)));
    return this.finishSetup1(plan.map((x, k) => ({ ...x, ot: ots[k] })));
  }

  /** Setup step 3's base OTs (me = base-OT sender): per peer, "reuse" of what I offered or the sender's keys from φ. */
  private planSetup2<R>(msgs: Array<Uint8Array | undefined>, finish: (st: MrrSenderState, phi: Uint8Array, j: number) => R, lazy?: (e: unknown) => R): Array<{ j: number; reused?: KosReceiverBase; phi?: Uint8Array; ot?: R; none?: true }> {
    const kb = MRR_RECEIVER_BYTES_PER_OT * KAPPA;
    return perPeer<number, { j: number; reused?: KosReceiverBase; phi?: Uint8Array; ot?: R; none?: true }>(this.peers, lazy !== undefined, (j) => {
      const p = msgs[j]!;
      if (!this.publicKey(j, this.me)) {
        if (p.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup2: expected an empty message (derived base OTs)");
        return { j, none: true };
      }
      if (bytesEqual(p, REUSE)) {
        const offered = this.offered[j];
        if (!offered) throw new ProtocolAbort("bad-encoding", [j], "offline setup2: reuse of base OTs that were not offered");
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

  private finishSetup2(plan: Array<{ j: number; reused?: KosReceiverBase; phi?: Uint8Array; ot?: { k0: Uint8Array; k1: Uint8Array }; none?: true }>): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    const bits = deltaBits(this.F, this.alphaShare);
    for (const { j, reused, phi, ot, none } of plan) {
      if (none) { outs.push(this.out(j, "setup3", new Uint8Array(0))); continue; }
      const sid = this.pairSid("kos", j, this.me);
      let base: KosReceiverBase;
      if (reused) {
        base = reused;
        this.reusedBaseOts++;
      } else {
        base = { tag: baseTag(this.basePending[j]!.A, phi!), k0: ot!.k0, k1: ot!.k1 };
        this.baseOts?.saveReceiver(j, base);
      }
      this.basePending[j] = undefined;
      // SoftSpokenOT: my GGM trees (fresh roots) under this session's keys H(k ‖ sid) of the base.
      const ss = ssReceiverSetup(sid, base, this.ssK, this.rng);
      this.otR[j] = ss.state;
      const prefix = ss.message;
      // COPE Initialize (Fig. 4) for (j → me): I receive with choice bits = bits of α_i —
      // and, when the direction me → j is derived, κ more OTs with choice bits = my fresh Δ'
      // for it: their outputs are its base OTs (I am its OT-extension sender, j its receiver).
      const derived = !this.publicKey(this.me, j);
      const delta2 = derived ? new Uint32Array(this.rng.bytes(KAPPA / 8).slice().buffer) : undefined;
      const choices = delta2 ? concatBytes(bits, deltaChoices(delta2)) : bits;
      const ext = ssReceiverExtend(this.otR[j]!, choices, this.rng, 1, undefined);
      const nb = this.F.bits;
      this.copeKeysR[j] = ext.outputs.slice(0, 16 * nb);
      this.inputSeedsR[j] = { delta: this.alphaShare, kDelta: inputCopeSeeds(ext.outputs, nb) };
      if (delta2) {
        const base: KosSenderBase = { tag: new Uint8Array(32), delta: delta2, keys: ext.outputs.slice(16 * nb, 16 * (nb + KAPPA)) };
        this.ssSenderBase[j] = base;
      }
      outs.push(this.out(j, "setup3", concatBytes(prefix, ext.message)));
    }
    this.stage = "setup3";
    return outs;
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
    const sid = this.pairSid("kos", j, this.me);
    const base: KosReceiverBase = { tag: new Uint8Array(32), k0, k1 };
    const ss = ssReceiverSetup(sid, base, this.ssK, this.rng);
    this.otR[j] = ss.state;
    const prefix = ss.message;
    const ext = ssReceiverExtend(this.otR[j]!, deltaBits(this.F, this.alphaShare), this.rng, 1, undefined);
    this.copeKeysR[j] = ext.outputs.slice(0, 16 * this.F.bits);
    this.inputSeedsR[j] = { delta: this.alphaShare, kDelta: inputCopeSeeds(ext.outputs, this.F.bits) };
    this.derivedSetup[j] = concatBytes(prefix, ext.message);
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
      let msg = msgs[j]!;
      if (!this.publicKey(this.me, j)) {
        // Derived direction: j's setup comes ahead of its batch-0 extension message.
        if (msg.length !== 0) throw new ProtocolAbort("bad-encoding", [j], "offline setup3: expected an empty message (derived base OTs)");
        continue;
      }
      // COPE Initialize for (me → j): j chose with the bits of α_j; I hold both keys.
      const m = this.setup3Ots(this.me, j), { head, total } = this.setupLength(m);
      if (msg.length !== total) throw new ProtocolAbort("bad-encoding", [j], `offline setup3: expected ${total} bytes`);
      this.otS[j] = ssSenderSetup(this.pairSid("kos", this.me, j), this.ssSenderBase[j]!, this.ssK, msg.subarray(0, head), j);
      this.ssSenderBase[j] = undefined;
      msg = msg.subarray(head);
      const { v0, v1 } = ssSenderExtend(this.otS[j]!, m, msg, j, 1);
      const nb = this.F.bits;
      this.initCopeSender(j, v0.subarray(0, 16 * nb), v1.subarray(0, 16 * nb));
      this.inputSeedsS[j] = { k0: inputCopeSeeds(v0, nb), k1: inputCopeSeeds(v1, nb) };
      // The reverse direction (j the OT-extension sender, me its receiver) takes the κ extra OTs as its base.
      if (m > nb) this.deriveReceiver(j, v0.slice(16 * nb, 16 * (nb + KAPPA)), v1.slice(16 * nb, 16 * (nb + KAPPA)));
    }
    this.stage = "start";
    return [];
  }

  // ------------------------------------------------------------------ batch
  /** Samples a, b for the next batch; returns the Gilboa choice bits, or null when all triples are made. */
  private beginBatch(): Uint8Array | null {
    if (this.produced >= this.count) { this._done = true; this.stage = "done"; return null; }
    const F = this.F, m = Math.min(this.batchSize, this.count - this.produced);
    const a = F.random(m * this.tau, this.rng), b = F.random(m, this.rng);
    this.batch = { m, a, b, kosOut: [], coins: [], coinCommits: [[], [], []], macOf: [], sigmaCommits: [] };
    this.setStage("kos");
    return gilboaChoices(F, a);
  }

  private kosCheat(): { columns: number[]; bit: number } | undefined {
    return this.cheat.kosColumns ? { columns: this.cheat.kosColumns, bit: 0 } : undefined;
  }

  private startBatch(): OfflineOutbound[] {
    const choices = this.beginBatch();
    if (!choices) return [];
    // Fig. 9 Multiply: I am the OT receiver with the bits of my a (all τ copies) towards every peer.
    const ext = this.peers.map((j) => ssReceiverExtend(this.otR[j]!, choices, this.rng, gilboaBlocks(this.F), this.kosCheat()));
    return this.finishStart(ext);
  }

  private async startBatchAsync(): Promise<OfflineOutbound[]> {
    const choices = this.beginBatch();
    if (!choices) return [];
    if (this.cheat.kosColumns) return this.finishStart(this.peers.map((j) => ssReceiverExtend(this.otR[j]!, choices, this.rng, gilboaBlocks(this.F), this.kosCheat())));
    const ext = await inPeerOrder(this.peers.map((j) => ssReceiverExtendAsync(this.otR[j]!, choices, this.rng, gilboaBlocks(this.F))));
    return this.finishStart(ext);
  }

  private finishStart(ext: Array<{ message: Uint8Array; outputs: Uint8Array }>): OfflineOutbound[] {
    const batch = this.batch!;
    const outs: OfflineOutbound[] = [];
    this.peers.forEach((j, k) => {
      batch.kosOut[j] = ext[k]!.outputs;
      const pre = this.batchNo === 0 ? this.derivedSetup[j] : undefined;
      if (!pre) { outs.push(this.out(j, `${this.batchNo}.kos`, ext[k]!.message)); return; }
      // Derived direction: my setup for j rides ahead of batch 0's extension message (counted as setup).
      outs.push(this.out(j, `${this.batchNo}.kos`, concatBytes(pre, ext[k]!.message)));
      this.bytesByStep.kos! -= pre.length;
      this.bytesByStep.setup3 = (this.bytesByStep.setup3 ?? 0) + pre.length;
      this.derivedSetup[j] = undefined;
    });
    batch.coins = [coinCommit(this.rng), coinCommit(this.rng), coinCommit(this.rng)];
    for (let c = 0; c < 3; c++) batch.coinCommits[c]![this.me] = batch.coins[c]!.commitment;
    outs.push(this.out("all", `${this.batchNo}.coins`, concatBytes(...batch.coins.map((c) => c.commitment))));
    this.prefetchInBackground();
    return outs;
  }

  /**
   * Starts WebCrypto work for PRG streams read later (this batch's OT-extension sender
   * streams and COPE streams, the next batch's OT-extension receiver streams) without waiting: the sync
   * {@link receive} path uses whatever has arrived by the time it reads them (the event loop
   * runs between messages) and computes the rest itself. Same output either way; a no-op
   * for streams {@link prefetchBatch} already fetched.
   */
  private prefetchInBackground(): void {
    const F = this.F, m = this.batch!.m;
    const colBytes = paddedCount(F.bits * m * this.tau) / 8, copeBytes = (5 * m + 1) * F.uniformByteLength;
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

  private onKos(msgs: Array<Uint8Array | undefined>, coins: Array<Uint8Array | undefined>, pre?: Array<{ v0: Uint8Array; v1: Uint8Array }>): OfflineOutbound[] {
    this.takeDerivedSetup(msgs);
    const F = this.F, B = this.batch!, outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      const cm = coins[j]!;
      if (cm.length !== 96) throw new ProtocolAbort("bad-encoding", [j], "offline: coin commitments must be 96 bytes");
      for (let c = 0; c < 3; c++) B.coinCommits[c]![j] = cm.slice(32 * c, 32 * c + 32);
    }
    // own products a_l·b (Fig. 9 Multiply, the i = j term)
    const rep = new Uint32Array(B.m * this.tau);
    for (let i = 0; i < rep.length; i++) rep[i] = Math.floor(i / this.tau);
    const bRep = gather(F, B.b!, rep);
    let cProd = F.mul(B.a!, bRep);
    this.peers.forEach((j, k) => {
      const { v0, v1 } = pre ? pre[k]! : ssSenderExtend(this.otS[j]!, F.bits * B.m * this.tau, msgs[j]!, j, gilboaBlocks(F));
      const g = gilboaSender(F, bRep, v0, v1);
      cProd = F.add(cProd, g.share);
      outs.push(this.out(j, `${this.batchNo}.gilboa`, g.message));
    });
    B.cProd = cProd;
    this.setStage("gilboa");
    return outs;
  }

  private onGilboa(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const F = this.F, B = this.batch!;
    let c = B.cProd!;
    for (const j of this.peers) c = F.add(c, gilboaReceiver(F, B.a!, B.kosOut[j]!, msgs[j]!, j));
    B.cProd = c; B.kosOut = [];
    this.setStage("coin1");
    return [this.out("all", `${this.batchNo}.coin1`, coinOpenPayload(B.coins[0]!))];
  }

  private coinSeed(c: number, msgs: Array<Uint8Array | undefined>): Uint8Array {
    const B = this.batch!;
    const opens = [...Array(this.n).keys()].map((j) => (j === this.me ? coinOpenPayload(B.coins[c]!) : msgs[j]!));
    return coinFinish(B.coinCommits[c]!, opens);
  }

  private onCoin1(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const F = this.F, B = this.batch!, m = B.m;
    const prg = new Prg(this.coinSeed(0, msgs));
    const r = prg.nextField(F, m * this.tau), rHat = prg.nextField(F, m * this.tau);
    // Fig. 9 Combine
    let cShares = B.cProd!;
    if (this.cheat.badTriple) cShares = F.add(cShares, F.fromInts(new Array<number>(m * this.tau).fill(1)));
    const cb = combine(F, B.a!, cShares, r, rHat, this.tau);
    // Fig. 9 Authenticate: X = (x0, a, b, c, â, ĉ) through COPE with every peer (Π_[[·]], MASCOT §4: authenticated input with a random-linear-combination check)
    const X = F.concat([F.random(1, this.rng), cb.a, B.b!, cb.c, cb.aHat, cb.cHat]);
    B.X = X;
    let mac = F.scale(X, this.alphaShare);
    const outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      const tamper = this.cheat.copeBit !== undefined ? { digit: this.cheat.copeBit } : undefined;
      const e = digitCopeSenderExtend(this.copeS[j]!, X, tamper);
      mac = F.add(mac, e.t); // q + t = α_j·X
      // The first COPE message to j carries the GGM setup ahead of the corrections (digit-cope.ts).
      const setup = this.copeSetupOut[j];
      this.copeSetupOut[j] = undefined;
      outs.push(this.out(j, `${this.batchNo}.cope`, setup ? concatBytes(setup, e.message) : e.message));
    }
    B.macOwn = mac;
    B.a = undefined; B.cProd = undefined;
    this.setStage("cope");
    return outs;
  }

  private onCope(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const B = this.batch!, len = 5 * B.m + 1;
    this.takeCopeSetup(msgs);
    for (const j of this.peers) B.macOf[j] = digitCopeReceiverExtend(this.copeR[j]!, len, msgs[j]!, j);
    this.setStage("coin2");
    return [this.out("all", `${this.batchNo}.coin2`, coinOpenPayload(B.coins[1]!))];
  }

  private onCoin2(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const F = this.F, B = this.batch!, m = B.m;
    const prg = new Prg(this.coinSeed(1, msgs));
    B.rr = prg.nextField(F, 5 * m);
    B.tt = prg.nextField(F, m);
    const X = B.X!;
    // MAC shares on the shared values: own input's MAC plus q from every peer's input.
    let macAll = B.macOwn!;
    for (const j of this.peers) macAll = F.add(macAll, B.macOf[j]!);
    const part = (k: number): AuthShare => ({ value: F.slice(X, 1 + k * m, 1 + (k + 1) * m), mac: F.slice(macAll, 1 + k * m, 1 + (k + 1) * m) });
    B.A = part(0); B.B = part(1); B.C = part(2); B.AH = part(3); B.CH = part(4);
    const yMe = (F.get(X, 0) + F.dot(B.rr, F.slice(X, 1, 5 * m + 1))) % F.p;
    B.yMe = yMe;
    // Fig. 9 Sacrifice: ρ = t·[a] − [â]
    B.rho = sacrificeRho(F, B.tt, B.A, B.AH);
    this.setStage("open");
    return [this.out("all", `${this.batchNo}.open`, F.encode(F.concat([F.fromBigInts([yMe]), B.rho.value])))];
  }

  private onOpen(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const F = this.F, B = this.batch!, m = B.m;
    const ys: bigint[] = new Array(this.n);
    const rho = F.slice(B.rho!.value, 0, m);
    ys[this.me] = B.yMe!;
    for (const j of this.peers) {
      const p = msgs[j]!;
      if (p.length !== (m + 1) * F.byteLength) throw new ProtocolAbort("bad-encoding", [j], "offline open: wrong length");
      let v: FieldVec;
      try { v = F.decode(p); } catch { throw new ProtocolAbort("bad-encoding", [j], "offline open: non-canonical element"); }
      ys[j] = F.get(v, 0);
      F.addInPlace(rho, F.slice(v, 1, m + 1));
    }
    B.y = F.fromBigInts(ys);
    // MAC shares on y_j: γ(x0_j) + Σ r_h γ(X_j[h]) from the MACs on party j's input.
    const gy: bigint[] = new Array(this.n);
    for (let j = 0; j < this.n; j++) {
      const M = j === this.me ? B.macOwn! : B.macOf[j]!;
      gy[j] = F.get(M, 0) + F.dot(B.rr!, F.slice(M, 1, 5 * m + 1));
    }
    B.gy = F.fromBigInts(gy);
    B.rhoOpen = rho;
    B.z = sacrificeZero(F, B.tt!, rho, B.B!, B.C!, B.CH!);
    this.setStage("coin3");
    return [this.out("all", `${this.batchNo}.coin3`, coinOpenPayload(B.coins[2]!))];
  }

  private onCoin3(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const F = this.F, B = this.batch!, m = B.m;
    const prg = new Prg(this.coinSeed(2, msgs));
    // Fig. 10 MACCheck, batched, two independent sums so a failure names the check.
    const r1 = prg.nextField(F, this.n), r2 = prg.nextField(F, 2 * m);
    const alpha = this.alphaShare, p = F.p;
    const sig = (vals: FieldVec, macs: FieldVec, r: FieldVec) => (((F.dot(r, macs) - alpha * F.dot(r, vals)) % p) + p) % p;
    const sCope = sig(B.y!, B.gy!, r1);
    const sSac = sig(F.concat([B.rhoOpen!, F.zeros(m)]), F.concat([B.rho!.mac, B.z!.mac]), r2);
    const value = F.encode(F.fromBigInts([sCope, sSac]));
    const { commitment, opening } = commit(value, this.rng);
    B.sigmaOpen = concatBytes(opening, value);
    B.sigmaCommits[this.me] = commitment;
    this.setStage("sigma.commit");
    return [this.out("all", `${this.batchNo}.sigma.commit`, commitment)];
  }

  private onSigmaCommit(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const B = this.batch!;
    for (const j of this.peers) {
      if (msgs[j]!.length !== 32) throw new ProtocolAbort("bad-encoding", [j], "offline: σ commitment must be 32 bytes");
      B.sigmaCommits[j] = msgs[j]!;
    }
    this.setStage("sigma.open");
    return [this.out("all", `${this.batchNo}.sigma.open`, B.sigmaOpen!)];
  }

  private onSigmaOpen(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const F = this.F, B = this.batch!;
    let sCope = 0n, sSac = 0n;
    const bad: number[] = [];
    for (let j = 0; j < this.n; j++) {
      const o = j === this.me ? B.sigmaOpen! : msgs[j]!;
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
    this.results.push({ a: B.A!, b: B.B!, c: B.C! });
    this.produced += B.m;
    this.batch = undefined;
    const old = `${this.batchNo}.`;
    for (const k of this.seen) if (k.startsWith(old)) this.seen.delete(k);
    this.batchNo++;
    this.stage = "start";
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
  return Array.from({ length: k }, (_, l) => sha256(concatBytes(INPUT_SEED_TAG, flat.subarray(16 * l, 16 * l + 16))).slice(0, 16));
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
 * A node's OT-extension base OTs kept across sessions, per peer party index of the current
 * session (the caller maps indices to node identities). `receiver(j)`: I was the OT-extension
 * receiver towards j; `sender(j)`: I was its sender. The offline party offers a kept base in
 * setup1, reuses it only if j holds the same (tag), and saves fresh ones. The holder must
 * forget a peer's bases after any abort involving it (see {@link KosSenderBase}).
 */
export interface KosBaseStore {
  receiver(j: number): KosReceiverBase | undefined;
  sender(j: number): KosSenderBase | undefined;
  saveReceiver(j: number, base: KosReceiverBase): void;
  saveSender(j: number, base: KosSenderBase): void;
}
