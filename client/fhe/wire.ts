/**
 * Binary frames for FHE HTTP bodies (no JSON arrays of numbers, DESIGN §6):
 *
 *   "2PMF" | version u8 (=1) | reserved u8×3 | headerLen u32 LE | header (UTF-8 JSON)
 *   | count u32 LE | count × (len u32 LE | bytes)
 *
 * The header is validated by the receiver's zod schema; parts are opaque SEAL objects.
 */
import { FheError } from "./errors.ts";

const MAGIC = [0x32, 0x50, 0x4d, 0x46]; // "2PMF"
export const FRAME_CONTENT_TYPE = "application/vnd.2pm.fhe+binary";

export interface Frame {
  header: unknown;
  parts: Uint8Array[];
}

/** Encodes a frame. */
export function encodeFrame(header: unknown, parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = new TextEncoder().encode(JSON.stringify(header));
  let n = 8 + 4 + h.length + 4;
  for (const p of parts) n += 4 + p.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = 1;
  dv.setUint32(8, h.length, true);
  out.set(h, 12);
  let off = 12 + h.length;
  dv.setUint32(off, parts.length, true);
  off += 4;
  for (const p of parts) {
    dv.setUint32(off, p.length, true);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/**
 * Decodes a frame, refusing more than `maxParts` parts, a part over `maxPartBytes`, a header
 * over 4 KiB, trailing bytes, or a bad magic/version. Parts are views into `bytes`.
 * Throws FheError("bad-ciphertext" for structure, "oversized" for limits).
 */
export function decodeFrame(bytes: Uint8Array, limits: { maxParts: number; maxPartBytes: number }): Frame {
  const bad = (m: string) => new FheError("bad-ciphertext", `malformed frame: ${m}`);
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad("bad magic");
  if (bytes[4] !== 1) throw bad(`unsupported version ${bytes[4]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = dv.getUint32(8, true);
  if (hl > 4096) throw new FheError("oversized", "frame header over 4096 bytes");
  if (12 + hl + 4 > bytes.length) throw bad("truncated header");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + hl)));
  } catch {
    throw bad("header is not JSON");
  }
  let off = 12 + hl;
  const count = dv.getUint32(off, true);
  off += 4;
  if (count > limits.maxParts) throw new FheError("oversized", `${count} parts exceed the limit of ${limits.maxParts}`);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (off + 4 > bytes.length) throw bad("truncated part length");
    const len = dv.getUint32(off, true);
    off += 4;
    if (len > limits.maxPartBytes) throw new FheError("oversized", `part ${i} of ${len} bytes exceeds ${limits.maxPartBytes}`);
    if (off + len > bytes.length) throw bad("truncated part");
    parts.push(bytes.subarray(off, off + len));
    off += len;
  }
  if (off !== bytes.length) throw bad("trailing bytes");
  return { header, parts };
}
