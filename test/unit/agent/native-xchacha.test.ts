/**
 * OpenSSL-backed XChaCha20-Poly1305 (client/agent/native-xchacha.ts) against noble: identical
 * ciphertexts, round trips, refusal of any tampered byte, and broadcast envelopes sealed with
 * the native backends installed are byte-identical to noble's and open under both.
 */
import { afterEach, describe, expect, it } from "vitest";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { nodeXChaCha20Poly1305 } from "../../../client/agent/native-xchacha.ts";
import { nodeEd25519 } from "../../../client/agent/native-ed25519.ts";
import { identityPublicKey, setNativeEd25519 } from "../../../protocol/crypto/identity.ts";
import { openBroadcast, sealBroadcast, setNativeXChaCha20Poly1305 } from "../../../protocol/crypto/envelope.ts";
import { seededRng } from "../../../protocol/rng.ts";

afterEach(() => { setNativeXChaCha20Poly1305(null); setNativeEd25519(null); });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("node:crypto XChaCha20-Poly1305", () => {
  const rng = seededRng("native-xchacha");

  it("encrypts to noble's bytes and decrypts both ways, for lengths around block boundaries", () => {
    for (const len of [0, 1, 15, 16, 63, 64, 65, 1000, 70_001]) {
      const key = rng.bytes(32), nonce = rng.bytes(24), ad = rng.bytes(len % 50), pt = rng.bytes(len);
      const ours = nodeXChaCha20Poly1305(key, nonce, ad).encrypt(pt);
      expect(hex(ours)).toBe(hex(xchacha20poly1305(key, nonce, ad).encrypt(pt)));
      expect(hex(nodeXChaCha20Poly1305(key, nonce, ad).decrypt(ours))).toBe(hex(pt));
      expect(hex(xchacha20poly1305(key, nonce, ad).decrypt(ours))).toBe(hex(pt));
    }
  });

  it("refuses a flipped ciphertext, tag, AD, nonce or key byte and a short input", () => {
    const key = rng.bytes(32), nonce = rng.bytes(24), ad = rng.bytes(20), pt = rng.bytes(300);
    const ct = nodeXChaCha20Poly1305(key, nonce, ad).encrypt(pt);
    const flip = (b: Uint8Array, i: number) => { const c = b.slice(); c[i] = c[i]! ^ 1; return c; };
    expect(() => nodeXChaCha20Poly1305(key, nonce, ad).decrypt(flip(ct, 5))).toThrow();
    expect(() => nodeXChaCha20Poly1305(key, nonce, ad).decrypt(flip(ct, ct.length - 1))).toThrow();
    expect(() => nodeXChaCha20Poly1305(key, nonce, flip(ad, 0)).decrypt(ct)).toThrow();
    expect(() => nodeXChaCha20Poly1305(key, flip(nonce, 3), ad).decrypt(ct)).toThrow();
    expect(() => nodeXChaCha20Poly1305(key, flip(nonce, 20), ad).decrypt(ct)).toThrow();
    expect(() => nodeXChaCha20Poly1305(flip(key, 31), nonce, ad).decrypt(ct)).toThrow();
    expect(() => nodeXChaCha20Poly1305(key, nonce, ad).decrypt(ct.subarray(0, 15))).toThrow();
    expect(() => nodeXChaCha20Poly1305(key.subarray(0, 16), nonce, ad)).toThrow(RangeError);
    expect(() => nodeXChaCha20Poly1305(key, nonce.subarray(0, 12), ad)).toThrow(RangeError);
  });

  it("broadcast envelopes with both native backends equal noble's bytes and open under both", () => {
    const sk = rng.bytes(32), pk = identityPublicKey(sk);
    const pairKeys = [undefined, rng.bytes(32), rng.bytes(32), rng.bytes(32)];
    const h = { round: 1, attempt: 0, from: 0, seq: 4, jobId: "job-x", phase: "coin.A" };
    const plain = rng.bytes(4096);
    const byNoble = sealBroadcast(h, plain, pairKeys, sk, seededRng("b"));
    setNativeXChaCha20Poly1305(nodeXChaCha20Poly1305);
    setNativeEd25519(nodeEd25519);
    const byNative = sealBroadcast(h, plain, pairKeys, sk, seededRng("b"));
    expect(hex(byNative)).toBe(hex(byNoble));
    const keysOf = (me: number) => pairKeys.map((k, j) => (j === 0 ? pairKeys[me] : k));
    for (const me of [1, 2, 3]) expect(hex(openBroadcast(byNative, { jobId: "job-x", round: 1, attempt: 0, me }, pk, keysOf(me)).payload)).toBe(hex(plain));
    setNativeXChaCha20Poly1305(null);
    setNativeEd25519(null);
    expect(hex(openBroadcast(byNoble, { jobId: "job-x", round: 1, attempt: 0, me: 2 }, pk, keysOf(2)).payload)).toBe(hex(plain));
  });
});
