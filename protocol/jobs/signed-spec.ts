/**
 * Submitter-signed job specs (DESIGN §1, §5). A submitter holds an Ed25519 key and signs the
 * canonical hash of the *parsed* job spec (zod defaults applied), so every node can check
 * that the round manifest the coordinator shows it is the job the submitter asked for, and
 * that the submitter is one its own policy accepts. The coordinator only relays the
 * signature (and logs it in the job's first log entry); it cannot forge or alter it.
 *
 *   message   = "2pm/job-spec/v1" ‖ 0x00 ‖ SHA-256(canonicalJson(spec))   (32 raw bytes)
 *   signature = Ed25519(submitterSecretKey, message)
 */
import { z } from "zod";
import { concatBytes, fromBase64Url, fromHex, toBase64Url, utf8 } from "../encoding.ts";
import { identityPublicKey, sign, verify } from "../crypto/identity.ts";
import { objectHash } from "../log/index.ts";
import { JobSpec } from "../api/schemas.ts";

const LABEL = utf8("2pm/job-spec/v1");
const b64 = (n: number) => z.string().regex(/^[A-Za-z0-9_-]+$/, "must be base64url").refine((s) => Math.floor((s.length * 3) / 4) === n, { message: `must encode ${n} bytes` });

/** The submitter's signature over a spec, as it travels in `POST /v1/jobs` and the job's log entry. */
export const SpecSignature = z.strictObject({
  /** base64url Ed25519 public key of the submitter. */
  key: b64(32),
  /** base64url Ed25519 signature over {@link specMessage}. */
  signature: b64(64),
});
export type SpecSignature = z.infer<typeof SpecSignature>;

/** The body of `POST /v1/jobs` for a signed job. */
export const SignedJobSpec = z.strictObject({
  kind: z.literal("signed-job-spec"),
  spec: JobSpec,
  submitter: SpecSignature,
});
export type SignedJobSpec = z.infer<typeof SignedJobSpec>;

/** The bytes a submitter signs for a spec whose canonical hash is `specHash` (hex). */
export function specMessage(specHash: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(specHash)) throw new TypeError("specMessage: specHash must be 64 lower-case hex characters");
  return concatBytes(LABEL, new Uint8Array([0]), fromHex(specHash));
}

/**
 * Signs a job spec: parses it (defaults applied, so the signed hash is the one the coordinator
 * and nodes compute) and returns the signed body for `POST /v1/jobs`. Throws the zod error
 * when the spec is invalid, RangeError when the key is not 32 bytes.
 */
export function signJobSpec(spec: unknown, submitterSecretKey: Uint8Array): SignedJobSpec {
  const parsed = JobSpec.parse(spec);
  const publicKey = identityPublicKey(submitterSecretKey);
  const signature = sign(submitterSecretKey, specMessage(objectHash(parsed)));
  return { kind: "signed-job-spec", spec: parsed, submitter: { key: toBase64Url(publicKey), signature: toBase64Url(signature) } };
}

/**
 * True when `sig` is a valid signature by `sig.key` over the spec whose canonical hash is
 * `specHash`. Never throws (malformed input is simply not valid).
 */
export function verifySpecSignature(specHash: string, sig: SpecSignature): boolean {
  try {
    return verify(fromBase64Url(sig.key), specMessage(specHash), fromBase64Url(sig.signature));
  } catch {
    return false;
  }
}
