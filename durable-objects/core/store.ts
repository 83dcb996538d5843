/**
 * What the coordinator core needs from storage, as interfaces (the daphne way: roles behind
 * traits). The Workers implementation (DO SQL + D1 + R2) is durable-objects/job-store.ts; the
 * in-memory twin for Node tests is ./memory-store.ts.
 *
 * Crash safety rests on two properties every implementation must keep: {@link JobStore.commit}
 * is atomic (the job's state, its new log entries and its alarm are written together or not
 * at all), and every other write is idempotent, so the runner may repeat it after a crash or
 * a storage error without changing the outcome.
 */
import type { JobSpec, RoundManifest } from "../../protocol/api/schemas.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import type { JobState } from "./job-machine.ts";
import type { Candidate } from "./selection.ts";
import type { StoredModel } from "./job-types.ts";

/** One job's storage: its own state and log (the JobDO's), and the shared models (R2), registry, catalogue and assignments (D1). */
export interface JobStore {
  loadState(): Promise<JobState | null>;
  /**
   * Atomically: appends `entries` (consecutive seqs following the stored log) to the log,
   * saves `state`, and arms the job's one alarm at `alarm` (or clears it). All or nothing;
   * throws on a storage error, after which the stored state is the previous one or this one.
   */
  commit(state: JobState, entries: readonly LogEntry[], alarm: number | null): Promise<void>;
  /** Entries with seq ≥ from, at most `limit`, in order. */
  readLog(from: number, limit?: number): LogEntry[];
  /** Stores a round's model bytes (idempotent: same key, same bytes). */
  /** Stores model `round` (hash: its hex SHA-256) and, when given, the job type's private `carry` beside it (never served). Idempotent. */
  putModel(jobId: string, round: number, bytes: Uint8Array, hash: string, carry?: Uint8Array): Promise<void>;
  /** What {@link putModel} stored for (jobId, round), or null when no model is stored. Unchecked: the reader compares hashes. */
  getModel(jobId: string, round: number): Promise<StoredModel | null>;
  /** Nodes holding a dataset of `spec.schemaId` with enough rows, seen since `seenSince`, online. */
  candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]>;
  /** Inserts or updates the job's catalogue row (idempotent). */
  catalogue(s: JobState): Promise<void>;
  /** Writes an assignment per committee member (idempotent). */
  openAssignments(manifest: RoundManifest, logHash: string, now: number): Promise<void>;
  /**
   * Closes the attempt's assignments and, in the same transaction, credits each member whose
   * assignment was still open: one more good round for `ok`, one more failed round for
   * `failed` (reliability = (ok + 2) / (ok + failed + 3)). Exactly once per member and
   * attempt: repeating the call changes nothing.
   */
  closeAssignments(jobId: string, round: number, attempt: number, ok: readonly string[], failed: readonly string[]): Promise<void>;
}

/** The JobDO's handle on one round attempt's RoundDO. Both methods are idempotent. */
export interface RoundPort {
  init(manifest: RoundManifest, logEntryHash: string): Promise<void>;
  cancel(): Promise<void>;
}
