/**
 * The coordinator's Ed25519 log-signing key, from the Worker secret COORDINATOR_SIGNING_KEY
 * (64 hex characters = 32-byte seed). When the secret is absent — local development and
 * tests only — the key is DERIVED DETERMINISTICALLY from a fixed public string, so anyone can
 * recompute it: never deploy without setting the secret (`wrangler secret put
 * COORDINATOR_SIGNING_KEY`; scripts/dev.mjs writes a random one into .dev.vars).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, toBase64Url, utf8 } from "../protocol/encoding.ts";
import { identityPublicKey } from "../protocol/crypto/identity.ts";
import type { Env } from "./env.ts";

const DEV_SEED_LABEL = "2pm/dev-coordinator-signing-key/v1 (INSECURE: local development only)";

export interface CoordinatorKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  publicKeyB64: string;
  /** True when derived from the public dev label (no secret configured). */
  insecureDevKey: boolean;
}

let cached: { src: string | undefined; key: CoordinatorKey } | undefined;

/** Loads (and caches per isolate) the coordinator key. Throws TypeError on a malformed secret. */
export function coordinatorKey(env: Pick<Env, "COORDINATOR_SIGNING_KEY">): CoordinatorKey {
  const src = env.COORDINATOR_SIGNING_KEY?.trim() || undefined;
  if (cached && cached.src === src) return cached.key;
  let secretKey: Uint8Array;
  if (src) {
    if (!/^[0-9a-fA-F]{64}$/.test(src)) throw new TypeError("COORDINATOR_SIGNING_KEY must be 64 hex characters");
    secretKey = fromHex(src);
  } else {
    secretKey = sha256(utf8(DEV_SEED_LABEL));
  }
  const publicKey = identityPublicKey(secretKey);
  const key = { secretKey, publicKey, publicKeyB64: toBase64Url(publicKey), insecureDevKey: !src };
  cached = { src, key };
  return key;
}
