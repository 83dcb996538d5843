/**
 * node:crypto's Ed25519 (OpenSSL) as protocol/crypto/identity.ts's synchronous backend, for
 * node processes: the relay session signs and verifies every envelope, and noble's pure-JS
 * SHA-512 over megabyte payloads was the largest cost of a node's main thread. Signatures are
 * the same bytes (RFC 8032 is deterministic). Key objects are cached: the signing key per
 * secret-key array (its bytes re-checked on every use), verification keys by public key.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import type { Ed25519Backend } from "../../protocol/crypto/identity.ts";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const MAX_VERIFY_KEYS = 4096;

const signingKeys = new WeakMap<Uint8Array, { seed: Buffer; key: KeyObject }>();
const verifyingKeys = new Map<string, KeyObject>();

function signingKey(secretKey: Uint8Array): KeyObject {
  const hit = signingKeys.get(secretKey);
  if (hit && Buffer.compare(hit.seed, secretKey) === 0) return hit.key;
  const seed = Buffer.from(secretKey);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  signingKeys.set(secretKey, { seed, key });
  return key;
}

function verifyingKey(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString("hex");
  let key = verifyingKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    if (verifyingKeys.size >= MAX_VERIFY_KEYS) verifyingKeys.clear();
    verifyingKeys.set(id, key);
  }
  return key;
}

/** The node:crypto backend. `sign` throws like noble on a bad key (identity.ts checks lengths first); `verify` never throws. */
export const nodeEd25519: Ed25519Backend = {
  sign: (secretKey, message) => new Uint8Array(nodeSign(null, message, signingKey(secretKey))),
  verify: (publicKey, message, signature) => {
    try {
      return nodeVerify(null, message, verifyingKey(publicKey), signature);
    } catch {
      return false;
    }
  },
};
