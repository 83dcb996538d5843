/**
 * The one error type of the HTTP API and the one error boundary. Every caller fault is a
 * problem-details JSON (RFC 9457) with a stable `code`; anything else is our bug and becomes
 * a bare 500 without detail (the error is logged, never sent).
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError } from "zod";
import type { Problem } from "../protocol/api/schemas.ts";
import { problemFor, problemResponse, ProblemError } from "../protocol/api/problem.ts";
import type { FheErrorCode } from "../client/fhe/errors.ts";
import { SIGNING_KEY_MISSING_DETAIL } from "../protocol/crypto/coordinator-key.ts";

/** Stable error codes of the API. */
export type ApiErrorCode =
  | "bad-request" | "malformed-json" | "unsupported-media-type" | "validation-failed" | "payload-too-large"
  | "unauthorized" | "missing-signature" | "bad-signature" | "stale-timestamp" | "replay" | "unknown-node" | "forbidden"
  | "not-found" | "conflict" | "job-not-cancellable" | "not-in-committee" | "model-hash-mismatch" | "upgrade-required" | "invalid-task" | "plaintext-disabled" | "bad-spec-signature"
  | "not-a-member" | "signing-key-missing" | "consortium-invalid" | "spec-too-large"
  // FHE inference sub-app (functions/fhe): route codes, then the FHE module's own codes
  | "unknown-model" | "unknown-key" | "model-id-mismatch" | "key-set-too-large" | "key-quota-exceeded"
  | FheErrorCode
  | "internal";

/**
 * Detail of the 503 `signing-key-missing` problem. It is also the message of the error a
 * Durable Object throws when it needs the key (an RPC error keeps only its message), so the
 * boundary recognises it there too.
 */
export { SIGNING_KEY_MISSING_DETAIL };

/** A caller fault of the coordinator's API: a {@link ProblemError} whose code is one of {@link ApiErrorCode}. */
export class ApiError extends ProblemError {
  declare readonly code: ApiErrorCode;
  constructor(status: ContentfulStatusCode, code: ApiErrorCode, detail: string, issues?: Problem["issues"]) {
    super(status, code, detail, issues);
    this.name = "ApiError";
  }
}

/** Builds a problem-details response with one of the API's codes. */
export function problem(status: ContentfulStatusCode, code: ApiErrorCode, detail?: string, issues?: Problem["issues"]): Response {
  return problemResponse(status, code, detail, issues);
}

/** Converts zod issues into `{path, message}` pairs. */
export function zodIssues(e: ZodError): NonNullable<Problem["issues"]> {
  return e.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}

/**
 * The onError handler of the app and of every sub-app (functions/fhe): the one error boundary.
 * Caller faults ({@link ProblemError}: `ApiError`, `FheError`, the training routes') become
 * their problem details; zod and hono's own errors their codes; anything else a bare 500.
 */
export function errorBoundary(err: Error, _c: Context): Response {
  if (err instanceof ProblemError) return problemResponse(err.status, err.code, err.message, err.issues);
  if (err instanceof Error && err.message.includes(SIGNING_KEY_MISSING_DETAIL)) return problem(503, "signing-key-missing", SIGNING_KEY_MISSING_DETAIL);
  if (err instanceof ZodError) return problem(400, "validation-failed", "request does not match the schema", zodIssues(err));
  if (err instanceof HTTPException) {
    const s = err.status;
    if (s === 413) return problem(413, "payload-too-large", "request body too large");
    if (s === 400 && /malformed json/i.test(err.message)) return problem(400, "malformed-json", "request body is not valid JSON");
    if (s === 400) return problem(400, "bad-request", "bad request");
    if (s === 401) return problem(401, "unauthorized", "unauthorized");
    if (s >= 400 && s < 500) return problem(s as ContentfulStatusCode, "bad-request", err.message || "bad request");
  }
  return problemFor(err, (e) => console.error("coordinator: unhandled error", e));
}
