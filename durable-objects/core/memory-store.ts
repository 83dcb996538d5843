/**
 * The in-memory twin of the Workers store (durable-objects/job-store.ts), for Node tests and
 * simulations: the same contract, everything observable. State is structured-cloned on save
 * and load, as DO storage does.
 */
import type { JobSpec, RoundManifest } from "../../protocol/api/schemas.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import type { JobState } from "./job-machine.ts";
import type { Candidate } from "./selection.ts";
import type { JobStore, RoundPort } from "./store.ts";

export class MemoryJobStore implements JobStore {
  state: JobState | null = null;
  readonly entries: LogEntry[] = [];
  alarm: number | null = null;
  /** The registry: every node with a dataset of the job's schema (tests edit it). */
  nodes: Candidate[] = [];
  readonly models = new Map<string, { bytes: Uint8Array; hash: string }>();
  readonly catalogueRows = new Map<string, Pick<JobState, "status" | "round" | "attempt" | "error">>();
  /** `${jobId}/${round}/${attempt}/${nodeId}` → open or closed. */
  readonly assignments = new Map<string, "open" | "closed">();
  readonly reliability = new Map<string, { ok: number; failed: number }>();

  async loadState(): Promise<JobState | null> {
    return structuredClone(this.state);
  }
  async saveState(s: JobState): Promise<void> {
    this.state = structuredClone(s);
  }
  appendLog(e: LogEntry): void {
    if (e.seq !== this.entries.length) throw new RangeError(`log seq ${e.seq} after ${this.entries.length} entries`);
    this.entries.push(structuredClone(e));
  }
  readLog(from: number, limit = Infinity): LogEntry[] {
    return this.entries.slice(from, from + limit);
  }
  async setAlarm(at: number | null): Promise<void> {
    this.alarm = at;
  }
  async putModel(jobId: string, round: number, bytes: Uint8Array, hash: string): Promise<void> {
    this.models.set(`${jobId}/${round}`, { bytes, hash });
  }
  async candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]> {
    return this.nodes.filter((n) => n.rows >= spec.eligibility.minRows && n.lastSeen >= seenSince && n.online);
  }
  async catalogue(s: JobState): Promise<void> {
    this.catalogueRows.set(s.jobId, { status: s.status, round: s.round, attempt: s.attempt, error: s.error });
  }
  async openAssignments(m: RoundManifest): Promise<void> {
    for (const c of m.committee) this.assignments.set(`${m.jobId}/${m.round}/${m.attempt}/${c.nodeId}`, "open");
  }
  async closeAssignments(jobId: string, round: number, attempt: number): Promise<void> {
    for (const k of this.assignments.keys()) if (k.startsWith(`${jobId}/${round}/${attempt}/`)) this.assignments.set(k, "closed");
  }
  async adjustReliability(ok: readonly string[], failed: readonly string[]): Promise<void> {
    const bump = (n: string, k: "ok" | "failed") => {
      const r = this.reliability.get(n) ?? { ok: 0, failed: 0 };
      this.reliability.set(n, { ...r, [k]: r[k] + 1 });
    };
    ok.forEach((n) => bump(n, "ok"));
    failed.forEach((n) => bump(n, "failed"));
  }
}

/** A RoundDO stand-in that records what the JobDO asked of it; `failInit` makes `init` throw. */
export class MemoryRoundPort implements RoundPort {
  readonly inits: Array<{ manifest: RoundManifest; logEntryHash: string }> = [];
  cancelled = 0;
  failInit = false;
  async init(manifest: RoundManifest, logEntryHash: string): Promise<void> {
    if (this.failInit) throw new Error("RoundDO unreachable");
    this.inits.push({ manifest, logEntryHash });
  }
  async cancel(): Promise<void> {
    this.cancelled++;
  }
}
