/**
 * The node's key file. Keys themselves are protocol/crypto/identity.ts's NodeKeys: an
 * Ed25519 identity key (signs every request and relayed message) and an X25519
 * key-agreement key. Secret halves never leave the key store; never logged, never sent.
 */
import { z } from "zod";
import { identityPublicKey, kxPublicKey, type NodeKeys } from "../../protocol/crypto/identity.ts";
import { fromBase64Url, toBase64Url } from "../../protocol/encoding.ts";
import { parseJsonText } from "../../protocol/api/schemas.ts";

export type { NodeKeys };

const KeyFileSchema = z.strictObject({
  version: z.literal(1),
  identitySecretKey: z.string(),
  kxSecretKey: z.string(),
});

/** Serialises keys for the key file (public halves are re-derived on load). */
export function encodeKeyFile(keys: NodeKeys): string {
  return JSON.stringify({ version: 1, identitySecretKey: toBase64Url(keys.identitySecretKey), kxSecretKey: toBase64Url(keys.kxSecretKey) }, null, 2) + "\n";
}

/** Parses a key file. Throws TypeError with a message naming the problem (never the key). */
export function decodeKeyFile(text: string): NodeKeys {
  const parsed = parseJsonText(KeyFileSchema, text, "key file");
  let identitySecretKey: Uint8Array, kxSecretKey: Uint8Array;
  try {
    identitySecretKey = fromBase64Url(parsed.identitySecretKey);
    kxSecretKey = fromBase64Url(parsed.kxSecretKey);
  } catch {
    throw new TypeError("key file holds keys that are not base64url");
  }
  if (identitySecretKey.length !== 32 || kxSecretKey.length !== 32) throw new TypeError("key file holds keys of the wrong length");
  return { identitySecretKey, identityPublicKey: identityPublicKey(identitySecretKey), kxSecretKey, kxPublicKey: kxPublicKey(kxSecretKey) };
}

/** Where keys live: a file on Node (node-key-store.ts), browser storage elsewhere. */
export interface KeyStore {
  load(): Promise<NodeKeys | null>;
  save(keys: NodeKeys): Promise<void>;
}
