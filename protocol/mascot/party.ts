/**
 * SecureSumParty (docs/ARCHITECTURE.md, "MASCOT party API"): one party of a secure sum,
 * driven only by messages. `start()` returns the first outbound messages; every inbound
 * message goes to `receive()`, which returns the next outbound messages (possibly none)
 * and throws ProtocolAbort on any deviation. Two modes:
 *  - "validated": MASCOT-authenticated inputs (Π_[[·]] with COPE, input.ts), predicates
 *    checked with Beaver triples (validation.ts), failing inputs named and excluded, the
 *    sum opened and MAC-checked (online.ts, mac-check.ts), broadcasts echoed (echo.ts).
 *  - "linear-only": PRG-seed additive sharing and commit-then-open (linear-only.ts).
 *
 * Phase machine: step-driver.ts runs the protocol's fixed list of steps (each sender's
 * inbound phase sequence is known in advance; a phase out of sequence → "unexpected-message";
 * messages of a later step are buffered). This class checks seq on arrival: it must be exactly
 * the next one from that sender (smaller → "replay", larger → "unexpected-message", i.e. a
 * gap or reordering). seq numbering (what the relay or testing/transport.ts assigns): the i-th message (from 0) that
 * `from` sent to this party, broadcasts and point-to-point alike.
 *
 * Offline prelude (every validated run, offline.ts with no triples: the validation's product
 * proof needs none, product-proof.ts): α_i and the input's COPE seeds on its base OTs — one
 * base-OT design. Its messages (phases starting with {@link OFFLINE_PREFIX}) share each
 * sender's seq stream with the main protocol but go to the offline party, which checks their
 * stage and replays itself. The main protocol starts as soon as the engine can
 * (ValidatedEngine.canStart: α_i and the input's COPE seeds exist, their OT extension's
 * checks done).
 */
import type { FieldVec } from "../field/types.ts";
import type { InboundMessage, OutboundMessage, SecureSumConfig, SecureSumResult, Step } from "./types.ts";
import type { Rng } from "../rng.ts";
import { ProtocolAbort } from "./errors.ts";
import { OfflineParty, type KeptOtStore } from "./offline.ts";
import { Transcript } from "./echo.ts";
import {
  LIN_COMMIT, LIN_OPEN, LIN_SEED, commitmentsDigest, linearCommit, linearDealSeeds, linearFinish, linearOpenPayload, linearOutputShare,
} from "./linear-only.ts";
import { buildValidatedSteps, SUM_COMMIT, type OfflineSource, type ValidatedEngine } from "./online.ts";
import { StepDriver } from "./step-driver.ts";
import { checkNoiseConfig } from "./noise.ts";

/** Every phase of the offline prelude (offline.ts) starts with this; no main-protocol phase does. */
export const OFFLINE_PREFIX = "offline.";

/** Phase of the plaintext baseline: broadcast of the party's input, encoded. */
export const PLAIN_OPEN = "plain.open";
export type {
  AggregationMode, InboundMessage, Inbox, OutboundMessage, PineOptions, Predicate, SecureSumConfig, SecureSumResult, Step,
} from "./types.ts";
/**
 * Phases that open the output (validated "open.sum", linear-only LIN_OPEN, plaintext
 * PLAIN_OPEN): once any member sends one, the round's output may be known to a corrupt member.
 */
export const OUTPUT_PHASES: ReadonlySet<string> = new Set(["open.sum", LIN_OPEN, PLAIN_OPEN]);

/** Phases whose payloads are broadcast (recorded in the transcript and echoed). */
export const BROADCAST_PHASES = new Set([
  LIN_COMMIT, LIN_OPEN, PLAIN_OPEN, "coin.commit", "coin.open", "input.y", "input.mask", "open.sum", "valid.open",
  "maccheck.commit", "maccheck.open", "echo", SUM_COMMIT,
]);

function validateConfig(cfg: SecureSumConfig, input: FieldVec): void {
  if (!cfg || typeof cfg !== "object") throw new TypeError("SecureSumParty: cfg must be an object");
  if (!Number.isInteger(cfg.parties) || cfg.parties < 2) throw new RangeError(`SecureSumParty: parties must be an integer ≥ 2, got ${cfg.parties}`);
  if (!Number.isInteger(cfg.me) || cfg.me < 0 || cfg.me >= cfg.parties) throw new RangeError(`SecureSumParty: me must be in [0, ${cfg.parties}), got ${cfg.me}`);
  if (cfg.mode !== "validated" && cfg.mode !== "linear-only" && cfg.mode !== "plaintext") throw new TypeError(`SecureSumParty: unknown mode ${String(cfg.mode)}`);
  if (!Number.isInteger(cfg.length) || cfg.length < 1) throw new RangeError(`SecureSumParty: length must be a positive integer, got ${cfg.length}`);
  if (input.length !== cfg.length) throw new RangeError(`SecureSumParty: input has ${input.length} entries, config says ${cfg.length}`);
  if (!(cfg.sessionId instanceof Uint8Array) || cfg.sessionId.length === 0) throw new TypeError("SecureSumParty: sessionId must be non-empty bytes");
  if (!Array.isArray(cfg.predicates)) throw new TypeError("SecureSumParty: predicates must be an array");
  if (cfg.mode !== "validated" && cfg.predicates.some((p) => p.kind !== "none")) {
    throw new RangeError(`SecureSumParty: ${cfg.mode} mode cannot check predicates; use mode "validated"`);
  }
  if (cfg.noise !== undefined) {
    if (cfg.mode !== "validated") throw new RangeError(`SecureSumParty: ${cfg.mode} mode cannot add noise that no party can remove; use mode "validated"`);
    checkNoiseConfig(cfg.noise, cfg.length);
  }
}

/**
 * Optional dependencies (an extension of the documented constructor, for tests and
 * benchmarks): `offline()` builds the offline phase that supplies α_i and the input's COPE
 * seeds. Default: the message-driven MASCOT offline party (offline.ts) with no triples (the
 * validation needs none: product-proof.ts).
 */
export interface PartyDeps {
  offline?: () => OfflineSource;
  /** SoftSpokenOT states kept across sessions by this node (offline.ts KeptOtStore); default: none kept. */
  baseOts?: KeptOtStore;
  /**
   * With cfg.noise: this party's noise vector z (cfg.length field elements) instead of one
   * sampled from the party's Rng. For tests (a cheating party's noise) and callers that sample
   * elsewhere; a real node leaves it out.
   */
  noise?: FieldVec;
}

/** The real offline phase: offline.ts's message-driven OfflineParty (phases "offline.*"). */
function defaultOffline(cfg: SecureSumConfig, rng: Rng, baseOts?: KeptOtStore): () => OfflineSource {
  return () => new OfflineParty({ field: cfg.field, parties: cfg.parties, me: cfg.me, sessionId: cfg.sessionId, count: 0 }, rng, baseOts ? { baseOts } : {});
}

/** One party of a secure sum, driven by messages (see the module comment for the phase machine). */
export class SecureSumParty {
  private prelude: OfflineSource | undefined;
  private mainStarted = false;
  private readonly cfg: SecureSumConfig;
  private readonly transcript: Transcript;
  private readonly driver: StepDriver;
  private started = false;
  private failed: ProtocolAbort | undefined;
  private readonly nextSeq: number[];
  private _result: SecureSumResult | undefined;
  private engine: ValidatedEngine | undefined;

  /**
   * @param cfg   committee size, our index, mode, input length, predicates, session id
   * @param input our input vector (length cfg.length)
   * @param rng   CSPRNG for every random choice (seeded only in tests)
   * Throws TypeError / RangeError on a bad config (naming the field).
   */
  constructor(cfg: SecureSumConfig, input: FieldVec, private readonly rng: Rng, deps: PartyDeps = {}) {
    validateConfig(cfg, input);
    this.cfg = cfg;
    this.transcript = new Transcript(cfg.sessionId);
    this.nextSeq = new Array<number>(cfg.parties).fill(0);
    let steps: Step[];
    if (cfg.mode === "linear-only") {
      steps = this.linearSteps(input);
    } else if (cfg.mode === "plaintext") {
      steps = this.plainSteps(input);
    } else {
      this.engine = buildValidatedSteps(cfg, input, rng, this.transcript, (r) => { this._result = r; }, deps.offline ?? defaultOffline(cfg, rng, deps.baseOts), deps.noise);
      steps = this.engine.steps;
      this.prelude = this.engine.offline;
    }
    this.driver = new StepDriver(cfg.parties, cfg.me, steps);
  }

  /** Current phase name: "init", a step name, "done" or "aborted". */
  get phase(): string {
    if (this.failed) return "aborted";
    if (this._result) return "done";
    if (!this.started) return "init";
    return this.driver.current?.name ?? "done";
  }
  /**
   * True once this party has emitted its share of the output opening (OUTPUT_PHASES): from
   * then on a corrupt member may know the output, so the node must never take part in a
   * rerun of this round over a different set of inputs (DESIGN §1 "One output per round").
   */
  get outputReleased(): boolean {
    return this._outputReleased;
  }
  private _outputReleased = false;
  /** True once the result is available. */
  get done(): boolean {
    return this._result !== undefined;
  }
  /** The result (sum, excluded parties, transcript hash), once done. */
  get result(): SecureSumResult | undefined {
    return this._result;
  }

  /**
   * Parties whose messages the current step is still waiting for (empty when done, aborted
   * or not started). While the offline prelude runs and names peers it lacks messages from
   * (OfflineSource.waitingFor), those; before the main protocol has started (or with a prelude
   * that names no one), every other party.
   */
  get waitingFor(): number[] {
    if (this.failed || this._result || !this.started) return [];
    const n = this.cfg.parties;
    const others = [...Array(n).keys()].filter((j) => j !== this.cfg.me);
    if (this.prelude && !this.prelude.done) {
      const w = this.prelude.waitingFor;
      if (w && w.length > 0) return [...w];
      if (!this.mainStarted) return w ? [] : others;
    }
    return this.driver.waitingFor();
  }

  /**
   * Called by the driver when a phase deadline passes (the party itself keeps no clock):
   * aborts with ProtocolAbort "timeout" naming {@link waitingFor} and throws it. No-op
   * (returns) if the party is already done; rethrows an earlier abort.
   */
  timeout(): void {
    if (this._result) return;
    if (this.failed) throw this.failed;
    this.failed = new ProtocolAbort("timeout", this.waitingFor, `no message from parties ${this.waitingFor.join(",")} in step ${this.phase}`);
    throw this.failed;
  }

  /** Returns the first messages. Throws ProtocolAbort "unexpected-message" if called twice. */
  start(): OutboundMessage[] {
    if (this.started) throw new ProtocolAbort("unexpected-message", [], "start() called twice");
    this.started = true;
    return this.guard(() => {
      if (!this.engine) return this.cfg.mode === "plaintext" ? this.plainStart() : this.linearStart();
      if (this.prelude) return this.prelude.start().concat(this.afterPrelude());
      return this.startMain();
    });
  }

  /**
   * Handles one inbound message and returns the messages to send. Throws ProtocolAbort:
   * "replay" (seq already seen), "unexpected-message" (gap, wrong phase, unknown sender,
   * after done/abort), "bad-encoding", or whatever check the completed step runs. After an
   * abort every further call throws the same abort.
   */
  receive(m: InboundMessage): OutboundMessage[] {
    if (this.failed) throw this.failed;
    return this.guard(() => this.accept(m));
  }

  /**
   * Like {@link receive} (same checks, messages and result), but offline-phase messages go
   * through the offline party's async path (WebCrypto AES-CTR for the PRG streams, several
   * times faster than the sync AES). Calls must not overlap: await each before the next.
   */
  async receiveAsync(m: InboundMessage): Promise<OutboundMessage[]> {
    if (this.failed) throw this.failed;
    this.deferPrelude = this.prelude?.receiveAsync !== undefined;
    let out: OutboundMessage[];
    try {
      out = this.guard(() => this.accept(m));
    } finally {
      this.deferPrelude = false;
    }
    const d = this.deferred;
    this.deferred = undefined;
    if (!d) return out;
    try {
      const o = await this.prelude!.receiveAsync!(d);
      return this.guard(() => o.concat(this.afterPrelude()));
    } catch (e) {
      if (e instanceof ProtocolAbort && !this._result) this.failed = e;
      throw e;
    }
  }
  /** Set by receiveAsync: accept() hands an offline message back instead of processing it. */
  private deferPrelude = false;
  private deferred: InboundMessage | undefined;

  private startMain(): OutboundMessage[] {
    this.mainStarted = true;
    const out = this.engine!.start();
    this.recordOwn(out);
    return out.concat(this.drain());
  }

  /**
   * After the offline prelude advanced: starts the main protocol once the engine can
   * (α and the input's COPE seeds are there, typically long before the triples), and runs
   * any step that was waiting for the triples.
   */
  private afterPrelude(): OutboundMessage[] {
    if (!this.mainStarted) return this.engine!.canStart() ? this.startMain() : [];
    return this.drain();
  }

  private guard(f: () => OutboundMessage[]): OutboundMessage[] {
    try {
      const out = f();
      if (!this._outputReleased && out.some((m) => OUTPUT_PHASES.has(m.phase))) this._outputReleased = true;
      return out;
    } catch (e) {
      // After a successful finish a stray message is reported but does not void the result.
      if (e instanceof ProtocolAbort && !this._result) this.failed = e;
      throw e;
    }
  }

  private accept(m: InboundMessage): OutboundMessage[] {
    const n = this.cfg.parties;
    if (!m || typeof m !== "object" || !(m.payload instanceof Uint8Array) || typeof m.phase !== "string") {
      throw new ProtocolAbort("bad-encoding", [], "inbound message is malformed");
    }
    const from = m.from;
    if (!Number.isInteger(from) || from < 0 || from >= n || from === this.cfg.me) {
      throw new ProtocolAbort("unexpected-message", [], `message from unknown sender ${String(from)}`);
    }
    if (!this.started) throw new ProtocolAbort("unexpected-message", [from], "message before start()");
    if (!Number.isInteger(m.seq) || m.seq < this.nextSeq[from]!) {
      throw new ProtocolAbort("replay", [from], `replayed message seq ${m.seq} from party ${from} (expected ${this.nextSeq[from]})`);
    }
    if (m.seq > this.nextSeq[from]!) {
      throw new ProtocolAbort("unexpected-message", [from], `out-of-order message seq ${m.seq} from party ${from} (expected ${this.nextSeq[from]})`);
    }
    if (m.phase.startsWith(OFFLINE_PREFIX)) {
      // Offline prelude message (interleaved with the main protocol's first steps): the
      // offline party runs its own checks (phase, stage, replay).
      if (!this.prelude || this.prelude.done) throw new ProtocolAbort("unexpected-message", [from], `unexpected ${m.phase} from party ${from} ${this.prelude ? "after the offline phase" : "(no offline phase)"}`);
      this.nextSeq[from]!++;
      if (this.deferPrelude) {
        this.deferred = m;
        return [];
      }
      const out = this.prelude.receive(m);
      return out.concat(this.afterPrelude());
    }
    if (this._result) throw new ProtocolAbort("unexpected-message", [from], `unexpected ${m.phase} from party ${from} after the protocol ended`);
    const step = this.driver.accept(from, m.phase, m.payload);
    this.nextSeq[from]!++;
    if (BROADCAST_PHASES.has(m.phase)) this.transcript.record(step, m.phase, from, m.payload);
    return this.drain();
  }

  /** Runs every step whose messages are all in (only once the main protocol has started). */
  private drain(): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    if (this.engine && !this.mainStarted) return out;
    while (this.driver.ready) {
      const sent = this.driver.run();
      this.transcript.closeThrough(this.driver.index - 1);
      this.recordOwn(sent);
      out.push(...sent);
    }
    return out;
  }

  /** Our own broadcasts go into the transcript of the step in which peers receive them. */
  private recordOwn(sent: readonly OutboundMessage[]): void {
    for (const o of sent) if (o.to === "all" && BROADCAST_PHASES.has(o.phase)) this.transcript.record(this.driver.index, o.phase, this.cfg.me, o.payload);
  }

  // ---- linear-only mode (linear-only.ts) ----
  private linSent: Array<Uint8Array | undefined> = [];
  private linOpen: { value: Uint8Array; nonce: Uint8Array; commitPayload: Uint8Array } | undefined;
  private linCommits: Uint8Array[] = [];

  private linearStart(): OutboundMessage[] {
    const { parties: n, me } = this.cfg;
    this.linSent = linearDealSeeds(n, me, this.rng);
    const out: OutboundMessage[] = [];
    for (let j = 0; j < n; j++) if (j !== me) out.push({ to: j, phase: LIN_SEED, payload: this.linSent[j]! });
    this.recordOwn(out);
    return out;
  }

  private linearSteps(input: FieldVec): Step[] {
    const f = this.cfg.field;
    const { me } = this.cfg;
    return [
      {
        name: LIN_SEED, expect: [LIN_SEED],
        run: (box) => {
          const share = linearOutputShare(f, input, me, this.linSent, box.get(LIN_SEED)!);
          this.linSent = [];
          this.linOpen = linearCommit(f, share, this.rng);
          return [{ to: "all", phase: LIN_COMMIT, payload: this.linOpen.commitPayload }];
        },
      },
      {
        name: LIN_COMMIT, expect: [LIN_COMMIT],
        run: (box) => {
          const commits = box.get(LIN_COMMIT)!.map((c, j) => (j === me ? this.linOpen!.commitPayload : c!));
          for (const [j, c] of commits.entries()) if (c.length !== 32) throw new ProtocolAbort("bad-encoding", [j], `lin.commit from party ${j} must be 32 bytes`);
          this.linCommits = commits;
          const o = this.linOpen!;
          return [{ to: "all", phase: LIN_OPEN, payload: linearOpenPayload(commitmentsDigest(commits), o.nonce, o.value) }];
        },
      },
      {
        name: LIN_OPEN, expect: [LIN_OPEN],
        run: (box) => {
          const o = this.linOpen!;
          const opens = box.get(LIN_OPEN)!.map((p, j) => (j === me ? linearOpenPayload(commitmentsDigest(this.linCommits), o.nonce, o.value) : p!));
          const sum = linearFinish(f, this.cfg.length, this.linCommits, opens);
          // The transcript gets the opens of this step after run(); finish it here.
          this.transcript.closeThrough(this.driver.index);
          this._result = { sum, excluded: [], transcriptHash: this.transcript.digest() };
          return [];
        },
      },
    ];
  }

  // ---- plaintext baseline (benchmark only) ----
  private plainPayload: Uint8Array | undefined;

  private plainStart(): OutboundMessage[] {
    const out: OutboundMessage[] = [{ to: "all", phase: PLAIN_OPEN, payload: this.plainPayload! }];
    this.recordOwn(out);
    return out;
  }

  private plainSteps(input: FieldVec): Step[] {
    const f = this.cfg.field;
    this.plainPayload = f.encode(input);
    return [{
      name: PLAIN_OPEN, expect: [PLAIN_OPEN],
      run: (box) => {
        const sum = f.slice(input, 0, input.length);
        box.get(PLAIN_OPEN)!.forEach((p, j) => {
          if (j === this.cfg.me) return;
          let v: FieldVec;
          try { v = f.decode(p!); } catch { throw new ProtocolAbort("bad-encoding", [j], `plain.open from party ${j} is not a field vector`); }
          if (v.length !== this.cfg.length) throw new ProtocolAbort("bad-encoding", [j], `plain.open from party ${j} has ${v.length} entries, expected ${this.cfg.length}`);
          f.addInPlace(sum, v);
        });
        this.transcript.closeThrough(this.driver.index);
        this._result = { sum, excluded: [], transcriptHash: this.transcript.digest() };
        return [];
      },
    }];
  }
}
