/**
 * Binary encoding of a round's global model (stored in R2, hashed into the transparency
 * log; nodes refuse a model whose hash differs from the logged one):
 *   magic "2PMW" ‖ version u8 (1) ‖ round u32 LE ‖ count u32 LE ‖ count × float64 LE.
 * The hash is plain SHA-256 over those bytes (the magic header already separates domains):
 * the same hash the JobDO logs and the R2 route checks for every stored model.
 */
import { sha256 } from "@noble/hashes/sha2.js";

const MAGIC = [0x32, 0x50, 0x4d, 0x57]; // "2PMW"
const HEADER = 4 + 1 + 4 + 4;

/** Encodes round + weights. Throws RangeError on a bad round or a non-finite weight. */
export function encodeGlobalModel(round: number, weights: ArrayLike<number>): Uint8Array {
  if (!Number.isInteger(round) || round < 0 || round > 0xffffffff) throw new RangeError(`encodeGlobalModel: bad round ${round}`);
  const out = new Uint8Array(HEADER + 8 * weights.length);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = 1;
  dv.setUint32(5, round, true);
  dv.setUint32(9, weights.length, true);
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (!Number.isFinite(w)) throw new RangeError(`encodeGlobalModel: non-finite weight at ${i}`);
    dv.setFloat64(HEADER + 8 * i, w, true);
  }
  return out;
}

/** Decodes {@link encodeGlobalModel}'s bytes. Throws RangeError on a bad magic, version or length. */
export function decodeGlobalModel(bytes: Uint8Array): { round: number; weights: Float64Array } {
  if (bytes.length < HEADER || MAGIC.some((b, i) => bytes[i] !== b)) throw new RangeError("decodeGlobalModel: not a 2PMW model");
  if (bytes[4] !== 1) throw new RangeError(`decodeGlobalModel: unsupported version ${bytes[4]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const round = dv.getUint32(5, true);
  const n = dv.getUint32(9, true);
  if (bytes.length !== HEADER + 8 * n) throw new RangeError(`decodeGlobalModel: length ${bytes.length} ≠ ${HEADER + 8 * n}`);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    weights[i] = dv.getFloat64(HEADER + 8 * i, true);
    if (!Number.isFinite(weights[i]!)) throw new RangeError(`decodeGlobalModel: non-finite weight at ${i}`);
  }
  return { round, weights };
}

/** SHA-256(bytes): the model hash recorded in the transparency log (hex of this). */
export function globalModelHash(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

const MOMENTS_MAGIC = [0x32, 0x50, 0x4d, 0x53]; // "2PMS"

/**
 * Encodes an adaptive server optimiser's moments (protocol/learning/server.ts: FedAdam /
 * FedYogi `m` and `v`), the coordinator's private state between rounds, stored beside the
 * round's model (never in the job's Durable Object state):
 *   magic "2PMS" ‖ version u8 (1) ‖ round u32 LE ‖ count u32 LE ‖ count × float64 m ‖ count × float64 v.
 * Throws RangeError on a bad round, vectors of different lengths or a non-finite entry.
 */
export function encodeServerMoments(round: number, m: ArrayLike<number>, v: ArrayLike<number>): Uint8Array {
  if (!Number.isInteger(round) || round < 0 || round > 0xffffffff) throw new RangeError(`encodeServerMoments: bad round ${round}`);
  if (m.length !== v.length) throw new RangeError(`encodeServerMoments: m has ${m.length} entries, v ${v.length}`);
  const n = m.length;
  const out = new Uint8Array(HEADER + 16 * n);
  const dv = new DataView(out.buffer);
  out.set(MOMENTS_MAGIC, 0);
  out[4] = 1;
  dv.setUint32(5, round, true);
  dv.setUint32(9, n, true);
  for (let i = 0; i < n; i++) {
    const a = m[i]!, b = v[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError(`encodeServerMoments: non-finite moment at ${i}`);
    dv.setFloat64(HEADER + 8 * i, a, true);
    dv.setFloat64(HEADER + 8 * (n + i), b, true);
  }
  return out;
}

/** Decodes {@link encodeServerMoments}'s bytes. Throws RangeError on a bad magic, version, length or a non-finite entry. */
export function decodeServerMoments(bytes: Uint8Array): { round: number; m: Float64Array; v: Float64Array } {
  if (bytes.length < HEADER || MOMENTS_MAGIC.some((b, i) => bytes[i] !== b)) throw new RangeError("decodeServerMoments: not 2PMS server moments");
  if (bytes[4] !== 1) throw new RangeError(`decodeServerMoments: unsupported version ${bytes[4]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const round = dv.getUint32(5, true);
  const n = dv.getUint32(9, true);
  if (bytes.length !== HEADER + 16 * n) throw new RangeError(`decodeServerMoments: length ${bytes.length} ≠ ${HEADER + 16 * n}`);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    m[i] = dv.getFloat64(HEADER + 8 * i, true);
    v[i] = dv.getFloat64(HEADER + 8 * (n + i), true);
    if (!Number.isFinite(m[i]!) || !Number.isFinite(v[i]!)) throw new RangeError(`decodeServerMoments: non-finite moment at ${i}`);
  }
  return { round, m, v };
}
