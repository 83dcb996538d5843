/**
 * The job machine: one job's lifecycle as pure functions of explicit state. Each step is
 * `(state, input, ctx) → { state, effects }`; it never does I/O and never reads the clock or a
 * random source except through `ctx`. The JobDO (durable-objects/job-do.ts, through
 * job-runner.ts) loads the state, calls a step and carries out the effects in order.
 *
 * The transparency log is chained here (the state keeps its head), so every effect that names
 * a log entry carries the entry itself, signed with `ctx.signingKey`.
 *
 * Trust rules kept here (DESIGN §1):
 *  - culprits come only from the RoundDO's own observation; they are excluded from the job and
 *    lose reliability (a decline keeps its reliability);
 *  - an abort after the output may have been opened (`released`) fails the job
 *    `output-released`: a round is never rerun over another set of inputs;
 *  - after an abort naming no one, reselection never picks a superset of a failed committee;
 *  - `insufficient-nodes` repeats the reasons nodes gave for declining, and is reported at once
 *    when the job's own exclusions leave fewer live eligible nodes than the committee minimum.
 *
 * Numbering: `round` and `attempt` are 0-based in state, effects and the log's fields; every
 * human-readable text (status details, failure reasons) counts them from 1 ("round 1" is
 * round 0). Model k is the global model after k aggregated rounds (model 0 the initial one).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { RoundAbortCode, RoundPhase } from "../../protocol/api/frames.ts";
import { deriveSessionId, type JobSpec, type JobStatus, type JobSummary, type RoundInfo, type RoundManifest } from "../../protocol/api/schemas.ts";
import { toBase64Url, toHex } from "../../protocol/encoding.ts";
import type { SpecSignature } from "../../protocol/jobs/signed-spec.ts";
import { appendEntry, objectHash, type LogBody, type LogEntry } from "../../protocol/log/index.ts";
import type { Rng } from "../../protocol/rng.ts";
import { engines, type ReduceOutput, type StoredModel } from "./job-types.ts";
import { isJobTerminal, transitionJob } from "./machines.ts";
import { isEligible, selectAvoiding, type Candidate } from "./selection.ts";

/** What a RoundDO reports when it reaches a terminal phase. */
export type RoundOutcome =
  | { jobId: string; round: number; attempt: number; outcome: "accepted"; aggregate: Uint8Array; transcriptHash: string; excluded: number[] }
  | { jobId: string; round: number; attempt: number; outcome: "aborted"; code: RoundAbortCode; culprits: number[]; detail: string;
      /** True once any member sent an output-opening message (open.sum, lin.open, plain.open): the output may be known to a corrupt member. */
      released?: boolean;
      /** The round's phase when it aborted (`waiting`: before every member had joined). */
      during?: RoundPhase };

/** The last log entry, as much of it as the next entry's chaining needs. */
export type LogHead = Pick<LogEntry, "seq" | "hash" | "timestamp">;

export interface JobState {
  jobId: string;
  spec: JobSpec;
  specHash: string;
  status: JobStatus;
  createdAt: number;
  updatedAt: number;
  /** The round attempt being selected, open, or last closed. */
  round: number;
  attempt: number;
  /** The open attempt: its committee (node ids, party order), the seq of the log entry that published its manifest, and whether its RoundDO holds the manifest. */
  open: {
    committee: string[]; seq: number; delivered: boolean;
    /** When the attempt opened and its join deadline (Unix ms), and when its assignments were confirmed written (null until then). Absent in older states. */
    openedAt?: number; joinAt?: number; assignedAt?: number | null;
  } | null;
  /** Waiting for enough eligible nodes for (round, attempt) since this time (Unix ms). */
  waitingSince: number | null;
  /** When the JobDO's one alarm should fire (next selection try, manifest redelivery), or null. */
  wakeAt: number | null;
  /** Nodes excluded from this job's committees (culprits of aborted rounds). */
  excluded: string[];
  /** Committees of aborts that named no culprit (e.g. a failed MAC check); never re-chosen as a whole in that round. */
  failedCommittees: Array<{ round: number; committee: string[] }>;
  /** Distinct reasons nodes gave for declining (at most 5), repeated in `insufficient-nodes`. */
  declines: string[];
  /** Logged global-model hash per round (hex SHA-256 of the stored bytes). */
  models: Record<number, string>;
  head: LogHead | null;
  reduceState: unknown;
  result: unknown;
  error: string | null;
  /**
   * The outbox: effects of committed steps not yet confirmed done, oldest first (every kind
   * but `log` and `put-model`, which are carried out with or before the commit). Written in
   * the same atomic commit as the state and its log entries, so a crash or storage error
   * after the commit loses nothing: the runner (job-runner.ts) carries the outbox out after
   * each commit and again on the next call or alarm. Every effect in it is idempotent.
   * Absent in states stored before the outbox existed (read as empty).
   */
  outbox?: JobEffect[];
}

/**
 * What a step asks its caller to do, in order. `log` entries are committed atomically with
 * the state; `put-model` (content fixed by the state: a reduce is deterministic) is written
 * before that commit; every other effect goes to the state's outbox and must be idempotent.
 */
export type JobEffect =
  | { kind: "log"; entry: LogEntry }
  /** `carry`: the job type's private state stored beside the model (never served). */
  | { kind: "put-model"; round: number; bytes: Uint8Array; hash: string; carry?: Uint8Array }
  /** Give the RoundDO the manifest published by log entry `seq` (idempotent); report success with {@link manifestDelivered}. */
  | { kind: "init-round"; seq: number }
  /** Write the committee's assignments from the manifest published by log entry `seq` (after init-round, so the RoundDO exists when nodes come). */
  | { kind: "assign"; seq: number }
  /**
   * Close the attempt's assignments (the membership record stays) and, in the same
   * transaction, credit each member whose assignment was still open: one good round for `ok`,
   * one failed round for `failed`. Exactly once per member and attempt, however often repeated.
   */
  | { kind: "unassign"; round: number; attempt: number; ok: string[]; failed: string[] }
  | { kind: "cancel-round"; round: number; attempt: number }
  /** Write the job's catalogue row (D1) from the state. */
  | { kind: "catalogue" }
  /** Load the eligible candidates and call {@link plan}. */
  | { kind: "select" };

/** A step's outcome: the next state, the effects to carry out in order, and the answer to the caller. */
export interface Step<R = undefined> { state: JobState; effects: JobEffect[]; result: R }

/** What every step may use besides its input: the time, the log-signing key, randomness, the liveness window. */
export interface JobContext { now: number; signingKey: Uint8Array; rng: Rng; livenessMs: number }

export type CreateResult = { ok: true; job: JobSummary } | { ok: false; code: "conflict"; detail: string };
export type CancelResult = { ok: true; job: JobSummary } | { ok: false; code: "not-found" | "job-not-cancellable"; detail: string };
export type PutModelResult = { ok: true; hash: string } | { ok: false; code: "not-found" | "conflict"; detail: string };

/** Retry interval while waiting for eligible nodes, and for redelivering a manifest. */
export const RETRY_MS = 5_000;

/** A mutable draft of the state plus the effects so far; `done()` seals them into a Step. */
class Draft {
  readonly s: JobState;
  readonly effects: JobEffect[] = [];
  constructor(state: JobState, readonly ctx: Pick<JobContext, "now" | "signingKey">) {
    this.s = structuredClone(state);
  }

  emit(...e: JobEffect[]): void {
    this.effects.push(...e);
  }

  log(body: LogBody): LogEntry {
    const entry = appendEntry(this.s.head as LogEntry | null, body, this.ctx.now, this.ctx.signingKey);
    this.s.head = { seq: entry.seq, hash: entry.hash, timestamp: entry.timestamp };
    this.emit({ kind: "log", entry });
    return entry;
  }

  status(to: JobStatus, detail: string): void {
    this.s.status = transitionJob(this.s.status, to);
    this.s.updatedAt = this.ctx.now;
    this.log({ kind: "status", status: to, detail });
  }

  /**
   * The current round cannot run: completes the job if its type says the round is optional
   * (the job type's `abandonRound`, job-types.ts), else fails it with `reason`.
   */
  giveUp(reason: string): void {
    if (isJobTerminal(this.s.status)) return;
    const alt = engines[this.s.spec.type].abandonRound?.(this.s.spec, this.s.reduceState) ?? null;
    if (!alt) return this.fail(reason);
    this.s.result = alt.result;
    this.end("completed", `completed after round ${this.s.round}; round ${this.s.round + 1} (optional) did not run: ${reason}`);
  }

  fail(reason: string): void {
    if (isJobTerminal(this.s.status)) return;
    this.s.error = reason;
    this.end("failed", reason);
  }

  /** Ends the job in `to` (no wake-up left), logs it and re-catalogues it. */
  private end(to: "completed" | "failed", detail: string): void {
    this.s.waitingSince = null;
    this.s.wakeAt = null;
    this.status(to, detail);
    this.emit({ kind: "catalogue" });
  }

  model(round: number, bytes: Uint8Array, carry?: Uint8Array): void {
    const hash = toHex(sha256(bytes));
    this.s.models[round] = hash;
    this.emit({ kind: "put-model", round, bytes, hash, ...(carry ? { carry } : {}) });
    this.log({ kind: "model", round, modelHash: hash, bytes: bytes.length });
  }

  /** Asks for a committee for (round, attempt). */
  select(round: number, attempt: number): void {
    this.s.round = round;
    this.s.attempt = attempt;
    this.s.waitingSince = null;
    this.emit({ kind: "select" });
  }

  done<R>(result: R): Step<R> {
    return { state: this.s, effects: this.effects, result };
  }
}

/** The reasons nodes gave for declining this job, as a suffix of a failure reason ("" when none). */
function declinesText(s: JobState): string {
  return s.declines.length ? `; declined: ${s.declines.join(" | ").slice(0, 1000)}` : "";
}

/** The public summary of a job. */
export function summary(s: JobState): JobSummary {
  return { id: s.jobId, type: s.spec.type, schemaId: s.spec.schemaId, status: s.status, round: s.round, attempt: s.attempt, createdAt: s.createdAt, updatedAt: s.updatedAt, error: s.error };
}

/**
 * A new job: logs the spec (and the job type's round-0 model), writes the catalogue row and
 * asks for round 0's committee. `spec` must have passed `engines[spec.type].validate`.
 */
export function createJob(jobId: string, spec: JobSpec, submitter: SpecSignature | null, ctx: Pick<JobContext, "now" | "signingKey">): Step {
  const now = ctx.now;
  const d = new Draft({
    jobId, spec, specHash: objectHash(spec), status: "pending", createdAt: now, updatedAt: now, round: 0, attempt: 0, open: null,
    waitingSince: null, wakeAt: null, excluded: [], failedCommittees: [], declines: [], models: {}, head: null, reduceState: null, result: null, error: null, outbox: [],
  }, ctx);
  d.log({ kind: "job", jobId, specHash: d.s.specHash, spec, submitter });
  const init = engines[spec.type].init(spec);
  d.s.reduceState = init.state;
  if (init.model) d.model(0, init.model);
  d.emit({ kind: "catalogue" });
  d.select(0, 0);
  return d.done(undefined);
}

/**
 * Selects the committee of (state.round, state.attempt) from `candidates` and opens the
 * attempt (manifest and dataset commitments logged, RoundDO initialised, assignments
 * written), or keeps waiting (retry every {@link RETRY_MS}) until `deadlines.select`, then
 * fails `insufficient-nodes` — at once, without waiting, when nodes this job excluded (declines,
 * culprits) leave fewer live eligible candidates than `committee.min`; the failure repeats the
 * nodes' stated decline reasons. A no-op unless the job is live and waiting for a committee.
 */
export function plan(state: JobState, candidates: readonly Candidate[], ctx: JobContext): Step {
  const d = new Draft(state, ctx);
  const s = d.s;
  if (isJobTerminal(s.status) || s.open) return d.done(undefined);
  const { now, livenessMs } = ctx;
  const { spec, round, attempt } = s;
  const failed = s.failedCommittees.filter((f) => f.round === round).map((f) => f.committee);
  const committee = selectAvoiding(candidates, spec, failed, { now, livenessMs, exclude: new Set(s.excluded), rng: ctx.rng });
  if (committee.length < spec.committee.min) {
    const since = s.waitingSince ?? now;
    const deadline = since + spec.deadlines.select * 1000;
    const eligible = candidates.filter((c) => isEligible(c, spec, now, livenessMs) && !s.excluded.includes(c.nodeId)).length;
    // Fail at once when this job's own exclusions (declines, culprits) leave too few of the
    // live nodes the coordinator knows: waiting for the deadline could not change the answer
    // unless a new node registered, and the submitter should hear the nodes' reasons now.
    const ruledOut = s.excluded.length > 0 && eligible < spec.committee.min;
    if (now >= deadline || ruledOut) {
      const why = failed.length && eligible >= spec.committee.min
        ? `${eligible} eligible, but every committee of at least ${spec.committee.min} contains a failed one (${failed.length} failed attempt${failed.length > 1 ? "s" : ""})`
        : `${eligible} eligible, ${spec.committee.min} required${s.excluded.length ? ` (${s.excluded.length} excluded from this job)` : ""}`;
      d.giveUp(`insufficient-nodes: ${why}${declinesText(s)}`);
      return d.done(undefined);
    }
    s.waitingSince = since;
    s.wakeAt = Math.min(now + RETRY_MS, deadline);
    s.updatedAt = now;
    d.emit({ kind: "catalogue" });
    return d.done(undefined);
  }
  const joinAt = now + spec.deadlines.join * 1000;
  const computeAt = joinAt + spec.deadlines.compute * 1000;
  const finalizeAt = computeAt + spec.deadlines.finalize * 1000;
  const manifest: RoundManifest = {
    version: 1, kind: "round-manifest", jobId: s.jobId, round, attempt, jobType: spec.type, schemaId: spec.schemaId,
    sessionId: toBase64Url(deriveSessionId(s.jobId, round, attempt)),
    committee: committee.map((c, index) => ({ index, nodeId: c.nodeId, identityKey: c.identityKey, kxKey: c.kxKey })),
    mode: spec.mode, field: spec.field, fixedPoint: { fracBits: spec.fixedPoint.fracBits, bound: spec.fixedPoint.bound },
    validation: spec.validation, task: spec.task, modelHash: s.models[round] ?? null,
    deadlines: { join: joinAt, compute: computeAt, finalize: finalizeAt }, createdAt: now,
  };
  const entry = d.log({ kind: "manifest", round, attempt, manifestHash: objectHash(manifest), manifest });
  d.log({ kind: "dataset-commitments", round, attempt, commitments: committee.map((c) => ({ nodeId: c.nodeId, schemaId: spec.schemaId, rows: c.rows, commitment: c.commitment })) });
  s.open = { committee: committee.map((c) => c.nodeId), seq: entry.seq, delivered: false, openedAt: now, joinAt, assignedAt: null };
  s.waitingSince = null;
  s.wakeAt = null; // the manifest's delivery and the assignments are retried from the outbox until done
  if (s.status === "pending") d.status("running", `round ${round + 1} started`);
  s.updatedAt = now;
  d.emit({ kind: "init-round", seq: entry.seq }, { kind: "assign", seq: entry.seq }, { kind: "catalogue" });
  return d.done(undefined);
}

/** The assignments of the manifest of log entry `seq` were written at `now`: if that is the open attempt's, its members can join from then on. */
export function assignmentsWritten(state: JobState, seq: number, now: number): JobState {
  if (!state.open || state.open.seq !== seq || state.open.assignedAt != null) return state;
  return { ...state, open: { ...state.open, assignedAt: now } };
}

/**
 * Whether the coordinator itself made the open attempt's members late: its assignments were
 * written (a storage outage delayed them in the outbox) less than half the join window, at most
 * {@link ASSIGN_MARGIN_MS}, before the join deadline — or not confirmed at all. Unknown (false)
 * for states from before these fields existed.
 */
function assignedLate(open: NonNullable<JobState["open"]>): boolean {
  if (open.joinAt === undefined || open.openedAt === undefined || open.assignedAt === undefined) return false;
  if (open.assignedAt === null) return true;
  const margin = Math.min(ASSIGN_MARGIN_MS, (open.joinAt - open.openedAt) / 2);
  return open.assignedAt > open.joinAt - margin;
}

/** See {@link assignedLate}. */
export const ASSIGN_MARGIN_MS = 10_000;

/** The RoundDO acknowledged the manifest of log entry `seq`: if that is the open attempt's, no redelivery is needed. */
export function manifestDelivered(state: JobState, seq: number): JobState {
  if (!state.open || state.open.seq !== seq || state.open.delivered) return state;
  return { ...state, open: { ...state.open, delivered: true }, wakeAt: null };
}

/**
 * The JobDO's alarm: retries selection while waiting for nodes, or redelivers the open
 * attempt's manifest if it is undelivered and not already in the outbox (a state stored
 * before the outbox existed). Idempotent, and harmless when early (both are retries).
 */
export function onWake(state: JobState): Step {
  const s = state;
  const none: Step = { state: s, effects: [], result: undefined };
  if (isJobTerminal(s.status) || s.wakeAt === null) return none;
  if (s.open) {
    const seq = s.open.seq;
    const queued = (s.outbox ?? []).some((e) => e.kind === "init-round" && e.seq === seq);
    return s.open.delivered || queued ? none : { ...none, effects: [{ kind: "init-round", seq }] };
  }
  return s.waitingSince !== null && !(s.outbox ?? []).some((e) => e.kind === "select") ? { ...none, effects: [{ kind: "select" }] } : none;
}

/**
 * Applies a RoundDO's report. Ignored (`applied: false`) unless it is about the open attempt,
 * so duplicates, stale reports and reports after cancellation are harmless.
 * Accepted: the job type's reduce, result logged, next round or completed.
 * Aborted: culprits excluded, the attempt's committee remembered if no one was named, then
 * `output-released` if the output may have been opened, else a new attempt within the retry
 * budget, else failed.
 * `model`: the stored global model the round started from (JobStore.getModel of
 * `state.round`), which the job type's reduce needs; weights are never kept in the state.
 */
export function onOutcome(state: JobState, o: RoundOutcome, ctx: Pick<JobContext, "now" | "signingKey">, model: StoredModel | null = null): Step<{ applied: boolean }> {
  if (!state.open || state.round !== o.round || state.attempt !== o.attempt || state.jobId !== o.jobId) return { state, effects: [], result: { applied: false } };
  const d = new Draft(state, ctx);
  const s = d.s;
  const opened = s.open!;
  const committee = opened.committee;
  s.open = null;
  s.wakeAt = null;
  if (o.outcome === "accepted") {
    const hash = toHex(sha256(o.aggregate));
    d.emit({ kind: "unassign", round: o.round, attempt: o.attempt, ok: committee, failed: [] });
    const result = { kind: "result", round: o.round, attempt: o.attempt, aggregateHash: hash, transcriptHash: o.transcriptHash, excluded: o.excluded } as const;
    let out: ReduceOutput;
    try {
      out = engines[s.spec.type].reduce(s.spec, s.reduceState, { round: o.round, attempt: o.attempt, bytes: o.aggregate, hash, transcriptHash: o.transcriptHash, excluded: o.excluded, committee }, model);
      objectHash(out.result); // throws if the result cannot be logged (e.g. a non-finite number)
    } catch (e) {
      d.log({ ...result, done: true });
      d.fail(`reduce-failed: ${e instanceof Error ? e.message.slice(0, 300) : "unknown error"}`);
      return d.done({ applied: true });
    }
    if (out.model) d.model(o.round + 1, out.model, out.carry);
    const done = out.done || o.round + 1 >= engines[s.spec.type].roundLimit(s.spec);
    d.log({ ...result, done, result: out.result });
    s.reduceState = out.state;
    s.result = out.result;
    if (done) {
      d.status("completed", `completed after round ${o.round + 1}`);
      d.emit({ kind: "catalogue" });
    } else {
      d.select(o.round + 1, 0);
    }
    return d.done({ applied: true });
  }
  // Culprits only as the RoundDO observed them (absent, declined, equivocating) — except absence
  // at the join deadline of members the coordinator itself assigned late (a storage outage):
  // that is the coordinator's fault, so no one is named and the committee is not a failed one.
  const named = [...new Set(o.culprits.map((i) => committee[i]).filter((x): x is string => typeof x === "string"))];
  const late = o.code === "timeout" && o.during === "waiting" && named.length > 0 && assignedLate(opened);
  const culprits = late ? [] : named;
  const detail = late ? `${o.detail}; not blamed: the coordinator wrote this attempt's assignments late` : o.detail;
  d.log({ kind: "abort", round: o.round, attempt: o.attempt, code: o.code, culprits, detail, released: o.released === true });
  s.excluded = [...new Set([...s.excluded, ...culprits])];
  if (culprits.length === 0 && !late) s.failedCommittees.push({ round: o.round, committee });
  if (o.code === "declined") {
    const who = culprits.length ? `node ${culprits.map((n) => n.slice(0, 8)).join(", ")}: ` : "";
    s.declines = [...new Set([...s.declines, `${who}${o.detail.replace(/^party \d+ declined: /, "")}`])].slice(0, 5);
  }
  // A decline is not a failure: the node is excluded from this job but keeps its reliability.
  d.emit({ kind: "unassign", round: o.round, attempt: o.attempt, ok: committee.filter((n) => !culprits.includes(n)), failed: o.code === "declined" ? [] : culprits });
  if (o.code === "cancelled" || isJobTerminal(s.status)) return d.done({ applied: true });
  if (o.released) {
    // One output per round (DESIGN §1): the attempt may already have opened its output to a
    // corrupt member; a rerun over a different set of honest inputs would let the difference
    // of two sums reveal single inputs. Honest nodes refuse such a rerun on their own (their
    // ledger); the coordinator stops the job instead of trying.
    d.giveUp(`output-released: round ${o.round + 1} attempt ${o.attempt + 1} aborted (${o.code}) after its output may have been opened; a round is never rerun over a different set of inputs`);
  } else if (o.attempt < s.spec.retryBudget) {
    d.select(o.round, o.attempt + 1);
  } else {
    d.giveUp(`retry budget exhausted in round ${o.round + 1} (last abort: ${o.code})${declinesText(s)}`);
  }
  return d.done({ applied: true });
}

/** Cancels a live job and its open attempt. Idempotent for a cancelled job; a completed or failed one is not cancellable. */
export function cancelJob(state: JobState, ctx: Pick<JobContext, "now" | "signingKey">): Step<CancelResult> {
  if (state.status === "cancelled") return { state, effects: [], result: { ok: true, job: summary(state) } };
  if (isJobTerminal(state.status)) return { state, effects: [], result: { ok: false, code: "job-not-cancellable", detail: `job is ${state.status}` } };
  const d = new Draft(state, ctx);
  const s = d.s;
  d.status("cancelled", "cancelled by the submitter"); // also ends the open attempt in the log (roundsFromLog)
  if (s.open) d.emit({ kind: "unassign", round: s.round, attempt: s.attempt, ok: [], failed: [] }, { kind: "cancel-round", round: s.round, attempt: s.attempt });
  s.open = null;
  s.waitingSince = null;
  s.wakeAt = null;
  d.emit({ kind: "catalogue" });
  return d.done({ ok: true, job: summary(s) });
}

/** Stores and logs the global model of `round`. Idempotent for the same bytes; models are immutable, so other bytes for a logged round are a conflict. */
export function putModel(state: JobState, round: number, bytes: Uint8Array, ctx: Pick<JobContext, "now" | "signingKey">): Step<PutModelResult> {
  const hash = toHex(sha256(bytes));
  const existing = state.models[round];
  if (existing) return { state, effects: [], result: existing === hash ? { ok: true, hash } : { ok: false, code: "conflict", detail: `model ${round} is already logged with hash ${existing}` } };
  const d = new Draft(state, ctx);
  d.model(round, bytes);
  return d.done({ ok: true, hash });
}

// ---------------------------------------------------------------- views of the log

/**
 * Every round attempt the log records, oldest first: a manifest opens one; a result, an abort,
 * or the job's cancellation ends it. The log is the JobDO's only record of its rounds.
 */
export function roundsFromLog(entries: readonly LogEntry[]): RoundInfo[] {
  const rounds = new Map<string, RoundInfo>();
  for (const { body: b, timestamp } of entries) {
    if (b.kind === "status" && b.status === "cancelled") {
      for (const r of rounds.values()) if (r.status === "running") Object.assign(r, { status: "aborted", endedAt: timestamp, abort: { code: "cancelled", culprits: [], detail: "job cancelled" } });
    }
    if (b.kind === "manifest") {
      const m = b.manifest as RoundManifest;
      rounds.set(`${b.round}/${b.attempt}`, { round: b.round, attempt: b.attempt, status: "running", committee: m.committee.map((c) => c.nodeId), startedAt: m.createdAt, endedAt: null, abort: null, aggregateHash: null });
    } else if (b.kind === "result" || b.kind === "abort") {
      const r = rounds.get(`${b.round}/${b.attempt}`);
      if (!r) continue;
      Object.assign(r, { endedAt: timestamp }, b.kind === "result"
        ? { status: "accepted", aggregateHash: b.aggregateHash }
        : { status: "aborted", abort: { code: b.code, culprits: b.culprits, detail: b.detail } });
    }
  }
  return [...rounds.values()].sort((x, y) => x.round - y.round || x.attempt - y.attempt);
}

/** The manifest of (round, attempt) as logged, or null. */
export function manifestFromLog(entries: readonly LogEntry[], round: number, attempt: number): RoundManifest | null {
  const e = entries.find((x) => x.body.kind === "manifest" && x.body.round === round && x.body.attempt === attempt);
  return e?.body.kind === "manifest" ? (e.body.manifest as RoundManifest) : null;
}
