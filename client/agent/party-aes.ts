/**
 * Node's native AES-128-CTR for the MASCOT PRG streams (protocol/mascot/prg.ts
 * setNativeAesCtr): synchronous, so a party reads its thousands of short keystreams (one per
 * SoftSpokenOT leaf and COPE position and peer) without WebCrypto's per-call cost or the JS
 * AES fallback; one cipher object per stream, continued across reads. Same bytes as both
 * (test/unit/mascot-offline/prg-commit-coin.test.ts). Installed by the party thread
 * (party-worker.ts); Node only. Also node:crypto's SHA-256 for the protocol's hashing
 * (protocol/mascot/hash.ts setNativeSha256).
 */
import { createCipheriv, createDecipheriv, createHash, hash, type Decipher } from "node:crypto";
import { setNativeAesCtr, setNativeAesEcbDecrypt } from "../../protocol/mascot/prg.ts";
import { setNativeSha256 } from "../../protocol/mascot/hash.ts";

let zeros = new Uint8Array(0);

/** An AES-128-CTR keystream for `key` from counter block `counter` (node:crypto); each call returns the next `nBytes` bytes. */
export function nodeAesCtr(key: Uint8Array, counter: Uint8Array): (nBytes: number) => Uint8Array {
  const c = createCipheriv("aes-128-ctr", key, counter);
  return (nBytes) => {
    if (zeros.length < nBytes) zeros = new Uint8Array(Math.max(nBytes, 2 * zeros.length));
    const out = c.update(zeros.subarray(0, nBytes));
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  };
}

const ecbByKey = new WeakMap<Uint8Array, Decipher>();

/**
 * AES-128-ECB decryption of whole blocks under `key` (node:crypto), one native call per batch.
 * ECB without padding keeps no state between calls, so one decipher per key object is reused
 * (the OT extension's fixed key lives for a session). Throws RangeError unless the input is
 * whole blocks.
 */
export function nodeAesEcbDecrypt(key: Uint8Array, blocks: Uint8Array): Uint8Array {
  if (blocks.length % 16 !== 0) throw new RangeError("nodeAesEcbDecrypt: input must be whole 16-byte blocks");
  let d = ecbByKey.get(key);
  if (!d) {
    d = createDecipheriv("aes-128-ecb", key, null);
    d.setAutoPadding(false);
    ecbByKey.set(key, d);
  }
  const out = d.update(blocks);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

const scratch = new Uint8Array(1024);

/**
 * SHA-256 of the concatenated parts on node:crypto (one-shot `hash`; several short parts are
 * first joined in a scratch buffer, long ones fed part by part to one `createHash`). Same
 * digest as @noble/hashes (test/unit/agent/party-aes.test.ts). Returns a Buffer the caller
 * may keep (protocol/mascot/hash.ts copies it anyway).
 */
export function nodeSha256(parts: readonly Uint8Array[]): Uint8Array {
  // crypto.hash (Node ≥ 21.7; the node requires 22): one-shot, no Hash object per call
  if (parts.length === 1) return hash("sha256", parts[0]!, "buffer") as Uint8Array;
  // Short inputs (the GGM trees' and leaves' hashes, thousands per pair and session): joined in a scratch buffer.
  let total = 0;
  for (const p of parts) total += p.length;
  if (total <= scratch.length) {
    let o = 0;
    for (const p of parts) { scratch.set(p, o); o += p.length; }
    return hash("sha256", scratch.subarray(0, total), "buffer") as Uint8Array;
  }
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Makes every Prg of this thread use {@link nodeAesCtr}, the OT extension's fixed-key π
 * {@link nodeAesEcbDecrypt}, and the protocol's SHA-256 (protocol/mascot/hash.ts) {@link nodeSha256}.
 */
export function installNodeAes(): void {
  setNativeAesCtr(nodeAesCtr);
  setNativeAesEcbDecrypt(nodeAesEcbDecrypt);
  setNativeSha256(nodeSha256);
}

/** Removes what {@link installNodeAes} installed (benchmarks and tests that compare with the portable path). */
export function uninstallNodeAes(): void {
  setNativeAesCtr(undefined);
  setNativeAesEcbDecrypt(undefined);
  setNativeSha256(undefined);
}
