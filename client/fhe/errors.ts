/**
 * The one error type of the FHE module. Every failure that crosses the module boundary is an
 * {@link FheError} with a code from a closed set; SEAL's C++ exceptions are converted here.
 * It is a {@link ProblemError} (protocol/api/problem.ts), so every HTTP surface answers it as
 * problem details with its code and the status below.
 */
import { ProblemError } from "../../protocol/api/problem.ts";

/** Stable error codes (closed set). HTTP routes map them to problem-details `code`s. */
export type FheErrorCode =
  | "seal-error" // SEAL rejected an operation (message from SEAL)
  | "not-initialized" // the WASM module could not be loaded
  | "bad-parameters" // CKKS parameters invalid or unsupported
  | "bad-model" // DenseModel / package malformed or not evaluable
  | "bad-ciphertext" // ciphertext malformed, wrong parameters or wrong level
  | "bad-keys" // evaluation keys malformed, wrong parameters, or missing a needed key
  | "secret-key-refused" // something that looks like a secret key was offered to the evaluator
  | "oversized" // input larger than the declared limits
  | "shape-mismatch"; // wrong number of ciphertexts / features

/** HTTP status of each code: an oversized input 413, a module that cannot load 503, else the caller's 400. */
const STATUS: Partial<Record<FheErrorCode, number>> = { oversized: 413, "not-initialized": 503 };

/** An error raised by the FHE module; `code` is stable, `message` is human-readable. */
export class FheError extends ProblemError {
  declare readonly code: FheErrorCode;
  constructor(code: FheErrorCode, message: string, options?: { cause?: unknown }) {
    super(STATUS[code] ?? 400, code, message, undefined, options);
    this.name = "FheError";
  }
}

/**
 * Converts anything thrown by node-seal (a `WebAssembly.Exception` carrying the C++ type and
 * message, an Embind `BindingError`, or a plain Error) into an {@link FheError}. `FheError`s
 * pass through unchanged. `getMessage` is the module's `getExceptionMessage`, when loaded.
 */
export function toFheError(e: unknown, fallback: FheErrorCode = "seal-error", getMessage?: (e: unknown) => unknown): FheError {
  if (e instanceof FheError) return e;
  let msg = "";
  const m = (e as { message?: unknown } | null)?.message;
  if (Array.isArray(m)) msg = m.map(String).join(": ");
  else if (typeof m === "string") msg = m;
  else if (getMessage) {
    try {
      const r = getMessage(e);
      msg = Array.isArray(r) ? r.map(String).join(": ") : String(r);
    } catch {
      msg = "";
    }
  }
  if (!msg) msg = String(e);
  return new FheError(fallback, msg.slice(0, 300), { cause: e });
}
