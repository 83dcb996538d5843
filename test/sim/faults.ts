/**
 * Fault injection for the coordinator core: a {@link JobStore} and {@link RoundPort} wrapper
 * that fails one chosen operation (or each with a probability), the way a storage error, a
 * lost reply or a process crash would, and a crash model ("the process is dead": every later
 * operation of that incarnation fails; the caller rebuilds the runner from what the store
 * holds, as a Durable Object restart does).
 */
import type { JobSpec, RoundManifest } from "../../protocol/api/schemas.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import type { JobState } from "../../durable-objects/core/job-machine.ts";
import type { StoredModel } from "../../durable-objects/core/job-types.ts";
import type { MemoryJobStore } from "../../durable-objects/core/memory-store.ts";
import type { Candidate } from "../../durable-objects/core/selection.ts";
import type { JobStore, RoundPort } from "../../durable-objects/core/store.ts";

/**
 * - `error`: the operation fails and has no effect (a storage error);
 * - `lost-ack`: it takes effect, then the caller sees an error (a timeout, a dropped reply);
 * - `crash-before` / `crash-after`: the process dies just before / just after it takes effect.
 */
export type FaultKind = "error" | "lost-ack" | "crash-before" | "crash-after";
export const FAULT_KINDS: readonly FaultKind[] = ["error", "lost-ack", "crash-before", "crash-after"];

/** Every operation the fault plan can hit. */
export type FaultOp = "commit" | "putModel" | "getModel" | "candidates" | "catalogue" | "openAssignments" | "closeAssignments" | "round.init" | "round.cancel";

export class InjectedFault extends Error {
  constructor(readonly op: string, readonly kind: FaultKind | "dead") {
    super(`injected ${kind} at ${op}`);
    this.name = "InjectedFault";
  }
}

/**
 * Decides which operations fail. Counts every operation of every incarnation (`ops`); `dead`
 * is set by a crash until the owner calls {@link FaultPlan.restart}.
 */
export class FaultPlan {
  ops = 0;
  dead = false;
  crashes = 0;
  readonly hits: Array<{ op: string; index: number; kind: FaultKind }> = [];
  /** @param decide the fault for operation `index` (0-based, over the plan's lifetime), or null */
  constructor(private readonly decide: (op: FaultOp, index: number) => FaultKind | null = () => null) {}

  /** One fault at operation `at`. */
  static at(at: number, kind: FaultKind): FaultPlan {
    return new FaultPlan((_op, i) => (i === at ? kind : null));
  }

  /** A new incarnation after a crash. */
  restart(): void {
    this.dead = false;
  }

  /** Runs `f` under the plan. */
  async gate<T>(op: FaultOp, f: () => Promise<T>): Promise<T> {
    if (this.dead) throw new InjectedFault(op, "dead");
    const index = this.ops++;
    const kind = this.decide(op, index);
    if (kind) this.hits.push({ op, index, kind });
    if (kind === "error" || kind === "crash-before") {
      if (kind === "crash-before") this.crash();
      throw new InjectedFault(op, kind);
    }
    const r = await f();
    if (kind === "lost-ack" || kind === "crash-after") {
      if (kind === "crash-after") this.crash();
      throw new InjectedFault(op, kind);
    }
    return r;
  }

  private crash(): void {
    this.dead = true;
    this.crashes++;
  }
}

/** A {@link JobStore} over the in-memory twin whose every write (and the candidates read) passes through a {@link FaultPlan}. */
export class FaultyJobStore implements JobStore {
  constructor(readonly inner: MemoryJobStore, readonly plan: FaultPlan) {}

  loadState(): Promise<JobState | null> {
    if (this.plan.dead) return Promise.reject(new InjectedFault("loadState", "dead"));
    return this.inner.loadState();
  }
  commit(s: JobState, entries: readonly LogEntry[], alarm: number | null): Promise<void> {
    return this.plan.gate("commit", () => this.inner.commit(s, entries, alarm));
  }
  readLog(from: number, limit?: number): LogEntry[] {
    return this.inner.readLog(from, limit);
  }
  putModel(jobId: string, round: number, bytes: Uint8Array, hash: string, carry?: Uint8Array): Promise<void> {
    return this.plan.gate("putModel", () => this.inner.putModel(jobId, round, bytes, hash, carry));
  }
  getModel(jobId: string, round: number): Promise<StoredModel | null> {
    return this.plan.gate("getModel", () => this.inner.getModel(jobId, round));
  }
  candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]> {
    return this.plan.gate("candidates", () => this.inner.candidates(spec, seenSince));
  }
  catalogue(s: JobState): Promise<void> {
    return this.plan.gate("catalogue", () => this.inner.catalogue(s));
  }
  openAssignments(m: RoundManifest, _logHash: string, _now: number): Promise<void> {
    return this.plan.gate("openAssignments", () => this.inner.openAssignments(m));
  }
  closeAssignments(jobId: string, round: number, attempt: number, ok: readonly string[], failed: readonly string[]): Promise<void> {
    return this.plan.gate("closeAssignments", () => this.inner.closeAssignments(jobId, round, attempt, ok, failed));
  }
}

/** A {@link RoundPort} whose calls pass through a {@link FaultPlan}. */
export class FaultyRoundPort implements RoundPort {
  constructor(private readonly inner: RoundPort, private readonly plan: FaultPlan) {}
  init(manifest: RoundManifest, logEntryHash: string): Promise<void> {
    return this.plan.gate("round.init", () => this.inner.init(manifest, logEntryHash));
  }
  cancel(): Promise<void> {
    return this.plan.gate("round.cancel", () => this.inner.cancel());
  }
}

/**
 * Reliability credit the log implies, per node: every attempt that ended with a result or an
 * abort entry credits its members once (a job cancellation ends its attempt with no credit) — `ok` unless named a culprit;
 * culprits `failed`, except for a decline, which credits nothing.
 */
export function expectedCredits(entries: readonly LogEntry[]): Map<string, { ok: number; failed: number }> {
  const committees = new Map<string, string[]>();
  const out = new Map<string, { ok: number; failed: number }>();
  const bump = (n: string, k: "ok" | "failed") => {
    const r = out.get(n) ?? { ok: 0, failed: 0 };
    out.set(n, { ...r, [k]: r[k] + 1 });
  };
  for (const { body: b } of entries) {
    if (b.kind === "manifest") committees.set(`${b.round}/${b.attempt}`, (b.manifest as RoundManifest).committee.map((c) => c.nodeId));
    else if (b.kind === "result") committees.get(`${b.round}/${b.attempt}`)?.forEach((n) => bump(n, "ok"));
    else if (b.kind === "abort") {
      for (const n of committees.get(`${b.round}/${b.attempt}`) ?? []) {
        if (!b.culprits.includes(n)) bump(n, "ok");
        else if (b.code !== "declined") bump(n, "failed");
      }
    }
  }
  return out;
}
