/**
 * The one error type of the API client: a non-2xx answer from the coordinator, carrying its
 * problem-details `code` (functions/errors.ts), status and detail — or a check of ours on
 * what the coordinator sent (status 0: `log-invalid`, `model-hash-mismatch`).
 */
import type { Problem } from "../../protocol/api/schemas.ts";

export class ApiClientError extends Error {
  constructor(readonly status: number, readonly code: string, readonly detail: string, readonly problem?: Problem) {
    super(`coordinator answered ${status} ${code}${detail ? `: ${detail}` : ""}`);
    this.name = "ApiClientError";
  }
}

/**
 * Returns `res` when it is 2xx; otherwise throws ApiClientError built from its problem
 * details (`http-error` and the status text when the body is not problem JSON).
 */
export async function ensureOk<R extends Pick<Response, "ok" | "status" | "statusText" | "json">>(res: R): Promise<R> {
  if (res.ok) return res;
  let p: Partial<Problem> | undefined;
  try { p = (await res.json()) as Partial<Problem>; } catch { /* not JSON */ }
  const problem = p && typeof p.code === "string" ? (p as Problem) : undefined;
  throw new ApiClientError(res.status, problem?.code ?? "http-error", problem?.detail ?? problem?.title ?? res.statusText, problem);
}
