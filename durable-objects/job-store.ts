/**
 * The Workers implementation of the core's {@link JobStore}: the JobDO's own storage (KV
 * "state", SQL table `log`), R2 for model bytes, D1 for the node registry, the job catalogue
 * and assignments, the registry shards (./registry-shard-do.ts) for node liveness.
 */
type Env = Cloudflare.Env; // the Worker bindings, declared in functions/env.ts
import type { JobSpec, RoundManifest } from "../protocol/api/schemas.ts";
import type { LogEntry } from "../protocol/log/index.ts";
import type { JobState } from "./core/job-machine.ts";
import type { Candidate } from "./core/selection.ts";
import type { JobStore } from "./core/store.ts";
import type { StoredModel } from "./core/job-types.ts";
import { mergeLiveness } from "./core/registry.ts";
import { nodeRegistry } from "./registry-shard-do.ts";

/** R2 key of a job's global model for a round. */
export function modelKey(jobId: string, round: number): string {
  return `models/${jobId}/${round}`;
}

/** R2 key of the job type's private state stored beside model `round` (never served by the model route). */
export function carryKey(jobId: string, round: number): string {
  return `${modelKey(jobId, round)}/carry`;
}

export class WorkersJobStore implements JobStore {
  constructor(private readonly storage: DurableObjectStorage, private readonly env: Env) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL)");
  }

  async loadState(): Promise<JobState | null> {
    return (await this.storage.get<JobState>("state")) ?? null;
  }

  /**
   * Atomic: the log rows, the state and the alarm are issued with no await between them, so
   * workerd coalesces them into one implicit transaction (all or nothing).
   */
  async commit(s: JobState, entries: readonly LogEntry[], alarm: number | null): Promise<void> {
    for (const e of entries) this.storage.sql.exec("INSERT INTO log (seq, entry) VALUES (?, ?)", e.seq, JSON.stringify(e));
    const put = this.storage.put("state", s);
    const armed = alarm === null ? this.storage.deleteAlarm() : this.storage.setAlarm(alarm);
    await Promise.all([put, armed]);
  }

  readLog(from: number, limit = -1): LogEntry[] {
    return this.storage.sql.exec<{ entry: string }>("SELECT entry FROM log WHERE seq >= ? ORDER BY seq LIMIT ?", from, limit).toArray().map((r) => JSON.parse(r.entry) as LogEntry);
  }

  async putModel(jobId: string, round: number, bytes: Uint8Array, hash: string, carry?: Uint8Array): Promise<void> {
    // The carry first: a model in R2 whose carry is missing would read as a complete round.
    if (carry) await this.env.MODELS.put(carryKey(jobId, round), carry);
    await this.env.MODELS.put(modelKey(jobId, round), bytes, { customMetadata: { sha256: hash } });
  }

  async getModel(jobId: string, round: number): Promise<StoredModel | null> {
    const [model, carry] = await Promise.all([this.env.MODELS.get(modelKey(jobId, round)), this.env.MODELS.get(carryKey(jobId, round))]);
    if (!model) return null;
    return { bytes: new Uint8Array(await model.arrayBuffer()), carry: carry ? new Uint8Array(await carry.arrayBuffer()) : null };
  }

  /**
   * Durable records from D1 (datasets of the schema with enough rows, capabilities,
   * reliability), then liveness from the registry shards — one RPC per shard, in parallel —
   * filtered by `seenSince` and online, freshest first. A node no shard knows yet keeps D1's
   * registration-time values (durable-objects/core/registry.ts mergeLiveness).
   */
  async candidates(spec: JobSpec, seenSince: number): Promise<Candidate[]> {
    const { results } = await this.env.DB.prepare(
      `SELECT n.id, n.identity_key, n.kx_key, n.reliability, n.last_seen, n.cores, n.memory_mb, n.bandwidth_mbps, n.avail_from, n.avail_to,
              n.on_battery, n.online, d.rows, d.commitment
         FROM node_datasets d JOIN nodes n ON n.id = d.node_id
        WHERE d.schema_id = ? AND d.rows >= ?
        ORDER BY n.last_seen DESC LIMIT 10000`,
    ).bind(spec.schemaId, spec.eligibility.minRows).all<Record<string, number | string | null>>();
    const live = await nodeRegistry(this.env).liveness(results.map((r) => String(r.id)));
    const out: Candidate[] = [];
    for (const r of results) {
      const l = mergeLiveness({ lastSeen: Number(r.last_seen), online: Number(r.online) === 1, onBattery: Number(r.on_battery ?? 0) === 1 }, live.get(String(r.id)));
      if (l.lastSeen < seenSince || !l.online) continue;
      out.push({
        nodeId: String(r.id), identityKey: String(r.identity_key), kxKey: String(r.kx_key), rows: Number(r.rows), commitment: String(r.commitment),
        reliability: Number(r.reliability), lastSeen: l.lastSeen, cores: Number(r.cores), memoryMb: Number(r.memory_mb),
        bandwidthMbps: Number(r.bandwidth_mbps), availFrom: r.avail_from === null ? null : Number(r.avail_from), availTo: r.avail_to === null ? null : Number(r.avail_to),
        onBattery: l.onBattery, online: l.online,
      });
    }
    return out.sort((x, y) => y.lastSeen - x.lastSeen);
  }

  async catalogue(s: JobState): Promise<void> {
    await this.env.DB.prepare(
      `INSERT INTO jobs (id, type, schema_id, status, round, attempt, label, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, round = excluded.round, attempt = excluded.attempt, error = excluded.error, updated_at = excluded.updated_at`,
    ).bind(s.jobId, s.spec.type, s.spec.schemaId, s.status, s.round, s.attempt, s.spec.label ?? null, s.error, s.createdAt, s.updatedAt).run();
  }

  async openAssignments(m: RoundManifest, logHash: string, now: number): Promise<void> {
    const ins = this.env.DB.prepare(
      "INSERT OR IGNORE INTO assignments (node_id, job_id, round, attempt, party, manifest, log_hash, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
    );
    const json = JSON.stringify(m);
    await this.env.DB.batch(m.committee.map((c) => ins.bind(c.nodeId, m.jobId, m.round, m.attempt, c.index, json, logHash, now, m.deadlines.finalize)));
  }

  /** One D1 batch (a transaction): credits members whose assignment is still open, then closes the attempt's assignments. */
  async closeAssignments(jobId: string, round: number, attempt: number, ok: readonly string[], failed: readonly string[]): Promise<void> {
    const upd = (col: "rounds_ok" | "rounds_failed") => this.env.DB.prepare(
      `UPDATE nodes SET ${col} = ${col} + 1, reliability = (rounds_ok + ${col === "rounds_ok" ? 2 : 1}) * 1.0 / (rounds_ok + rounds_failed + 3)
        WHERE id = ?1 AND EXISTS (SELECT 1 FROM assignments a WHERE a.node_id = ?1 AND a.job_id = ?2 AND a.round = ?3 AND a.attempt = ?4 AND a.status = 'open')`,
    );
    await this.env.DB.batch([
      ...ok.map((n) => upd("rounds_ok").bind(n, jobId, round, attempt)),
      ...failed.map((n) => upd("rounds_failed").bind(n, jobId, round, attempt)),
      this.env.DB.prepare("UPDATE assignments SET status = 'closed' WHERE job_id = ? AND round = ? AND attempt = ?").bind(jobId, round, attempt),
    ]);
  }
}
