/**
 * The Workers implementation of the core's {@link JobStore}: the JobDO's own storage (KV
 * "state", SQL table `log`), R2 for model bytes, D1 for the node registry, the job catalogue
 * and assignments.
 */
type Env = Cloudflare.Env; // the Worker bindings, declared in functions/env.ts
import type { JobSpec, RoundManifest } from "../protocol/api/schemas.ts";
import type { LogEntry } from "../protocol/log/index.ts";
import type { JobState } from "./core/job-machine.ts";
import type { Candidate } from "./core/selection.ts";
import type { JobStore } from "./core/store.ts";

/** R2 key of a job's global model for a round. */
export function modelKey(jobId: string, round: number): string {
  return `models/${jobId}/${round}`;
}

export class WorkersJobStore implements JobStore {
  constructor(private readonly storage: DurableObjectStorage, private readonly env: Env) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL)");
  }

  async loadState(): Promise<JobState | null> {
    return (await this.storage.get<JobState>("state")) ?? null;
  }

  async saveState(s: JobState): Promise<void> {
    await this.storage.put("state", s);
  }

  appendLog(e: LogEntry): void {
    this.storage.sql.exec("INSERT INTO log (seq, entry) VALUES (?, ?)", e.seq, JSON.stringify(e));
  }

  readLog(from: number, limit = -1): LogEntry[] {
    return this.storage.sql.exec<{ entry: string }>("SELECT entry FROM log WHERE seq >= ? ORDER BY seq LIMIT ?", from, limit).toArray().map((r) => JSON.parse(r.entry) as LogEntry);
  }

  async setAlarm(at: number | null): Promise<void> {
    if (at === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(at);
  }

  async putModel(jobId: string, round: number, bytes: Uint8Array, hash: string): Promise<void> {
    await this.env.MODELS.put(modelKey(jobId, round), bytes, { customMetadata: { sha256: hash } });
  }

  async candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]> {
    const { results } = await this.env.DB.prepare(
      `SELECT n.id, n.identity_key, n.kx_key, n.reliability, n.last_seen, n.cores, n.memory_mb, n.bandwidth_mbps, n.avail_from, n.avail_to,
              n.on_battery, n.online, d.rows, d.commitment
         FROM node_datasets d JOIN nodes n ON n.id = d.node_id
        WHERE d.schema_id = ? AND d.rows >= ? AND n.last_seen >= ? AND n.online = 1
        ORDER BY n.last_seen DESC LIMIT 10000`,
    ).bind(spec.schemaId, spec.eligibility.minRows, seenSince).all<Record<string, number | string | null>>();
    return results.map((r) => ({
      nodeId: String(r.id), identityKey: String(r.identity_key), kxKey: String(r.kx_key), rows: Number(r.rows), commitment: String(r.commitment),
      reliability: Number(r.reliability), lastSeen: Number(r.last_seen), cores: Number(r.cores), memoryMb: Number(r.memory_mb),
      bandwidthMbps: Number(r.bandwidth_mbps), availFrom: r.avail_from === null ? null : Number(r.avail_from), availTo: r.avail_to === null ? null : Number(r.avail_to),
      onBattery: Number(r.on_battery ?? 0) === 1, online: Number(r.online) === 1,
    }));
  }

  async catalogue(s: JobState): Promise<void> {
    await this.env.DB.prepare(
      `INSERT INTO jobs (id, type, schema_id, status, round, attempt, label, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, round = excluded.round, attempt = excluded.attempt, error = excluded.error, updated_at = excluded.updated_at`,
    ).bind(s.jobId, s.spec.type, s.spec.schemaId, s.status, s.round, s.attempt, s.spec.label ?? null, s.error, s.createdAt, s.updatedAt).run();
  }

  async openAssignments(m: RoundManifest, logHash: string, now: number): Promise<void> {
    const ins = this.env.DB.prepare(
      "INSERT OR REPLACE INTO assignments (node_id, job_id, round, attempt, party, manifest, log_hash, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
    );
    const json = JSON.stringify(m);
    await this.env.DB.batch(m.committee.map((c) => ins.bind(c.nodeId, m.jobId, m.round, m.attempt, c.index, json, logHash, now, m.deadlines.finalize)));
  }

  async closeAssignments(jobId: string, round: number, attempt: number): Promise<void> {
    await this.env.DB.prepare("UPDATE assignments SET status = 'closed' WHERE job_id = ? AND round = ? AND attempt = ?").bind(jobId, round, attempt).run();
  }

  async adjustReliability(ok: readonly string[], failed: readonly string[]): Promise<void> {
    const upd = (col: "rounds_ok" | "rounds_failed") => this.env.DB.prepare(
      `UPDATE nodes SET ${col} = ${col} + 1, reliability = (rounds_ok + ${col === "rounds_ok" ? 2 : 1}) * 1.0 / (rounds_ok + rounds_failed + 3) WHERE id = ?`,
    );
    const stmts = [...ok.map((n) => upd("rounds_ok").bind(n)), ...failed.map((n) => upd("rounds_failed").bind(n))];
    if (stmts.length) await this.env.DB.batch(stmts);
  }
}
