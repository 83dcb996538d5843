/**
 * The coordinator's DEVELOPMENT log-signing key. Its seed is SHA-256 of a published label, so
 * anyone can recompute its secret half and forge a log signed with it. The Worker uses it only
 * when the binding `DEV_INSECURE_SIGNING_KEY === "1"` is set and no `COORDINATOR_SIGNING_KEY`
 * secret is configured (the workerd test pool); everywhere else the key is missing and the
 * coordinator refuses to sign (503 `signing-key-missing`).
 *
 * Nodes refuse a coordinator that presents this key ({@link assertAcceptableCoordinatorKey}),
 * unless told otherwise for local development. Pure: no I/O, no Workers or Node APIs.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, fromBase64Url, utf8 } from "../encoding.ts";

/** The public label the development seed is derived from. */
export const DEV_COORDINATOR_SEED_LABEL = "2pm/dev-coordinator-signing-key/v1 (INSECURE: local development only)";

/**
 * Public half of the development key, base64url (Ed25519 public key of
 * SHA-256({@link DEV_COORDINATOR_SEED_LABEL}); test/unit/crypto/dev-key.test.ts re-derives it).
 */
export const DEV_COORDINATOR_PUBLIC_KEY = "EEiEsgx7lSOrG2Sm1FXo_PxRyY3HxyLW758Uib9ZDpU";

/** The development key's Ed25519 seed (its secret half: public by construction). */
export function devCoordinatorSeed(): Uint8Array {
  return sha256(utf8(DEV_COORDINATOR_SEED_LABEL));
}

/** True if `key` is the development coordinator key. */
export function isDevCoordinatorKey(key: Uint8Array): boolean {
  return bytesEqual(key, fromBase64Url(DEV_COORDINATOR_PUBLIC_KEY));
}

/**
 * Throws an Error naming the problem if `key` cannot be a coordinator's log-signing key a node
 * should trust: not a 32-byte Ed25519 public key, or the public development key (unless
 * `allowDevKey`, for local development and tests).
 */
export function assertAcceptableCoordinatorKey(key: Uint8Array, opts: { allowDevKey: boolean }): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new Error(`the coordinator's log-signing key must be a 32-byte Ed25519 public key, got ${key instanceof Uint8Array ? `${key.length} bytes` : typeof key}`);
  }
  if (!opts.allowDevKey && isDevCoordinatorKey(key)) {
    throw new Error(
      `the coordinator signs its transparency log with the public DEVELOPMENT key (${DEV_COORDINATOR_PUBLIC_KEY}), ` +
        "whose secret half anyone can derive, so its log proves nothing; refusing it (the coordinator must set COORDINATOR_SIGNING_KEY)",
    );
  }
}
