/**
 * JobDO: one per job, named `job/<jobId>` (protocol/names.ts). Owns the job's state machine,
 * committee selection, round creation and retry, the reduce hook, and the job's transparency
 * log. State lives in DO storage (KV "state" + SQL tables `log` and `rounds`) and is loaded
 * under blockConcurrencyWhile, so an evicted or restarted object continues where it stopped.
 */
import { DurableObject } from "cloudflare:workers";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Env } from "../functions/env.ts";
import { coordinatorKey } from "../functions/keys.ts";
import type { JobSpec, JobStatus, JobSummary, RoundInfo, RoundManifest } from "../protocol/api/schemas.ts";
import { deriveSessionId } from "../protocol/api/schemas.ts";
import type { RoundAbortCode } from "../protocol/api/frames.ts";
import { toBase64Url, toHex } from "../protocol/encoding.ts";
import { appendEntry, objectHash, type LogBody, type LogEntry } from "../protocol/log/index.ts";
import { roundObjectName } from "../protocol/names.ts";
import type { SpecSignature } from "../protocol/jobs/signed-spec.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { isJobTerminal, transitionJob } from "./machines.ts";
import { engines, reducers, type RoundAggregate } from "./reducers.ts";
import { isEligible, selectAvoiding, type Candidate } from "./selection.ts";

/** What a RoundDO reports when it reaches a terminal phase. */
export type RoundOutcome =
  | { jobId: string; round: number; attempt: number; outcome: "accepted"; aggregate: Uint8Array; transcriptHash: string; excluded: number[] }
  | { jobId: string; round: number; attempt: number; outcome: "aborted"; code: RoundAbortCode; culprits: number[]; detail: string;
      /** True once any member sent an output-opening message (open.sum, lin.open, plain.open): the output may be known to a corrupt member. */
      released?: boolean };

export type CreateResult = { ok: true; job: JobSummary } | { ok: false; code: "conflict"; detail: string };
export type CancelResult = { ok: true; job: JobSummary } | { ok: false; code: "not-found" | "job-not-cancellable"; detail: string };
export type PutModelResult = { ok: true; hash: string } | { ok: false; code: "not-found" | "conflict"; detail: string };

interface JobState {
  jobId: string;
  spec: JobSpec;
  specHash: string;
  status: JobStatus;
  createdAt: number;
  updatedAt: number;
  round: number;
  attempt: number;
  /** A RoundDO for (round, attempt) is live and has not reported yet. */
  roundOpen: boolean;
  /** Committee of the open/last round (node ids, party order). */
  committee: string[];
  /** Deadline after which the watchdog pokes the open RoundDO (Unix ms). */
  watchdogAt: number | null;
  /** Set while waiting for enough eligible nodes to start (round, attempt). */
  pendingStart: { round: number; attempt: number; since: number } | null;
  /** Nodes excluded from this job's committees (culprits and absentees of aborted rounds). */
  excluded: string[];
  /** Committees of aborts that named no culprit (e.g. a failed MAC check); never re-chosen as a whole. */
  failedCommittees?: Array<{ round: number; committee: string[] }>;
  reduceState: unknown;
  result: unknown;
  error: string | null;
}

const RETRY_SELECT_MS = 5_000;
const WATCHDOG_GRACE_MS = 10_000;

export class JobDO extends DurableObject<Env> {
  private state: JobState | null = null;
  private head: LogEntry | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL)");
      sql.exec(`CREATE TABLE IF NOT EXISTS rounds (round INTEGER NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
        committee TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, abort TEXT, aggregate_hash TEXT, manifest TEXT NOT NULL,
        PRIMARY KEY (round, attempt))`);
      this.state = (await ctx.storage.get<JobState>("state")) ?? null;
      const last = sql.exec<{ entry: string }>("SELECT entry FROM log ORDER BY seq DESC LIMIT 1").toArray()[0];
      this.head = last ? (JSON.parse(last.entry) as LogEntry) : null;
    });
  }

  // ------------------------------------------------------------------ RPC

  /**
   * Creates the job and tries to start round 0. Idempotent: calling again with the same spec
   * returns the existing job; with a different spec returns `conflict`.
   */
  async create(jobId: string, spec: JobSpec, submitter: SpecSignature | null = null): Promise<CreateResult> {
    const specHash = objectHash(spec);
    if (this.state) {
      return this.state.specHash === specHash ? { ok: true, job: this.summary() } : { ok: false, code: "conflict", detail: "job id already used with another spec" };
    }
    const now = Date.now();
    this.state = {
      jobId, spec, specHash, status: "pending", createdAt: now, updatedAt: now, round: 0, attempt: 0, roundOpen: false,
      committee: [], watchdogAt: null, pendingStart: null, excluded: [], reduceState: null, result: null, error: null,
    };
    this.append({ kind: "job", jobId, specHash, spec, submitter });
    const init = engines[spec.type].init(spec);
    this.state.reduceState = init.state;
    if (init.model) {
      const mh = toHex(sha256(init.model));
      await this.env.MODELS.put(modelKey(jobId, 0), init.model, { customMetadata: { sha256: mh } });
      this.append({ kind: "model", round: 0, modelHash: mh, bytes: init.model.length });
    }
    await this.save();
    await this.env.DB.prepare("INSERT OR IGNORE INTO jobs (id, type, schema_id, status, round, attempt, label, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?, ?)")
      .bind(jobId, spec.type, spec.schemaId, "pending", spec.label ?? null, now, now).run();
    await this.startRound(0, 0);
    return { ok: true, job: this.summary() };
  }

  /** Read-only: the job summary, or null if this object holds no job. */
  async get(): Promise<JobSummary | null> {
    return this.state ? this.summary() : null;
  }

  /** Read-only: the validated job spec, or null. */
  async spec(): Promise<JobSpec | null> {
    return this.state?.spec ?? null;
  }

  /** Read-only: every round attempt so far, oldest first. */
  async rounds(): Promise<RoundInfo[]> {
    return this.ctx.storage.sql
      .exec<{ round: number; attempt: number; status: string; committee: string; started_at: number; ended_at: number | null; abort: string | null; aggregate_hash: string | null }>(
        "SELECT round, attempt, status, committee, started_at, ended_at, abort, aggregate_hash FROM rounds ORDER BY round, attempt",
      )
      .toArray()
      .map((r) => ({
        round: r.round, attempt: r.attempt, status: r.status as RoundInfo["status"], committee: JSON.parse(r.committee) as string[],
        startedAt: r.started_at, endedAt: r.ended_at, abort: r.abort ? (JSON.parse(r.abort) as RoundInfo["abort"]) : null, aggregateHash: r.aggregate_hash,
      }));
  }

  /** Read-only: the manifest of a round attempt, or null. */
  async manifest(round: number, attempt: number): Promise<RoundManifest | null> {
    const r = this.ctx.storage.sql.exec<{ manifest: string }>("SELECT manifest FROM rounds WHERE round = ? AND attempt = ?", round, attempt).toArray()[0];
    return r ? (JSON.parse(r.manifest) as RoundManifest) : null;
  }

  /** Read-only: status and the reducer's current result. */
  async result(): Promise<{ status: JobStatus; result: unknown; error: string | null } | null> {
    return this.state ? { status: this.state.status, result: this.state.result, error: this.state.error } : null;
  }

  /** Read-only: log entries with seq ≥ from, at most `limit`. */
  async log(from = 0, limit = 1000): Promise<LogEntry[]> {
    return this.ctx.storage.sql
      .exec<{ entry: string }>("SELECT entry FROM log WHERE seq >= ? ORDER BY seq LIMIT ?", from, limit)
      .toArray()
      .map((r) => JSON.parse(r.entry) as LogEntry);
  }

  /** Read-only: the logged hash of the global model used by `round`, or null. */
  async modelHash(round: number): Promise<string | null> {
    const rows = this.ctx.storage.sql.exec<{ entry: string }>("SELECT entry FROM log ORDER BY seq DESC").toArray();
    for (const r of rows) {
      const e = JSON.parse(r.entry) as LogEntry;
      if (e.body.kind === "model" && e.body.round === round) return e.body.modelHash;
    }
    return null;
  }

  /**
   * Cancels the job and aborts its open round. Idempotent: cancelling a cancelled job
   * succeeds; a completed or failed job is not cancellable.
   */
  async cancel(): Promise<CancelResult> {
    const s = this.state;
    if (!s) return { ok: false, code: "not-found", detail: "no such job" };
    if (s.status === "cancelled") return { ok: true, job: this.summary() };
    if (isJobTerminal(s.status)) return { ok: false, code: "job-not-cancellable", detail: `job is ${s.status}` };
    const open = s.roundOpen;
    this.setStatus("cancelled", "cancelled by the submitter");
    s.roundOpen = false;
    s.pendingStart = null;
    if (open) {
      this.markRound(s.round, s.attempt, "aborted", { code: "cancelled", culprits: [], detail: "job cancelled" });
    }
    await this.save();
    await this.ctx.storage.deleteAlarm();
    if (open) await this.roundStub(s.round, s.attempt).cancel();
    await this.closeAssignments(s.round, s.attempt);
    await this.syncCatalogue();
    return { ok: true, job: this.summary() };
  }

  /**
   * Stores a global model for `round` in R2 and logs its hash. Idempotent for the same bytes;
   * a different model for an already-logged round is a conflict (models are immutable).
   */
  async putModel(round: number, bytes: Uint8Array): Promise<PutModelResult> {
    if (!this.state) return { ok: false, code: "not-found", detail: "no such job" };
    const hash = toHex(sha256(bytes));
    const existing = await this.modelHash(round);
    if (existing) return existing === hash ? { ok: true, hash } : { ok: false, code: "conflict", detail: `round ${round} already has model ${existing}` };
    await this.env.MODELS.put(modelKey(this.state.jobId, round), bytes, { customMetadata: { sha256: hash } });
    this.append({ kind: "model", round, modelHash: hash, bytes: bytes.length });
    await this.save();
    return { ok: true, hash };
  }

  /**
   * Called by the RoundDO when a round attempt ends. Idempotent: a report for a round that
   * is not the open one (duplicate, stale, or after cancellation) is ignored.
   */
  async roundFinished(o: RoundOutcome): Promise<{ applied: boolean }> {
    const s = this.state;
    if (!s || !s.roundOpen || s.round !== o.round || s.attempt !== o.attempt || s.jobId !== o.jobId) return { applied: false };
    s.roundOpen = false;
    s.watchdogAt = null;
    const committee = s.committee;
    if (o.outcome === "accepted") {
      const hash = toHex(sha256(o.aggregate));
      this.markRound(o.round, o.attempt, "accepted", null, hash);
      await this.save();
      await this.closeAssignments(o.round, o.attempt);
      await this.adjustReliability(committee, []);
      const agg: RoundAggregate = { round: o.round, attempt: o.attempt, bytes: o.aggregate, hash, transcriptHash: o.transcriptHash, excluded: o.excluded, committee };
      let out;
      try {
        out = await reducers[s.spec.type](s.spec, s.reduceState, agg);
      } catch (e) {
        console.error("JobDO: reducer failed", e);
        this.append({ kind: "result", round: o.round, attempt: o.attempt, aggregateHash: hash, transcriptHash: o.transcriptHash, excluded: o.excluded, done: true });
        this.fail("reduce-failed");
        await this.save();
        await this.syncCatalogue();
        return { applied: true };
      }
      if (out.model) {
        const mh = toHex(sha256(out.model));
        await this.env.MODELS.put(modelKey(s.jobId, o.round + 1), out.model, { customMetadata: { sha256: mh } });
        this.append({ kind: "model", round: o.round + 1, modelHash: mh, bytes: out.model.length });
      }
      const done = out.done || o.round + 1 >= s.spec.maxRounds;
      this.append({ kind: "result", round: o.round, attempt: o.attempt, aggregateHash: hash, transcriptHash: o.transcriptHash, excluded: o.excluded, done, result: out.result });
      s.reduceState = out.state;
      s.result = out.result;
      if (done) {
        this.setStatus("completed", `completed after round ${o.round}`);
        await this.save();
        await this.syncCatalogue();
      } else {
        await this.save();
        await this.startRound(o.round + 1, 0);
      }
      return { applied: true };
    }
    // aborted
    const culprits = o.culprits.map((i) => committee[i]).filter((x): x is string => typeof x === "string");
    this.markRound(o.round, o.attempt, "aborted", { code: o.code, culprits, detail: o.detail });
    this.append({ kind: "abort", round: o.round, attempt: o.attempt, code: o.code, culprits, detail: o.detail, released: o.released === true });
    s.excluded = [...new Set([...s.excluded, ...culprits])];
    if (culprits.length === 0) s.failedCommittees = [...(s.failedCommittees ?? []), { round: o.round, committee }];
    await this.save();
    await this.closeAssignments(o.round, o.attempt);
    // A decline is not a failure: the node is excluded from this job but keeps its reliability.
    await this.adjustReliability(committee.filter((n) => !culprits.includes(n)), o.code === "declined" ? [] : culprits);
    if (o.code === "cancelled" || isJobTerminal(s.status)) return { applied: true };
    if (o.released) {
      // One output per round (DESIGN §1): the attempt may already have opened its output to a
      // corrupt member; a rerun over a different set of honest inputs would let the difference
      // of two sums reveal single inputs. Honest nodes refuse such a rerun on their own (their
      // ledger); the coordinator stops the job instead of trying.
      this.fail(`output-released: round ${o.round} attempt ${o.attempt} aborted (${o.code}) after its output may have been opened; a round is never rerun over a different set of inputs`);
      await this.save();
      await this.syncCatalogue();
      return { applied: true };
    }
    if (o.attempt < s.spec.retryBudget) {
      await this.startRound(o.round, o.attempt + 1);
    } else {
      this.fail(`retry budget exhausted in round ${o.round} (last abort: ${o.code})`);
      await this.save();
      await this.syncCatalogue();
    }
    return { applied: true };
  }

  /**
   * Alarm: retries committee selection while waiting for nodes, and pokes an open RoundDO
   * whose deadlines passed (in case its report was lost). Idempotent.
   */
  override async alarm(): Promise<void> {
    const s = this.state;
    if (!s || isJobTerminal(s.status)) return;
    const now = Date.now();
    if (s.pendingStart && !s.roundOpen) {
      await this.startRound(s.pendingStart.round, s.pendingStart.attempt);
      return;
    }
    if (s.roundOpen && s.watchdogAt !== null) {
      if (now < s.watchdogAt) {
        await this.ctx.storage.setAlarm(s.watchdogAt);
        return;
      }
      const m = await this.manifest(s.round, s.attempt);
      if (m) await this.roundStub(s.round, s.attempt).init(m, "");
      await this.roundStub(s.round, s.attempt).checkDeadline();
      if (this.state?.roundOpen && this.state.round === s.round && this.state.attempt === s.attempt) {
        s.watchdogAt = now + WATCHDOG_GRACE_MS;
        await this.save();
        await this.ctx.storage.setAlarm(s.watchdogAt);
      }
    }
  }

  // ------------------------------------------------------------------ internals

  private summary(): JobSummary {
    const s = this.state!;
    return { id: s.jobId, type: s.spec.type, schemaId: s.spec.schemaId, status: s.status, round: s.round, attempt: s.attempt, createdAt: s.createdAt, updatedAt: s.updatedAt, error: s.error };
  }

  private async save(): Promise<void> {
    await this.ctx.storage.put("state", this.state);
  }

  private append(body: LogBody): LogEntry {
    const e = appendEntry(this.head, body, Date.now(), coordinatorKey(this.env).secretKey);
    this.ctx.storage.sql.exec("INSERT INTO log (seq, entry) VALUES (?, ?)", e.seq, JSON.stringify(e));
    this.head = e;
    return e;
  }

  private setStatus(to: JobStatus, detail: string): void {
    const s = this.state!;
    s.status = transitionJob(s.status, to);
    s.updatedAt = Date.now();
    this.append({ kind: "status", status: to, detail });
  }

  private fail(reason: string): void {
    const s = this.state!;
    if (isJobTerminal(s.status)) return;
    s.error = reason;
    s.pendingStart = null;
    this.setStatus("failed", reason);
  }

  /** "; declined: …" with the distinct reasons nodes gave for declining this job (their policy), or "". */
  private declineReasons(): string {
    const rows = this.ctx.storage.sql.exec<{ abort: string }>("SELECT abort FROM rounds WHERE abort IS NOT NULL ORDER BY round, attempt").toArray();
    const reasons = new Set<string>();
    for (const r of rows) {
      const a = JSON.parse(r.abort) as { code: string; detail: string };
      if (a.code === "declined") reasons.add(a.detail.replace(/^party \d+ declined: /, ""));
    }
    return reasons.size ? `; declined: ${[...reasons].slice(0, 5).join(" | ").slice(0, 1000)}` : "";
  }

  private roundStub(round: number, attempt: number) {
    return this.env.ROUND_DO.get(this.env.ROUND_DO.idFromName(roundObjectName(this.state!.jobId, round, attempt)));
  }

  private markRound(round: number, attempt: number, status: RoundInfo["status"], abort: RoundInfo["abort"], aggregateHash: string | null = null): void {
    this.ctx.storage.sql.exec("UPDATE rounds SET status = ?, ended_at = ?, abort = ?, aggregate_hash = ? WHERE round = ? AND attempt = ?",
      status, Date.now(), abort ? JSON.stringify(abort) : null, aggregateHash, round, attempt);
  }

  private async syncCatalogue(): Promise<void> {
    const s = this.state!;
    await this.env.DB.prepare("UPDATE jobs SET status = ?, round = ?, attempt = ?, error = ?, updated_at = ? WHERE id = ?")
      .bind(s.status, s.round, s.attempt, s.error, s.updatedAt, s.jobId).run();
  }

  private async closeAssignments(round: number, attempt: number): Promise<void> {
    await this.env.DB.prepare("UPDATE assignments SET status = 'closed' WHERE job_id = ? AND round = ? AND attempt = ?").bind(this.state!.jobId, round, attempt).run();
  }

  private async adjustReliability(ok: string[], failed: string[]): Promise<void> {
    const stmts: D1PreparedStatement[] = [];
    const upd = (col: "rounds_ok" | "rounds_failed") =>
      `UPDATE nodes SET ${col} = ${col} + 1, reliability = (rounds_ok + ${col === "rounds_ok" ? 2 : 1}) * 1.0 / (rounds_ok + rounds_failed + 3) WHERE id = ?`;
    for (const n of ok) stmts.push(this.env.DB.prepare(upd("rounds_ok")).bind(n));
    for (const n of failed) stmts.push(this.env.DB.prepare(upd("rounds_failed")).bind(n));
    if (stmts.length) await this.env.DB.batch(stmts);
  }

  private async loadCandidates(now: number, livenessMs: number): Promise<Candidate[]> {
    const spec = this.state!.spec;
    const { results } = await this.env.DB.prepare(
      `SELECT n.id, n.identity_key, n.kx_key, n.reliability, n.last_seen, n.cores, n.memory_mb, n.bandwidth_mbps, n.avail_from, n.avail_to,
              n.on_battery, n.online, d.rows, d.commitment
         FROM node_datasets d JOIN nodes n ON n.id = d.node_id
        WHERE d.schema_id = ? AND d.rows >= ? AND n.last_seen >= ? AND n.online = 1
        ORDER BY n.last_seen DESC LIMIT 10000`,
    ).bind(spec.schemaId, spec.eligibility.minRows, now - livenessMs).all<Record<string, number | string | null>>();
    return results.map((r) => ({
      nodeId: String(r.id), identityKey: String(r.identity_key), kxKey: String(r.kx_key), rows: Number(r.rows), commitment: String(r.commitment),
      reliability: Number(r.reliability), lastSeen: Number(r.last_seen), cores: Number(r.cores), memoryMb: Number(r.memory_mb),
      bandwidthMbps: Number(r.bandwidth_mbps), availFrom: r.avail_from === null ? null : Number(r.avail_from), availTo: r.avail_to === null ? null : Number(r.avail_to),
      onBattery: Number(r.on_battery ?? 0) === 1, online: Number(r.online) === 1,
    }));
  }

  /** Selects a committee and opens round attempt (round, attempt), or waits for nodes. */
  private async startRound(round: number, attempt: number): Promise<void> {
    const s = this.state!;
    if (isJobTerminal(s.status)) return;
    const spec = s.spec;
    const now = Date.now();
    const livenessMs = Number(this.env.LIVENESS_WINDOW_S ?? "120") * 1000;
    const candidates = await this.loadCandidates(now, livenessMs);
    const failed = (s.failedCommittees ?? []).filter((f) => f.round === round).map((f) => f.committee);
    const committee = selectAvoiding(candidates, spec, failed, { now, livenessMs, exclude: new Set(s.excluded), rng: cryptoRng });
    s.round = round;
    s.attempt = attempt;
    if (committee.length < spec.committee.min) {
      const since = s.pendingStart?.since ?? now;
      if (now - since >= spec.deadlines.select * 1000) {
        const eligible = candidates.filter((c) => isEligible(c, spec, now, livenessMs) && !s.excluded.includes(c.nodeId)).length;
        this.fail((failed.length && eligible >= spec.committee.min
          ? `insufficient-nodes: ${eligible} eligible, but every committee of at least ${spec.committee.min} contains a failed one (${failed.length} failed attempt${failed.length > 1 ? "s" : ""})`
          : `insufficient-nodes: ${eligible} eligible, ${spec.committee.min} required`) + this.declineReasons());
        await this.save();
        await this.syncCatalogue();
        return;
      }
      s.pendingStart = { round, attempt, since };
      s.updatedAt = now;
      await this.save();
      await this.ctx.storage.setAlarm(Math.min(now + RETRY_SELECT_MS, since + spec.deadlines.select * 1000));
      await this.syncCatalogue();
      return;
    }
    s.pendingStart = null;
    const joinAt = now + spec.deadlines.join * 1000;
    const computeAt = joinAt + spec.deadlines.compute * 1000;
    const finalizeAt = computeAt + spec.deadlines.finalize * 1000;
    const manifest: RoundManifest = {
      version: 1, kind: "round-manifest", jobId: s.jobId, round, attempt, jobType: spec.type, schemaId: spec.schemaId,
      sessionId: toBase64Url(deriveSessionId(s.jobId, round, attempt)),
      committee: committee.map((c, index) => ({ index, nodeId: c.nodeId, identityKey: c.identityKey, kxKey: c.kxKey })),
      mode: spec.mode, field: spec.field, fixedPoint: { fracBits: spec.fixedPoint.fracBits, bound: spec.fixedPoint.bound },
      validation: spec.validation, task: spec.task, modelHash: await this.modelHash(round),
      deadlines: { join: joinAt, compute: computeAt, finalize: finalizeAt }, createdAt: now,
    };
    const entry = this.append({ kind: "manifest", round, attempt, manifestHash: objectHash(manifest), manifest });
    this.append({ kind: "dataset-commitments", round, attempt, commitments: committee.map((c) => ({ nodeId: c.nodeId, schemaId: spec.schemaId, rows: c.rows, commitment: c.commitment })) });
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO rounds (round, attempt, status, committee, started_at, manifest) VALUES (?, ?, 'running', ?, ?, ?)",
      round, attempt, JSON.stringify(committee.map((c) => c.nodeId)), now, JSON.stringify(manifest));
    s.committee = committee.map((c) => c.nodeId);
    s.roundOpen = true;
    s.watchdogAt = finalizeAt + WATCHDOG_GRACE_MS;
    if (s.status === "pending") this.setStatus("running", `round ${round} started`);
    s.updatedAt = now;
    await this.save();
    await this.ctx.storage.setAlarm(s.watchdogAt);
    await this.roundStub(round, attempt).init(manifest, entry.hash);
    const ins = this.env.DB.prepare(
      "INSERT OR REPLACE INTO assignments (node_id, job_id, round, attempt, party, manifest, log_hash, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
    );
    const manifestJson = JSON.stringify(manifest);
    await this.env.DB.batch(manifest.committee.map((m) => ins.bind(m.nodeId, s.jobId, round, attempt, m.index, manifestJson, entry.hash, now, finalizeAt)));
    await this.syncCatalogue();
  }
}

/** R2 key of a job's global model for a round. */
export function modelKey(jobId: string, round: number): string {
  return `models/${jobId}/${round}`;
}
