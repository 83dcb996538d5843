/**
 * COPE over 2^w-ary digits of Δ (protocol/mascot/digit-cope.ts): correctness q + t = Δ·x
 * for every width and both fields, the per-digit error a deviating sender causes, the
 * punctured leaf, byte counts against bit-wise COPE (Fig. 4), encoding checks, and a pinned transcript.
 */
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { m61, p128, type Field, type FieldVec } from "../../../protocol/field/index.ts";
import { seededRng } from "../../../protocol/rng.ts";
import {
  deltaBits, DIGIT_COPE_WIDTH, digitCopeMessageLength, digitCopeReceiverExtend, digitCopeReceiverFromOts, digitCopeSenderExtend, digitCopeSenderFromOts,
  digitCopeSetupLength, digitLayout,
} from "../../../protocol/mascot/digit-cope.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";

/** Random OTs as the OT extension would hand them to COPE: the receiver's choice bits are Δ's bits. */
function randomOts(F: Field, delta: bigint, seed: string): { k0: Uint8Array; k1: Uint8Array; chosen: Uint8Array } {
  const rng = seededRng(seed);
  const k0 = rng.bytes(16 * F.bits), k1 = rng.bytes(16 * F.bits);
  const chosen = new Uint8Array(16 * F.bits);
  for (let i = 0; i < F.bits; i++) chosen.set(((delta >> BigInt(i)) & 1n) === 1n ? k1.subarray(16 * i, 16 * i + 16) : k0.subarray(16 * i, 16 * i + 16), 16 * i);
  return { k0, k1, chosen };
}

function setup(F: Field, width: number, delta: bigint, seed = "ots") {
  const { k0, k1, chosen } = randomOts(F, delta, seed);
  const { state: s, setup: msg } = digitCopeSenderFromOts(F, width, k0, k1);
  const r = digitCopeReceiverFromOts(F, width, delta, chosen, msg, 1);
  return { s, r, msg, k0, k1, chosen };
}

function expectRelation(F: Field, q: FieldVec, t: FieldVec, delta: bigint, x: FieldVec): void {
  expect(F.toBigInts(F.add(q, t))).toEqual(F.toBigInts(F.scale(x, delta)));
}

function abortCode(f: () => unknown): string {
  try { f(); } catch (e) { if (e instanceof ProtocolAbort) return e.code; throw e; }
  throw new Error("expected a ProtocolAbort");
}

describe("digit COPE", () => {
  for (const F of [m61, p128]) {
    for (const width of F === m61 ? [1, 2, 3, 4, 8] : [1, 2, 4]) {
      it(`${F.name}, w = ${width}: q + t = Δ·x over several Extends, edge and random Δ`, () => {
        const rng = seededRng(`digit-cope/${F.name}/${width}`);
        const deltas = [0n, 1n, F.p - 1n, (1n << BigInt(F.bits - 1)) - 1n, F.get(F.random(1, rng), 0)];
        for (const delta of width === 8 ? deltas.slice(3) : deltas) {
          const { s, r } = setup(F, width, delta, `${delta}`);
          for (const m of [1, 7, 33]) {
            const x = F.random(m, rng);
            const { message, t } = digitCopeSenderExtend(s, x);
            expect(message.length).toBe(Math.ceil(F.bits / width) * m * F.byteLength);
            expectRelation(F, digitCopeReceiverExtend(r, m, message, 0), t, delta, x);
          }
        }
      });
    }
  }

  it("punctures exactly the leaf N − 1 − Δ_i of each digit, and only the receiver's view misses it", () => {
    const F = m61, width = 3, delta = 0x1234_5678_9abc_def0n % F.p;
    const { r } = setup(F, width, delta);
    r.digits.forEach((d, i) => {
      const expected = Number((delta >> BigInt(d.offset)) & ((1n << BigInt(d.width)) - 1n));
      expect(r.values[i]).toBe(expected);
      const holes = r.leaves[i]!.flatMap((p, j) => (p === null ? [j] : []));
      expect(holes).toEqual([(1 << d.width) - 1 - expected]);
    });
  });

  it("the receiver's known leaves equal the sender's (same streams)", () => {
    const F = m61, width = 4, delta = 987654321987n;
    const { s, r } = setup(F, width, delta);
    r.leaves.forEach((row, i) => row.forEach((p, j) => {
      if (p !== null) expect(bytesToHex(p.next(32))).toBe(bytesToHex(s.leaves[i]![j]!.next(32)));
    }));
  });

  it("a sender using another x in one digit shifts q + t by exactly 2^{o_i}·Δ_i·(x' − x)", () => {
    const F = m61, width = 2, delta = 0b1101_1011n;
    const { s, r } = setup(F, width, delta);
    const x = F.fromInts([5, 6, 7]);
    const { message, t } = digitCopeSenderExtend(s, x);
    const c = F.decodeExact(message, r.digits.length * 3);
    const i = 1; // digit covering bits 2..3 of Δ, value 0b10
    F.set(c, i * 3, F.get(c, i * 3) + 1n); // as if x'_0 = x_0 + 1 in digit i only
    const q = digitCopeReceiverExtend(r, 3, F.encode(c), 0);
    const err = F.toBigInts(F.sub(F.add(q, t), F.scale(x, delta)));
    expect(err).toEqual([(1n << 2n) * 2n, 0n, 0n]);
    // the same deviation in a digit whose value is 0 goes unnoticed by the relation (selective failure, charged to the MAC check's budget)
    const { s: s2, r: r2 } = setup(F, width, delta, "second");
    const m2 = digitCopeSenderExtend(s2, x);
    const c2 = F.decodeExact(m2.message, r2.digits.length * 3);
    const zeroDigit = r2.values.indexOf(0);
    F.set(c2, zeroDigit * 3, F.get(c2, zeroDigit * 3) + 1n);
    expectRelation(F, digitCopeReceiverExtend(r2, 3, F.encode(c2), 0), m2.t, delta, x);
  });

  it("a corrupted setup correction breaks the relation exactly when Δ's bit selects it", () => {
    const F = m61, width = 2, delta = 0b0110n; // bits 0..3: 0,1,1,0
    for (const [bit, half, breaks] of [[0, 0, true], [0, 1, false], [1, 1, true], [1, 0, false]] as const) {
      const { s, msg, chosen } = setup(F, width, delta);
      const bad = msg.slice();
      bad[32 * bit + 16 * half] = bad[32 * bit + 16 * half]! ^ 1;
      const r = digitCopeReceiverFromOts(F, width, delta, chosen, bad, 1);
      const x = F.fromInts([11, 12]);
      const { message, t } = digitCopeSenderExtend(s, x);
      const sum = F.toBigInts(F.add(digitCopeReceiverExtend(r, 2, message, 0), t));
      const want = F.toBigInts(F.scale(x, delta));
      if (breaks) expect(sum).not.toEqual(want);
      else expect(sum).toEqual(want);
    }
  });

  it("sends ⌈k/w⌉ corrections per element instead of Fig. 4's k (w = 1 is bit-wise COPE's count), plus a 32·k-byte setup once", () => {
    const F = m61, m = 64;
    for (const w of [1, 2, 3, 4, 5, 6, 8]) expect(digitCopeMessageLength(F, w, m)).toBe(Math.ceil(F.bits / w) * m * 8);
    expect(digitCopeMessageLength(F, 1, m)).toBe(F.bits * m * 8); // Fig. 4: k elements per element
    expect(digitCopeMessageLength(F, DIGIT_COPE_WIDTH, m) / digitCopeMessageLength(F, 1, m)).toBeCloseTo(21 / 61, 9);
    expect(digitCopeSetupLength(F)).toBe(32 * 61);
    const { s, r, msg } = setup(F, DIGIT_COPE_WIDTH, 424242n, "bytes");
    expect(msg.length).toBe(digitCopeSetupLength(F));
    const x = F.random(m, seededRng("x")), dig = digitCopeSenderExtend(s, x);
    expect(dig.message.length).toBe(digitCopeMessageLength(F, DIGIT_COPE_WIDTH, m));
    expectRelation(F, digitCopeReceiverExtend(r, m, dig.message, 0), dig.t, 424242n, x);
    expect([...deltaBits(F, 0b1011n).subarray(0, 5)]).toEqual([1, 1, 0, 1, 0]);
    expect(() => deltaBits(F, F.p)).toThrow(RangeError);
  });

  it("refuses bad encodings (culprit named) and bad parameters", () => {
    const F = m61, width = 2, delta = 77n;
    const { s, r, chosen } = setup(F, width, delta);
    const { message } = digitCopeSenderExtend(s, F.fromInts([1, 2]));
    expect(abortCode(() => digitCopeReceiverExtend(r, 2, message.subarray(1), 3))).toBe("bad-encoding");
    const nonCanonical = message.slice();
    nonCanonical.fill(0xff, 0, 8);
    expect(abortCode(() => digitCopeReceiverExtend(r, 2, nonCanonical, 3))).toBe("bad-encoding");
    expect(abortCode(() => digitCopeReceiverFromOts(F, width, delta, chosen, new Uint8Array(10), 3))).toBe("bad-encoding");
    expect(() => digitLayout(F, 0)).toThrow(RangeError);
    expect(() => digitLayout(F, 9)).toThrow(RangeError);
    expect(() => digitCopeSenderFromOts(F, 2, new Uint8Array(16), new Uint8Array(16))).toThrow(RangeError);
    expect(() => digitCopeReceiverFromOts(F, 2, F.p, chosen, new Uint8Array(32 * F.bits), 0)).toThrow(RangeError);
  });

  it("transcript pin: fixed OTs, Δ and x give fixed setup, message and shares", () => {
    const F = m61, width = 4, delta = 0x0abc_def0_1234_5678n;
    const { s, r, msg } = setup(F, width, delta, "pin");
    const x = F.fromInts([1, 2, 3, 4, 5]);
    const { message, t } = digitCopeSenderExtend(s, x);
    const q = digitCopeReceiverExtend(r, 5, message, 0);
    expectRelation(F, q, t, delta, x);
    const h = bytesToHex(sha256(new Uint8Array([...msg, ...message, ...F.encode(t), ...F.encode(q)])));
    expect(h).toMatchInlineSnapshot(`"d080d2478ef9a819bf2c112f32cb3feeb6742a63d2349471faa68402924d4f0c"`);
  });
});
