import { describe, expect, it } from "vitest";
import { assertAcceptableCoordinatorKey, DEV_COORDINATOR_PUBLIC_KEY, devCoordinatorSeed, isDevCoordinatorKey } from "../../../protocol/crypto/dev-key.ts";
import { generateNodeKeys, identityPublicKey } from "../../../protocol/crypto/identity.ts";
import { fromBase64Url, toBase64Url } from "../../../protocol/encoding.ts";
import { cryptoRng } from "../../../protocol/rng.ts";

describe("development coordinator key", () => {
  it("is the Ed25519 key of the published seed label", () => {
    expect(toBase64Url(identityPublicKey(devCoordinatorSeed()))).toBe(DEV_COORDINATOR_PUBLIC_KEY);
    expect(fromBase64Url(DEV_COORDINATOR_PUBLIC_KEY)).toHaveLength(32);
  });

  it("is refused unless explicitly allowed; a random key is accepted", () => {
    const dev = fromBase64Url(DEV_COORDINATOR_PUBLIC_KEY);
    expect(isDevCoordinatorKey(dev)).toBe(true);
    expect(() => assertAcceptableCoordinatorKey(dev, { allowDevKey: false })).toThrow(/DEVELOPMENT key/);
    expect(() => assertAcceptableCoordinatorKey(dev, { allowDevKey: true })).not.toThrow();

    const random = generateNodeKeys(cryptoRng).identityPublicKey;
    expect(isDevCoordinatorKey(random)).toBe(false);
    expect(() => assertAcceptableCoordinatorKey(random, { allowDevKey: false })).not.toThrow();
  });

  it("refuses something that is not a 32-byte public key", () => {
    expect(() => assertAcceptableCoordinatorKey(new Uint8Array(31), { allowDevKey: true })).toThrow(/32-byte/);
    expect(() => assertAcceptableCoordinatorKey(new Uint8Array(0), { allowDevKey: false })).toThrow(/32-byte/);
  });
});
