/**
 * Reading a bounded request body on the FHE routes (the Worker's inference and training
 * routes, `2pm fhe serve`): the media type is checked first, then the declared length, then
 * the bytes actually read, so an oversized upload is refused with 413 and its code before
 * (when declared) or right after (when chunked) it is buffered.
 */
import type { HonoRequest } from "hono";
import { ProblemError } from "../../protocol/api/problem.ts";

export interface BodyLimits {
  /** Accepted media types (compared without parameters, case-insensitive). */
  types: readonly string[];
  /** Largest body in bytes. */
  max: number;
  /** Problem code of the 413 (e.g. `oversized`, `key-set-too-large`). */
  code: string;
  /** What the body is, for the detail ("block request"). */
  what: string;
  /** Appended to the 413's detail (e.g. where larger bodies are served). */
  hint?: string;
}

/**
 * The request's body as bytes. Throws ProblemError 415 `unsupported-media-type` for another
 * media type and 413 `limits.code` when the declared or actual length exceeds `limits.max`.
 */
export async function readBody(req: HonoRequest, limits: BodyLimits): Promise<Uint8Array> {
  const type = (req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!limits.types.includes(type)) throw new ProblemError(415, "unsupported-media-type", `content-type must be ${limits.types[0]}`);
  const tooLarge = (n: number) => new ProblemError(413, limits.code, `${limits.what} of ${n} bytes exceeds ${limits.max}${limits.hint ?? ""}`);
  const declared = Number(req.header("content-length") ?? "0");
  if (declared > limits.max) throw tooLarge(declared);
  const body = new Uint8Array(await req.arrayBuffer());
  if (body.length > limits.max) throw tooLarge(body.length);
  return body;
}
