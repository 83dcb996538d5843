/**
 * Node's native AES-128-CTR for the MASCOT PRG streams (protocol/mascot/prg.ts
 * setNativeAesCtr): synchronous, so a party reads its thousands of short keystreams (one per
 * SoftSpokenOT leaf and COPE position and peer) without WebCrypto's per-call cost or the JS
 * AES fallback; one cipher object per stream, continued across reads. Same bytes as both
 * (test/unit/mascot-offline/prg-commit-coin.test.ts). Installed by the party thread
 * (party-worker.ts); Node only.
 */
import { createCipheriv } from "node:crypto";
import { setNativeAesCtr } from "../../protocol/mascot/prg.ts";

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

/** Makes every Prg of this thread use {@link nodeAesCtr}. */
export function installNodeAes(): void {
  setNativeAesCtr(nodeAesCtr);
}
