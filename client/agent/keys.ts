/**
 * A node's long-term keys: an Ed25519 identity key (signs every request and relayed
 * message) and an X25519 key-agreement key (pairwise AEAD keys). Secret halves never leave
 * the key store; they are never logged or sent.
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { fromBase64Url, toBase64Url, toHex } from "../../protocol/encoding.ts";
import type { Rng } from "../../protocol/rng.ts";

export interface NodeKeys {
  identitySecret: Uint8Array;
  identityPublic: Uint8Array;
  kexSecret: Uint8Array;
  kexPublic: Uint8Array;
}

/** Makes fresh keys from `rng` (the platform CSPRNG in production). */
export function generateNodeKeys(rng: Rng): NodeKeys {
  const identitySecret = rng.bytes(32);
  const kexSecret = rng.bytes(32);
  return {
    identitySecret,
    identityPublic: ed25519.getPublicKey(identitySecret),
    kexSecret,
    kexPublic: x25519.getPublicKey(kexSecret),
  };
}

/** The node id: hex of the first 16 bytes of SHA-256(Ed25519 public key). */
export function nodeIdOf(identityPublic: Uint8Array): string {
  return toHex(sha256(identityPublic).subarray(0, 16));
}

const KeyFileSchema = z.strictObject({
  version: z.literal(1),
  identitySecret: z.string(),
  kexSecret: z.string(),
});

/** Serialises keys for the key file (public halves are re-derived on load). */
export function encodeKeyFile(keys: NodeKeys): string {
  return JSON.stringify({ version: 1, identitySecret: toBase64Url(keys.identitySecret), kexSecret: toBase64Url(keys.kexSecret) }, null, 2) + "\n";
}

/** Parses a key file. Throws TypeError with a message naming the problem (never the key). */
export function decodeKeyFile(text: string): NodeKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TypeError("key file is not valid JSON");
  }
  const parsed = KeyFileSchema.safeParse(raw);
  if (!parsed.success) throw new TypeError("key file has an unexpected shape");
  const identitySecret = fromBase64Url(parsed.data.identitySecret);
  const kexSecret = fromBase64Url(parsed.data.kexSecret);
  if (identitySecret.length !== 32 || kexSecret.length !== 32) throw new TypeError("key file holds keys of the wrong length");
  return { identitySecret, identityPublic: ed25519.getPublicKey(identitySecret), kexSecret, kexPublic: x25519.getPublicKey(kexSecret) };
}

/** Where keys live: a file on Node (see node-key-store.ts), browser storage elsewhere. */
export interface KeyStore {
  load(): Promise<NodeKeys | null>;
  save(keys: NodeKeys): Promise<void>;
}
