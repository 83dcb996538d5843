/**
 * The node's own record of what it has taken part in, kept in its own storage (never the
 * coordinator's): which jobs used each dataset (for the policy's query budget) and, per
 * round attempt, whether this node may have released the round's output.
 *
 * Write-ahead: an attempt is recorded as `released: "unknown"` before the node sends its
 * first protocol message, and settled to true/false when the attempt ends. A crash in
 * between leaves "unknown", which counts as released: after a restart the node still never
 * joins a rerun of a round whose output it may have helped open (DESIGN §1).
 */
import { z } from "zod";

const Entry = z.strictObject({
  jobId: z.string(),
  schemaId: z.string(),
  /** Unix ms of the first round this node joined for the job. */
  firstAt: z.number(),
  attempts: z.array(z.strictObject({ round: z.number().int(), attempt: z.number().int(), committee: z.array(z.string()), released: z.union([z.boolean(), z.literal("unknown")]) })),
});
const LedgerFile = z.strictObject({ version: z.literal(1), jobs: z.array(Entry) });
type LedgerFile = z.infer<typeof LedgerFile>;

/** Where the ledger lives (a file for the CLI node, IndexedDB in a browser, memory in tests). */
export interface LedgerStore {
  load(): Promise<string | null>;
  /** Must be durable when it resolves (the CLI writes a temp file and renames it). */
  save(text: string): Promise<void>;
}

/** An in-memory store (tests, throwaway nodes). */
export function memoryLedgerStore(): LedgerStore & { text: string | null } {
  const s = { text: null as string | null, load: async () => s.text, save: async (t: string) => { s.text = t; } };
  return s;
}

export class Ledger {
  private data: LedgerFile = { version: 1, jobs: [] };
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly store: LedgerStore) {}

  /** Loads the ledger; throws TypeError if the stored text is not a valid ledger (never silently resets it). */
  static async open(store: LedgerStore): Promise<Ledger> {
    const l = new Ledger(store);
    const text = await store.load();
    if (text) {
      let raw: unknown;
      try { raw = JSON.parse(text); } catch { throw new TypeError("ledger is not valid JSON"); }
      const r = LedgerFile.safeParse(raw);
      if (!r.success) throw new TypeError(`ledger: ${r.error.issues[0]!.path.join(".")}: ${r.error.issues[0]!.message}`);
      l.data = r.data;
    }
    return l;
  }

  /** Distinct jobs that used dataset `schemaId` since `since` (Unix ms). */
  jobsUsing(schemaId: string, since: number): number {
    return this.data.jobs.filter((j) => j.schemaId === schemaId && j.firstAt >= since).length;
  }

  /** True if this node already took part in `jobId` (later rounds do not count against the budget again). */
  knowsJob(jobId: string): boolean {
    return this.data.jobs.some((j) => j.jobId === jobId);
  }

  /**
   * An earlier attempt of (jobId, round) after which the output may be known (released or
   * unknown), or undefined. A node declines every later attempt of such a round.
   */
  releasedAttempt(jobId: string, round: number): { attempt: number; committee: string[] } | undefined {
    const e = this.data.jobs.find((j) => j.jobId === jobId);
    const a = e?.attempts.find((x) => x.round === round && x.released !== false);
    return a ? { attempt: a.attempt, committee: [...a.committee] } : undefined;
  }

  /** Write-ahead record of joining an attempt (released = "unknown"); durable when it resolves. */
  async join(jobId: string, schemaId: string, round: number, attempt: number, committee: string[], now: number): Promise<void> {
    let e = this.data.jobs.find((j) => j.jobId === jobId);
    if (!e) {
      e = { jobId, schemaId, firstAt: now, attempts: [] };
      this.data.jobs.push(e);
    }
    if (!e.attempts.some((a) => a.round === round && a.attempt === attempt)) e.attempts.push({ round, attempt, committee: [...committee], released: "unknown" });
    await this.persist();
  }

  /** Settles an attempt: whether this node emitted its share of the output opening. */
  async settle(jobId: string, round: number, attempt: number, released: boolean): Promise<void> {
    const a = this.data.jobs.find((j) => j.jobId === jobId)?.attempts.find((x) => x.round === round && x.attempt === attempt);
    if (!a) return;
    a.released = released;
    await this.persist();
  }

  /** Read-only copy for `2pm node ledger` and tests. */
  snapshot(): LedgerFile {
    return structuredClone(this.data);
  }

  private persist(): Promise<void> {
    const text = JSON.stringify(this.data);
    this.chain = this.chain.then(() => this.store.save(text));
    return this.chain;
  }
}
