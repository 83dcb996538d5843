/**
 * One party's {@link KeptOtStore} in memory, for a fixed committee order (peer index → kept
 * SoftSpokenOT state), with the store's take-and-save-back semantics and no limits: what
 * client/agent/base-ot-cache.ts keeps per peer node, for tests and benches that run sessions
 * in one process.
 */
import type { KeptOtStore, KeptReceiver, KeptSender } from "../offline.ts";
import type { MrrPrepared } from "../base-ot-mrr.ts";

/** A fresh, empty store (see the module comment); `prepared`: base-OT receiver halves it hands out (base-ot-mrr.ts mrrPrepare), each once. */
export function memoryOtStore(prepared: MrrPrepared[] = []): KeptOtStore {
  const r = new Map<number, KeptReceiver>(), s = new Map<number, KeptSender>();
  const take = <T>(m: Map<number, T>, j: number): T | undefined => {
    const v = m.get(j);
    m.delete(j);
    return v;
  };
  return { receiver: (j) => take(r, j), sender: (j) => take(s, j), saveReceiver: (j, k) => { r.set(j, k); }, saveSender: (j, k) => { s.set(j, k); },
    prepared: (count) => (count > 0 && prepared.length >= count ? prepared.splice(prepared.length - count, count) : undefined),
  };
}
