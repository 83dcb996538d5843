/**
 * What crosses the owner → server boundary, and back: binary frames (client/fhe/wire.ts) whose
 * JSON header is validated here and whose parts are public SEAL objects only — ciphertexts,
 * relinearisation and Galois keys. There is no field, part kind or code path for a secret key;
 * a header naming one is refused (`secret-key-refused`).
 *
 *   key set (once per run):  relin | galois          key id = SHA-256 (hex) of the whole frame
 *   block request parts:     data_0 … data_{c−1} | [v | beta]   (header names the key id)
 *   block response parts:    beta_T | [beta_{T−1}]
 *
 * The evaluation keys (tens to hundreds of MB) travel once per training run; every block
 * request names them by key id, and the server resolves the id in its own store.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { toHex } from "../../../protocol/encoding.ts";
import { FheError } from "../errors.ts";
import { ckksParamsSchema, type CkksParams } from "../params.ts";
import { decodeFrame, encodeFrame } from "../wire.ts";

export const TRAIN_REQUEST = "2pm-fhe-train/v1";
export const TRAIN_RESPONSE = "2pm-fhe-train-result/v1";
export const TRAIN_KEYS = "2pm-fhe-train-keys/v1";

/** A key id: lowercase hex SHA-256 of the key-set frame. */
export const keyIdSchema = z.string().regex(/^[0-9a-f]{64}$/);

export const trainKeysHeaderSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal(TRAIN_KEYS),
    /** The parameters the keys were generated under (a block's parameters must be the same). */
    ckks: ckksParamsSchema,
    /** Part order: always relinearisation, then Galois (power-of-two steps). */
    kinds: z.tuple([z.literal("relin"), z.literal("galois")]),
  })
  .strict();

export type TrainKeysHeader = z.infer<typeof trainKeysHeaderSchema> & { ckks: CkksParams };

export const trainRequestHeaderSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal(TRAIN_REQUEST),
    ckks: ckksParamsSchema,
    /** Data rows n and features d (the server learns these sizes, nothing else about the data). */
    rows: z.number().int().min(1).max(1 << 24),
    features: z.number().int().min(1).max(4095),
    nag: z
      .object({
        iterations: z.number().int().min(1).max(1000),
        degree: z.union([z.literal(3), z.literal(5), z.literal(7)]),
        learningRate: z.number().positive().max(1000),
        lambda0: z.number().gt(0).lt(1),
      })
      .strict(),
    block: z.object({ from: z.number().int().min(0), to: z.number().int().min(1) }).strict(),
    /** Key id of the evaluation keys uploaded before (frame {@link TRAIN_KEYS}). */
    keyId: keyIdSchema,
    /** Whether the request carries a refreshed state (v, beta) after the data ciphertexts. */
    state: z.boolean(),
    /** SHA-256 of the parts (length-prefixed): a truncated or altered part is refused before any work. */
    digest: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

export type TrainRequestHeader = z.infer<typeof trainRequestHeaderSchema> & { ckks: CkksParams };

export const trainResponseHeaderSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal(TRAIN_RESPONSE),
    block: z.object({ from: z.number().int().min(0), to: z.number().int().min(1) }).strict(),
    /** Whether beta_{T−1} follows beta_T (absent when the block had one iteration). */
    betaPrev: z.boolean(),
    /** Levels left on beta_T. */
    levelsLeft: z.number().int().min(0),
    /** Per iteration of the block: chain level after it, levels left, seconds (the owner's progress lines). */
    progress: z
      .array(z.object({ iteration: z.number().int().min(1), iterations: z.number().int().min(1), level: z.number().int().min(0), levelsLeft: z.number().int().min(0), seconds: z.number().min(0) }).strict())
      .max(1000),
    /** SHA-256 of the parts (integrity in transit; a malicious server can of course compute it). */
    digest: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

export type TrainResponseHeader = z.infer<typeof trainResponseHeaderSchema>;

/** Public material of one block, already serialised by the owner (the keys travel separately). */
export interface TrainRequestParts {
  data: Uint8Array[];
  state?: { v: Uint8Array; beta: Uint8Array };
}

/** Hex SHA-256 over the parts, each prefixed by its u32 length. */
export function partsDigest(parts: Uint8Array[]): string {
  const h = sha256.create();
  const len = new Uint8Array(4);
  for (const p of parts) {
    new DataView(len.buffer).setUint32(0, p.length, true);
    h.update(len);
    h.update(p);
  }
  return toHex(h.digest());
}

const LIMITS = { maxParts: 4096 + 2, maxPartBytes: 2 ** 30 };

/** Throws FheError("secret-key-refused") if any key of a (parsed JSON) header mentions a secret key. */
function refuseSecretFields(h: unknown): void {
  const walk = (v: unknown): void => {
    if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (/secret|private|^sk$/i.test(k)) throw new FheError("secret-key-refused", `the training request names "${k}"; the server takes public material only`);
        walk(x);
      }
    }
  };
  walk(h);
}

export function encodeTrainRequest(header: Omit<TrainRequestHeader, "digest">, p: TrainRequestParts): Uint8Array {
  const parts = [...p.data, ...(p.state ? [p.state.v, p.state.beta] : [])];
  return encodeFrame(trainRequestHeaderSchema.parse({ ...header, digest: partsDigest(parts) }), parts);
}

/** The public evaluation keys of a run as one frame (its SHA-256 is the key id). */
export function encodeTrainKeys(ckks: CkksParams, keys: { relin: Uint8Array; galois: Uint8Array }): Uint8Array {
  return encodeFrame(trainKeysHeaderSchema.parse({ v: 1, kind: TRAIN_KEYS, ckks, kinds: ["relin", "galois"] }), [keys.relin, keys.galois]);
}

/**
 * Parses a key-set frame: structure, strict header, exactly two parts (relin, galois).
 * Throws FheError("secret-key-refused" | "bad-keys" | "bad-ciphertext" | "oversized").
 */
export function decodeTrainKeys(bytes: Uint8Array, maxPartBytes = 2 ** 30): { header: TrainKeysHeader; relin: Uint8Array; galois: Uint8Array } {
  const f = decodeFrame(bytes, { maxParts: 2, maxPartBytes });
  refuseSecretFields(f.header);
  const r = trainKeysHeaderSchema.safeParse(f.header);
  if (!r.success) throw new FheError("bad-keys", `invalid key set: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
  if (f.parts.length !== 2) throw new FheError("bad-keys", `a key set has 2 parts (relin, galois), got ${f.parts.length}`);
  return { header: r.data as TrainKeysHeader, relin: f.parts[0]!, galois: f.parts[1]! };
}

/** Key id of a key-set frame: lowercase hex SHA-256 of its bytes (WebCrypto: Node and workerd). */
export async function trainKeyId(bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
}

/**
 * Parses a training request: frame structure, header (strict schema), number of parts.
 * Throws FheError("secret-key-refused" | "bad-parameters" | "shape-mismatch" | "bad-ciphertext" | "oversized").
 */
export function decodeTrainRequest(bytes: Uint8Array): { header: TrainRequestHeader; parts: TrainRequestParts } {
  const f = decodeFrame(bytes, LIMITS);
  refuseSecretFields(f.header);
  const r = trainRequestHeaderSchema.safeParse(f.header);
  if (!r.success) throw new FheError("bad-parameters", `invalid training request: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
  const h = r.data as TrainRequestHeader;
  if (partsDigest(f.parts) !== h.digest) throw new FheError("bad-ciphertext", "training request parts do not match their digest (truncated or altered in transit)");
  if (h.block.to <= h.block.from || h.block.to > h.nag.iterations) throw new FheError("bad-parameters", `block [${h.block.from}, ${h.block.to}) is not within ${h.nag.iterations} iterations`);
  if (h.state !== (h.block.from > 0)) throw new FheError("bad-parameters", h.state ? "a block from iteration 0 starts from zero weights and takes no state" : "a block after iteration 0 needs the refreshed state (v, beta)");
  const extra = h.state ? 2 : 0;
  const data = f.parts.length - extra;
  if (data < 1) throw new FheError("shape-mismatch", `training request has ${f.parts.length} parts`);
  const parts: TrainRequestParts = { data: f.parts.slice(0, data) };
  if (h.state) parts.state = { v: f.parts[data]!, beta: f.parts[data + 1]! };
  return { header: h, parts };
}

export function encodeTrainResponse(header: Omit<TrainResponseHeader, "digest">, beta: Uint8Array, betaPrev?: Uint8Array): Uint8Array {
  const parts = betaPrev ? [beta, betaPrev] : [beta];
  return encodeFrame(trainResponseHeaderSchema.parse({ ...header, digest: partsDigest(parts) }), parts);
}

/** Parses the server's answer. Throws FheError("bad-ciphertext" | "shape-mismatch"). */
export function decodeTrainResponse(bytes: Uint8Array): { header: TrainResponseHeader; beta: Uint8Array; betaPrev?: Uint8Array } {
  const f = decodeFrame(bytes, { maxParts: 2, maxPartBytes: 2 ** 28 });
  const r = trainResponseHeaderSchema.safeParse(f.header);
  if (!r.success) throw new FheError("bad-ciphertext", `invalid training response: ${r.error.issues[0]?.message}`);
  if (f.parts.length !== (r.data.betaPrev ? 2 : 1)) throw new FheError("shape-mismatch", `training response has ${f.parts.length} parts`);
  if (partsDigest(f.parts) !== r.data.digest) throw new FheError("bad-ciphertext", "training response parts do not match their digest (truncated or altered in transit)");
  return { header: r.data, beta: f.parts[0]!, betaPrev: f.parts[1] };
}
