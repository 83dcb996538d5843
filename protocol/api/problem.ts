/**
 * The one error type of every HTTP surface 2PM serves — the coordinator's Worker
 * (functions/errors.ts: `ApiError`), the FHE module's routes (`FheError` and the training
 * routes, client/fhe) and `2pm fhe serve` — and the problem-details JSON (RFC 9457) it becomes.
 * A {@link ProblemError} is a caller's fault with an HTTP status and a stable `code`; anything
 * else thrown by a route is our bug and becomes a bare 500 `internal` without detail.
 */
import type { Problem } from "./schemas.ts";

const TITLES: Record<number, string> = {
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
  413: "Payload Too Large", 415: "Unsupported Media Type", 426: "Upgrade Required", 429: "Too Many Requests", 500: "Internal Server Error",
  503: "Service Unavailable",
};

/** A caller fault: HTTP status (4xx, or 503 for a server that cannot serve yet), stable code, detail for humans. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly issues?: Problem["issues"],
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = "ProblemError";
  }
}

/** The problem-details response for `status` and `code` (`application/problem+json`). */
export function problemResponse(status: number, code: string, detail?: string, issues?: Problem["issues"]): Response {
  const body: Problem = { type: `https://2pm.dev/problems/${code}`, title: TITLES[status] ?? "Error", status, code };
  if (detail !== undefined) body.detail = detail;
  if (issues) body.issues = issues;
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/problem+json" } });
}

/** The bare 500 for an error that is not a caller's fault: no detail, no stack trace. */
export function internalErrorResponse(): Response {
  return new Response(JSON.stringify({ type: "about:blank", title: "Internal Server Error", status: 500, code: "internal" }), {
    status: 500,
    headers: { "content-type": "application/problem+json" },
  });
}

/**
 * The response for anything a route threw: a {@link ProblemError}'s problem details, else
 * `log(err)` and the bare 500. Never throws, never sends a stack trace.
 */
export function problemFor(err: unknown, log: (err: unknown) => void): Response {
  if (err instanceof ProblemError) return problemResponse(err.status, err.code, err.message, err.issues);
  log(err);
  return internalErrorResponse();
}
