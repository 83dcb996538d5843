/**
 * The offline setup's base OT (protocol/mascot/base-ot-mrr.ts): correctness on every X25519
 * backend (noble, node:crypto, WebCrypto) with identical messages and keys, the known-answer
 * vector, the curve constants, the receiver's uniformity (the torsion it adds is what hides
 * the choice from a sender that tests subgroup membership), and the checks: bad encodings,
 * points off their curve, low-order points from either side, a sender whose A has torsion,
 * replayed and misplaced messages, reused states.
 */
import { afterEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { seededRng } from "../../../protocol/rng.ts";
import { concatBytes, fromHex, toHex, utf8 } from "../../../protocol/encoding.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import {
  LOW_ORDER_U, liftEven, montAdd, MRR_GENERATORS, mrrPopfHash, mrrPrepare, mrrPrepareAsync, mrrReceive, mrrReceiveAsync, mrrSenderFinish, mrrSenderFinishAsync,
  mrrSenderStart, mrrSenderStartAsync, torsionTable,
} from "../../../protocol/mascot/base-ot-mrr.ts";
import {
  forceX25519BackendForTests, P25519, uFromBytes, uToBytes, x25519AsyncBackend, x25519Many, x25519SyncBackend, type X25519BackendName,
} from "../../../protocol/crypto/x25519.ts";
import { buildBaseOtMrrVectors } from "../../vectors/mascot/generate-base-ot-mrr.ts";

const ELL = 2n ** 252n + 27742317777372353535851937790883648493n;
const ELL_TWIST = 2n ** 253n - 55484635554744707071703875581767296995n;
const SID = utf8("test/base-ot-mrr");

function choicesOf(m: number, seed: string): Uint8Array {
  return seededRng(seed).bytes(m).map((b) => b & 1);
}

function key(flat: Uint8Array, i: number): string {
  return toHex(flat.subarray(16 * i, 16 * i + 16));
}

function abortOf(f: () => unknown): string {
  try { f(); } catch (e) { if (e instanceof ProtocolAbort) return `${e.code}:${e.culprits.join(",")}`; throw e; }
  return "none";
}

async function abortOfAsync(f: () => Promise<unknown>): Promise<string> {
  try { await f(); } catch (e) { if (e instanceof ProtocolAbort) return `${e.code}:${e.culprits.join(",")}`; throw e; }
  return "none";
}

/** x-only Montgomery ladder with an unclamped scalar (what a curious sender can run): u(n·P), −1n for the point at infinity. */
function ladder(n: bigint, u: bigint): bigint {
  const p = P25519, a24 = 121665n;
  const md = (x: bigint) => ((x % p) + p) % p;
  let x2 = 1n, z2 = 0n, x3 = u, z3 = 1n;
  for (let t = BigInt(n.toString(2).length - 1); t >= 0n; t--) {
    const bit = (n >> t) & 1n;
    if (bit) { [x2, x3] = [x3, x2]; [z2, z3] = [z3, z2]; }
    const A = md(x2 + z2), AA = md(A * A), B = md(x2 - z2), BB = md(B * B), E = md(AA - BB);
    const C = md(x3 + z3), D = md(x3 - z3), DA = md(D * A), CB = md(C * B);
    x3 = md((DA + CB) ** 2n); z3 = md(u * md((DA - CB) ** 2n));
    x2 = md(AA * BB); z2 = md(E * md(AA + a24 * E));
    if (bit) { [x2, x3] = [x3, x2]; [z2, z3] = [z3, z2]; }
  }
  return z2 === 0n ? -1n : md(x2 * powMod(z2, p - 2n, p));
}

function powMod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n, x = b % m, k = e;
  while (k > 0n) { if (k & 1n) r = (r * x) % m; x = (x * x) % m; k >>= 1n; }
  return r;
}

/** Is u on the twist (f(u) a non-square)? */
function onTwist(u: bigint): boolean {
  const f = (((u * u) % P25519 + 486662n * u + 1n) * u) % P25519;
  return powMod(f, (P25519 - 1n) / 2n, P25519) === P25519 - 1n;
}

/** Does u lie in the prime-order subgroup of its curve (the test a sender could run on Y_0, Y_1)? */
function inPrimeSubgroup(u: bigint): boolean {
  return ladder(onTwist(u) ? ELL_TWIST : ELL, u) === -1n;
}

afterEach(() => forceX25519BackendForTests(undefined));

describe("base OT: MRR21 POPF-OT on X25519 (base-ot-mrr.ts)", () => {
  it("curve constants: G_0 on the curve, G_1 on the twist, T_0 of order 8, T_1 of order 4, low-order u give X = 0", () => {
    expect(onTwist(uFromBytes(MRR_GENERATORS[0]))).toBe(false);
    expect(onTwist(uFromBytes(MRR_GENERATORS[1]))).toBe(true);
    for (const [z, h, B] of [[0, 8, 1n], [1, 4, 2n]] as const) {
      const T = torsionTable(z);
      expect(T.length).toBe(h);
      let acc: ReturnType<typeof montAdd> = null;
      for (let k = 1; k <= h; k++) {
        acc = montAdd(B, acc, T[1]!);
        if (k < h) expect(acc).not.toBeNull(); else expect(acc).toBeNull();
        if (k < h) expect(acc).toEqual(T[k]);
      }
    }
    const r = x25519Many([{ scalar: seededRng("lo").bytes(32), us: LOW_ORDER_U.map(uToBytes) }])[0]!;
    expect(r.every((x) => x === null)).toBe(true);
  });

  for (const backend of ["noble", "node-crypto", "webcrypto"] as const satisfies readonly X25519BackendName[]) {
    it(`${backend}: the receiver gets exactly k_c; sync and async give the same messages and keys`, async () => {
      forceX25519BackendForTests(backend);
      const m = backend === "noble" ? 24 : 128, c = choicesOf(m, "c");
      const s = await mrrSenderStartAsync(SID, seededRng("s"));
      const r = await mrrReceiveAsync(SID, c, s.message, seededRng("r"), 0);
      const f = await mrrSenderFinishAsync(s.state, r.message, m, 1);
      for (let i = 0; i < m; i++) {
        expect(key(r.keys, i)).toBe(key(c[i] ? f.k1 : f.k0, i));
        expect(key(r.keys, i)).not.toBe(key(c[i] ? f.k0 : f.k1, i));
      }
      forceX25519BackendForTests("noble");
      const s2 = mrrSenderStart(SID, seededRng("s"));
      const r2 = mrrReceive(SID, c, s2.message, seededRng("r"), 0);
      const f2 = mrrSenderFinish(s2.state, r2.message, m, 1);
      expect([toHex(s2.message), toHex(r2.message), toHex(r2.keys), toHex(f2.k0), toHex(f2.k1)])
        .toEqual([toHex(s.message), toHex(r.message), toHex(r.keys), toHex(f.k0), toHex(f.k1)]);
    });
  }

  for (const backend of ["noble", "node-crypto", "webcrypto"] as const satisfies readonly X25519BackendName[]) {
    it(`${backend}: receiver halves prepared ahead (mrrPrepare) give exactly k_c, and φ programs exactly the prepared y_i`, async () => {
      forceX25519BackendForTests(backend);
      const m = backend === "noble" ? 16 : 128, c = choicesOf(m, "c-pre");
      const pre = await mrrPrepareAsync(m, seededRng("pre"));
      forceX25519BackendForTests("noble");
      // same draws, same points on the sync path
      expect(mrrPrepare(m, seededRng("pre")).map((p) => toHex(p.y) + p.z + toHex(p.b))).toEqual(pre.map((p) => toHex(p.y) + p.z + toHex(p.b)));
      forceX25519BackendForTests(backend);
      const s = await mrrSenderStartAsync(SID, seededRng("s"));
      const r = await mrrReceiveAsync(SID, c, s.message, seededRng("r"), 0, pre);
      const f = await mrrSenderFinishAsync(s.state, r.message, m, 1);
      for (let i = 0; i < m; i++) {
        expect(key(r.keys, i)).toBe(key(c[i] ? f.k1 : f.k0, i));
        expect(key(r.keys, i)).not.toBe(key(c[i] ? f.k0 : f.k1, i));
        const t = r.message.subarray(64 * i, 64 * i + 32), s1 = r.message.subarray(64 * i + 32, 64 * i + 64);
        const si = s1.map((x, j) => x ^ (c[i] ? t[j]! : 0));
        expect(toHex(t.map((x, j) => x ^ mrrPopfHash(SID, i, c[i]!, si)[j]!))).toBe(toHex(pre[i]!.y));
      }
      const r2 = mrrReceive(SID, c, s.message, seededRng("r"), 0, pre);
      expect([toHex(r2.message), toHex(r2.keys)]).toEqual([toHex(r.message), toHex(r.keys)]);
    });
  }

  it("prepared halves: a count that does not match the OTs, a malformed half or a bad count is a RangeError; a bad A still aborts naming the sender", async () => {
    const pre = mrrPrepare(8, seededRng("pre-bad"));
    const s = mrrSenderStart(SID, seededRng("s"));
    expect(() => mrrReceive(SID, choicesOf(9, "c"), s.message, seededRng("r"), 0, pre)).toThrow(RangeError);
    expect(() => mrrReceive(SID, choicesOf(8, "c"), s.message, seededRng("r"), 0, [...pre.slice(1), { ...pre[0]!, y: new Uint8Array(31) }])).toThrow(RangeError);
    expect(() => mrrPrepare(-1, seededRng("x"))).toThrow(RangeError);
    expect(() => mrrPrepare(1.5, seededRng("x"))).toThrow(RangeError);
    const badA = concatBytes(uToBytes(LOW_ORDER_U[1]!), s.message.subarray(32));
    expect(abortOf(() => mrrReceive(SID, choicesOf(8, "c"), badA, seededRng("r"), 3, pre))).toBe("bad-encoding:3");
    expect(await abortOfAsync(() => mrrReceiveAsync(SID, choicesOf(8, "c"), badA, seededRng("r"), 3, pre))).toBe("bad-encoding:3");
  });

  it("backend choice: node:crypto in Node for both paths", async () => {
    expect(x25519SyncBackend()).toBe("node-crypto");
    expect(await x25519AsyncBackend()).toBe("node-crypto");
    forceX25519BackendForTests("webcrypto");
    expect(await x25519AsyncBackend()).toBe("webcrypto");
  });

  it("node:crypto keeps the key imported for a scalar array (a prepared half's b_i): same products as noble, and a scalar changed in place is imported again", () => {
    const rng = seededRng("x25519-key-cache");
    const scalar = rng.bytes(32);
    const us = [MRR_GENERATORS[0]!, MRR_GENERATORS[1]!];
    const noble = (k: Uint8Array) => { forceX25519BackendForTests("noble"); try { return x25519Many([{ scalar: k.slice(), us }]); } finally { forceX25519BackendForTests(undefined); } };
    const first = x25519Many([{ scalar, us }]);
    expect(first.map((r) => r.map((x) => toHex(x!)))).toEqual(noble(scalar).map((r) => r.map((x) => toHex(x!))));
    expect(x25519Many([{ scalar, us }])).toEqual(first); // the kept key: same products
    scalar.set(rng.bytes(32)); // same array, other bytes: the kept key must not be used
    const second = x25519Many([{ scalar, us }]);
    expect(second).not.toEqual(first);
    expect(second.map((r) => r.map((x) => toHex(x!)))).toEqual(noble(scalar).map((r) => r.map((x) => toHex(x!))));
  });

  it("known-answer vector (test/vectors/mascot/base-ot-mrr.json) recomputes exactly, on every backend", async () => {
    const file = JSON.parse(readFileSync(path.join(import.meta.dirname, "../../vectors/mascot/base-ot-mrr.json"), "utf8"));
    expect(file).toEqual(JSON.parse(JSON.stringify(buildBaseOtMrrVectors()["base-ot-mrr.json"])));
    const sid = fromHex(file.sid), choices = Uint8Array.from(file.choices as number[]);
    for (const backend of ["noble", "node-crypto", "webcrypto"] as const) {
      forceX25519BackendForTests(backend);
      const rng = seededRng("vectors/base-ot-mrr");
      const s = await mrrSenderStartAsync(sid, rng);
      const r = await mrrReceiveAsync(sid, choices, s.message, rng, 0);
      const f = await mrrSenderFinishAsync(s.state, r.message, choices.length, 1);
      expect([toHex(s.message), toHex(r.message), toHex(r.keys), toHex(f.k0), toHex(f.k1)]).toEqual([file.A, file.receiverMessage, file.receiverKeys, file.k0, file.k1]);
    }
    // Independent of the generator: the torsion point is on its curve, y = u(P + k·T) is what the POPF hides.
    for (const o of file.ots) {
      const B = o.z === 0 ? 1n : 2n;
      const P = liftEven(B, uFromBytes(fromHex(o.P)))!;
      expect(P.v.toString()).toBe(o.Pv);
      const y = fromHex(o.y);
      expect(y[31]! >> 7).toBe(o.r);
      expect(toHex(fromHex(o.t).map((x, j) => x ^ mrrPopfHash(sid, file.ots.indexOf(o), o.c, fromHex(o.s))[j]!))).toBe(o.y);
    }
  });

  it("the receiver's string is uniform: its y_c lies in the prime-order subgroup no more often than a random string (3/16), so a sender testing Y_0, Y_1 learns nothing", () => {
    const m = 96, c = choicesOf(m, "u");
    const s = mrrSenderStart(SID, seededRng("su"));
    const r = mrrReceive(SID, c, s.message, seededRng("ru"), 0);
    let primeC = 0, twistC = 0, top = 0, guessed = 0;
    for (let i = 0; i < m; i++) {
      const phi = r.message.subarray(64 * i, 64 * i + 64), t = phi.subarray(0, 32), s1 = phi.subarray(32);
      const Y = [0, 1].map((x) => t.map((b, j) => b ^ mrrPopfHash(SID, i, x, x ? s1.map((q, k) => q ^ t[k]!) : s1)[j]!));
      const yc = Y[c[i]!]!;
      const u = uFromBytes(yc);
      if (inPrimeSubgroup(u)) primeC++;
      if (onTwist(u)) twistC++;
      top += yc[31]! >> 7;
      // The sender's best subgroup test: guess c = the x whose Y_x is in the prime-order subgroup.
      const p0 = inPrimeSubgroup(uFromBytes(Y[0]!)), p1 = inPrimeSubgroup(uFromBytes(Y[1]!));
      if (p0 !== p1 && (p1 ? 1 : 0) === c[i]) guessed++;
    }
    // Without the torsion every y_c would be in the prime-order subgroup (and the guess right every time).
    expect(primeC).toBeLessThan(m / 3);
    expect(guessed).toBeLessThan(m / 3);
    expect(twistC).toBeGreaterThan(m / 4); expect(twistC).toBeLessThan((3 * m) / 4);
    expect(top).toBeGreaterThan(m / 4); expect(top).toBeLessThan((3 * m) / 4);
  });

  it("the receiver rejects a bad A: wrong length, non-canonical, swapped curves, low order — naming the sender", async () => {
    const s = mrrSenderStart(SID, seededRng("bad-a"));
    const A = s.message, c = choicesOf(4, "ba");
    const recv = (a: Uint8Array) => abortOf(() => mrrReceive(SID, c, a, seededRng("x"), 3));
    expect(recv(A)).toBe("none");
    expect(recv(A.subarray(0, 63))).toBe("bad-encoding:3");
    expect(recv(concatBytes(A, new Uint8Array(1)))).toBe("bad-encoding:3");
    const top = A.slice(); top[31]! |= 0x80; // bit 255 set
    expect(recv(top)).toBe("bad-encoding:3");
    const big = A.slice(); big.set(uToBytes(P25519 - 1n), 0); big.set(new Uint8Array(32).fill(0xff).map((x, i) => (i === 31 ? 0x7f : i === 0 ? 0xed + 1 : x)), 0); // p + 1 (non-canonical 1)
    expect(recv(big)).toBe("bad-encoding:3");
    expect(recv(concatBytes(A.subarray(32), A.subarray(0, 32)))).toBe("bad-encoding:3"); // A_0 on the twist, A_1 on the curve
    for (const lo of LOW_ORDER_U) {
      for (const z of [0, 1]) {
        const bad = A.slice(); bad.set(uToBytes(lo), 32 * z);
        expect(recv(bad)).toBe("bad-encoding:3");
        expect(await abortOfAsync(() => mrrReceiveAsync(SID, c, bad, seededRng("x"), 3))).toBe("bad-encoding:3");
      }
    }
    expect(() => mrrReceive(SID, Uint8Array.of(2), A, seededRng("x"), 3)).toThrow(RangeError);
  });

  it("a sender whose A has torsion neither changes the receiver's message nor its keys (the clamped b kills it)", () => {
    const s = mrrSenderStart(SID, seededRng("tor"));
    const c = choicesOf(32, "tc");
    const honest = mrrReceive(SID, c, s.message, seededRng("tr"), 0);
    // A_z + (0,0): u ↦ 1/u on either curve (stays on it, order ×2).
    const inv = (b: Uint8Array) => uToBytes(powMod(uFromBytes(b), P25519 - 2n, P25519));
    const twisted = concatBytes(inv(s.message.subarray(0, 32)), inv(s.message.subarray(32)));
    expect(toHex(twisted)).not.toBe(toHex(s.message));
    const r = mrrReceive(SID, c, twisted, seededRng("tr"), 0);
    expect(toHex(r.message)).toBe(toHex(honest.message));
    // The keys bind A, so they differ from the honest run's, but K = X(b, A_z + T) = X(b, A_z): the sender's keys (bound to the same A) match.
    const f = mrrSenderFinish({ ...s.state, A: twisted, used: false }, r.message, 32, 1);
    for (let i = 0; i < 32; i++) expect(key(r.keys, i)).toBe(key(c[i] ? f.k1 : f.k0, i));
  });

  it("the sender rejects a wrong-length φ and any φ that evaluates to a low-order point, naming the receiver", async () => {
    for (const lo of [0n, 1n, P25519 - 1n, LOW_ORDER_U[3]!]) {
      for (const x of [0, 1]) {
        const s = mrrSenderStart(SID, seededRng("lo-s"));
        const r = mrrReceive(SID, choicesOf(3, "lo"), s.message, seededRng("lo-r"), 0);
        // Program OT 1 so that Y_x = lo: t = lo ⊕ H(sid, 1, x, s'_x) with s'_x = s1 ⊕ x·t — pick s1 = 0, x = 0 (t free) or solve for x = 1 via s1 = t.
        const phi = r.message.slice(), s1 = new Uint8Array(32);
        const target = uToBytes(lo);
        if (x === 0) {
          phi.set(target.map((b, j) => b ^ mrrPopfHash(SID, 1, 0, s1)[j]!), 64);
          phi.set(s1, 96);
        } else {
          // s'_1 = s1 ⊕ t = 0 ⇒ s1 = t; t = lo ⊕ H(sid, 1, 1, 0).
          const t = target.map((b, j) => b ^ mrrPopfHash(SID, 1, 1, new Uint8Array(32))[j]!);
          phi.set(t, 64); phi.set(t, 96);
        }
        expect(abortOf(() => mrrSenderFinish(s.state, phi, 3, 7))).toBe("bad-encoding:7");
        const s2 = mrrSenderStart(SID, seededRng("lo-s"));
        expect(await abortOfAsync(() => mrrSenderFinishAsync(s2.state, phi, 3, 7))).toBe("bad-encoding:7");
      }
    }
    const s = mrrSenderStart(SID, seededRng("len"));
    expect(abortOf(() => mrrSenderFinish(s.state, new Uint8Array(64 * 2 + 1), 2, 5))).toBe("bad-encoding:5");
  });

  it("replays: a state is single use; φ replayed in another session or another position gives unrelated keys", () => {
    const c = choicesOf(8, "rp");
    const s = mrrSenderStart(SID, seededRng("rp-s"));
    const r = mrrReceive(SID, c, s.message, seededRng("rp-r"), 0);
    mrrSenderFinish(s.state, r.message, 8, 1);
    expect(() => mrrSenderFinish(s.state, r.message, 8, 1)).toThrow(/already used/);
    // Same sender key, other session id: no key matches the receiver's.
    const other = mrrSenderStart(utf8("test/other-session"), seededRng("rp-s"));
    const f = mrrSenderFinish(other.state, r.message, 8, 1);
    for (let i = 0; i < 8; i++) expect([key(f.k0, i), key(f.k1, i)]).not.toContain(key(r.keys, i));
    // OT 0's φ moved to position 1 (and back): index-bound, so no key matches.
    const swapped = concatBytes(r.message.subarray(64, 128), r.message.subarray(0, 64), r.message.subarray(128));
    const s3 = mrrSenderStart(SID, seededRng("rp-s"));
    const g = mrrSenderFinish(s3.state, swapped, 8, 1);
    for (const i of [0, 1]) expect([key(g.k0, i), key(g.k1, i)]).not.toContain(key(r.keys, i));
  });
});
