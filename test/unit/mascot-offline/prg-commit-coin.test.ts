import { describe, expect, it } from "vitest";
import { ctr } from "@noble/ciphers/aes.js";
import { Prg, prgBytes, prgBytesSync, prgField, prgFieldSync, setNativeAesCtr } from "../../../protocol/mascot/prg.ts";
import { nodeAesCtr, uninstallNodeAes } from "../../../client/agent/party-aes.ts";
import { commit, verifyCommitment } from "../../../protocol/crypto/commitment.ts";
import { coinCommit, coinFinish, coinOpenPayload } from "../../../protocol/mascot/coin-toss.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { fromHex, toHex } from "../../../protocol/encoding.ts";

// The portable path is compared here: not the node project's node:crypto setup
// (test/unit/native-crypto.setup.ts).
uninstallNodeAes();

describe("prg", () => {
  it("sync and WebCrypto outputs agree, and equal AES-128-CTR", async () => {
    const rng = seededRng("prg");
    for (const len of [16, 32]) {
      const seed = rng.bytes(len);
      const a = prgBytesSync(seed, 1000);
      const b = await prgBytes(seed, 1000);
      expect(toHex(a)).toBe(toHex(b));
      const iv = len === 32 ? seed.slice(16) : new Uint8Array(16);
      expect(toHex(ctr(seed.slice(0, 16), iv).encrypt(new Uint8Array(1000)))).toBe(toHex(a));
    }
  });
  it("FIPS-197 AES-128 key: first block is E_k(0)", () => {
    // AES-128(000102..0f, 00..00) = c6a13b37878f5b826f4f8162a1c8d879
    expect(toHex(prgBytesSync(fromHex("000102030405060708090a0b0c0d0e0f"), 16))).toBe("c6a13b37878f5b826f4f8162a1c8d879");
  });
  it("streams consecutively and wraps the low 64-bit counter", async () => {
    const seed = new Uint8Array(32).fill(0xff);
    const whole = prgBytesSync(seed, 100);
    const p = new Prg(seed);
    const parts = [p.next(7), p.next(30), p.next(63)];
    expect(toHex(new Uint8Array(parts.flatMap((x) => [...x])))).toBe(toHex(whole));
    expect(toHex(await prgBytes(seed, 100))).toBe(toHex(whole));
  });
  it("background prefetch never changes the stream, whether or not it arrives in time", async () => {
    const seed = seededRng("bg").bytes(16);
    const whole = prgBytesSync(seed, 2000);
    // read before the WebCrypto result arrives (sync fallback), then after (buffered)
    const p = new Prg(seed);
    p.prefetchInBackground(100);
    const a = p.next(40);
    p.prefetchInBackground(500);
    const b = p.nextView(90);
    await new Promise((r) => setTimeout(r, 50));
    const c = p.nextView(300);
    p.prefetchInBackground(64);
    await p.prefetch(1000);
    const d = p.next(1000), e = p.next(570);
    expect(toHex(new Uint8Array([...a, ...b, ...c, ...d, ...e]))).toBe(toHex(whole));
    expect(() => p.prefetchInBackground(-1)).toThrow(RangeError);
  });
  it("a native AES-128-CTR (node:crypto) gives the same streams, across the low-64-bit counter wrap", async () => {
    const rng = seededRng("native");
    // iv low 64 bits = 2^64 − 3: the wrap falls inside the first read
    const near = new Uint8Array(32); near.set(rng.bytes(24)); near.fill(0xff, 24, 31); near[31] = 0xfd;
    const seeds = [rng.bytes(16), rng.bytes(32), new Uint8Array(32).fill(0xff), near];
    const want = seeds.map((s) => prgBytesSync(s, 3000));
    setNativeAesCtr(nodeAesCtr);
    try {
      for (const [i, seed] of seeds.entries()) {
        expect(toHex(prgBytesSync(seed, 3000))).toBe(toHex(want[i]!));
        const p = new Prg(seed);
        p.prefetchInBackground(500); // a no-op with native AES
        await p.prefetch(100);
        const parts = [p.next(7), p.nextView(90), p.next(1), p.next(2902)];
        expect(toHex(new Uint8Array(parts.flatMap((x) => [...x])))).toBe(toHex(want[i]!));
        const q = new Prg(seed); // views of fresh blocks (nothing buffered), then of their tail
        const views = [q.nextView(40), q.nextView(8), q.nextView(2000), q.next(952)];
        expect(toHex(new Uint8Array(views.flatMap((x) => [...x])))).toBe(toHex(want[i]!));
      }
      // the hook is really used: a wrong "AES" changes the stream
      setNativeAesCtr(() => (n) => new Uint8Array(n));
      expect(toHex(prgBytesSync(seeds[0]!, 32))).not.toBe(toHex(want[0]!.subarray(0, 32)));
    } finally {
      setNativeAesCtr(undefined);
    }
    expect(toHex(prgBytesSync(seeds[3]!, 3000))).toBe(toHex(want[3]!));
    expect(() => setNativeAesCtr(42 as unknown as undefined)).toThrow(TypeError);
  });
  it("nextView of fresh blocks equals the stream", () => {
    const seed = new Uint8Array(32).fill(0xff); // wraps the low 64 counter bits after one block
    const whole = prgBytesSync(seed, 600);
    const q = new Prg(seed);
    const views = [q.nextView(17), q.nextView(15), q.nextView(500), q.next(68)];
    expect(toHex(new Uint8Array(views.flatMap((x) => [...x])))).toBe(toHex(whole));
  });
  it("field expansion agrees and rejects bad seeds", async () => {
    const seed = seededRng("f").bytes(32);
    for (const F of [m61, p128]) expect(F.toBigInts(prgFieldSync(F, seed, 20))).toEqual(F.toBigInts(await prgField(F, seed, 20)));
    expect(() => prgBytesSync(new Uint8Array(15), 1)).toThrow(RangeError);
  });
});

describe("commit", () => {
  it("opens with the right nonce only", () => {
    const v = new Uint8Array([1, 2, 3]);
    const { commitment, opening } = commit(v, seededRng("c"));
    expect(verifyCommitment(commitment, v, opening)).toBe(true);
    expect(verifyCommitment(commitment, new Uint8Array([1, 2, 4]), opening)).toBe(false);
    const bad = opening.slice(); bad[0]! ^= 1;
    expect(verifyCommitment(commitment, v, bad)).toBe(false);
    expect(verifyCommitment(commitment.subarray(1), v, opening)).toBe(false);
  });
});

describe("coin toss", () => {
  it("joint seed agrees; a wrong opening is caught and blamed", () => {
    const rng = seededRng("coin");
    const st = [0, 1, 2].map(() => coinCommit(rng));
    const seed = coinFinish(st.map((s) => s.commitment), st.map(coinOpenPayload));
    expect(seed.length).toBe(32);
    const opens = st.map(coinOpenPayload);
    opens[1]![40]! ^= 1;
    try {
      coinFinish(st.map((s) => s.commitment), opens);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolAbort);
      expect((e as ProtocolAbort).code).toBe("commitment-mismatch");
      expect((e as ProtocolAbort).culprits).toEqual([1]);
    }
    expect(() => coinFinish([st[0]!.commitment], [new Uint8Array(3)])).toThrow(ProtocolAbort);
  });
});

describe("prg prefetch", () => {
  it("prefetch (WebCrypto) then next gives the same stream as sync, across wraps and partial blocks", async () => {
    const seed = new Uint8Array(32).fill(0xff); seed[20] = 3;
    const want = prgBytesSync(seed, 500);
    const p = new Prg(seed);
    const a = p.next(5);
    await p.prefetch(100);
    const b = p.next(50);
    await p.prefetch(10); // already buffered
    const c = p.next(200);
    await p.prefetch(300);
    const d = p.next(245);
    expect(toHex(new Uint8Array([...a, ...b, ...c, ...d]))).toBe(toHex(want));
  });
});
