/**
 * The coordinator's log-signing key for the routes (protocol/crypto/coordinator-key.ts: from the
 * Worker secret COORDINATOR_SIGNING_KEY, the public development key only with
 * DEV_INSECURE_SIGNING_KEY=1), its absence as 503 `signing-key-missing`.
 */
import type { MiddlewareHandler } from "hono";
import { coordinatorKey as loadCoordinatorKey, SigningKeyMissing, type CoordinatorKey, type SigningKeyConfig } from "../protocol/crypto/coordinator-key.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./env.ts";

/** The coordinator key. Throws ApiError 503 `signing-key-missing` when none is configured or the secret is malformed. */
export function coordinatorKey(env: SigningKeyConfig): CoordinatorKey {
  try {
    return loadCoordinatorKey(env);
  } catch (e) {
    if (e instanceof SigningKeyMissing) throw new ApiError(503, "signing-key-missing", e.message);
    throw e;
  }
}

/**
 * Middleware (mounted on /v1/jobs/*): requests that make the JobDO sign log entries — every
 * POST and PUT (job submission, cancellation, model upload) — fail with 503
 * `signing-key-missing` before anything is written. Reads pass through.
 */
export const requireSigningKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === "POST" || c.req.method === "PUT") coordinatorKey(c.env);
  await next();
};
