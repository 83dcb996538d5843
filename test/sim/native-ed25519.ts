/**
 * Ed25519 through Node's native crypto, for the simulation's speed: the same algorithm as
 * protocol/crypto/identity.ts (@noble/curves), and Ed25519 signatures are deterministic, so
 * every signature is byte-for-byte the one noble would make (checked by the simulation test).
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";

const PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI = Buffer.from("302a300506032b6570032100", "hex");
const secrets = new Map<string, KeyObject>();
const publics = new Map<string, KeyObject>();

/** Ed25519 signature of `message` under the 32-byte secret key (seed). */
export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  const k = Buffer.from(secretKey).toString("hex");
  let key = secrets.get(k);
  if (!key) secrets.set(k, (key = createPrivateKey({ key: Buffer.concat([PKCS8, secretKey]), format: "der", type: "pkcs8" })));
  return new Uint8Array(nodeSign(null, message, key));
}

/** Verifies an Ed25519 signature; false (never throws) on malformed input. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    const k = Buffer.from(publicKey).toString("hex");
    let key = publics.get(k);
    if (!key) publics.set(k, (key = createPublicKey({ key: Buffer.concat([SPKI, publicKey]), format: "der", type: "spki" })));
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}
