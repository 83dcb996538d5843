/**
 * Node and coordinator identities: an Ed25519 signing key (identity) and an X25519
 * key-agreement key. Keys are raw 32-byte values; on the wire they travel as base64url.
 * Signing is synchronous (@noble/curves); verification has a synchronous noble path and an
 * asynchronous WebCrypto path (native speed in workerd and Node ≥ 22) with noble fallback.
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { cryptoRng, type Rng } from "../rng.ts";
import { concatBytes, fromHex, toHex } from "../encoding.ts";
import { x25519Many } from "./x25519.ts";

/** A node's long-term key material. Keep `*SecretKey` private to the node. */
export interface NodeKeys {
  /** Ed25519 secret seed (32 bytes). */
  identitySecretKey: Uint8Array;
  /** Ed25519 public key (32 bytes). */
  identityPublicKey: Uint8Array;
  /** X25519 secret key (32 bytes). */
  kxSecretKey: Uint8Array;
  /** X25519 public key (32 bytes). */
  kxPublicKey: Uint8Array;
}

function check32(name: string, b: Uint8Array): void {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${name}: expected Uint8Array`);
  if (b.length !== 32) throw new RangeError(`${name}: expected 32 bytes, got ${b.length}`);
}

/** Generates fresh identity and key-agreement keys from `rng` (default: the platform CSPRNG). */
export function generateNodeKeys(rng: Rng = cryptoRng): NodeKeys {
  const identitySecretKey = rng.bytes(32);
  const kxSecretKey = rng.bytes(32);
  return {
    identitySecretKey,
    identityPublicKey: ed25519.getPublicKey(identitySecretKey),
    kxSecretKey,
    kxPublicKey: x25519.getPublicKey(kxSecretKey),
  };
}

/** Ed25519 public key of a 32-byte secret seed. Throws RangeError on a wrong length. */
export function identityPublicKey(secretKey: Uint8Array): Uint8Array {
  check32("identityPublicKey: secretKey", secretKey);
  return ed25519.getPublicKey(secretKey);
}

/** X25519 public key of a 32-byte secret key. */
export function kxPublicKey(secretKey: Uint8Array): Uint8Array {
  check32("kxPublicKey: secretKey", secretKey);
  return x25519.getPublicKey(secretKey);
}

/**
 * The node id: the first 32 hex characters (128 bits) of SHA-256 of the Ed25519 public key.
 * Binding the id to the key means a node can only ever act as itself.
 */
export function nodeIdFromPublicKey(identityPublicKey: Uint8Array): string {
  check32("nodeIdFromPublicKey: identityPublicKey", identityPublicKey);
  return toHex(sha256(identityPublicKey)).slice(0, 32);
}

/**
 * A synchronous platform Ed25519 that {@link sign} and {@link verify} use instead of noble
 * once installed ({@link setNativeEd25519}; node processes install node:crypto's,
 * client/agent/native-ed25519.ts). RFC 8032 signing is deterministic, so it must return the
 * same bytes as noble; `verify` must return false, never throw, on malformed input.
 */
export interface Ed25519Backend {
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

let nativeEd25519: Ed25519Backend | null = null;

/** Installs a platform Ed25519 for {@link sign} / {@link verify} (null: back to noble). Process-wide. */
export function setNativeEd25519(backend: Ed25519Backend | null): void {
  nativeEd25519 = backend;
}

/** Ed25519 signature (64 bytes) of `message`. Deterministic (RFC 8032). */
export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  check32("sign: secretKey", secretKey);
  return nativeEd25519 ? nativeEd25519.sign(secretKey, message) : ed25519.sign(message, secretKey);
}

/** Verifies an Ed25519 signature; returns false (never throws) on any malformed input. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    return nativeEd25519 ? nativeEd25519.verify(publicKey, message, signature) : ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

const PKCS8_ED25519_PREFIX = fromHex("302e020100300506032b657004220420");
let subtleEd25519: boolean | undefined;
/** WebCrypto's typings want ArrayBuffer-backed views; ours always are (never SharedArrayBuffer). */
const buf = (u: Uint8Array): Uint8Array<ArrayBuffer> => u as Uint8Array<ArrayBuffer>;
/** Imported verification keys by public key (hex), least recently used first; at most {@link VERIFY_KEY_CACHE_MAX}. */
const verifyKeyCache = new Map<string, CryptoKey>();
/** Keys kept imported: a coordinator isolate checks heartbeats of many nodes (issue 15 measured 10,000). */
const VERIFY_KEY_CACHE_MAX = 65_536;
const signKeyCache = new Map<string, CryptoKey>();

async function subtleAvailable(): Promise<boolean> {
  if (subtleEd25519 !== undefined) return subtleEd25519;
  try {
    const sk = new Uint8Array(32);
    const k = await crypto.subtle.importKey("pkcs8", buf(concatBytes(PKCS8_ED25519_PREFIX, sk)), { name: "Ed25519" }, false, ["sign"]);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, k, new Uint8Array(1)));
    subtleEd25519 = verify(ed25519.getPublicKey(sk), new Uint8Array(1), sig);
  } catch {
    subtleEd25519 = false;
  }
  return subtleEd25519;
}

/**
 * Verifies an Ed25519 signature with WebCrypto when the platform supports it (workerd,
 * Node ≥ 22, modern browsers), else with noble. Same result as {@link verify}; never throws.
 */
export async function verifyAsync(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!(await subtleAvailable())) return verify(publicKey, message, signature);
  try {
    const id = toHex(publicKey);
    let key = verifyKeyCache.get(id);
    if (key) {
      verifyKeyCache.delete(id); // move to the most recently used end
      verifyKeyCache.set(id, key);
    } else {
      key = await crypto.subtle.importKey("raw", buf(publicKey), { name: "Ed25519" }, false, ["verify"]);
      if (verifyKeyCache.size >= VERIFY_KEY_CACHE_MAX) verifyKeyCache.delete(verifyKeyCache.keys().next().value!);
      verifyKeyCache.set(id, key);
    }
    return await crypto.subtle.verify({ name: "Ed25519" }, key, buf(signature), buf(message));
  } catch {
    return false;
  }
}

/** Signs with WebCrypto when available (fast for large messages), else noble. Same bytes as {@link sign}. */
export async function signAsync(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  check32("signAsync: secretKey", secretKey);
  if (!(await subtleAvailable())) return sign(secretKey, message);
  const id = toHex(sha256(secretKey));
  let key = signKeyCache.get(id);
  if (!key) {
    key = await crypto.subtle.importKey("pkcs8", buf(concatBytes(PKCS8_ED25519_PREFIX, secretKey)), { name: "Ed25519" }, false, ["sign"]);
    if (signKeyCache.size > 64) signKeyCache.clear();
    signKeyCache.set(id, key);
  }
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, buf(message)));
}

/**
 * X25519 shared secret (RFC 7748), computed by the platform's synchronous X25519 where it has
 * one (Node's OpenSSL, x25519.ts `x25519Many`; the relay session derives one per peer and
 * round), else noble: the same bytes. Throws RangeError on wrong lengths and Error on a
 * low-order peer key (all-zero shared secret), which would make the derived key public.
 */
export function sharedSecret(mySecretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  check32("sharedSecret: mySecretKey", mySecretKey);
  check32("sharedSecret: peerPublicKey", peerPublicKey);
  const s = x25519Many([{ scalar: mySecretKey, us: [peerPublicKey] }])[0]![0];
  if (!s) throw new Error("sharedSecret: low-order peer key");
  return s;
}
