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

/**
 * magic ‖ version u8 (1) ‖ round u32 LE ‖ count u32 LE ‖ the vectors (each `count` float64 LE),
 * the frame of both encodings below. Throws RangeError (prefixed `fn`) on a bad round, vectors
 * of different lengths or a non-finite entry (`what` names it).
 */
function encodeFrame(fn: string, what: string, magic: readonly number[], round: number, vectors: ReadonlyArray<ArrayLike<number>>): Uint8Array {
  if (!Number.isInteger(round) || round < 0 || round > 0xffffffff) throw new RangeError(`${fn}: bad round ${round}`);
  const n = vectors[0]!.length;
  if (vectors.some((v) => v.length !== n)) throw new RangeError(`${fn}: m has ${n} entries, v ${vectors[1]!.length}`);
  const out = new Uint8Array(HEADER + 8 * n * vectors.length);
  const dv = new DataView(out.buffer);
  out.set(magic, 0);
  out[4] = 1;
  dv.setUint32(5, round, true);
  dv.setUint32(9, n, true);
  vectors.forEach((v, k) => {
    for (let i = 0; i < n; i++) {
      const w = v[i]!;
      if (!Number.isFinite(w)) throw new RangeError(`${fn}: non-finite ${what} at ${i}`);
      dv.setFloat64(HEADER + 8 * (k * n + i), w, true);
    }
  });
  return out;
}

/** Decodes {@link encodeFrame}'s bytes holding `k` vectors. Throws RangeError (prefixed `fn`) on a bad magic (`notA`), version, length or a non-finite entry. */
function decodeFrame(fn: string, what: string, notA: string, magic: readonly number[], k: number, bytes: Uint8Array): { round: number; vectors: Float64Array[] } {
  if (bytes.length < HEADER || magic.some((b, i) => bytes[i] !== b)) throw new RangeError(`${fn}: not ${notA}`);
  if (bytes[4] !== 1) throw new RangeError(`${fn}: unsupported version ${bytes[4]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const round = dv.getUint32(5, true);
  const n = dv.getUint32(9, true);
  if (bytes.length !== HEADER + 8 * k * n) throw new RangeError(`${fn}: length ${bytes.length} ≠ ${HEADER + 8 * k * n}`);
  const vectors = Array.from({ length: k }, (_, j) => {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      v[i] = dv.getFloat64(HEADER + 8 * (j * n + i), true);
      if (!Number.isFinite(v[i]!)) throw new RangeError(`${fn}: non-finite ${what} at ${i}`);
    }
    return v;
  });
  return { round, vectors };
}

/** Encodes round + weights. Throws RangeError on a bad round or a non-finite weight. */
export function encodeGlobalModel(round: number, weights: ArrayLike<number>): Uint8Array {
  return encodeFrame("encodeGlobalModel", "weight", MAGIC, round, [weights]);
}

/** Decodes {@link encodeGlobalModel}'s bytes. Throws RangeError on a bad magic, version or length. */
export function decodeGlobalModel(bytes: Uint8Array): { round: number; weights: Float64Array } {
  const { round, vectors } = decodeFrame("decodeGlobalModel", "weight", "a 2PMW model", MAGIC, 1, bytes);
  return { round, weights: vectors[0]! };
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
  return encodeFrame("encodeServerMoments", "moment", MOMENTS_MAGIC, round, [m, v]);
}

/** Decodes {@link encodeServerMoments}'s bytes. Throws RangeError on a bad magic, version, length or a non-finite entry. */
export function decodeServerMoments(bytes: Uint8Array): { round: number; m: Float64Array; v: Float64Array } {
  const { round, vectors: [m, v] } = decodeFrame("decodeServerMoments", "moment", "2PMS server moments", MOMENTS_MAGIC, 2, bytes);
  return { round, m: m!, v: v! };
}
