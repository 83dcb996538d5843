/**
 * Node's native AES-128-CTR for the MASCOT PRG streams (protocol/mascot/prg.ts
 * setNativeAesCtr): synchronous, so a party reads its thousands of short keystreams (one per
 * SoftSpokenOT leaf and COPE position and peer) without WebCrypto's per-call cost or the JS
 * AES fallback; one cipher object per stream, continued across reads. Same bytes as both
 * (test/unit/mascot-offline/prg-commit-coin.test.ts). Installed by the party thread
 * (party-worker.ts); Node only.
 */
import { createCipheriv, createDecipheriv, type Decipher } from "node:crypto";
import { setNativeAesCtr, setNativeAesEcbDecrypt } from "../../protocol/mascot/prg.ts";

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

/** Makes every Prg of this thread use {@link nodeAesCtr}, and the OT extension's fixed-key π {@link nodeAesEcbDecrypt}. */
export function installNodeAes(): void {
  setNativeAesCtr(nodeAesCtr);
  setNativeAesEcbDecrypt(nodeAesEcbDecrypt);
}

/** Removes what {@link installNodeAes} installed (benchmarks and tests that compare with the portable path). */
export function uninstallNodeAes(): void {
  setNativeAesCtr(undefined);
  setNativeAesEcbDecrypt(undefined);
}
