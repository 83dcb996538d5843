/**
 * Runs the job machine against a {@link JobStore}: loads the state, calls a step, carries out
 * its effects. The JobDO is this class over the Workers store; Node tests and the simulation
 * (test/sim/) use it over the in-memory store.
 *
 * Crash safety (issue 15, defect 2) — an outbox:
 *  1. `put-model` effects are written first (R2; idempotent, their bytes fixed by the state);
 *  2. one atomic commit ({@link JobStore.commit}) writes the step's log entries, the new state
 *     with every other effect appended to its `outbox`, and the alarm (armed within
 *     {@link OUTBOX_RETRY_MS} while the outbox is not empty);
 *  3. the outbox is carried out in order (RoundDO, D1), each effect idempotent; then a commit
 *     clears it and re-arms the alarm from `state.wakeAt`.
 * A crash or storage error before the commit changes nothing (the caller gets the error and
 * may retry); one after it leaves the outbox stored, and the next call, the alarm, or the
 * JobDO's construction ({@link JobRunner.recover}) carries it out — each effect takes hold
 * exactly once (assignments never re-open, reliability is credited once per member and attempt).
 * Calls are serialised: a step never interleaves with another at an await.
 */
import type { JobSpec, RoundManifest } from "../../protocol/api/schemas.ts";
import type { SpecSignature } from "../../protocol/jobs/signed-spec.ts";
import { objectHash, type LogEntry } from "../../protocol/log/index.ts";
import {
  assignmentsWritten, cancelJob, createJob, manifestDelivered, onOutcome, onWake, plan, putModel, summary,
  type CancelResult, type CreateResult, type JobContext, type JobEffect, type JobState, type PutModelResult, type RoundOutcome, type Step,
} from "./job-machine.ts";
import type { JobStore, RoundPort } from "./store.ts";

const NOT_FOUND = { ok: false, code: "not-found", detail: "no such job" } as const;

/** The alarm fires within this long while the outbox holds effects not yet done. */
export const OUTBOX_RETRY_MS = 1_000;

/** The effects that go to the outbox (all but `log` and `put-model`). */
function queued(effects: readonly JobEffect[]): JobEffect[] {
  return effects.filter((e) => e.kind !== "log" && e.kind !== "put-model");
}

export class JobRunner {
  private current: JobState | null = null;
  /** The in-memory state may differ from the stored one (a commit failed): reload before the next step. */
  private stale = false;
  private tail: Promise<unknown> = Promise.resolve();
  /** Successful commits so far. */
  private commits = 0;

  /**
   * @param ctx called once per mutating call (it may throw, e.g. without a signing key, before anything is written)
   * @param report where failures that are retried later are reported (default console.error)
   */
  constructor(
    readonly store: JobStore,
    private readonly round: (jobId: string, round: number, attempt: number) => RoundPort,
    private readonly ctx: () => JobContext,
    private readonly report: (message: string, error: unknown) => void = console.error,
  ) {}

  /** Loads the stored state (a state from before the outbox existed reads with an empty one). Throws on a storage error. */
  async load(): Promise<void> {
    const s = await this.store.loadState();
    this.current = s && { ...s, outbox: s.outbox ?? [] };
    this.stale = false;
  }

  /** The job's state (read-only), or null before `create`. */
  get state(): JobState | null {
    return this.current;
  }

  /** Effects committed but not yet confirmed done (read-only). */
  get pending(): readonly JobEffect[] {
    return this.current?.outbox ?? [];
  }

  /**
   * Carries out the outbox left by an earlier crash or storage error (the JobDO calls it when
   * it starts). Idempotent; never throws: what fails stays in the outbox for the alarm.
   */
  recover(): Promise<void> {
    return this.exclusive(async () => {
      if (!(await this.fresh()) || this.pending.length === 0) return;
      await this.drain(this.ctx());
    }).catch((e: unknown) => this.report("JobDO: recovery failed, the alarm retries", e));
  }

  /**
   * Creates the job and tries to start round 0. Idempotent: the same spec again returns the
   * existing job; another spec is a `conflict`. Throws on a storage error before or during the
   * commit (the job is then stored entirely or not at all: the submitter's retry answers it);
   * failures after the commit are retried from the outbox, never thrown.
   */
  create(jobId: string, spec: JobSpec, submitter: SpecSignature | null): Promise<CreateResult> {
    return this.exclusive(async () => {
      await this.fresh();
      if (this.current) {
        return this.current.specHash === objectHash(spec) ? { ok: true, job: summary(this.current) } : { ok: false, code: "conflict", detail: "job id already used with another spec" };
      }
      const ctx = this.ctx();
      await this.run(createJob(jobId, spec, submitter, ctx), ctx);
      return { ok: true, job: summary(this.current!) };
    });
  }

  /** Cancels the job (idempotent; see cancelJob). */
  cancel(): Promise<CancelResult> {
    return this.step(NOT_FOUND, cancelJob);
  }

  /** Stores and logs a round's global model (idempotent for the same bytes; see putModel). */
  putModel(round: number, bytes: Uint8Array): Promise<PutModelResult> {
    return this.step(NOT_FOUND, (s, ctx) => putModel(s, round, bytes, ctx));
  }

  /** Applies a RoundDO's report (idempotent; see onOutcome). Throws if the outcome could not be committed: the RoundDO retries. */
  roundFinished(o: RoundOutcome): Promise<{ applied: boolean }> {
    return this.step({ applied: false }, async (s, ctx) => {
      // The reduce gets the round's starting model from storage (the state holds only its hash).
      const applies = o.outcome === "accepted" && s.open !== null && s.jobId === o.jobId && s.round === o.round && s.attempt === o.attempt;
      const model = applies && s.models[o.round] ? await this.store.getModel(s.jobId, o.round) : null;
      return onOutcome(s, o, ctx, model);
    });
  }

  /**
   * The alarm: carries out the outbox and the machine's wake-up (idempotent; see onWake), and
   * always ends with the alarm re-armed from the state (a fired alarm is gone). Throws if that
   * commit fails: workerd retries a failed alarm.
   */
  alarm(): Promise<void> {
    return this.exclusive(async () => {
      if (!(await this.fresh())) return;
      const ctx = this.ctx();
      const commits = this.commits;
      await this.run(onWake(this.current!), ctx);
      if (this.commits === commits || this.stale) {
        if (this.stale) await this.load();
        await this.commit(this.current!, [], ctx.now);
      }
    });
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const r = this.tail.then(f, f);
    this.tail = r.catch(() => undefined);
    return r;
  }

  /** Reloads after a failed commit; true if there is a job. */
  private async fresh(): Promise<boolean> {
    if (this.stale) await this.load();
    return this.current !== null;
  }

  private step<R>(none: R, f: (s: JobState, ctx: JobContext) => Step<R> | Promise<Step<R>>): Promise<R> {
    return this.exclusive(async () => {
      if (!(await this.fresh())) return none;
      const ctx = this.ctx();
      return this.run(await f(this.current!, ctx), ctx);
    });
  }

  /** When the alarm must fire for `s`: soon while its outbox holds work, else at `wakeAt`. */
  private alarmFor(s: JobState, now: number): number | null {
    if (!s.outbox?.length) return s.wakeAt;
    return Math.min(s.wakeAt ?? Infinity, now + OUTBOX_RETRY_MS);
  }

  /** Writes `s` with `entries` atomically; on failure the runner reloads before its next step, and the error propagates. */
  private async commit(s: JobState, entries: readonly LogEntry[], now: number): Promise<void> {
    try {
      await this.store.commit(s, entries, this.alarmFor(s, now));
    } catch (e) {
      this.stale = true;
      throw e;
    }
    this.current = s;
    this.commits++;
  }

  /**
   * Commits one step (models first, then state + log + outbox + alarm) and carries out the
   * outbox; returns the step's result. Throws only if the step could not be committed.
   */
  private async run<R>(step: Step<R>, ctx: JobContext): Promise<R> {
    const before = this.current;
    for (const e of step.effects) if (e.kind === "put-model") await this.store.putModel(step.state.jobId, e.round, e.bytes, e.hash, e.carry);
    const entries = step.effects.flatMap((e) => (e.kind === "log" ? [e.entry] : []));
    const more = queued(step.effects);
    if (step.state !== before || entries.length || more.length) {
      await this.commit({ ...step.state, outbox: [...(step.state.outbox ?? []), ...more] }, entries, ctx.now);
    }
    await this.drain(ctx);
    return step.result;
  }

  /**
   * Carries out the outbox in order. A `select` runs {@link plan} and commits its step before
   * anything else. Never throws: on a failure the rest stays in the outbox (committed if the
   * store allows, else the stored, longer outbox is repeated — every effect is idempotent)
   * with the alarm armed.
   */
  private async drain(ctx: JobContext): Promise<void> {
    let s = this.current;
    if (!s || this.stale) return;
    try {
      while (s.outbox?.length) {
        const [e, ...rest] = s.outbox as [JobEffect, ...JobEffect[]];
        if (e.kind === "select") {
          const candidates = await this.store.candidates(s.spec, ctx.now - ctx.livenessMs);
          const p = plan({ ...s, outbox: rest }, candidates, ctx);
          const entries = p.effects.flatMap((x) => (x.kind === "log" ? [x.entry] : []));
          await this.commit({ ...p.state, outbox: [...rest, ...queued(p.effects)] }, entries, ctx.now);
          s = this.current!;
          continue;
        }
        await this.perform(s, e, ctx);
        const after: JobState = e.kind === "init-round" ? manifestDelivered(s, e.seq) : e.kind === "assign" ? assignmentsWritten(s, e.seq, ctx.now) : s;
        s = { ...after, outbox: rest };
      }
      if (s !== this.current) await this.commit(s, [], ctx.now);
    } catch (err) {
      this.report(`JobDO ${s.jobId}: an effect failed; the alarm retries it`, err);
      if (!this.stale && s !== this.current) await this.commit(s, [], ctx.now).catch(() => undefined);
    }
  }

  /** One idempotent effect against the shared services. */
  private async perform(s: JobState, e: JobEffect, ctx: JobContext): Promise<void> {
    const st = this.store;
    switch (e.kind) {
      case "init-round":
      case "assign": {
        const entry = st.readLog(e.seq, 1)[0];
        if (entry?.body.kind !== "manifest") throw new Error(`outbox: log entry ${e.seq} is not a manifest`);
        const m = entry.body.manifest as RoundManifest;
        if (e.kind === "init-round") await this.round(s.jobId, m.round, m.attempt).init(m, entry.hash);
        else await st.openAssignments(m, entry.hash, ctx.now);
        return;
      }
      case "unassign": return st.closeAssignments(s.jobId, e.round, e.attempt, e.ok, e.failed);
      case "cancel-round": return this.round(s.jobId, e.round, e.attempt).cancel();
      case "catalogue": return st.catalogue(s);
      default: throw new Error(`outbox: unexpected effect ${e.kind}`);
    }
  }
}
