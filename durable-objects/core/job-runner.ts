/**
 * Runs the job machine against a {@link JobStore}: loads the state, calls a step, carries out
 * its effects. The job's own storage (log, state) is written first, then the
 * shared services in effect order (R2 model, RoundDO, D1), then the one alarm is re-armed from
 * `state.wakeAt`. The JobDO is this class over the Workers store; Node tests use it over the
 * in-memory store.
 */
import type { JobSpec, RoundManifest } from "../../protocol/api/schemas.ts";
import type { SpecSignature } from "../../protocol/jobs/signed-spec.ts";
import { objectHash } from "../../protocol/log/index.ts";
import {
  cancelJob, createJob, manifestDelivered, onOutcome, onWake, plan, putModel, summary,
  type CancelResult, type CreateResult, type JobContext, type JobState, type PutModelResult, type RoundOutcome, type Step,
} from "./job-machine.ts";
import type { JobStore, RoundPort } from "./store.ts";

const NOT_FOUND = { ok: false, code: "not-found", detail: "no such job" } as const;

export class JobRunner {
  private current: JobState | null = null;

  /**
   * @param ctx called once per mutating call (it may throw, e.g. without a signing key, before anything is written)
   */
  constructor(
    readonly store: JobStore,
    private readonly round: (jobId: string, round: number, attempt: number) => RoundPort,
    private readonly ctx: () => JobContext,
  ) {}

  async load(): Promise<void> {
    this.current = await this.store.loadState();
  }

  /** The job's state (read-only), or null before `create`. */
  get state(): JobState | null {
    return this.current;
  }

  /** Creates the job and tries to start round 0. Idempotent: the same spec again returns the existing job; another spec is a `conflict`. */
  async create(jobId: string, spec: JobSpec, submitter: SpecSignature | null): Promise<CreateResult> {
    if (this.state) {
      return this.state.specHash === objectHash(spec) ? { ok: true, job: summary(this.state) } : { ok: false, code: "conflict", detail: "job id already used with another spec" };
    }
    const ctx = this.ctx();
    await this.run(createJob(jobId, spec, submitter, ctx), ctx);
    return { ok: true, job: summary(this.state!) };
  }

  /** Cancels the job (idempotent; see cancelJob). */
  cancel(): Promise<CancelResult> {
    return this.step(NOT_FOUND, cancelJob);
  }

  /** Stores and logs a round's global model (idempotent for the same bytes; see putModel). */
  putModel(round: number, bytes: Uint8Array): Promise<PutModelResult> {
    return this.step(NOT_FOUND, (s, ctx) => putModel(s, round, bytes, ctx));
  }

  /** Applies a RoundDO's report (idempotent; see onOutcome). */
  roundFinished(o: RoundOutcome): Promise<{ applied: boolean }> {
    return this.step({ applied: false }, (s, ctx) => onOutcome(s, o, ctx));
  }

  /** The alarm (idempotent; see onWake). */
  async alarm(): Promise<void> {
    await this.step(undefined, onWake);
  }

  private async step<R>(none: R, f: (s: JobState, ctx: JobContext) => Step<R>): Promise<R> {
    if (!this.current) return none;
    const ctx = this.ctx();
    return this.run(f(this.current, ctx), ctx);
  }

  /** Carries out one step (and the selection it may ask for); returns the step's result. */
  private async run<R>(step: Step<R>, ctx: JobContext): Promise<R> {
    const st = this.store;
    const before = this.current;
    this.current = step.state;
    for (const e of step.effects) if (e.kind === "log") st.appendLog(e.entry);
    if (step.state !== before) await st.saveState(step.state);
    const s = step.state;
    for (const e of step.effects) {
      switch (e.kind) {
        case "put-model": await st.putModel(s.jobId, e.round, e.bytes, e.hash); break;
        case "init-round": await this.deliver(e.seq); break;
        case "assign": await st.openAssignments(e.manifest, e.logHash, ctx.now); break;
        case "unassign": await st.closeAssignments(s.jobId, e.round, e.attempt); break;
        case "cancel-round": await this.round(s.jobId, e.round, e.attempt).cancel(); break;
        case "reliability": if (e.ok.length || e.failed.length) await st.adjustReliability(e.ok, e.failed); break;
        case "catalogue": await st.catalogue(this.state!); break;
        case "select": {
          const now = ctx.now;
          const candidates = await st.candidates(this.state!.spec, now - ctx.livenessMs);
          await this.run(plan(this.state!, candidates, ctx), ctx);
          break;
        }
      }
    }
    await st.setAlarm(this.state!.wakeAt);
    return step.result;
  }

  /** Gives the RoundDO the manifest of log entry `seq`; a failure is retried by the alarm (`wakeAt`). */
  private async deliver(seq: number): Promise<void> {
    const e = this.store.readLog(seq, 1)[0];
    if (e?.body.kind !== "manifest" || !this.state) return;
    try {
      await this.round(this.state.jobId, e.body.round, e.body.attempt).init(e.body.manifest as RoundManifest, e.hash);
    } catch (e) {
      console.error("JobDO: could not initialise the RoundDO, will retry", e);
      return;
    }
    const next = manifestDelivered(this.state, seq);
    if (next !== this.state) {
      this.current = next;
      await this.store.saveState(next);
    }
  }
}
