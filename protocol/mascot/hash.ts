/**
 * SHA-256 for the MASCOT protocol code: @noble/hashes by default; a host with a native
 * synchronous SHA-256 (Node's node:crypto; the party thread installs it, client/agent/
 * party-aes.ts installNodeAes) hands it to {@link setNativeSha256}. The digest never depends
 * on which implementation ran — only the CPU does: a party hashes ≈ 1–2k short inputs per
 * pair and session (SoftSpokenOT's GGM trees and leaf seeds, digit COPE's trees, base-OT
 * keys) and the OT extension's correction messages (hundreds of kB per pair), where the JS
 * hash costs ≈ 9 µs per short input and ≈ 120 ms per MB against ≈ 1 µs and ≈ 0.6 ms native
 * (measured on the 2-core bench machine, issue 13).
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

/** A native SHA-256 of the concatenation of `parts` (32 bytes; may be a Buffer or a view). */
export type NativeSha256 = (parts: readonly Uint8Array[]) => Uint8Array;
let native: NativeSha256 | undefined;

/**
 * Installs a native synchronous SHA-256 for this thread's protocol hashing (undefined removes
 * it). The caller guarantees `f` is SHA-256 of the concatenated parts; a wrong `f` shows up as
 * a failed check against honest peers, never as a silent error in the sum. Throws TypeError
 * if `f` is neither a function nor undefined.
 */
export function setNativeSha256(f: NativeSha256 | undefined): void {
  if (f !== undefined && typeof f !== "function") throw new TypeError("setNativeSha256: expected a function or undefined");
  native = f;
}

/** Whether a native SHA-256 is installed (callers with an async alternative skip it then). */
export function hasNativeSha256(): boolean {
  return native !== undefined;
}

/** SHA-256(data): a fresh 32-byte Uint8Array the caller owns (never a shared or pooled buffer). */
export function sha256(data: Uint8Array): Uint8Array {
  return native ? own(native([data])) : nobleSha256(data);
}

/** SHA-256(parts[0] ‖ parts[1] ‖ …) without building the concatenation; a fresh 32-byte Uint8Array. */
export function sha256Parts(...parts: Uint8Array[]): Uint8Array {
  if (native) return own(native(parts));
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

function own(d: Uint8Array): Uint8Array {
  if (d.length !== 32) throw new RangeError(`native SHA-256 returned ${d.length} bytes`);
  const o = new Uint8Array(32);
  o.set(d);
  return o;
}
