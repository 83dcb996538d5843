/**
 * Wire contract of the inference endpoint shared by the Worker route and the client: frame
 * header schemas, key ids, R2 object names.
 */
import { z } from "zod";
import { concatBytes, toHex, utf8 } from "../../protocol/encoding.ts";

/** R2 object holding a model's FHE package. */
export const fhePackageObject = (modelId: string): string => `fhe-packages/${modelId}`;

/** POST /:id/keys frame header: only public evaluation keys can be named. */
export const keyFrameHeaderSchema = z.object({
  v: z.literal(1),
  kinds: z.array(z.enum(["relin", "galois"])).max(2),
});

/** POST /:id/infer frame header. */
export const inferFrameHeaderSchema = z.object({
  v: z.literal(1),
  keyId: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.enum(["batch", "single"]),
  /** Compression for the returned ciphertexts (uploads are always uncompressed). */
  compression: z.enum(["none", "zstd"]).default("none"),
  /** Batch slot layout (client/fhe/context.ts `Packing`): two rows per slot only for models without squares. */
  packing: z.enum(["real", "complex"]).default("real"),
  /**
   * Single mode, single-layer models: "constant-term" (no rotations, reply = c1 and the constant
   * term of c0; current queriers send it), "masked-sum" (no rotations, whole masked ciphertext;
   * queriers of the previous version) or "rotate-and-sum" (the default when absent: queriers from
   * before the masked sum).
   */
  single: z.enum(["rotate-and-sum", "masked-sum", "constant-term"]).default("rotate-and-sum"),
});

/** POST /:id/infer response frame header. */
export const inferResponseHeaderSchema = z.object({
  v: z.literal(1),
  mode: z.enum(["batch", "single"]),
  modelHash: z.string(),
  outputs: z.number().int(),
});

/** Key id = SHA-256 (hex) over the parameters and each key part, length-prefixed. */
export async function keyIdOf(paramsKey: string, parts: { relin?: Uint8Array; galois?: Uint8Array }): Promise<string> {
  const chunks: Uint8Array[] = [utf8("2pm/fhe-keys/v1\n" + paramsKey + "\n")];
  for (const k of ["relin", "galois"] as const) {
    const p = parts[k];
    const len = new Uint8Array(8);
    new DataView(len.buffer).setUint32(0, p ? p.length : 0xffffffff, true);
    chunks.push(utf8(k), len);
    if (p) chunks.push(p);
  }
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", concatBytes(...chunks) as Uint8Array<ArrayBuffer>)));
}
