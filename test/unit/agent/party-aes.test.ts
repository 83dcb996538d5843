import { describe, expect, it } from "vitest";
import { ecb } from "@noble/ciphers/aes.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { installNodeAes, nodeAesEcbDecrypt, nodeSha256, uninstallNodeAes } from "../../../client/agent/party-aes.ts";
import { setNativeSha256, sha256, sha256Parts } from "../../../protocol/mascot/hash.ts";
import { ssReceiverSetup, ssSenderSetup } from "../../../protocol/mascot/softspoken.ts";
import { permuteAsync, tccrHash, tccrHashAsync } from "../../../protocol/mascot/ot-extension.ts";
import { Prg, nativeAesEcbDecrypt, setNativeAesEcbDecrypt } from "../../../protocol/mascot/prg.ts";
import { cryptoRng } from "../../../protocol/rng.ts";

// The portable path is compared here: not the node project's node:crypto setup
// (test/unit/native-crypto.setup.ts).
uninstallNodeAes();

/** Runs `f` with node:crypto AES installed (as the party thread does), then removes it. */
async function withNodeAes<T>(f: () => T | Promise<T>): Promise<T> {
  installNodeAes();
  try {
    return await f();
  } finally {
    uninstallNodeAes();
  }
}

describe("party thread's native AES (client/agent/party-aes.ts)", () => {
  it("ECB decryption equals noble's, for one block, many blocks and a reused key", () => {
    const key = cryptoRng.bytes(16);
    for (const blocks of [1, 3, 1000]) {
      const x = cryptoRng.bytes(16 * blocks);
      expect(nodeAesEcbDecrypt(key, x)).toEqual(ecb(key, { disablePadding: true }).decrypt(x));
    }
    expect(nodeAesEcbDecrypt(key, new Uint8Array(0))).toHaveLength(0);
  });

  it("refuses input that is not whole blocks", () => {
    expect(() => nodeAesEcbDecrypt(cryptoRng.bytes(16), new Uint8Array(17))).toThrow(RangeError);
  });

  it("the OT extension's fixed-key π and TMMO hash give the same bytes with it installed (sync and async paths)", async () => {
    const key = cryptoRng.bytes(16), n = 300;
    const rows = new Uint32Array(cryptoRng.bytes(16 * n).buffer);
    const delta = new Uint32Array(cryptoRng.bytes(16).buffer);
    const blocks = cryptoRng.bytes(16 * 77);
    const without = { pi: await permuteAsync(key, blocks), h: tccrHash(key, rows, n, 5, 3, [undefined, delta]), ha: await tccrHashAsync(key, rows, n, 5, 3, [undefined, delta]) };
    expect(without.ha).toEqual(without.h);
    const withNative = await withNodeAes(async () => {
      expect(nativeAesEcbDecrypt()).toBe(nodeAesEcbDecrypt);
      return { pi: await permuteAsync(key, blocks), h: tccrHash(key, rows, n, 5, 3, [undefined, delta]), ha: await tccrHashAsync(key, rows, n, 5, 3, [undefined, delta]) };
    });
    expect(withNative.pi).toEqual(without.pi);
    expect(withNative.pi).toEqual(ecb(key, { disablePadding: true }).decrypt(blocks));
    expect(withNative.h).toEqual(without.h);
    expect(withNative.ha).toEqual(without.h);
    expect(nativeAesEcbDecrypt()).toBeUndefined();
  });

  it("a wrong native π changes the hash (the hook is really used)", async () => {
    const key = cryptoRng.bytes(16), rows = new Uint32Array(cryptoRng.bytes(16 * 8).buffer);
    const honest = tccrHash(key, rows, 8, 0, 1, [undefined]);
    setNativeAesEcbDecrypt((_k, b) => new Uint8Array(b.length));
    try {
      expect(tccrHash(key, rows, 8, 0, 1, [undefined])).not.toEqual(honest);
      expect(await tccrHashAsync(key, rows, 8, 0, 1, [undefined])).not.toEqual(honest);
    } finally {
      setNativeAesEcbDecrypt(undefined);
    }
    expect(() => setNativeAesEcbDecrypt(7 as unknown as undefined)).toThrow(TypeError);
  });

  it("PRG streams read across many sizes equal the JS AES stream with node:crypto installed", async () => {
    const seed = cryptoRng.bytes(32), sizes = [1, 15, 16, 17, 4096, 33, 0, 100000];
    const ref = new Prg(seed), got = await withNodeAes(() => { const p = new Prg(seed); return sizes.map((s) => p.nextView(s).slice()); });
    expect(got).toEqual(sizes.map((s) => ref.next(s)));
  });
  it("node:crypto SHA-256 equals noble's for one part, several parts, empty and large inputs; the protocol's hash uses it once installed", async () => {
    const inputs = [new Uint8Array(0), cryptoRng.bytes(1), cryptoRng.bytes(48), cryptoRng.bytes(64), cryptoRng.bytes(1 << 20)];
    for (const x of inputs) expect(new Uint8Array(nodeSha256([x]))).toEqual(nobleSha256(x));
    const parts = [cryptoRng.bytes(17), new Uint8Array(0), cryptoRng.bytes(100), cryptoRng.bytes(3)];
    const joined = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((o, p) => (joined.set(p, o), o + p.length), 0);
    expect(new Uint8Array(nodeSha256(parts))).toEqual(nobleSha256(joined));
    // several parts beyond the scratch buffer (fed part by part), and the scratch path right after
    const long = [cryptoRng.bytes(2000), cryptoRng.bytes(5)], longJoined = new Uint8Array(2005);
    longJoined.set(long[0]!); longJoined.set(long[1]!, 2000);
    expect(new Uint8Array(nodeSha256(long))).toEqual(nobleSha256(longJoined));
    expect(new Uint8Array(nodeSha256(parts))).toEqual(nobleSha256(joined));
    await withNodeAes(() => {
      for (const x of inputs) expect(sha256(x)).toEqual(nobleSha256(x));
      expect(sha256Parts(...parts)).toEqual(nobleSha256(joined));
      // a fresh array per call: changing one digest never changes another
      const a = sha256(inputs[2]!), b = sha256(inputs[2]!);
      a.fill(0);
      expect(b).toEqual(nobleSha256(inputs[2]!));
      expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype);
    });
    expect(sha256Parts(...parts)).toEqual(nobleSha256(joined)); // uninstalled: noble, same digest
  });

  it("a wrong native SHA-256 is really used (SoftSpokenOT's PPRF check then fails against an honest peer); a wrong length is refused", () => {
    const sid = cryptoRng.bytes(16), k0 = cryptoRng.bytes(16 * 128), k1 = cryptoRng.bytes(16 * 128);
    const delta = new Uint32Array(cryptoRng.bytes(16).slice().buffer);
    const keys = new Uint8Array(16 * 128);
    for (let l = 0; l < 128; l++) keys.set(((delta[l >>> 5]! >>> (l & 31)) & 1 ? k1 : k0).subarray(16 * l, 16 * l + 16), 16 * l);
    const { message } = ssReceiverSetup(sid, { tag: new Uint8Array(32), k0, k1 }, 3, cryptoRng);
    expect(() => ssSenderSetup(sid, { tag: new Uint8Array(32), delta, keys }, 3, message, 1)).not.toThrow();
    setNativeSha256((ps) => { const d = nodeSha256(ps); d[0]! ^= 1; return d; });
    try {
      expect(() => ssSenderSetup(sid, { tag: new Uint8Array(32), delta, keys }, 3, message, 1)).toThrow(/punctured-PRF/);
      setNativeSha256(() => new Uint8Array(31));
      expect(() => sha256(new Uint8Array(1))).toThrow(RangeError);
    } finally {
      setNativeSha256(undefined);
    }
    expect(() => setNativeSha256(1 as never)).toThrow(TypeError);
  });
});
