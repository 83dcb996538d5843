/**
 * What the coordinator core needs from storage, as interfaces (the daphne way: roles behind
 * traits). The Workers implementation (DO SQL + D1 + R2) is durable-objects/job-store.ts; the
 * in-memory twin for Node tests is ./memory-store.ts.
 */
import type { JobSpec, RoundManifest } from "../../protocol/api/schemas.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import type { JobState } from "./job-machine.ts";
import type { Candidate } from "./selection.ts";

/** One job's storage: its own state and log (the JobDO's), and the shared models (R2), registry, catalogue and assignments (D1). */
export interface JobStore {
  loadState(): Promise<JobState | null>;
  saveState(s: JobState): Promise<void>;
  appendLog(e: LogEntry): void;
  /** Entries with seq ≥ from, at most `limit`, in order. */
  readLog(from: number, limit?: number): LogEntry[];
  /** Arms the job's one alarm at `at`, or clears it. */
  setAlarm(at: number | null): Promise<void>;
  putModel(jobId: string, round: number, bytes: Uint8Array, hash: string): Promise<void>;
  /** Nodes holding a dataset of `spec.schemaId` with enough rows, seen since `seenSince`, online. */
  candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]>;
  /** Inserts or updates the job's catalogue row. */
  catalogue(s: JobState): Promise<void>;
  openAssignments(manifest: RoundManifest, logHash: string, now: number): Promise<void>;
  closeAssignments(jobId: string, round: number, attempt: number): Promise<void>;
  /** One more good round for `ok`, one more failed round for `failed` (reliability = (ok + 2) / (ok + failed + 3)). */
  adjustReliability(ok: readonly string[], failed: readonly string[]): Promise<void>;
}

/** The JobDO's handle on one round attempt's RoundDO. Both methods are idempotent. */
export interface RoundPort {
  init(manifest: RoundManifest, logEntryHash: string): Promise<void>;
  cancel(): Promise<void>;
}
