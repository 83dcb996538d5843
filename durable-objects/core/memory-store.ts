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
import type { StoredModel } from "./job-types.ts";

export class MemoryJobStore implements JobStore {
  state: JobState | null = null;
  readonly entries: LogEntry[] = [];
  alarm: number | null = null;
  /** The registry: every node with a dataset of the job's schema (tests edit it). */
  nodes: Candidate[] = [];
  readonly models = new Map<string, { bytes: Uint8Array; hash: string; carry?: Uint8Array }>();
  readonly catalogueRows = new Map<string, Pick<JobState, "status" | "round" | "attempt" | "error">>();
  /** `${jobId}/${round}/${attempt}/${nodeId}` → open or closed. */
  readonly assignments = new Map<string, "open" | "closed">();
  readonly reliability = new Map<string, { ok: number; failed: number }>();

  async loadState(): Promise<JobState | null> {
    return structuredClone(this.state);
  }
  /** All or nothing: a seq gap throws before anything is written. */
  async commit(s: JobState, entries: readonly LogEntry[], alarm: number | null): Promise<void> {
    entries.forEach((e, i) => {
      if (e.seq !== this.entries.length + i) throw new RangeError(`log seq ${e.seq} after ${this.entries.length + i} entries`);
    });
    for (const e of entries) this.entries.push(structuredClone(e));
    this.state = structuredClone(s);
    this.alarm = alarm;
  }
  readLog(from: number, limit = Infinity): LogEntry[] {
    return this.entries.slice(from, from + limit);
  }
  async putModel(jobId: string, round: number, bytes: Uint8Array, hash: string, carry?: Uint8Array): Promise<void> {
    this.models.set(`${jobId}/${round}`, { bytes, hash, ...(carry ? { carry } : {}) });
  }
  async getModel(jobId: string, round: number): Promise<StoredModel | null> {
    const m = this.models.get(`${jobId}/${round}`);
    return m ? { bytes: m.bytes, carry: m.carry ?? null } : null;
  }
  async candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]> {
    return this.nodes.filter((n) => n.rows >= spec.eligibility.minRows && n.lastSeen >= seenSince && n.online);
  }
  async catalogue(s: JobState): Promise<void> {
    this.catalogueRows.set(s.jobId, { status: s.status, round: s.round, attempt: s.attempt, error: s.error });
  }
  /** Never re-opens a closed assignment (a repeated `assign` after `unassign` would credit its members twice). */
  async openAssignments(m: RoundManifest): Promise<void> {
    for (const c of m.committee) {
      const k = `${m.jobId}/${m.round}/${m.attempt}/${c.nodeId}`;
      if (!this.assignments.has(k)) this.assignments.set(k, "open");
    }
  }
  async closeAssignments(jobId: string, round: number, attempt: number, ok: readonly string[], failed: readonly string[]): Promise<void> {
    const open = (n: string) => this.assignments.get(`${jobId}/${round}/${attempt}/${n}`) === "open";
    const bump = (n: string, k: "ok" | "failed") => {
      const r = this.reliability.get(n) ?? { ok: 0, failed: 0 };
      this.reliability.set(n, { ...r, [k]: r[k] + 1 });
    };
    ok.filter(open).forEach((n) => bump(n, "ok"));
    failed.filter(open).forEach((n) => bump(n, "failed"));
    for (const k of this.assignments.keys()) if (k.startsWith(`${jobId}/${round}/${attempt}/`)) this.assignments.set(k, "closed");
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
