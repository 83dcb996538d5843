/**
 * JobDO: one per job, named `job/<jobId>` (protocol/names.ts). A thin shell: it loads the
 * job's state under blockConcurrencyWhile and hands every call to the core's JobRunner
 * (durable-objects/core/), which runs the pure job machine and carries out its effects on the
 * Workers store (./job-store.ts) and the job's RoundDOs. One alarm, re-armed from the
 * state's `wakeAt` (selection retries) or, while effects of a committed step are not yet done
 * (the state's outbox), within a second; round deadlines are the RoundDO's. On construction —
 * after a crash, an eviction or a deploy — it loads the state and carries out what the outbox
 * still holds, so no job is left half-way between two steps.
 */
import { DurableObject } from "cloudflare:workers";
type Env = Cloudflare.Env; // the Worker bindings, declared in functions/env.ts
import { coordinatorKey } from "../protocol/crypto/coordinator-key.ts";
import type { JobSpec, JobStatus, JobSummary, RoundInfo, RoundManifest } from "../protocol/api/schemas.ts";
import type { SpecSignature } from "../protocol/jobs/signed-spec.ts";
import type { LogEntry } from "../protocol/log/index.ts";
import { roundObjectName } from "../protocol/names.ts";
import { cryptoRng } from "../protocol/rng.ts";
import { manifestFromLog, roundsFromLog, summary, type CancelResult, type CreateResult, type PutModelResult, type RoundOutcome } from "./core/job-machine.ts";
import { JobRunner } from "./core/job-runner.ts";
import { WorkersJobStore } from "./job-store.ts";

export { modelKey } from "./job-store.ts";

export class JobDO extends DurableObject<Env> {
  private readonly runner: JobRunner;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.runner = new JobRunner(
      new WorkersJobStore(ctx.storage, env),
      (jobId, round, attempt) => env.ROUND_DO.get(env.ROUND_DO.idFromName(roundObjectName(jobId, round, attempt))),
      () => ({ now: Date.now(), signingKey: coordinatorKey(env).secretKey, rng: cryptoRng, livenessMs: Number(env.LIVENESS_WINDOW_S ?? "120") * 1000 }),
    );
    const loaded = ctx.blockConcurrencyWhile(() => this.runner.load());
    ctx.waitUntil(loaded.then(() => this.runner.recover(), () => undefined));
  }

  /** Creates the job and tries to start round 0. Idempotent: the same spec again returns the existing job; another spec is a `conflict`. */
  async create(jobId: string, spec: JobSpec, submitter: SpecSignature | null = null): Promise<CreateResult> {
    return this.runner.create(jobId, spec, submitter);
  }

  /** Read-only: the job summary, or null if this object holds no job. */
  async get(): Promise<JobSummary | null> {
    const s = this.runner.state;
    return s ? summary(s) : null;
  }

  /** Read-only: the validated job spec, or null. */
  async spec(): Promise<JobSpec | null> {
    return this.runner.state?.spec ?? null;
  }

  /** Read-only: every round attempt so far, oldest first. */
  async rounds(): Promise<RoundInfo[]> {
    return roundsFromLog(this.runner.store.readLog(0));
  }

  /** Read-only: the manifest of a round attempt, or null. */
  async manifest(round: number, attempt: number): Promise<RoundManifest | null> {
    return manifestFromLog(this.runner.store.readLog(0), round, attempt);
  }

  /** Read-only: status and the reducer's current result. */
  async result(): Promise<{ status: JobStatus; result: unknown; error: string | null } | null> {
    const s = this.runner.state;
    return s ? { status: s.status, result: s.result, error: s.error } : null;
  }

  /** Read-only: log entries with seq ≥ from, at most `limit`. */
  async log(from = 0, limit = 1000): Promise<LogEntry[]> {
    return this.runner.store.readLog(from, limit);
  }

  /** Read-only: the logged hash of the global model used by `round`, or null. */
  async modelHash(round: number): Promise<string | null> {
    return this.runner.state?.models[round] ?? null;
  }

  /** Cancels the job and aborts its open round. Idempotent: cancelling a cancelled job succeeds; a completed or failed job is not cancellable. */
  async cancel(): Promise<CancelResult> {
    return this.runner.cancel();
  }

  /** Stores a global model for `round` in R2 and logs its hash. Idempotent for the same bytes; other bytes for a logged round are a conflict. */
  async putModel(round: number, bytes: Uint8Array): Promise<PutModelResult> {
    return this.runner.putModel(round, bytes);
  }

  /** Called by the RoundDO when a round attempt ends. Idempotent: a report about any attempt but the open one is ignored. */
  async roundFinished(o: RoundOutcome): Promise<{ applied: boolean }> {
    return this.runner.roundFinished(o);
  }

  /** Alarm: carries out the outbox, retries committee selection while waiting for nodes. Idempotent; throws (and workerd retries) only if the state could not be stored. */
  override async alarm(): Promise<void> {
    await this.runner.alarm();
  }
}
