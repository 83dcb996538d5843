import { describe, expect, it } from "vitest";
import { ecb } from "@noble/ciphers/aes.js";
import { installNodeAes, nodeAesEcbDecrypt, uninstallNodeAes } from "../../../client/agent/party-aes.ts";
import { permuteAsync, tccrHash, tccrHashAsync } from "../../../protocol/mascot/ot-extension.ts";
import { Prg, nativeAesEcbDecrypt, setNativeAesEcbDecrypt } from "../../../protocol/mascot/prg.ts";
import { cryptoRng } from "../../../protocol/rng.ts";

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
});
