/**
 * A minimal key-value store over IndexedDB for the browser node: one database per node
 * profile, one object store `kv`. Values are structured-cloned, so non-extractable
 * WebCrypto `CryptoKey`s can be stored (their key material never becomes visible to
 * script). Browser only; no polyfill.
 */

/** A key-value area of IndexedDB. Every method rejects with {@link IdbError} when storage fails. */
export interface KvStore {
  get<T>(key: string): Promise<T | undefined>;
  /** Durable once it resolves (the transaction has committed). */
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/** An error of the browser node's stores with a stable `code`; its message is `<code>: <detail>`. */
export class CodedError<C extends string> extends Error {
  constructor(readonly code: C, detail: string) {
    super(`${code}: ${detail}`);
  }
}

/** Storage failed (IndexedDB unavailable, quota, blocked upgrade). `code` is stable. */
export class IdbError extends CodedError<"idb-unavailable" | "idb-failed"> { override name = "IdbError"; }

const STORE = "kv";

/**
 * Opens (creating if needed) the database `name`. Throws IdbError `idb-unavailable` when the
 * page has no IndexedDB (e.g. some private-browsing modes) and `idb-failed` when opening fails.
 */
export async function openKv(name: string): Promise<KvStore> {
  if (typeof indexedDB === "undefined") throw new IdbError("idb-unavailable", "this browser offers no IndexedDB; the node cannot keep its keys and ledger");
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => { req.result.createObjectStore(STORE); };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new IdbError("idb-failed", `cannot open ${name}: ${req.error?.message ?? "unknown error"}`));
    req.onblocked = () => reject(new IdbError("idb-failed", `opening ${name} is blocked by another tab`));
  });
  const run = <T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode, { durability: "strict" });
      const req = f(tx.objectStore(STORE));
      let result: T;
      req.onsuccess = () => { result = req.result; };
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(new IdbError("idb-failed", tx.error?.message ?? req.error?.message ?? "transaction failed"));
      tx.onabort = () => reject(new IdbError("idb-failed", tx.error?.message ?? "transaction aborted"));
    });
  return {
    get: async <T>(key: string) => (await run("readonly", (s) => s.get(key) as IDBRequest<T | undefined>)),
    put: async (key, value) => { await run("readwrite", (s) => s.put(value, key)); },
    delete: async (key) => { await run("readwrite", (s) => s.delete(key)); },
  };
}
