/** The browser node's ledger (client/agent/ledger.ts) kept in IndexedDB. */
import type { LedgerStore } from "../agent/ledger.ts";
import type { KvStore } from "./idb.ts";

export const LEDGER_RECORD = "ledger";

/** A LedgerStore over the node's IndexedDB; `save` is durable when it resolves (strict-durability transaction). */
export function idbLedgerStore(kv: KvStore): LedgerStore {
  return {
    load: async () => (await kv.get<string>(LEDGER_RECORD)) ?? null,
    save: (text) => kv.put(LEDGER_RECORD, text),
  };
}
