/**
 * Consortium membership lists (DESIGN §1): who may sit on a committee, signed by an admin key
 * that nodes receive out of band (not from the coordinator). Registration with the
 * coordinator stays open and self-signed; a node whose policy names a consortium takes part
 * only in rounds whose every committee member (node id and identity key) is on the list, so
 * a coordinator cannot fill committees with sybils it made itself.
 *
 *   signed message = "2pm/consortium/v1" ‖ 0x00 ‖ SHA-256(canonicalJson(list))
 */
import { z } from "zod";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from "./encoding.ts";
import { identityPublicKey, nodeIdFromPublicKey, sign, verify } from "./crypto/identity.ts";
import { canonicalJson } from "./log/index.ts";
import { b64url, firstIssue, Key32 } from "./api/schemas.ts";

export const ConsortiumMember = z.strictObject({
  /** base64url Ed25519 identity key of the node; its node id is derived from it. */
  identityKey: Key32,
  label: z.string().max(128).optional(),
});
export type ConsortiumMember = z.infer<typeof ConsortiumMember>;

export const ConsortiumList = z.strictObject({
  version: z.literal(1),
  kind: z.literal("2pm-consortium"),
  name: z.string().min(1).max(128),
  /** Unix ms; a node refuses a list older than one it has already seen (no rollback). */
  issuedAt: z.number().int().min(0),
  members: z.array(ConsortiumMember).max(10_000).refine((ms) => new Set(ms.map((m) => m.identityKey)).size === ms.length, "duplicate member"),
});
export type ConsortiumList = z.infer<typeof ConsortiumList>;

export const SignedConsortium = z.strictObject({
  list: ConsortiumList,
  /** base64url Ed25519 public key of the admin that signed (must equal the key the node pinned). */
  adminKey: Key32,
  signature: b64url(64),
});
export type SignedConsortium = z.infer<typeof SignedConsortium>;

function message(list: ConsortiumList): Uint8Array {
  return concatBytes(utf8("2pm/consortium/v1"), new Uint8Array([0]), sha256(utf8(canonicalJson(list))));
}

/** Signs a membership list with the admin's Ed25519 secret key. Throws the zod error on an invalid list. */
export function signConsortium(list: unknown, adminSecretKey: Uint8Array): SignedConsortium {
  const parsed = ConsortiumList.parse(list);
  return { list: parsed, adminKey: toBase64Url(identityPublicKey(adminSecretKey)), signature: toBase64Url(sign(adminSecretKey, message(parsed))) };
}

/** Thrown when a membership list is malformed, signed by another key, or badly signed. */
export class ConsortiumError extends Error {
  constructor(detail: string) {
    super(`consortium list rejected: ${detail}`);
    this.name = "ConsortiumError";
  }
}

/** A verified membership list: answers "is this (node id, identity key) a member?". */
export interface Membership {
  readonly name: string;
  readonly issuedAt: number;
  readonly size: number;
  has(nodeId: string, identityKeyB64: string): boolean;
}

/**
 * Verifies a signed list against the admin key the node pinned (base64url). Returns the
 * membership; throws ConsortiumError when the list does not parse, names another admin key,
 * or its signature does not verify.
 */
export function verifyConsortium(raw: unknown, pinnedAdminKey: string): Membership {
  const r = SignedConsortium.safeParse(raw);
  if (!r.success) throw new ConsortiumError(firstIssue(r.error));
  const s = r.data;
  if (s.adminKey !== pinnedAdminKey) throw new ConsortiumError("signed by another admin key than the one this node trusts");
  let ok = false;
  try { ok = verify(fromBase64Url(s.adminKey), message(s.list), fromBase64Url(s.signature)); } catch { ok = false; }
  if (!ok) throw new ConsortiumError("admin signature does not verify");
  const byId = new Map(s.list.members.map((m) => [nodeIdFromPublicKey(fromBase64Url(m.identityKey)), m.identityKey]));
  return {
    name: s.list.name,
    issuedAt: s.list.issuedAt,
    size: s.list.members.length,
    has: (nodeId, key) => byId.get(nodeId) === key,
  };
}

/**
 * Where a node remembers, per admin key, the issue time of the newest list it has accepted:
 * any durable async key-value store (IndexedDB in the browser, a file beside node.json for a
 * node process). `put` must be durable when it resolves.
 */
export interface AcceptedListStore {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
}

/** The store key of the newest accepted list's issue time for `adminKey`. */
export function consortiumRecord(adminKey: string): string {
  return `consortium:${adminKey}`;
}

/**
 * Verifies the list in `text` (from the file `fileName`) against the pinned `adminKey`, with
 * rollback protection: a list issued before the newest one this node already accepted from
 * that admin is refused (it could restore members removed since), and a newer one is
 * remembered before it is returned. Throws ConsortiumError when the text is not JSON, does not
 * verify (shape, admin key, signature) or is older than the remembered list; a store failure
 * propagates.
 */
export async function acceptConsortium(store: AcceptedListStore, text: string, fileName: string, adminKey: string): Promise<Membership> {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { throw new ConsortiumError(`${fileName} is not valid JSON`); }
  const m = verifyConsortium(raw, adminKey);
  const rec = consortiumRecord(adminKey);
  const seen = await store.get<{ issuedAt: number }>(rec);
  if (seen && m.issuedAt < seen.issuedAt) {
    throw new ConsortiumError(`${fileName} was issued ${new Date(m.issuedAt).toISOString()}, before the list this node already accepted (${new Date(seen.issuedAt).toISOString()}); refusing the older list`);
  }
  if (!seen || m.issuedAt > seen.issuedAt) await store.put(rec, { issuedAt: m.issuedAt });
  return m;
}
