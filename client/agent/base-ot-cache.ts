/**
 * A node's OT-extension base OTs kept across rounds, per peer node and direction, so that a
 * validated round with a peer it has met before needs no public-key OTs (protocol/mascot/
 * offline.ts KosBaseStore). Since issue 13 these are the 128 MRR21 POPF-OTs on native X25519
 * (base-ot-mrr.ts) of the one public-key direction per pair (the lower party index is the
 * OT-extension sender; the other direction's base is derived fresh each session and never
 * kept): ≈ 40 ms of CPU per pair instead of ≈ 280 ms of Chou–Orlandi in JavaScript, still a
 * large share of a small first round (bench/results/base-ot.json). A committee order that
 * swaps a pair's indices runs fresh base OTs once for that orientation; both are then kept.
 *
 * Safety rules (the OT-extension correlation Δ is reused while a base is kept):
 *  - a peer's bases are forgotten after any round with it that did not finish cleanly
 *    (abort, timeout, error): a cheater never gets a second consistency check against the same Δ;
 *  - bases are kept in memory only (a restart starts fresh) and expire after `maxUses`
 *    sessions or `maxAgeMs`, whichever comes first.
 */
import type { KosBaseStore } from "../../protocol/mascot/offline.ts";
import type { KosReceiverBase, KosSenderBase } from "../../protocol/mascot/ot-extension.ts";

interface Entry<T> { base: T; uses: number; created: number }

/**
 * The operator's limit on reuse from the environment: `TWOPM_BASE_OT_MAX_USES` = how many later
 * sessions may reuse a kept base (0: fresh base OTs in every round, for operators who want no
 * correlation kept across rounds; default 1000). Throws RangeError naming the variable for
 * anything but a non-negative integer. In a browser (no `process`) the default applies.
 */
export function baseOtCacheOptionsFromEnv(env: Record<string, string | undefined> = typeof process === "undefined" ? {} : process.env): { maxUses?: number } {
  const v = env.TWOPM_BASE_OT_MAX_USES;
  if (v === undefined || v === "") return {};
  if (!/^\d{1,9}$/.test(v)) throw new RangeError(`TWOPM_BASE_OT_MAX_USES must be a non-negative integer, got ${JSON.stringify(v)}`);
  return { maxUses: Number(v) };
}

export class BaseOtCache {
  private readonly senders = new Map<string, Entry<KosSenderBase>>();
  private readonly receivers = new Map<string, Entry<KosReceiverBase>>();

  constructor(private readonly opts: { maxUses?: number; maxAgeMs?: number; now?: () => number } = {}) {}

  /** The store for one session: `committee[j]` is party j's node id. */
  forSession(committee: readonly string[]): KosBaseStore {
    const take = <T>(map: Map<string, Entry<T>>, j: number): T | undefined => {
      const id = committee[j];
      const e = id === undefined ? undefined : map.get(id);
      if (!e) return undefined;
      const now = (this.opts.now ?? Date.now)();
      if (e.uses >= (this.opts.maxUses ?? 1000) || now - e.created > (this.opts.maxAgeMs ?? 6 * 3600_000)) { map.delete(id!); return undefined; }
      e.uses++;
      return e.base;
    };
    const save = <T>(map: Map<string, Entry<T>>, j: number, base: T): void => {
      const id = committee[j];
      if (id !== undefined) map.set(id, { base, uses: 0, created: (this.opts.now ?? Date.now)() });
    };
    return {
      receiver: (j) => take(this.receivers, j),
      sender: (j) => take(this.senders, j),
      saveReceiver: (j, b) => save(this.receivers, j, b),
      saveSender: (j, b) => save(this.senders, j, b),
    };
  }

  /** Forgets every base shared with these nodes (after a round with them that did not finish cleanly). */
  forget(nodeIds: readonly string[]): void {
    for (const id of nodeIds) { this.senders.delete(id); this.receivers.delete(id); }
  }

  /** Number of peers with a kept base (either direction). */
  get size(): number {
    return new Set([...this.senders.keys(), ...this.receivers.keys()]).size;
  }
}
