/**
 * Problem details (RFC 9457) on both sides of every HTTP surface 2PM serves — the coordinator's
 * Worker, its FHE routes and `2pm fhe serve`.
 *
 * Server side, one error type: a {@link ProblemError} is a caller's fault with an HTTP status
 * and a stable `code` (`ApiError` in functions/errors.ts and the FHE module's `FheError` extend
 * it); anything else thrown by a route is our bug and becomes a bare 500 `internal` without
 * detail. Client side, one error type: {@link ApiClientError}, a non-2xx answer with the
 * problem's code, built by {@link ensureOk} (the API client, the querier's inference
 * transport, the owner's training client).
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

/**
 * A non-2xx answer, carrying its problem-details `code`, status and detail — or a check of the
 * client's own on what the server sent (status 0: `log-invalid`, `model-hash-mismatch`).
 */
export class ApiClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly problem?: Problem,
    server = "coordinator",
  ) {
    super(`${server} answered ${status} ${code}${detail ? `: ${detail}` : ""}`);
    this.name = "ApiClientError";
  }
}

/**
 * Returns `res` when it is 2xx; otherwise throws ApiClientError built from its problem details
 * (`http-error` and the status text when the body is not problem JSON). `server` names the
 * answering side in the message ("coordinator", "training server").
 */
export async function ensureOk<R extends Pick<Response, "ok" | "status" | "statusText" | "json">>(res: R, server?: string): Promise<R> {
  if (res.ok) return res;
  let p: Partial<Problem> | undefined;
  try {
    p = (await res.json()) as Partial<Problem>;
  } catch {
    /* not JSON */
  }
  const problem = p && typeof p.code === "string" ? (p as Problem) : undefined;
  throw new ApiClientError(res.status, problem?.code ?? "http-error", problem?.detail ?? problem?.title ?? res.statusText, problem, server);
}
