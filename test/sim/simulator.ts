/**
 * Deterministic simulation of the coordinator core (TigerBeetle's VOPR, FoundationDB's
 * simulation testing): one seed fixes everything — the job, the nodes and how each behaves,
 * every network delay, disconnection and storage fault. A discrete-event scheduler (virtual
 * time, one event at a time) drives:
 *  - the JobDO: the real {@link JobRunner} over the in-memory store, behind a fault plan that
 *    fails, loses the reply of, or crashes at storage operations and RoundDO calls; a crashed
 *    JobDO is rebuilt from its store on the next call or alarm and runs `recover()`;
 *  - one RoundDO per round attempt: the real referee (round-referee.ts) inside a model of the
 *    shell round-do.ts (state saved before anything leaves, group-committed mailboxes, seqs,
 *    redelivery from a cursor, one alarm, report retried until acknowledged, heard times;
 *    any storage error resets the object, and objects are also evicted at random);
 *  - N nodes: honest ones (join on assignment, exchange phase messages, ping, submit the same
 *    result, reconnect after outages with backoff and resume from welcome.lastSeq and their
 *    cursor, keep a write-ahead ledger of released outputs and decline a rerun), and faulty
 *    ones (dead, stalled with the socket open, declining, equivocating, lying in an abort,
 *    submitting another aggregate).
 * Invariants are checked after every event ({@link Sim.check}); a violation stops the run and
 * is reported with its seed and the trace tail. Not modelled: concurrency inside one object
 * (the runner serialises its calls; the RoundDO's handlers run to completion here).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { JobRunner } from "../../durable-objects/core/job-runner.ts";
import type { JobState, RoundOutcome } from "../../durable-objects/core/job-machine.ts";
import { isJobTerminal, isRoundTerminal } from "../../durable-objects/core/machines.ts";
import { MemoryJobStore } from "../../durable-objects/core/memory-store.ts";
import {
  checkEnvelope, checkSequence, initRound, onAlarm, onCancel, onDecline, onJoin, onPartyAbort, onRelay, onResult, alarmAt, type RoundState, type RoundStep,
} from "../../durable-objects/core/round-referee.ts";
import type { RoundManifest } from "../../protocol/api/schemas.ts";
import type { RoundAbortCode } from "../../protocol/api/frames.ts";
import { toHex } from "../../protocol/encoding.ts";
import { verifyJobLog } from "../../protocol/jobs/audit.ts";
import type { Rng } from "../../protocol/rng.ts";
import { aggregate, KEY, learningAggregate, learningSpec, nodes as candidates, PUBLIC_KEY, spec, T0 } from "../unit/coordinator/fixtures.ts";
import { expectedCredits, FaultPlan, FaultyJobStore, FaultyRoundPort, type FaultKind, type FaultOp } from "./faults.ts";

// ------------------------------------------------------------------ seeded randomness

/** sfc32: a small, fast, seedable generator for the scheduler (never for protocol secrets). */
export class Prng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9; this.b = 0x243f6a88; this.c = 0xb7e15162; this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  float(): number { return this.next() / 2 ** 32; }
  int(n: number): number { return Math.floor(this.float() * n); }
  range(lo: number, hi: number): number { return lo + Math.floor(this.float() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.float() < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  /** An {@link Rng} drawing from this generator (committee selection in the simulated JobDO). */
  asRng(): Rng {
    return { bytes: (n: number) => { const out = new Uint8Array(n); for (let i = 0; i < n; i++) out[i] = this.next() & 0xff; return out; } };
  }
}

// ------------------------------------------------------------------ parameters

const PING_MS = 2_000;
const PROGRESS_MS = 10_000;
const LIVENESS_MS = 30_000;
const NOTIFY_RETRY_MS = 5_000;
const ALARM_RETRY_MS = 2_000;
/** Storage and RoundDO faults stop here; the job must then end by {@link END}. */
const FAULTS_END = 20 * 60_000;
const END = 60 * 60_000;
const PHASES = ["view", "input", "open.sum"] as const;
const OUTPUT_PHASE = "open.sum";

export type Behaviour = "honest" | "dead" | "stall" | "decline" | "equivocate" | "liar" | "bad-result";

/** Bugs that can be switched on to show the simulation catches them (test/sim/coordinator.test.ts). */
export type SimBug =
  /** The RoundDO forgets `released` (not saved before the output opening is delivered). */
  | "forget-released"
  /** A restarted RoundDO does not re-arm its alarm (a crash between the state and the alarm write strands it). */
  | "no-alarm-recovery"
  /** The RoundDO names every member at a timeout, heard or not. */
  | "blame-all-on-timeout"
  /** The JobDO drops its outbox on restart instead of carrying it out. */
  | "drop-outbox";

export interface SimOptions {
  /** Check the whole log (chain, signatures, audit) after every event, not only at the end (the log is append-only, so the end implies every prefix). */
  everyStepLog?: boolean;
  bug?: SimBug;
  /** Keep the last events for the report. */
  traceLines?: number;
}

export interface SimReport {
  seed: number;
  problems: string[];
  status: string;
  events: number;
  rounds: number;
  attempts: number;
  jobCrashes: number;
  roundCrashes: number;
  faults: number;
  faulty: string[];
  /** Abort codes logged (`+released` when the attempt had opened its output), and the job's error class. */
  aborts: string[];
  error: string | null;
  trace: string[];
}

class RoundCrash extends Error {
  constructor(what: string) { super(`RoundDO reset (${what})`); }
}

// ------------------------------------------------------------------ the world

interface Msg { idx: number; from: number; seq: number; phase: string }

/** One RoundDO: durable part (survives a reset) and in-memory part (one incarnation). */
class RoundSim {
  // durable
  dState: RoundState | null = null;
  dHeard: number[] = [];
  dSeqs = new Map<number, number>();
  dMail = new Map<number, Msg[]>();
  dAlarm: number | null = null;
  // one incarnation
  up = false;
  state: RoundState | null = null;
  heard: number[] = [];
  sockets = new Map<number, Session>();
  incarnations = 0;

  constructor(readonly sim: Sim, readonly round: number, readonly attempt: number) {}

  private get key(): string { return `${this.round}/${this.attempt}`; }

  /** The runtime constructs the object on its first event after a reset. */
  private boot(): void {
    if (this.up) return;
    this.up = true;
    this.incarnations++;
    this.state = this.dState && structuredClone(this.dState);
    const now = this.sim.now;
    // round-do.ts: after a restart no party has a socket: each gets the object's start (a grace period).
    this.heard = (this.state?.manifest.committee ?? []).map((_, i) => Math.max(this.dHeard[i] ?? 0, now));
    this.sockets = new Map();
    // round-do.ts: a live round (or an unacknowledged outcome) always has an alarm.
    if (this.sim.bug !== "no-alarm-recovery" && this.state && this.dAlarm === null && (!isRoundTerminal(this.state.phase) || this.state.notifyPending)) {
      const s = this.state;
      this.write("alarm", () => { this.dAlarm = s.notifyPending ? now : alarmAt(s, this.deadline(s), now); });
    }
  }

  private deadline(s: RoundState): number {
    const d = s.manifest.deadlines;
    return s.phase === "waiting" ? d.join : s.phase === "running" ? d.compute : d.finalize;
  }

  /** A storage write: a fault resets the object (round-do.ts: memory never runs ahead of storage). */
  private write(what: string, f: () => void): void {
    if (this.sim.now - T0 < FAULTS_END && this.sim.rng.chance(this.sim.roundFaultRate)) {
      if (this.sim.rng.chance(0.5)) f(); // the write took effect, the object died before going on
      this.reset(`storage ${what}`);
      throw new RoundCrash(what);
    }
    f();
  }

  /** Eviction, crash or deploy: every socket drops, memory is lost. */
  reset(why: string): void {
    if (!this.up) return;
    this.sim.roundCrashes++;
    this.sim.log(`round ${this.key} reset: ${why}`);
    this.up = false;
    this.state = null;
    const socks = [...this.sockets.values()];
    this.sockets = new Map();
    for (const s of socks) s.lost("relay reset");
  }

  private save(): void {
    const s = structuredClone(this.state);
    this.write("state", () => { this.dState = s; });
  }

  private connected(): number[] {
    return [...this.sockets.keys()].sort((a, b) => a - b);
  }

  private heardNow(): number[] {
    const out = [...this.heard];
    for (const [p, sess] of this.sockets) out[p] = Math.max(out[p] ?? 0, sess.lastPing(this.sim.now));
    return out;
  }

  /** RPC from the JobDO (idempotent). */
  async init(m: RoundManifest, logHash: string): Promise<void> {
    this.boot();
    if (this.state) return;
    const step = initRound(m, logHash, { progressMs: PROGRESS_MS });
    this.state = step.state;
    this.heard = m.committee.map(() => this.sim.now);
    this.save();
    await this.apply(step);
  }

  /** RPC from the JobDO (idempotent). */
  async cancel(): Promise<void> {
    this.boot();
    if (this.state) await this.apply(onCancel(this.state));
  }

  /** A member's decline (the Worker checked its assignment). */
  async decline(nodeId: string, reason: string): Promise<void> {
    this.boot();
    if (!this.state) throw new Error("no such round");
    await this.apply(onDecline(this.state, nodeId, reason));
  }

  /** A WebSocket upgrade; throws if the round does not exist yet (404). */
  async connect(sess: Session): Promise<void> {
    this.boot();
    const s = this.state;
    if (!s) throw new Error("no such round");
    const old = this.sockets.get(sess.party);
    if (old && old !== sess) old.lost("replaced");
    this.sockets.set(sess.party, sess);
    this.heard[sess.party] = this.sim.now;
    sess.welcome(this.dSeqs.get(sess.party) ?? -1);
    if (s.outcome) sess.outcome(s.outcome.kind);
    else await this.apply(onJoin(s, sess.party));
  }

  /** The socket of `sess` closed. */
  disconnect(sess: Session): void {
    if (this.sockets.get(sess.party) !== sess) return;
    this.sockets.delete(sess.party);
    // round-do.ts keepHeard: the closing socket's last auto-answered ping is kept
    if (this.up) this.heard[sess.party] = Math.max(this.heard[sess.party] ?? 0, sess.lastPing(this.sim.now));
  }

  /** A frame from a member's current socket. */
  async frame(sess: Session, f: Frame): Promise<void> {
    if (!this.up || this.sockets.get(sess.party) !== sess || !this.state) return;
    const party = sess.party;
    this.heard[party] = this.sim.now;
    const s = this.state;
    switch (f.kind) {
      case "env": {
        const m = s.manifest;
        const last = this.dSeqs.get(party) ?? -1;
        const bad = checkEnvelope(s, party, { jobId: m.jobId, round: m.round, attempt: m.attempt, from: party, to: "all", seq: f.seq }, last) ?? checkSequence(f.seq, last);
        if (bad) return sess.error(bad.code);
        const next = onRelay(s, f.phase);
        if (next !== s) {
          this.state = next;
          if (this.sim.bug !== "forget-released") this.save();
        }
        const recipients = m.committee.map((c) => c.index).filter((i) => i !== party);
        const msgs: Array<[number, Msg]> = [];
        this.write("group commit", () => {
          this.dSeqs.set(party, f.seq);
          for (const r of recipients) {
            const box = this.dMail.get(r) ?? [];
            const msg = { idx: box.length + 1, from: party, seq: f.seq, phase: f.phase };
            box.push(msg);
            this.dMail.set(r, box);
            msgs.push([r, msg]);
          }
        });
        if (f.phase === OUTPUT_PHASE) this.sim.released.add(this.key);
        for (const [r, msg] of msgs) this.sockets.get(r)?.deliver(msg);
        return;
      }
      case "hello":
        for (const msg of this.dMail.get(party) ?? []) if (msg.idx > f.cursor) sess.deliver(msg);
        if (s.outcome) sess.outcome(s.outcome.kind);
        return;
      case "result":
        return this.apply(onResult(s, { party, aggregateHash: f.hash, transcriptHash: "ab".repeat(32), excluded: [] }), sess);
      case "abort":
        return this.apply(onPartyAbort(s, party, { code: f.code, culprits: f.culprits }, this.sim.now, this.connected(), this.heardNow()));
    }
  }

  /** The one alarm (fired: the runtime has cleared it). */
  async alarm(): Promise<void> {
    this.boot();
    const s = this.state;
    if (!s) return;
    if (s.notifyPending) return this.notify();
    const heard = this.heardNow();
    this.heard = heard;
    if (!isRoundTerminal(s.phase)) this.write("heard", () => { this.dHeard = [...heard]; });
    let step = onAlarm(s, this.sim.now, this.connected(), heard);
    if (this.sim.bug === "blame-all-on-timeout" && step.state.outcome?.kind === "aborted" && step.state.outcome.code === "timeout" && !isRoundTerminal(s.phase)) {
      const all = s.manifest.committee.map((c) => c.index);
      step = { ...step, state: { ...step.state, outcome: { ...step.state.outcome, culprits: all } } };
    }
    await this.apply(step);
  }

  private async apply(step: RoundStep, from?: Session): Promise<void> {
    const changed = step.state !== this.state;
    this.state = step.state;
    if (changed) this.save();
    for (const e of step.effects) {
      if (e.kind === "alarm") {
        const at = alarmAt(this.state, e.at, this.sim.now);
        this.write("alarm", () => { this.dAlarm = at; });
      } else if (e.kind === "refuse") from?.error(e.code);
      else if (e.kind === "finish") await this.finish();
    }
  }

  private async finish(): Promise<void> {
    const s = this.state!;
    for (const sess of [...this.sockets.values()]) sess.outcome(s.outcome!.kind);
    this.sockets = new Map();
    this.write("drop mailboxes", () => this.dMail.clear());
    if (s.notifyPending) {
      // round-do.ts: the report's retry is armed before the first try, so a reset in between cannot strand it.
      this.write("alarm", () => { this.dAlarm = this.sim.now + NOTIFY_RETRY_MS; });
      await this.notify();
    }
  }

  private async notify(): Promise<void> {
    const s = this.state!;
    const o = s.outcome!;
    const at = { jobId: s.manifest.jobId, round: s.manifest.round, attempt: s.manifest.attempt };
    const report: RoundOutcome = o.kind === "accepted"
      ? { ...at, outcome: "accepted", aggregate: this.sim.bytesOf(o.aggregateHash), transcriptHash: o.transcriptHash, excluded: o.excluded }
      : { ...at, outcome: "aborted", code: o.code, culprits: o.culprits, detail: o.detail, released: s.released, ...(o.during ? { during: o.during } : {}) };
    try {
      await this.sim.job.call((r) => r.roundFinished(report));
    } catch {
      this.write("alarm", () => { this.dAlarm = this.sim.now + NOTIFY_RETRY_MS; });
      return;
    }
    this.state = { ...s, notifyPending: false };
    this.save();
  }
}

type Frame =
  | { kind: "env"; seq: number; phase: string }
  | { kind: "hello"; cursor: number }
  | { kind: "result"; hash: string }
  | { kind: "abort"; code: RoundAbortCode; culprits: number[] };

/** A node's session for one round attempt (client/agent/relay-session.ts, reduced to what the coordinator sees). */
class Session {
  conn = 0;
  connected = false;
  connectedAt = 0;
  started = false;
  done = false;
  nextStep = 0;
  got = PHASES.map(() => new Set<number>());
  seen = new Set<number>();
  cursor = 0;
  resultSent = false;
  computing = false;
  reconnects = 0;
  /** Arrival time of the last frame sent / delivered on the current connection (frames keep their order). */
  outAt = 0;
  inAt = 0;

  constructor(readonly node: NodeSim, readonly round: RoundSim, readonly m: RoundManifest, readonly party: number) {}

  private get sim(): Sim { return this.node.sim; }
  private get n(): number { return this.m.committee.length; }

  /** When the runtime last auto-answered a ping on this socket. */
  lastPing(now: number): number {
    const until = Math.min(now, this.node.silentSince);
    if (until < this.connectedAt) return this.connectedAt;
    return this.connectedAt + Math.floor((until - this.connectedAt) / PING_MS) * PING_MS;
  }

  start(): void {
    this.sim.after(this.sim.rng.range(10, 300), `${this.node.id} connects ${this.m.round}/${this.m.attempt}`, () => this.connect());
  }

  private async connect(): Promise<void> {
    if (this.done || this.connected || !this.node.active()) return;
    if (this.sim.now > this.m.deadlines.finalize) { this.done = true; return; }
    if (!this.node.outageOver()) return this.retry();
    // The Worker checks membership (the assignment row) before it touches the RoundDO.
    if (!this.sim.mem.assignments.has(`${this.m.jobId}/${this.m.round}/${this.m.attempt}/${this.node.id}`)) return this.retry();
    this.conn++;
    this.connected = true;
    this.connectedAt = this.sim.now;
    try {
      await this.round.connect(this);
    } catch {
      this.connected = false;
      return this.retry();
    }
  }

  private retry(): void {
    this.reconnects++;
    const delay = Math.min(4_000, 200 * 2 ** Math.min(this.reconnects, 4)) * (0.5 + this.sim.rng.float() / 2);
    this.sim.after(delay, `${this.node.id} reconnects ${this.m.round}/${this.m.attempt}`, () => this.connect());
  }

  /** The connection dropped (outage, relay reset, replaced). */
  lost(_why: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.conn++;
    this.round.disconnect(this);
    if (!this.done) this.retry();
  }

  /** Sends a frame; it arrives after a delay if this connection is still up then. */
  private send(f: Frame): void {
    if (!this.connected || this.sim.now >= this.node.silentSince) return;
    const conn = this.conn;
    this.outAt = Math.max(this.outAt, this.sim.now + this.sim.netDelay()); // one connection is FIFO (TCP)
    this.sim.after(this.outAt - this.sim.now, `${this.node.id}→${this.m.round}/${this.m.attempt} ${f.kind}${f.kind === "env" ? ` ${f.phase}` : ""}`, async () => {
      if (this.conn === conn && this.connected) await this.round.frame(this, f).catch((e: unknown) => { if (!(e instanceof RoundCrash)) throw e; });
    });
  }

  /** Runs `f` on this node after a delay if the connection is still the same then. */
  private later(f: () => void): void {
    const conn = this.conn;
    this.inAt = Math.max(this.inAt, this.sim.now + this.sim.netDelay());
    this.sim.after(this.inAt - this.sim.now, `${this.node.id} receives`, () => { if (this.conn === conn && this.connected && !this.done) f(); });
  }

  welcome(lastSeq: number): void {
    this.later(() => {
      this.reconnects = 0;
      const b = this.node.behaviour;
      this.send({ kind: "hello", cursor: this.cursor }); // relay-session.ts sends it on every open
      if (!this.started) {
        this.started = true;
        if (b === "liar") return this.send({ kind: "abort", code: "mac-check-failed", culprits: this.m.committee.map((c) => c.index).filter((i) => i !== this.party) });
        this.emit(0);
        return;
      }
      for (let k = lastSeq + 1; k < this.nextStep; k++) this.send({ kind: "env", seq: k, phase: PHASES[k]! });
      if (this.resultSent) this.sendResult();
    });
  }

  private emit(k: number): void {
    if (k === PHASES.indexOf(OUTPUT_PHASE)) this.node.ledger.add(`${this.m.round}`); // write-ahead, before the share leaves
    this.nextStep = k + 1;
    this.send({ kind: "env", seq: k, phase: PHASES[k]! });
    this.advance();
  }

  deliver(msg: Msg): void {
    this.later(() => {
      if (this.seen.has(msg.idx)) return;
      this.seen.add(msg.idx);
      while (this.seen.has(this.cursor + 1)) this.cursor++;
      this.got[msg.seq]!.add(msg.from);
      this.advance();
    });
  }

  /** Sends the next step once every other party's previous one has arrived (after a compute delay). */
  private advance(): void {
    if (this.computing || this.done) return;
    const k = this.nextStep;
    if (k === 0 || this.got[k - 1]!.size < this.n - 1) return;
    this.computing = true;
    this.sim.after(this.sim.rng.range(20, 1_500), `${this.node.id} computes step ${k}`, () => {
      this.computing = false;
      if (this.done || this.sim.now >= this.node.silentSince) return;
      if (k < PHASES.length) this.emit(k);
      else if (!this.resultSent) {
        this.resultSent = true;
        this.sendResult();
        if (this.node.behaviour === "equivocate") this.send({ kind: "result", hash: this.sim.hashOf(`other/${this.node.id}`, this.n) });
      }
    });
  }

  private sendResult(): void {
    const tag = this.node.behaviour === "bad-result" ? `other/${this.node.id}` : "good";
    this.send({ kind: "result", hash: this.sim.hashOf(tag, this.n) });
  }

  error(code: string): void {
    this.later(() => {
      if (code !== "replay") this.done = true; // relay-session.ts: any refusal but a replay ends the session
    });
  }

  outcome(_kind: string): void {
    this.later(() => { this.done = true; });
  }
}

class NodeSim {
  /** Rounds in which this node emitted its share of the output (client/agent/ledger.ts). */
  readonly ledger = new Set<string>();
  readonly sessions = new Map<string, Session>();
  /** From this time on the node sends nothing and answers no ping (stalled or dead). */
  silentSince = Infinity;
  deadSince = Infinity;
  outageUntil = -Infinity;

  constructor(readonly sim: Sim, readonly id: string, readonly behaviour: Behaviour) {}

  active(): boolean { return this.sim.now < this.deadSince && this.sim.now < this.silentSince; }
  outageOver(): boolean { return this.sim.now >= this.outageUntil; }

  /** A long-poll answered: the node looks at its open assignments. */
  poll(): void {
    if (!this.active()) return;
    if (!this.outageOver()) { this.sim.after(this.outageUntil - this.sim.now + 100, `${this.id} polls again`, () => this.poll()); return; }
    for (const [k, v] of this.sim.mem.assignments) {
      if (v !== "open" || !k.endsWith(`/${this.id}`) || this.sessions.has(k)) continue;
      const [, r, a] = k.split("/");
      const round = Number(r);
      const attempt = Number(a);
      const entry = this.sim.mem.entries.find((e) => e.body.kind === "manifest" && e.body.round === round && e.body.attempt === attempt);
      if (!entry || entry.body.kind !== "manifest") continue;
      const m = entry.body.manifest as RoundManifest;
      const party = m.committee.find((c) => c.nodeId === this.id)!.index;
      const rs = this.sim.roundDO(round, attempt);
      const sess = new Session(this, rs, m, party);
      this.sessions.set(k, sess);
      if (this.behaviour === "decline") { this.decline(rs, "policy: not today", 0); continue; }
      if (this.ledger.has(`${round}`)) { this.decline(rs, "output-released: this node already released an output for this round", 0); continue; }
      sess.start();
    }
  }

  private decline(rs: RoundSim, reason: string, tries: number): void {
    this.sim.after(this.sim.netDelay(), `${this.id} declines ${rs.round}/${rs.attempt}`, async () => {
      if (!this.active()) return;
      try {
        await rs.decline(this.id, reason);
      } catch {
        if (tries < 20) this.decline(rs, reason, tries + 1);
      }
    });
  }

  /** A transport outage of `ms`: every socket drops; sessions reconnect with backoff after it. */
  outage(ms: number): void {
    this.outageUntil = this.sim.now + ms;
    for (const s of this.sessions.values()) s.lost("outage");
  }

  die(): void {
    this.deadSince = this.silentSince = this.sim.now;
    for (const s of this.sessions.values()) { s.lost("dead"); s.done = true; }
  }
}

/** The JobDO: the real runner over the faulty store; rebuilt from the store after a crash. */
class JobSim {
  runner: JobRunner | null = null;
  constructor(readonly sim: Sim, readonly store: FaultyJobStore, readonly plan: FaultPlan) {}

  private make(): JobRunner {
    const sim = this.sim;
    return new JobRunner(
      this.store,
      (_j, r, a) => new FaultyRoundPort(sim.roundDO(r, a), this.plan),
      () => ({ now: sim.now, signingKey: KEY, rng: sim.rng.asRng(), livenessMs: LIVENESS_MS }),
      () => undefined,
    );
  }

  /** The object as the runtime gives it to the next event: constructed (load + recover) if it crashed. */
  private async up(): Promise<JobRunner> {
    while (!this.runner || this.plan.dead) {
      if (this.plan.dead) { this.plan.restart(); this.sim.jobCrashes++; this.sim.log("JobDO restarts"); }
      const r = this.make();
      this.runner = r;
      await r.load();
      if (this.sim.bug === "drop-outbox" && r.state?.outbox?.length) {
        await this.store.inner.commit({ ...r.state, outbox: [] }, [], this.store.inner.alarm);
        await r.load();
      }
      await r.recover();
    }
    return this.runner;
  }

  /** A call into the JobDO; throws what the caller would see (an error, or the object's reset). */
  async call<T>(f: (r: JobRunner) => Promise<T>): Promise<T> {
    const r = await this.up();
    return f(r);
  }
}

export class Sim {
  now = T0;
  readonly rng: Prng;
  private q: Array<{ at: number; seq: number; label: string; fn: () => unknown }> = [];
  private seq = 0;
  readonly mem = new MemoryJobStore();
  readonly plan: FaultPlan;
  readonly job: JobSim;
  readonly rounds = new Map<string, RoundSim>();
  readonly nodes: NodeSim[] = [];
  /** Round attempts whose output opening the relay accepted (ground truth, not the flag). */
  readonly released = new Set<string>();
  readonly roundFaultRate: number;
  jobCrashes = 0;
  roundCrashes = 0;
  events = 0;
  private readonly trace: string[] = [];
  private readonly bytes = new Map<string, Uint8Array>();
  private readonly hashes = new Map<string, string>();
  private jobAlarm: number | null = null;
  private roundAlarms = new Map<string, number | null>();
  private logSeen: string[] = [];
  private learning: boolean;
  readonly spec: ReturnType<typeof spec>;

  constructor(readonly seed: number, readonly o: SimOptions = {}) {
    this.rng = new Prng(seed);
    const rng = this.rng;
    const jobFault = [0, 0.01, 0.03, 0.08, 0.2][rng.int(5)]!;
    this.roundFaultRate = [0, 0.005, 0.02, 0.05][rng.int(4)]!;
    const kinds: FaultKind[] = ["error", "lost-ack", "crash-before", "crash-after"];
    // Sometimes D1 is down for a while (20–90 s): every D1 operation fails meanwhile.
    const d1Down = rng.chance(0.15) ? { from: rng.range(0, 240_000), ms: rng.range(20_000, 90_000) } : null;
    const D1_OPS = new Set<FaultOp>(["candidates", "catalogue", "openAssignments", "closeAssignments"]);
    this.plan = new FaultPlan((op: FaultOp) => {
      const t = this.now - T0;
      if (d1Down && D1_OPS.has(op) && t >= d1Down.from && t < d1Down.from + d1Down.ms) return "error";
      return t < FAULTS_END && rng.chance(jobFault) ? rng.pick(kinds) : null;
    });
    this.job = new JobSim(this, new FaultyJobStore(this.mem, this.plan), this.plan);
    this.learning = rng.chance(0.12);
    const n = rng.range(3, 7);
    const size = rng.range(2, Math.min(4, n));
    const deadlines = { join: 20, compute: 90, finalize: 20, select: 30 };
    this.spec = this.learning
      ? learningSpec({ committee: { size, min: 2 }, retryBudget: rng.int(4), deadlines, maxRounds: 2 })
      : spec({ committee: { size, min: 2 }, retryBudget: rng.int(4), deadlines, maxRounds: 1 });
    const behaviours: Behaviour[] = ["dead", "stall", "decline", "equivocate", "liar", "bad-result"];
    const faultyRate = [0, 0.15, 0.3][rng.int(3)]!;
    for (let i = 0; i < n; i++) this.nodes.push(new NodeSim(this, `n${i}`, rng.chance(faultyRate) ? rng.pick(behaviours) : "honest"));
  }

  get bug(): SimBug | undefined { return this.o.bug; }

  log(line: string): void {
    if (!this.o.traceLines) return;
    this.trace.push(`${((this.now - T0) / 1000).toFixed(3)}s ${line}`);
    if (this.trace.length > this.o.traceLines) this.trace.shift();
  }

  after(delay: number, label: string, fn: () => unknown): void {
    const e = { at: this.now + Math.max(0, Math.round(delay)), seq: this.seq++, label, fn };
    // binary insertion keeps the queue ordered by (at, seq)
    let lo = 0;
    let hi = this.q.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = this.q[mid]!;
      if (x.at < e.at || (x.at === e.at && x.seq < e.seq)) lo = mid + 1; else hi = mid;
    }
    this.q.splice(lo, 0, e);
  }

  /** Network delay of one frame: mostly short, sometimes long (a congested link). */
  netDelay(): number {
    return this.rng.chance(0.05) ? this.rng.range(500, 2_500) : this.rng.range(1, 120);
  }

  roundDO(round: number, attempt: number): RoundSim {
    const k = `${round}/${attempt}`;
    let r = this.rounds.get(k);
    if (!r) this.rounds.set(k, (r = new RoundSim(this, round, attempt)));
    return r;
  }

  /** The hash of an aggregate: "good" is the honest one for a committee of `n`; other tags are garbage. */
  hashOf(tag: string, n: number): string {
    const key = `${tag}/${n}`;
    const known = this.hashes.get(key);
    if (known) return known;
    const bytes = tag === "good" ? (this.learning ? learningAggregate(this.spec, n) : aggregate(7)) : new TextEncoder().encode(tag);
    const h = toHex(sha256(bytes));
    this.bytes.set(h, bytes);
    this.hashes.set(key, h);
    return h;
  }

  bytesOf(hash: string): Uint8Array {
    return this.bytes.get(hash)!;
  }

  /** Runs the schedule to its end; returns the report. */
  async run(): Promise<SimReport> {
    const rng = this.rng;
    const problems: string[] = [];
    // registry: alive nodes heartbeat (lastSeen = now); dead ones stop.
    const base = candidates(this.nodes.length, this.now);
    const registry = () => this.nodes.map((n, i) => ({ ...base[i]!, nodeId: n.id, lastSeen: Math.min(this.now, n.deadSince) }));
    this.mem.nodes = registry();
    // faulty nodes' misbehaviour times; honest nodes' outages (each ≤ 3 s)
    for (const n of this.nodes) {
      if (n.behaviour === "dead") this.after(rng.range(0, 120_000), `${n.id} dies`, () => n.die());
      if (n.behaviour === "stall") this.after(rng.range(0, 120_000), `${n.id} stalls`, () => { n.silentSince = this.now; });
      for (let t = rng.range(0, 30_000); t < 400_000; t += rng.range(5_000, 60_000)) {
        if (rng.chance(0.5)) this.after(t, `${n.id} outage`, () => n.outage(rng.range(100, 3_000)));
      }
    }
    // RoundDO evictions
    for (let t = rng.range(0, 60_000); t < FAULTS_END; t += rng.range(10_000, 120_000)) { // relative to now = T0
      if (rng.chance(0.4)) this.after(t, "evict a RoundDO", () => { const live = [...this.rounds.values()].filter((r) => r.up); if (live.length) rng.pick(live).reset("eviction"); });
    }
    // the submitter creates the job (retrying a 5xx) and sometimes cancels it
    const submit = (tries: number) => this.after(tries ? 1_000 : 0, "submit", async () => {
      try { await this.job.call((r) => r.create("job", this.spec, null)); } catch { if (tries < 30) submit(tries + 1); else problems.push("the job could not be created in 30 tries"); }
    });
    submit(0);
    if (rng.chance(0.1)) {
      const cancel = (tries: number) => this.after(tries ? 1_000 : rng.range(1_000, 200_000), "cancel", async () => {
        try { await this.job.call((r) => r.cancel()); } catch { if (tries < 30) cancel(tries + 1); }
      });
      cancel(0);
    }
    while (this.q.length && problems.length === 0) {
      const e = this.q.shift()!;
      if (e.at > T0 + END) break;
      this.now = e.at;
      this.events++;
      this.log(e.label);
      this.mem.nodes = registry();
      const assigned = this.mem.assignments.size;
      await e.fn();
      if (this.mem.assignments.size !== assigned || e.label === "submit") this.wakePollers();
      this.armAlarms();
      problems.push(...this.check(false));
      const s = this.mem.state;
      if (s && isJobTerminal(s.status) && !s.outbox?.length && this.quiet()) break;
    }
    if (problems.length === 0) problems.push(...this.check(true));
    const s = this.mem.state;
    return {
      seed: this.seed, problems, status: s?.status ?? "none", events: this.events,
      rounds: new Set(this.mem.entries.filter((e) => e.body.kind === "result").map((e) => (e.body as { round: number }).round)).size,
      attempts: this.mem.entries.filter((e) => e.body.kind === "manifest").length,
      jobCrashes: this.jobCrashes, roundCrashes: this.roundCrashes, faults: this.plan.hits.length,
      faulty: this.nodes.filter((n) => n.behaviour !== "honest").map((n) => `${n.id}:${n.behaviour}`), trace: [...this.trace],
      aborts: this.mem.entries.flatMap((e) => (e.body.kind === "abort" ? [`${e.body.code}${e.body.released ? "+released" : ""}`] : [])),
      error: s?.error?.replace(/( in round \d+|:).*$/s, "") ?? null,
    };
  }

  /** No RoundDO still owes the JobDO a report. */
  private quiet(): boolean {
    return [...this.rounds.values()].every((r) => !r.dState?.notifyPending);
  }

  /** Long-polls answer when assignments change. */
  private wakePollers(): void {
    for (const n of this.nodes) this.after(this.rng.range(50, 1_500), `${n.id} polls`, () => n.poll());
  }

  /** Schedules the alarms stored in the JobDO and each RoundDO (a fired alarm is cleared before its handler runs). */
  private armAlarms(): void {
    const a = this.mem.alarm;
    if (a !== null && a !== this.jobAlarm) {
      this.jobAlarm = a;
      this.after(Math.max(0, a - this.now), "JobDO alarm", async () => {
        if (this.mem.alarm !== a || this.now < a) return;
        this.mem.alarm = null;
        this.jobAlarm = null;
        try { await this.job.call((r) => r.alarm()); } catch { this.mem.alarm ??= this.now + ALARM_RETRY_MS; }
      });
    }
    for (const [k, r] of this.rounds) {
      const at = r.dAlarm;
      if (at === null || this.roundAlarms.get(k) === at) continue;
      this.roundAlarms.set(k, at);
      this.after(Math.max(0, at - this.now), `RoundDO ${k} alarm`, async () => {
        if (r.dAlarm !== at || this.now < at) return;
        r.dAlarm = null;
        this.roundAlarms.set(k, null);
        try { await r.alarm(); } catch (e) { if (!(e instanceof RoundCrash)) throw e; r.dAlarm ??= this.now + ALARM_RETRY_MS; }
      });
    }
  }

  /** Every invariant; `final` adds the end-of-run ones. */
  check(final: boolean): string[] {
    const p: string[] = [];
    const mem = this.mem;
    const s = mem.state as JobState | null;
    const entries = mem.entries;
    // the log is append-only: no stored entry ever changes
    for (let i = 0; i < this.logSeen.length; i++) if (entries[i]?.hash !== this.logSeen[i]) { p.push(`log entry ${i} changed or vanished`); break; }
    if (entries.length !== this.logSeen.length) {
      this.logSeen = entries.map((e) => e.hash);
      if (this.o.everyStepLog) p.push(...verifyJobLog(entries, PUBLIC_KEY).problems.map((x) => `log: ${x}`));
    }
    if (final) p.push(...verifyJobLog(entries, PUBLIC_KEY).problems.map((x) => `log: ${x}`));
    const faulty = new Set(this.nodes.filter((n) => n.behaviour !== "honest").map((n) => n.id));
    const results = new Map<number, number>();
    const opened = new Map<number, number[]>();
    for (const { body: b } of entries) {
      if (b.kind === "result") {
        results.set(b.round, (results.get(b.round) ?? 0) + 1);
        if ((results.get(b.round) ?? 0) > 1) p.push(`round ${b.round}: more than one accepted result`);
      } else if (b.kind === "abort" && b.code !== "declined") {
        // a decline is the node's own statement (and costs it no reliability), not blame
        const honest = b.culprits.filter((c) => !faulty.has(c));
        if (honest.length) p.push(`honest node(s) ${honest.join(", ")} blamed in round ${b.round}/${b.attempt} (${b.code}: ${b.detail})`);
      } else if (b.kind === "manifest") {
        const earlier = opened.get(b.round) ?? [];
        const leaked = earlier.filter((a) => this.released.has(`${b.round}/${a}`));
        if (leaked.length) p.push(`round ${b.round} rerun (attempt ${b.attempt}) after attempt ${leaked.join(",")} released its output`);
        opened.set(b.round, [...earlier, b.attempt]);
      }
    }
    for (const [k, r] of this.rounds) {
      if (r.dState?.outcome?.kind === "accepted" && !entries.some((e) => e.body.kind === "result" && `${e.body.round}/${e.body.attempt}` === k) && !r.dState.notifyPending && s && !isJobTerminal(s.status)) {
        p.push(`round ${k} accepted by its RoundDO and acknowledged, but no result is logged`);
      }
    }
    const want = expectedCredits(entries);
    for (const [n, got] of mem.reliability) {
      const w = want.get(n) ?? { ok: 0, failed: 0 };
      if (got.ok > w.ok || got.failed > w.failed) p.push(`reliability of ${n} credited twice: ${JSON.stringify(got)} > ${JSON.stringify(w)}`);
      if (got.failed > 0 && !faulty.has(n)) p.push(`honest node ${n} credited a failed round`);
    }
    if (s && !isJobTerminal(s.status)) {
      // no job stuck: a live job has a pending alarm, or an open attempt whose RoundDO will act
      const r = s.open ? this.rounds.get(`${s.round}/${s.attempt}`) : undefined;
      const roundWillAct = !!r?.dState && r.dAlarm !== null;
      // A RoundDO the JobDO will call again (its init is in the outbox) boots and re-arms then.
      if (mem.alarm === null && !roundWillAct) p.push(`job stuck: ${s.status}, ${s.open ? `attempt ${s.round}/${s.attempt} open, its RoundDO ${r?.dState ? `${r.dState.phase} without an alarm` : "not initialised"}` : "no open attempt"}, no alarm`);
    }
    if (s?.outbox?.length && mem.alarm === null) p.push("the outbox holds effects but no alarm is armed");
    const reinit = new Set((s?.outbox ?? []).flatMap((e) => (e.kind === "init-round" ? [e.seq] : [])).map((seq) => {
      const b = entries[seq]?.body;
      return b?.kind === "manifest" ? `${b.round}/${b.attempt}` : "";
    }));
    for (const [k, r] of this.rounds) {
      if (reinit.has(k)) continue;
      if (r.dState && (!isRoundTerminal(r.dState.phase) || r.dState.notifyPending) && r.dAlarm === null && !(s && isJobTerminal(s.status) && !r.dState.notifyPending)) {
        p.push(`RoundDO ${k} stuck: ${r.dState.phase}${r.dState.notifyPending ? " (report pending)" : ""} without an alarm`);
      }
    }
    if (final) {
      if (!s) p.push("no job");
      else {
        if (!isJobTerminal(s.status)) p.push(`job still ${s.status} at the end (round ${s.round}/${s.attempt})`);
        if (s.outbox?.length) p.push(`outbox not empty at the end: ${s.outbox.map((e) => e.kind).join(",")}`);
        const open = [...mem.assignments].filter(([, v]) => v === "open").map(([k]) => k);
        if (open.length) p.push(`assignments left open: ${open.join(" ")}`);
        for (const n of new Set([...want.keys(), ...mem.reliability.keys()])) {
          const a = JSON.stringify(mem.reliability.get(n) ?? { ok: 0, failed: 0 });
          const b = JSON.stringify(want.get(n) ?? { ok: 0, failed: 0 });
          if (a !== b) p.push(`reliability of ${n}: ${a}, the log implies ${b}`);
        }
        for (const [k, r] of this.rounds) if (r.dState?.notifyPending) p.push(`RoundDO ${k} still owes the JobDO its report at the end (${r.dState.outcome?.kind})`);
        if (mem.catalogueRows.get(s.jobId)?.status !== s.status) p.push(`catalogue says ${mem.catalogueRows.get(s.jobId)?.status}, the job is ${s.status}`);
        for (const e of entries) {
          if (e.body.kind === "model" && mem.models.get(`${s.jobId}/${e.body.round}`)?.hash !== e.body.modelHash) p.push(`model ${e.body.round} logged but not stored`);
        }
      }
    }
    return p;
  }
}

/** Runs one seeded schedule. Deterministic: the same seed and options give the same report. */
export async function simulate(seed: number, o: SimOptions = {}): Promise<SimReport> {
  return new Sim(seed, o).run();
}

