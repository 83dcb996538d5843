import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { afterEach, describe, expect, it } from "vitest";
import { SHA256_SHORT_MAX, sha256Short } from "../../../protocol/mascot/sha256-short.ts";
import { setNativeSha256, sha256, sha256Parts } from "../../../protocol/mascot/hash.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { nodeSha256 } from "../../../client/agent/party-aes.ts";

const rng = seededRng("sha256-short");

describe("sha256Short (protocol/mascot/sha256-short.ts)", () => {
  afterEach(() => setNativeSha256(undefined));

  it("equals SHA-256 for every length 0..119, in one part and split into three", () => {
    for (let n = 0; n <= SHA256_SHORT_MAX; n++) {
      const m = rng.bytes(n);
      const want = nobleSha256(m);
      expect(sha256Short([m])).toEqual(want);
      const a = Math.floor(n / 3), b = Math.floor((2 * n) / 3);
      expect(sha256Short([m.subarray(0, a), m.subarray(a, b), m.subarray(b)])).toEqual(want);
    }
  });

  it("FIPS 180-4 examples: \"abc\" and the 56-byte two-block message", () => {
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    expect(hex(sha256Short([new TextEncoder().encode("abc")]))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256Short([new TextEncoder().encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")]))).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("returns a fresh array each call (no shared scratch) and refuses more than 119 bytes", () => {
    const a = sha256Short([Uint8Array.of(1)]), b = sha256Short([Uint8Array.of(2)]);
    expect(a).not.toEqual(b);
    expect(a).toEqual(nobleSha256(Uint8Array.of(1)));
    expect(() => sha256Short([new Uint8Array(SHA256_SHORT_MAX + 1)])).toThrow(RangeError);
    expect(() => sha256Short([new Uint8Array(60), new Uint8Array(60)])).toThrow(RangeError);
  });

  it("hash.ts: without a native hash short inputs come here (same digests); an installed native hash gets every input", () => {
    const short = rng.bytes(SHA256_SHORT_MAX), long = rng.bytes(SHA256_SHORT_MAX + 1);
    expect(sha256(short)).toEqual(nobleSha256(short));
    expect(sha256Parts(short.subarray(0, 7), short.subarray(7))).toEqual(nobleSha256(short));
    expect(sha256(long)).toEqual(nobleSha256(long));
    const calls: number[] = [];
    setNativeSha256((parts) => { let n = 0; for (const p of parts) n += p.length; calls.push(n); return nobleSha256(Uint8Array.from(parts.flatMap((p) => Array.from(p)))); });
    expect(sha256(short)).toEqual(nobleSha256(short));
    expect(sha256Parts(long.subarray(0, 50), long.subarray(50))).toEqual(nobleSha256(long));
    expect(calls).toEqual([SHA256_SHORT_MAX, SHA256_SHORT_MAX + 1]);
  });

  it("the node party thread's hash (party-aes.ts nodeSha256) takes short inputs here and long ones to node:crypto, same digests at the boundary", () => {
    for (const n of [0, 1, 55, 56, 63, 64, 119, 120, 200, 1024, 1025, 5000]) {
      const m = rng.bytes(n);
      expect(new Uint8Array(nodeSha256([m]))).toEqual(nobleSha256(m));
      expect(new Uint8Array(nodeSha256([m.subarray(0, n >> 1), m.subarray(n >> 1)]))).toEqual(nobleSha256(m));
    }
  });
});
