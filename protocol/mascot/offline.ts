/**
 * The MASCOT offline phase as a message-driven party (Keller–Orsini–Scholl, CCS 2016):
 * MAC-key shares α_i, pairwise base OTs for the OT extension — SoftSpokenOT (Roy, CRYPTO 2022;
 * softspoken.ts, default, k = SS_DEFAULT_K) or KOS15 (ot-extension.ts, `otExtension: "kos"`) —
 * whose OTs serve COPE (Fig. 4) and the Gilboa products, and
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
 * the KOS fixed-key-AES hashing with WebCrypto (bulk, native AES) instead of sync noble AES;
 * use it wherever the caller can await (benchmarks use it via runOfflineInMemoryAsync).
 * `off.bytesSent` counts payload bytes sent (a broadcast once per recipient).
 * `OfflineParty` structurally implements online.ts's `OfflineSource`. Every phase name starts
 * with "offline.". Messages of later stages/batches may arrive early and are buffered; a
 * second message with the same phase from the same sender is a "replay". Sequence numbers
 * are the caller's business (party.ts / the relay). {@link runOfflineInMemory} runs n parties
 * in one process (tests, benchmarks).
 *
 * ## Message flow (per ordered pair; "bcast" = to "all")
 * setup1  A_kos ‖ tag                (Chou–Orlandi first message; I am the KOS receiver of this pair;
 *                                     tag ≠ 0 offers base OTs kept from an earlier session, KosBaseStore)
 * setup2  B_kos | "reuse"            (I am the KOS sender, base-OT choice bits = my KOS Δ; "reuse" if I
 *                                     hold the offered base: both key this session's PRGs with H(k ‖ sid))
 * setup3  [SoftSpokenOT: my GGM-tree setup message under this session's keys H(k ‖ sid), softspoken.ts]
 *         ‖ OT extend for k OTs with choice bits = bits of my α_i: the COPE Initialize OTs
 *         (Fig. 4) come from the OT extension, as in MP-SPDZ, so only κ = 128 base OTs per
 *         ordered pair are public-key operations.
 * per batch b of m ≤ batchSize triples, phases "offline.<b>.<step>":
 *  kos     OT-extension message (SoftSpokenOT or KOS; the phase keeps its name) for the k·m·τ
 *          Gilboa OTs, choice bits = bits of my a  (Fig. 9 Multiply;
 *          τ = combineTau(field): 4 for m61, 3 for p128, for ≥ 2^-60 triple privacy, triples.ts)
 *  coins   bcast: commitments to three coin-toss seeds
 *  gilboa  d = m0 − m1 + b for each OT (b = my b_t for the peer's a_{t,l})         (Fig. 9 Multiply)
 *  coin1   bcast: opening → r, r̂                                                    (Fig. 9 Combine)
 *  cope    COPE u^i for X = (x0, a, b, c, â, ĉ) under the peer's α                   (Fig. 9 Authenticate, Fig. 4)
 *  coin2   bcast: opening → input-check coefficients, sacrifice t                   (Π_[[·]] check, Fig. 9 Sacrifice)
 *  open    bcast: y_i = x0 + Σ r_h X_h and my share of ρ = t·a − â
 *  coin3   bcast: opening → MAC-check coefficients                                   (Fig. 10 MACCheck)
 *  sigma.commit / sigma.open   bcast: σ_cope, σ_sac committed then opened; accept iff both sums are 0
 * Aborts: "ot-check-failed" (OT-extension checks: SoftSpokenOT's PPRF and consistency checks,
 * or KOS's correlation check), "cope-check-failed" (input/COPE check), "sacrifice-failed",
 * "commitment-mismatch", "bad-encoding", "replay", "unexpected-message".
 */
import type { Field, FieldVec } from "../field/types.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import type { CopeReceiverSeeds, CopeSenderSeeds, InputCopeSeeds } from "./input.ts";
import type { Rng } from "../rng.ts";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import { coinCommit, coinFinish, coinOpenPayload, type CoinState } from "./coin-toss.ts";
import { commit, verifyCommitment } from "./commit.ts";
import {
  copeReceiverExtend, copeReceiverFromOts, copeSenderExtend, copeSenderFromOts, deltaBits,
  type CopeReceiverState, type CopeSenderState,
} from "./cope.ts";
import type { BaseOtSenderState } from "./base-ot.ts";
import { ProtocolAbort } from "./errors.ts";
import {
  kosReceiverExtend, kosReceiverExtendAsync, kosReceiverFromBase, kosReceiverSetupFinishWithBase, kosSenderExtendAsync, kosSenderFromBase,
  type KosReceiverBase, type KosSenderBase, kosReceiverSetupStart, kosSenderExtend, kosSenderSetup, KAPPA, paddedCount,
  type KosReceiverState, type KosSenderState,
} from "./ot-extension.ts";
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
   * OT extension for every OT of the offline phase (COPE Initialize and Gilboa): SoftSpokenOT
   * (default, softspoken.ts) or KOS15 (ot-extension.ts). All parties must use the same.
   */
  otExtension?: "softspoken" | "kos";
  /** SoftSpokenOT's k (bits per small-field VOLE, 2..8; default SS_DEFAULT_K). */
  softspokenK?: number;
}

/** One OT-extension instance of an ordered pair, either protocol. */
type OtReceiver = { kind: "kos"; st: KosReceiverState } | { kind: "ss"; st: SsReceiverState };
type OtSender = { kind: "kos"; st: KosSenderState } | { kind: "ss"; st: SsSenderState };
type Cheat = { columns: number[]; bit: number } | undefined;

function otReceiverExtend(r: OtReceiver, x: Uint8Array, rng: Rng, outBlocks: number, cheat: Cheat): { message: Uint8Array; outputs: Uint8Array } {
  return r.kind === "kos" ? kosReceiverExtend(r.st, x, rng, outBlocks, cheat) : ssReceiverExtend(r.st, x, rng, outBlocks, cheat);
}
function otReceiverExtendAsync(r: OtReceiver, x: Uint8Array, rng: Rng, outBlocks: number): Promise<{ message: Uint8Array; outputs: Uint8Array }> {
  return r.kind === "kos" ? kosReceiverExtendAsync(r.st, x, rng, outBlocks) : ssReceiverExtendAsync(r.st, x, rng, outBlocks);
}
function otSenderExtend(s: OtSender, m: number, msg: Uint8Array, peer: number, outBlocks: number): { v0: Uint8Array; v1: Uint8Array } {
  return s.kind === "kos" ? kosSenderExtend(s.st, m, msg, peer, outBlocks) : ssSenderExtend(s.st, m, msg, peer, outBlocks);
}
function otSenderExtendAsync(s: OtSender, m: number, msg: Uint8Array, peer: number, outBlocks: number): Promise<{ v0: Uint8Array; v1: Uint8Array }> {
  return s.kind === "kos" ? kosSenderExtendAsync(s.st, m, msg, peer, outBlocks) : ssSenderExtendAsync(s.st, m, msg, peer, outBlocks);
}
/** The PRG streams one Extend reads (each paddedCount(m)/8 bytes), for WebCrypto prefetch. */
function otStreams(x: OtReceiver | OtSender): Prg[] {
  if (x.kind === "ss") return ssStreams(x.st);
  if ("prgs" in x.st) return x.st.prgs;
  return [...x.st.prg0, ...x.st.prg1];
}

/** Deviations for negative tests only (a cheating party). */
export interface OfflineCheat {
  /** Use inconsistent OT-extension choice bits in these columns (KOS) or in the SoftSpokenOT blocks containing them (caught by the consistency check). */
  kosColumns?: number[];
  /** Send a wrong COPE correction u^bit (caught by the authentication check). */
  copeBit?: number;
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
  private kosPending: Array<BaseOtSenderState | undefined> = [];
  private kosR: Array<OtReceiver | undefined> = [];
  private kosS: Array<OtSender | undefined> = [];
  /** OT extension in use and SoftSpokenOT's k. */
  private readonly ote: "softspoken" | "kos";
  private readonly ssK: number;
  /** SoftSpokenOT, per peer (me as OT-extension sender): the base kept from setup1 until the peer's setup message (setup3). */
  private ssSenderBase: Array<KosSenderBase | undefined> = [];
  private copeS: Array<CopeSenderState | undefined> = [];
  private copeR: Array<CopeReceiverState | undefined> = [];
  private inputSeedsS: Array<CopeSenderSeeds | undefined> = [];
  private readonly baseOts: KosBaseStore | undefined;
  /** Per peer (as KOS receiver): the base I offered to reuse in setup1, if any. */
  private offered: Array<KosReceiverBase | undefined> = [];
  /** Ordered pairs (me as KOS receiver, peer) whose base OTs were reused this session. */
  reusedBaseOts = 0;
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
    const ote = cfg.otExtension ?? "softspoken";
    if (ote !== "softspoken" && ote !== "kos") throw new RangeError(`OfflineParty: otExtension must be "softspoken" or "kos", got ${String(ote)}`);
    this.ote = ote;
    this.ssK = cfg.softspokenK ?? SS_DEFAULT_K;
    ssBlockSizes(this.ssK); // throws RangeError on a bad k
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
    if (!this._done) throw new Error("OfflineParty.inputCopeSeeds: offline phase not finished");
    const pick = <T>(xs: Array<T | undefined>, j: number, what: string): T => {
      const v = xs[j];
      if (!v) throw new RangeError(`inputCopeSeeds: no ${what} seeds for party ${j}`);
      return v;
    };
    return { sender: (j) => pick(this.inputSeedsS, j, "sender"), receiver: (i) => pick(this.inputSeedsR, i, "receiver") };
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

  /** Setup step 1: base-OT first messages to every peer. */
  start(): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      const k = kosReceiverSetupStart(this.pairSid("kos", j, this.me), this.rng); // j = KOS sender, me = receiver
      this.kosPending[j] = k.pending;
      // A ‖ tag: the tag offers base OTs kept from an earlier session with j (zeros: none).
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
   * and KOS columns) with WebCrypto AES-CTR, which is several times faster than the sync
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
        } else if (this.stage.endsWith(".kos") && this.needed().every((p) => this.complete(p))) {
          const need = this.needed();
          const got = need.map((p) => this.inbox.get(p)!);
          for (const p of need) this.inbox.delete(p);
          const B = this.batch!, msgs = got[0]!;
          // All peers at once, so one peer's native AES overlaps another's JS work.
          const pre = await inPeerOrder(this.peers.map((j) => otSenderExtendAsync(this.kosS[j]!, this.F.bits * B.m * this.tau, msgs[j]!, j, gilboaBlocks(this.F))));
          o = this.onKos(msgs, got[1]!, pre);
        } else {
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
      for (const p of otStreams(this.kosR[j]!)) jobs.push(p.prefetch(colBytes));
      for (const p of otStreams(this.kosS[j]!)) jobs.push(p.prefetch(colBytes));
      for (const p of this.copeS[j]!.prg0) jobs.push(p.prefetch(copeBytes));
      for (const p of this.copeS[j]!.prg1) jobs.push(p.prefetch(copeBytes));
      for (const p of this.copeR[j]!.prg) jobs.push(p.prefetch(copeBytes));
    }
    await Promise.all(jobs);
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
  private onSetup1(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const outs: OfflineOutbound[] = [];
    for (const j of this.peers) {
      const p = msgs[j]!;
      if (p.length !== 64) throw new ProtocolAbort("bad-encoding", [j], "offline setup1: expected 64 bytes");
      const sid = this.pairSid("kos", this.me, j);
      const offer = p.subarray(32);
      const kept = this.baseOts?.sender(j);
      if (kept && offer.some((b) => b !== 0) && bytesEqual(kept.tag, offer)) {
        // Both sides still hold the same base OTs: no public-key operations this session.
        if (this.ote === "kos") this.kosS[j] = { kind: "kos", st: kosSenderFromBase(sid, kept) };
        else this.ssSenderBase[j] = kept;
        outs.push(this.out(j, "setup2", REUSE));
        continue;
      }
      const k = kosSenderSetup(sid, p.subarray(0, 32), this.rng, j);
      if (this.ote === "kos") this.kosS[j] = { kind: "kos", st: k.state };
      else this.ssSenderBase[j] = k.base;
      this.baseOts?.saveSender(j, k.base);
      outs.push(this.out(j, "setup2", k.message));
    }
    this.stage = "setup2";
    return outs;
  }

  private onSetup2(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const kb = 32 * KAPPA, outs: OfflineOutbound[] = [];
    const bits = deltaBits(this.F, this.alphaShare);
    for (const j of this.peers) {
      const p = msgs[j]!;
      const sid = this.pairSid("kos", j, this.me);
      let base: KosReceiverBase;
      if (bytesEqual(p, REUSE)) {
        const offered = this.offered[j];
        if (!offered) throw new ProtocolAbort("bad-encoding", [j], "offline setup2: reuse of base OTs that were not offered");
        base = offered;
        if (this.ote === "kos") this.kosR[j] = { kind: "kos", st: kosReceiverFromBase(sid, offered) };
        this.reusedBaseOts++;
      } else {
        if (p.length !== kb) throw new ProtocolAbort("bad-encoding", [j], `offline setup2: expected ${kb} bytes`);
        const fresh = kosReceiverSetupFinishWithBase(sid, this.kosPending[j]!, p, j);
        base = fresh.base;
        if (this.ote === "kos") this.kosR[j] = { kind: "kos", st: fresh.state };
        this.baseOts?.saveReceiver(j, fresh.base);
      }
      this.kosPending[j] = undefined;
      // SoftSpokenOT: my GGM trees (fresh roots) under this session's keys H(k ‖ sid) of the base.
      let prefix: Uint8Array = new Uint8Array(0);
      if (this.ote === "softspoken") {
        const ss = ssReceiverSetup(sid, base, this.ssK, this.rng);
        this.kosR[j] = { kind: "ss", st: ss.state };
        prefix = ss.message;
      }
      // COPE Initialize (Fig. 4) for (j → me): I receive with choice bits = bits of α_i.
      const ext = otReceiverExtend(this.kosR[j]!, bits, this.rng, 1, undefined);
      this.copeR[j] = copeReceiverFromOts(this.F, this.alphaShare, ext.outputs);
      this.inputSeedsR[j] = { delta: this.alphaShare, kDelta: inputCopeSeeds(ext.outputs, this.F.bits) };
      outs.push(this.out(j, "setup3", prefix.length ? concatBytes(prefix, ext.message) : ext.message));
    }
    this.stage = "setup3";
    return outs;
  }

  private onSetup3(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    for (const j of this.peers) {
      // COPE Initialize for (me → j): j chose with the bits of α_j; I hold both keys.
      let msg = msgs[j]!;
      if (this.ote === "softspoken") {
        const head = ssSetupMessageLength(this.ssK), want = head + ssMessageLength(this.ssK, this.F.bits);
        if (msg.length !== want) throw new ProtocolAbort("bad-encoding", [j], `offline setup3: expected ${want} bytes`);
        this.kosS[j] = { kind: "ss", st: ssSenderSetup(this.pairSid("kos", this.me, j), this.ssSenderBase[j]!, this.ssK, msg.subarray(0, head), j) };
        this.ssSenderBase[j] = undefined;
        msg = msg.subarray(head);
      }
      const { v0, v1 } = otSenderExtend(this.kosS[j]!, this.F.bits, msg, j, 1);
      this.copeS[j] = copeSenderFromOts(this.F, v0, v1);
      this.inputSeedsS[j] = { k0: inputCopeSeeds(v0, this.F.bits), k1: inputCopeSeeds(v1, this.F.bits) };
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
    const ext = this.peers.map((j) => otReceiverExtend(this.kosR[j]!, choices, this.rng, gilboaBlocks(this.F), this.kosCheat()));
    return this.finishStart(ext);
  }

  private async startBatchAsync(): Promise<OfflineOutbound[]> {
    const choices = this.beginBatch();
    if (!choices) return [];
    if (this.cheat.kosColumns) return this.finishStart(this.peers.map((j) => otReceiverExtend(this.kosR[j]!, choices, this.rng, gilboaBlocks(this.F), this.kosCheat())));
    const ext = await inPeerOrder(this.peers.map((j) => otReceiverExtendAsync(this.kosR[j]!, choices, this.rng, gilboaBlocks(this.F))));
    return this.finishStart(ext);
  }

  private finishStart(ext: Array<{ message: Uint8Array; outputs: Uint8Array }>): OfflineOutbound[] {
    const batch = this.batch!;
    const outs: OfflineOutbound[] = [];
    this.peers.forEach((j, k) => {
      batch.kosOut[j] = ext[k]!.outputs;
      outs.push(this.out(j, `${this.batchNo}.kos`, ext[k]!.message));
    });
    batch.coins = [coinCommit(this.rng), coinCommit(this.rng), coinCommit(this.rng)];
    for (let c = 0; c < 3; c++) batch.coinCommits[c]![this.me] = batch.coins[c]!.commitment;
    outs.push(this.out("all", `${this.batchNo}.coins`, concatBytes(...batch.coins.map((c) => c.commitment))));
    this.prefetchInBackground();
    return outs;
  }

  /**
   * Starts WebCrypto work for PRG streams read later (this batch's KOS-sender columns and
   * COPE streams, the next batch's KOS-receiver columns) without waiting: the sync
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
        for (const p of otStreams(this.kosS[j]!)) p.prefetchInBackground(colBytes);
        for (const p of this.copeS[j]!.prg0) p.prefetchInBackground(copeBytes);
        for (const p of this.copeS[j]!.prg1) p.prefetchInBackground(copeBytes);
        for (const p of this.copeR[j]!.prg) p.prefetchInBackground(copeBytes);
        if (nextCol > 0) for (const p of otStreams(this.kosR[j]!)) p.prefetchInBackground(nextCol);
      }
    } catch {
      // no WebCrypto: the streams are computed synchronously when read
    }
  }

  private onKos(msgs: Array<Uint8Array | undefined>, coins: Array<Uint8Array | undefined>, pre?: Array<{ v0: Uint8Array; v1: Uint8Array }>): OfflineOutbound[] {
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
      const { v0, v1 } = pre ? pre[k]! : otSenderExtend(this.kosS[j]!, F.bits * B.m * this.tau, msgs[j]!, j, gilboaBlocks(F));
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
      const tamper = this.cheat.copeBit !== undefined ? { bit: this.cheat.copeBit } : undefined;
      const e = copeSenderExtend(this.copeS[j]!, X, tamper);
      mac = F.add(mac, e.t);
      outs.push(this.out(j, `${this.batchNo}.cope`, e.message));
    }
    B.macOwn = mac;
    B.a = undefined; B.cProd = undefined;
    this.setStage("cope");
    return outs;
  }

  private onCope(msgs: Array<Uint8Array | undefined>): OfflineOutbound[] {
    const B = this.batch!, len = 5 * B.m + 1;
    for (const j of this.peers) B.macOf[j] = copeReceiverExtend(this.copeR[j]!, len, msgs[j]!, j);
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

/** The in-memory message queue of the offline runners: per (sender, recipient) seq numbers, broadcasts fanned out. */
function inMemoryMailbox(n: number): { queue: Array<{ to: number; m: OfflineInbound }>; post: (from: number, outs: OfflineOutbound[]) => void } {
  const queue: Array<{ to: number; m: OfflineInbound }> = [];
  const seq = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const post = (from: number, outs: OfflineOutbound[]) => {
    for (const o of outs) {
      const tos = o.to === "all" ? [...Array(n).keys()].filter((j) => j !== from) : [o.to];
      for (const to of tos) queue.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } });
    }
  };
  return { queue, post };
}

/**
 * Runs n offline parties in one process with FIFO delivery (tests, benchmarks). Returns
 * every party's α_i and triples, and the bytes each party sent. Throws the first ProtocolAbort.
 */
export function runOfflineInMemory(
  parties: OfflineParty[],
): { alphas: bigint[]; triples: TripleShares[]; bytesSent: number[]; messages: number } {
  const { queue, post } = inMemoryMailbox(parties.length);
  let messages = 0;
  parties.forEach((p, i) => post(i, p.start()));
  let head = 0;
  while (head < queue.length) {
    const { to, m } = queue[head++]!;
    messages++;
    post(to, parties[to]!.receive(m));
    if (head > 4096) { queue.splice(0, head); head = 0; }
  }
  if (!parties.every((p) => p.done)) throw new Error("runOfflineInMemory: parties stalled");
  return { alphas: parties.map((p) => p.alpha()), triples: parties.map((p) => p.triples()), bytesSent: parties.map((p) => p.bytesSent), messages };
}

/** {@link runOfflineInMemory} with {@link OfflineParty.receiveAsync} (WebCrypto prefetch). */
export async function runOfflineInMemoryAsync(
  parties: OfflineParty[],
): Promise<{ alphas: bigint[]; triples: TripleShares[]; bytesSent: number[]; messages: number }> {
  const { queue, post } = inMemoryMailbox(parties.length);
  let messages = 0;
  parties.forEach((p, i) => post(i, p.start()));
  let head = 0;
  while (head < queue.length) {
    const { to, m } = queue[head++]!;
    messages++;
    post(to, await parties[to]!.receiveAsync(m));
    if (head > 4096) { queue.splice(0, head); head = 0; }
  }
  if (!parties.every((p) => p.done)) throw new Error("runOfflineInMemoryAsync: parties stalled");
  return { alphas: parties.map((p) => p.alpha()), triples: parties.map((p) => p.triples()), bytesSent: parties.map((p) => p.bytesSent), messages };
}

const INPUT_SEED_TAG = utf8("2pm/mascot/input-cope-seed/v1");

/** k 16-byte seeds H(tag ‖ k_ℓ) from k concatenated 16-byte OT outputs. */
function inputCopeSeeds(flat: Uint8Array, k: number): Uint8Array[] {
  if (flat.length < 16 * k) throw new RangeError(`inputCopeSeeds: expected ${16 * k} bytes of OT output, got ${flat.length}`);
  return Array.from({ length: k }, (_, l) => sha256(concatBytes(INPUT_SEED_TAG, flat.subarray(16 * l, 16 * l + 16))).slice(0, 16));
}

/** setup2 payload meaning "reuse the base OTs you offered" (a fresh reply is 32·κ bytes). */
const REUSE = utf8("reuse");

/**
 * A node's KOS base OTs kept across sessions, per peer party index of the current session
 * (the caller maps indices to node identities). `receiver(j)`: I was the KOS receiver
 * towards j; `sender(j)`: I was the KOS sender. The offline party offers a kept base in
 * setup1, reuses it only if j holds the same (tag), and saves fresh ones. The holder must
 * forget a peer's bases after any abort involving it (see {@link KosSenderBase}).
 */
export interface KosBaseStore {
  receiver(j: number): KosReceiverBase | undefined;
  sender(j: number): KosSenderBase | undefined;
  saveReceiver(j: number, base: KosReceiverBase): void;
  saveSender(j: number, base: KosSenderBase): void;
}
