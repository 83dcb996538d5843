/**
 * The browser node's consortium list: the signed membership file the data holder opens with
 * the File API (the policy's `consortium.list` names it; `consortium.adminKey` pins the
 * admin), verified with protocol/consortium.ts exactly as the CLI node verifies its file, plus
 * rollback protection: the page remembers, per admin key, the newest list it has accepted
 * (IndexedDB) and refuses an older one.
 */
import { ConsortiumError, verifyConsortium, type Membership } from "../../protocol/consortium.ts";
import type { KvStore } from "./idb.ts";

/** Where the newest accepted list's issue time is kept, per admin key. */
export function consortiumRecord(adminKey: string): string {
  return `consortium:${adminKey}`;
}

/**
 * Verifies the list in `text` (the file `fileName`) against the pinned `adminKey` and returns
 * the membership. Throws ConsortiumError when the text is not JSON, does not verify (shape,
 * admin key, signature), or is older than a list this browser already accepted from that
 * admin (a rollback to a list with members since removed).
 */
export async function loadMembership(kv: KvStore, text: string, fileName: string, adminKey: string): Promise<Membership> {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { throw new ConsortiumError(`${fileName} is not valid JSON`); }
  const m = verifyConsortium(raw, adminKey);
  const rec = consortiumRecord(adminKey);
  const seen = await kv.get<{ issuedAt: number }>(rec);
  if (seen && m.issuedAt < seen.issuedAt) {
    throw new ConsortiumError(`${fileName} was issued ${new Date(m.issuedAt).toISOString()}, before the list this node already accepted (${new Date(seen.issuedAt).toISOString()}); refusing the older list`);
  }
  if (!seen || m.issuedAt > seen.issuedAt) await kv.put(rec, { issuedAt: m.issuedAt });
  return m;
}
