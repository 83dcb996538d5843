/**
 * The coordinator's Ed25519 log-signing key, from the Worker secret COORDINATOR_SIGNING_KEY
 * (64 hex characters = 32-byte seed).
 *
 * There is no silent fallback. Without the secret the key is missing, and every route or
 * Durable Object that needs it fails with 503 `signing-key-missing` — except when the binding
 * `DEV_INSECURE_SIGNING_KEY === "1"` is set (the workerd test pool, vitest.config.ts): then the
 * PUBLIC development key of protocol/crypto/dev-key.ts is used, whose secret anyone can
 * recompute, and `GET /v1/coordinator/key` says `insecureDevKey: true`. Nodes refuse that key
 * (assertAcceptableCoordinatorKey). `npm run dev` writes a random secret into .dev.vars and the
 * local coordinator of the e2e tests, demo and benchmarks (scripts/lib/coordinator.ts) passes
 * a fresh random one per start, so neither needs the development key.
 */
import type { MiddlewareHandler } from "hono";
import { fromHex, toBase64Url } from "../protocol/encoding.ts";
import { identityPublicKey } from "../protocol/crypto/identity.ts";
import { devCoordinatorSeed } from "../protocol/crypto/dev-key.ts";
import { ApiError, SIGNING_KEY_MISSING_DETAIL } from "./errors.ts";
import type { AppEnv, Env } from "./env.ts";

export interface CoordinatorKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  publicKeyB64: string;
  /** True when this is the public development key (DEV_INSECURE_SIGNING_KEY=1, no secret). */
  insecureDevKey: boolean;
}

let cached: { src: string; key: CoordinatorKey } | undefined;

/**
 * Loads (and caches per isolate) the coordinator key. Throws ApiError 503
 * `signing-key-missing` when no secret is configured and the development key is not enabled,
 * or when the secret is malformed.
 */
export function coordinatorKey(env: Pick<Env, "COORDINATOR_SIGNING_KEY" | "DEV_INSECURE_SIGNING_KEY">): CoordinatorKey {
  const secret = env.COORDINATOR_SIGNING_KEY?.trim() || undefined;
  const dev = !secret && env.DEV_INSECURE_SIGNING_KEY === "1";
  if (!secret && !dev) throw new ApiError(503, "signing-key-missing", SIGNING_KEY_MISSING_DETAIL);
  const src = secret ?? "dev";
  if (cached && cached.src === src) return cached.key;
  let secretKey: Uint8Array;
  if (secret) {
    if (!/^[0-9a-fA-F]{64}$/.test(secret)) throw new ApiError(503, "signing-key-missing", `${SIGNING_KEY_MISSING_DETAIL} (the configured value is not 64 hex characters)`);
    secretKey = fromHex(secret);
  } else {
    secretKey = devCoordinatorSeed();
  }
  const publicKey = identityPublicKey(secretKey);
  const key = { secretKey, publicKey, publicKeyB64: toBase64Url(publicKey), insecureDevKey: dev };
  cached = { src, key };
  return key;
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
