/**
 * The browser node's key store: the node's keys (protocol/crypto/identity.ts NodeKeys) kept
 * in IndexedDB, encrypted under a NON-EXTRACTABLE WebCrypto AES-GCM key that lives in the
 * same database. Script on the page can ask the browser to unwrap them but can never read
 * the wrapping key's bytes, so copying the database's records off the profile (or a backup
 * of them) yields ciphertext only.
 *
 * Why the node keys themselves are not non-extractable CryptoKeys: the protocol needs their
 * raw bytes. Every coordinator request is signed synchronously (protocol/crypto/request.ts,
 * client/api/auth.ts take the Ed25519 seed), the relay's pair keys come from noble's X25519
 * over the raw secret (protocol/crypto/envelope.ts `pairKey`), and MASCOT's base OTs derive
 * keys from the X25519 secret. Chromium's WebCrypto has Ed25519 and X25519, but a
 * non-extractable key cannot feed those code paths; see docs/browser-node.md.
 */
import { generateNodeKeys, identityPublicKey, kxPublicKey, type NodeKeys } from "../../protocol/crypto/identity.ts";
import { bytesEqual, concatBytes, utf8 } from "../../protocol/encoding.ts";
import { cryptoRng } from "../../protocol/rng.ts";
import type { KeyStore } from "../agent/keys.ts";
import { CodedError, type KvStore } from "./idb.ts";

/** What is stored under {@link KEY_RECORD}: never a secret in the clear. */
interface StoredKeys {
  version: 1;
  /** AES-GCM-256, extractable: false, usages encrypt/decrypt. */
  wrapKey: CryptoKey;
  iv: Uint8Array;
  /** AES-GCM(identity seed ‖ X25519 secret, AD = "2pm/browser-keys/v1"). */
  sealed: Uint8Array;
  identityPublicKey: Uint8Array;
  kxPublicKey: Uint8Array;
}

export const KEY_RECORD = "node-keys";
const AD = utf8("2pm/browser-keys/v1");

/** The key store could not deliver sound keys. `code` is stable. */
export class KeyStoreError extends CodedError<"keys-exist" | "keys-corrupt"> { override name = "KeyStoreError"; }

const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => u as Uint8Array<ArrayBuffer>;

export class IdbKeyStore implements KeyStore {
  constructor(private readonly kv: KvStore) {}

  /**
   * The stored keys, or null when none were made. Throws KeyStoreError `keys-corrupt` when
   * the record does not decrypt or its public halves do not match the secrets (never returns
   * half-valid keys).
   */
  async load(): Promise<NodeKeys | null> {
    const s = await this.kv.get<StoredKeys>(KEY_RECORD);
    if (!s) return null;
    if (s.version !== 1 || !(s.wrapKey instanceof CryptoKey)) throw new KeyStoreError("keys-corrupt", "the stored key record has an unknown shape");
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: ab(s.iv), additionalData: ab(AD) }, s.wrapKey, ab(s.sealed)));
    } catch {
      throw new KeyStoreError("keys-corrupt", "the stored node keys do not decrypt under their wrapping key");
    }
    if (plain.length !== 64) throw new KeyStoreError("keys-corrupt", "the stored node keys have the wrong length");
    const keys: NodeKeys = { identitySecretKey: plain.slice(0, 32), identityPublicKey: identityPublicKey(plain.slice(0, 32)), kxSecretKey: plain.slice(32), kxPublicKey: kxPublicKey(plain.slice(32)) };
    plain.fill(0);
    if (!bytesEqual(keys.identityPublicKey, s.identityPublicKey) || !bytesEqual(keys.kxPublicKey, s.kxPublicKey)) throw new KeyStoreError("keys-corrupt", "the stored public keys do not match the secret keys");
    return keys;
  }

  /**
   * Stores `keys` under a fresh non-extractable wrapping key. Refuses (KeyStoreError
   * `keys-exist`) to overwrite keys already stored: a node's identity is never replaced silently.
   */
  async save(keys: NodeKeys): Promise<void> {
    if (await this.kv.get(KEY_RECORD)) throw new KeyStoreError("keys-exist", "this browser profile already holds node keys; refusing to overwrite them");
    const wrapKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const iv = cryptoRng.bytes(12);
    const plain = concatBytes(keys.identitySecretKey, keys.kxSecretKey);
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: ab(iv), additionalData: ab(AD) }, wrapKey, ab(plain)));
    plain.fill(0);
    const rec: StoredKeys = { version: 1, wrapKey, iv, sealed, identityPublicKey: keys.identityPublicKey.slice(), kxPublicKey: keys.kxPublicKey.slice() };
    await this.kv.put(KEY_RECORD, rec);
  }

  /** Loads the keys, or makes, stores and returns fresh ones. `created` says which. */
  async loadOrCreate(): Promise<{ keys: NodeKeys; created: boolean }> {
    const k = await this.load();
    if (k) return { keys: k, created: false };
    const fresh = generateNodeKeys(cryptoRng);
    await this.save(fresh);
    return { keys: fresh, created: true };
  }

  /** Whether the wrapping key is non-extractable (shown on the page; tested). */
  async wrapKeyExtractable(): Promise<boolean | undefined> {
    return (await this.kv.get<StoredKeys>(KEY_RECORD))?.wrapKey.extractable;
  }
}

/** Whether this browser's WebCrypto signs with Ed25519 (reported on the page). Never throws. */
export async function webCryptoEd25519(): Promise<boolean> {
  try {
    const k = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, k.privateKey, new Uint8Array(1));
    return sig.byteLength === 64;
  } catch {
    return false;
  }
}
