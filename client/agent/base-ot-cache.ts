/**
 * A node's SoftSpokenOT states kept across rounds, per peer node and direction, so that a
 * validated round with a peer it has met before needs no public-key OTs and no GGM setup:
 * the OT extension continues where the last round with that peer left it (protocol/mascot/
 * offline.ts KeptOtStore; docs/mascot.md "Kept SoftSpokenOT state"). Fresh states grow from
 * 128 MRR21 POPF-OTs on native X25519 (base-ot-mrr.ts) of the one public-key direction per
 * pair (the lower party index is the OT-extension sender; with triples, the other direction
 * is derived fresh each session and never kept; without, both directions are public-key and
 * kept). A committee order that swaps a pair's indices runs fresh base OTs once for that
 * orientation; both are then kept.
 *
 * A session *takes* a state (it is out of the cache while that session runs, so two rounds
 * with the same peer at once never share its streams) and the offline phase hands it back
 * when it finished cleanly; a session that aborts drops what it took.
 *
 * Safety rules (the OT-extension correlation Δ is reused while a state is kept):
 *  - a peer's states are forgotten after any round with it that did not finish cleanly
 *    (abort, timeout, error): a cheater never gets a second consistency check against the same Δ;
 *  - states are kept in memory only (a restart starts fresh) and expire after `maxUses`
 *    sessions or `maxAgeMs` from the base OTs they grew from, whichever comes first.
 *
 * The cache also holds base-OT receiver halves prepared while the node is idle
 * ({@link BaseOtCache.prepare}; base-ot-mrr.ts MrrPrepared): the part of an MRR21 receiver's
 * work that needs neither the peer, the session nor the choice bits (one fixed-base X25519
 * and a square root per OT). A first meeting then runs only the POPF program and one X25519
 * per OT as receiver. Each half is handed out once and lives in memory only; they are not
 * tied to any peer, so forgetting a peer leaves them.
 */
import type { KeptOtStore, KeptReceiver, KeptSender } from "../../protocol/mascot/offline.ts";
import { mrrPrepareAsync, type MrrPrepared } from "../../protocol/mascot/base-ot-mrr.ts";
import { cryptoRng } from "../../protocol/rng.ts";

interface Entry<T> { kept: T; uses: number; created: number }
/** What a cache remembers of a state while a session has it. */
interface Meta { uses: number; created: number }

/**
 * The operator's settings from the environment: `TWOPM_BASE_OT_MAX_USES` = how many later
 * sessions may reuse a kept base (0: fresh base OTs in every round, for operators who want no
 * correlation kept across rounds; default 1000); `TWOPM_BASE_OT_PREPARE_DELAY_MS` = how long a
 * node must have been idle before it prepares base-OT receiver halves (default 5000). Throws
 * RangeError naming the variable for anything but a non-negative integer. In a browser (no
 * `process`) the defaults apply.
 */
export function baseOtCacheOptionsFromEnv(env: Record<string, string | undefined> = typeof process === "undefined" ? {} : process.env): { maxUses?: number; prepareDelayMs?: number } {
  const int = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    if (!/^\d{1,9}$/.test(v)) throw new RangeError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const maxUses = int("TWOPM_BASE_OT_MAX_USES"), prepareDelayMs = int("TWOPM_BASE_OT_PREPARE_DELAY_MS");
  return { ...(maxUses !== undefined ? { maxUses } : {}), ...(prepareDelayMs !== undefined ? { prepareDelayMs } : {}) };
}

export class BaseOtCache {
  private readonly senders = new Map<string, Entry<KeptSender>>();
  private readonly receivers = new Map<string, Entry<KeptReceiver>>();
  /** Use count and age of the states sessions have taken, by state object, until they come back. */
  private readonly out = new WeakMap<object, Meta>();
  /** Prepared base-OT receiver halves, each handed out once. */
  private readonly pool: MrrPrepared[] = [];
  private preparing = false;

  /**
   * `preparedTarget`: how many prepared receiver halves {@link prepare} keeps (default 1024: the
   * base OTs of 8 new peers as receiver, 128 each; 0 turns preparation off); `prepareDelayMs`:
   * the idleness {@link prepareAfterIdle} waits for (default 5000).
   */
  constructor(private readonly opts: { maxUses?: number; maxAgeMs?: number; now?: () => number; preparedTarget?: number; prepareDelayMs?: number } = {}) {}

  /**
   * Starts {@link prepare} once the node has been idle for `prepareDelayMs`: `idle()` must
   * still hold then and between chunks (the caller makes it false for good as soon as an
   * assignment arrives, e.g. with a generation counter). Back-to-back rounds and jobs thus never
   * share the CPU with preparation; a node that waits between jobs fills its pool. Returns at once.
   */
  prepareAfterIdle(idle: () => boolean): void {
    const t = setTimeout(() => { if (idle()) void this.prepare(idle).catch(() => undefined); }, this.opts.prepareDelayMs ?? 5000);
    (t as { unref?: () => void }).unref?.();
  }

  /** The store for one session: `committee[j]` is party j's node id. */
  forSession(committee: readonly string[]): KeptOtStore {
    const now = () => (this.opts.now ?? Date.now)();
    const take = <T extends KeptReceiver | KeptSender>(map: Map<string, Entry<T>>, j: number): T | undefined => {
      const id = committee[j];
      const e = id === undefined ? undefined : map.get(id);
      if (!e) return undefined;
      map.delete(id!);
      if (e.uses >= (this.opts.maxUses ?? 1000) || now() - e.created > (this.opts.maxAgeMs ?? 6 * 3600_000)) return undefined;
      this.out.set(e.kept.state, { uses: e.uses + 1, created: e.created });
      return e.kept;
    };
    const save = <T extends KeptReceiver | KeptSender>(map: Map<string, Entry<T>>, j: number, kept: T): void => {
      const id = committee[j];
      if (id === undefined) return;
      const m = this.out.get(kept.state);
      this.out.delete(kept.state);
      map.set(id, { kept, uses: m?.uses ?? 0, created: m?.created ?? now() });
    };
    return {
      receiver: (j) => take(this.receivers, j),
      sender: (j) => take(this.senders, j),
      saveReceiver: (j, k) => save(this.receivers, j, k),
      saveSender: (j, k) => save(this.senders, j, k),
      prepared: (count) => (count > 0 && this.pool.length >= count ? this.pool.splice(this.pool.length - count, count) : undefined),
    };
  }

  /**
   * Tops the prepared receiver halves up to the target, `chunk` at a time on the async X25519
   * backend, for as long as `idle()` holds (checked before each chunk, so a round that starts
   * waits for one chunk at most: a few milliseconds). One run at a time: a call while another
   * runs returns at once. Resolves with the number held; rejects only if the backend fails.
   */
  async prepare(idle: () => boolean = () => true, chunk = 32): Promise<number> {
    const target = this.opts.preparedTarget ?? 1024;
    if (this.preparing) return this.pool.length;
    this.preparing = true;
    try {
      while (this.pool.length < target && idle()) {
        this.pool.push(...(await mrrPrepareAsync(Math.min(chunk, target - this.pool.length), cryptoRng)));
        await new Promise((r) => setTimeout(r, 0)); // let the caller's messages in between chunks
      }
    } finally {
      this.preparing = false;
    }
    return this.pool.length;
  }

  /** Prepared receiver halves held (see {@link prepare}). */
  get prepared(): number {
    return this.pool.length;
  }

  /** Forgets every state shared with these nodes (after a round with them that did not finish cleanly). */
  forget(nodeIds: readonly string[]): void {
    for (const id of nodeIds) { this.senders.delete(id); this.receivers.delete(id); }
  }

  /** Number of peers with a kept state (either direction) in the cache (states a running session has taken are not counted). */
  get size(): number {
    return new Set([...this.senders.keys(), ...this.receivers.keys()]).size;
  }
}
