/**
 * The coordinator's Ed25519 log-signing key, from its configuration: the Worker secret
 * COORDINATOR_SIGNING_KEY (64 hex characters = 32-byte seed).
 *
 * There is no silent fallback. Without the secret the key is missing ({@link SigningKeyMissing};
 * the Worker answers 503 `signing-key-missing`) — except when `DEV_INSECURE_SIGNING_KEY === "1"`
 * (the workerd test pool, vitest.config.ts): then the PUBLIC development key of ./dev-key.ts is
 * used, whose secret anyone can recompute, and `GET /v1/coordinator/key` says
 * `insecureDevKey: true`. Nodes refuse that key (assertAcceptableCoordinatorKey). `npm run dev`
 * writes a random secret into .dev.vars and the local coordinator of the e2e tests, demo and
 * benchmarks (scripts/lib/coordinator.ts) passes a fresh random one per start.
 *
 * Pure: the JobDO signs with it, functions/keys.ts serves it; no Workers or Node APIs.
 */
import { fromHex, toBase64Url } from "../encoding.ts";
import { identityPublicKey } from "./identity.ts";
import { devCoordinatorSeed } from "./dev-key.ts";

/**
 * Message of {@link SigningKeyMissing}. An error thrown in a Durable Object keeps only its
 * message across RPC, so the Worker's error boundary recognises the problem by it.
 */
export const SIGNING_KEY_MISSING_DETAIL =
  "the coordinator has no log-signing key: set the Worker secret COORDINATOR_SIGNING_KEY (DEV_INSECURE_SIGNING_KEY=1 allows the public development key, for local development and tests only)";

/** No usable signing key is configured. */
export class SigningKeyMissing extends Error {
  constructor(detail = SIGNING_KEY_MISSING_DETAIL) {
    super(detail);
    this.name = "SigningKeyMissing";
  }
}

export interface CoordinatorKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  publicKeyB64: string;
  /** True when this is the public development key (DEV_INSECURE_SIGNING_KEY=1, no secret). */
  insecureDevKey: boolean;
}

/** The configuration values the key comes from (Worker bindings). */
export interface SigningKeyConfig {
  COORDINATOR_SIGNING_KEY?: string;
  DEV_INSECURE_SIGNING_KEY?: string;
}

let cached: { src: string; key: CoordinatorKey } | undefined;

/**
 * Loads (and caches per isolate) the coordinator key. Throws SigningKeyMissing when no secret
 * is configured and the development key is not enabled, or when the secret is malformed.
 */
export function coordinatorKey(config: SigningKeyConfig): CoordinatorKey {
  const secret = config.COORDINATOR_SIGNING_KEY?.trim() || undefined;
  const dev = !secret && config.DEV_INSECURE_SIGNING_KEY === "1";
  if (!secret && !dev) throw new SigningKeyMissing();
  const src = secret ?? "dev";
  if (cached && cached.src === src) return cached.key;
  let secretKey: Uint8Array;
  if (secret) {
    if (!/^[0-9a-fA-F]{64}$/.test(secret)) throw new SigningKeyMissing(`${SIGNING_KEY_MISSING_DETAIL} (the configured value is not 64 hex characters)`);
    secretKey = fromHex(secret);
  } else {
    secretKey = devCoordinatorSeed();
  }
  const publicKey = identityPublicKey(secretKey);
  const key = { secretKey, publicKey, publicKeyB64: toBase64Url(publicKey), insecureDevKey: dev };
  cached = { src, key };
  return key;
}
