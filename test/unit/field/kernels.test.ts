import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { m61, p128, type Field, type FieldVec } from "../../../protocol/field/index.ts";
import { DIGIT_FOLD_CHUNK } from "../../../protocol/field/m61.ts";
import {
  genericChoiceBits, genericChooserFoldUniform, genericDigitCopeReceiverFold, genericDigitCopeSenderFold,
  genericCombineRowPairs, genericCopeSenderFoldUniform, genericDecodeExact, genericFromMaskedBytes, genericGather, genericSignedRowSums, signCode,
} from "../../../protocol/field/kernels.ts";
import { seededRng, type Rng } from "../../../protocol/rng.ts";

// Every fused kernel of the Field interface against the field-generic reference in kernels.ts.

/** L elements: random, or the edge values 0, 1, p − 1, p − 2, 2^32 − 1 (cycled). */
function elements(f: Field, L: number, rng: Rng, extreme: boolean): FieldVec {
  if (!extreme) return f.random(L, rng);
  const edge = [0n, 1n, f.p - 1n, f.p - 2n, (1n << 32n) - 1n];
  return f.fromBigInts(Array.from({ length: L }, (_, i) => edge[i % edge.length]!));
}
/** Uniform PRG-like rows; with `extreme`, all-0xff bytes (the largest wide value). */
const uniformRow = (f: Field, L: number, rng: Rng, extreme: boolean) => (extreme ? new Uint8Array(f.uniformByteLength * L).fill(0xff) : rng.bytes(f.uniformByteLength * L));
/**
 * A digit-COPE leaf: 2L + 2 words of byteLength bytes (room for the words a fold skips).
 * Extreme leaves cycle through a word of all ones (p once masked: skipped), a word just below
 * it (p − 1 once masked, whose high half is all ones: a candidate the m61 scan must not skip),
 * a word whose low half is all ones and high half zero (flagged by the m61 sums, not p) and a
 * random word.
 */
function leafRow(f: Field, L: number, rng: Rng, extreme: boolean): Uint8Array {
  const w = f.byteLength, out = rng.bytes(w * (2 * L + 2));
  if (extreme) for (let k = 0; k < 2 * L + 2; k++) {
    const kind = k % 4;
    if (kind === 3) continue;
    if (kind === 2) { out.fill(0xff, w * k, w * k + w / 2); out.fill(0, w * k + w / 2, w * (k + 1)); continue; }
    out.fill(0xff, w * k, w * (k + 1));
    if (kind === 1) out[w * k] = 0xfe;
  }
  return out;
}
const eq = (f: Field, a: FieldVec, b: FieldVec) => expect(f.toBigInts(a)).toEqual(f.toBigInts(b));
const cases = fc.record({ seed: fc.string({ maxLength: 6 }), L: fc.integer({ min: 0, max: 9 }), extreme: fc.boolean() });
/**
 * A digit-COPE `row(i, j, n)` over whole leaves: each call returns the leaf's next n words
 * (as a PRG stream would) and records the count; `punctured` leaves read as null.
 */
function leafReader(f: Field, leaves: Uint8Array[][], punctured: (i: number, j: number) => boolean = () => false) {
  const pos = leaves.map((l) => l.map(() => 0));
  const reads: number[] = [];
  const row = (i: number, j: number, n: number): Uint8Array => {
    reads.push(n);
    const at = pos[i]![j]!;
    pos[i]![j] = at + n;
    return leaves[i]![j]!.subarray(f.byteLength * at, f.byteLength * (at + n));
  };
  const prow = (i: number, j: number, n: number): Uint8Array | null => { const r = row(i, j, n); return punctured(i, j) ? null : r; };
  return { row, prow, reads, consumed: (i: number, j: number) => pos[i]![j]! };
}

describe("Field kernels equal the generic path", () => {
  for (const f of [m61, p128]) {
    const k = f.bits;
    it(`${f.name}: copeSenderFoldUniform (Gilboa sender, PRG rows)`, () => {
      fc.assert(fc.property(cases, ({ seed, L, extreme }) => {
        const rng = seededRng(`kern/copeU/${f.name}/${seed}`);
        const x = elements(f, L, rng, extreme);
        const r0 = Array.from({ length: k }, () => uniformRow(f, L, rng, extreme)), r1 = Array.from({ length: k }, () => uniformRow(f, L, rng, false));
        const rows = (l: number) => [r0[l]!, r1[l]!] as const;
        const fast = f.copeSenderFoldUniform(x, k, rows), ref = genericCopeSenderFoldUniform(f, x, k, rows);
        eq(f, fast.u, ref.u);
        eq(f, fast.t, ref.t);
        // u_ℓ = t0_ℓ − t1_ℓ + x and t = Σ 2^ℓ t0_ℓ, against BigInt arithmetic
        const t0 = r0.map((r) => f.toBigInts(f.fromUniformBytes(r, L))), t1 = r1.map((r) => f.toBigInts(f.fromUniformBytes(r, L)));
        const xs = f.toBigInts(x), p = f.p, m = (v: bigint) => ((v % p) + p) % p;
        expect(f.toBigInts(fast.t)).toEqual(xs.map((_, e) => m(t0.reduce((acc, row, l) => acc + (1n << BigInt(l)) * row[e]!, 0n))));
        if (L > 0) expect(f.get(fast.u, (k - 1) * L)).toBe(m(t0[k - 1]![0]! - t1[k - 1]![0]! + xs[0]!));
      }), { numRuns: 8 });
    });
    it(`${f.name}: digitCopeSenderFoldUniform / digitCopeReceiverFoldUniform (PRG leaves), q + t = Δ·x`, () => {
      fc.assert(fc.property(cases, fc.integer({ min: 1, max: 8 }), ({ seed, L, extreme }, w) => {
        const rng = seededRng(`kern/digit/${f.name}/${seed}/${w}`);
        const widths: number[] = [];
        for (let o = 0; o < k; o += w) widths.push(Math.min(w, k - o));
        const x = elements(f, L, rng, extreme);
        const leaves = widths.map((wi) => Array.from({ length: 1 << wi }, () => leafRow(f, L, rng, extreme)));
        const fast = f.digitCopeSenderFoldUniform(x, widths, leafReader(f, leaves).row), ref = genericDigitCopeSenderFold(f, x, widths, leafReader(f, leaves).row);
        eq(f, fast.c, ref.c);
        eq(f, fast.t, ref.t);
        const delta = extreme ? f.p - 1n : f.get(f.random(1, rng), 0);
        let o = 0;
        const values = widths.map((wi) => { const v = Number((delta >> BigInt(o)) & BigInt((1 << wi) - 1)); o += wi; return v; });
        // the receiver misses leaf π_i = N_i − 1 − Δ_i of each digit
        const missing = (i: number, j: number) => j === (1 << widths[i]!) - 1 - values[i]!;
        const q = f.digitCopeReceiverFoldUniform(ref.c, L, widths, values, leafReader(f, leaves, missing).prow);
        eq(f, q, genericDigitCopeReceiverFold(f, ref.c, L, widths, values, leafReader(f, leaves, missing).prow));
        eq(f, f.add(q, fast.t), f.scale(x, delta));
      }), { numRuns: 12 });
    });
    it(`${f.name}: the digit-COPE receiver fold refuses a digit value outside its width (the key holder's own Δ digits)`, () => {
      const rng = seededRng(`kern/digit-range/${f.name}`);
      const widths = [3, 3, 1], L = 4;
      const leaves = widths.map((wi) => Array.from({ length: 1 << wi }, () => leafRow(f, L, rng, false)));
      const c = elements(f, widths.length * L, rng, false);
      for (const values of [[8, 2, 1], [5, 2, 2], [5, -1, 1], [5, 2.5, 1]]) {
        expect(() => f.digitCopeReceiverFoldUniform(c, L, widths, values, leafReader(f, leaves).prow)).toThrow(/out of range/);
      }
      expect(() => f.digitCopeReceiverFoldUniform(c, L, widths, [7, 7, 1], leafReader(f, leaves).prow)).not.toThrow();
    });
    it(`${f.name}: digit-COPE folds across chunk boundaries read every leaf's L elements in order (one word more per word equal to p, skipped)`, () => {
      const rng = seededRng(`kern/digit-chunks/${f.name}`);
      for (const L of [DIGIT_FOLD_CHUNK - 1, DIGIT_FOLD_CHUNK, 2 * DIGIT_FOLD_CHUNK + 3]) {
        const widths = [3, 3, 1];
        const x = elements(f, L, rng, L === DIGIT_FOLD_CHUNK);
        const leaves = widths.map((wi) => Array.from({ length: 1 << wi }, () => leafRow(f, L, rng, L === DIGIT_FOLD_CHUNK)));
        const sender = leafReader(f, leaves), refReader = leafReader(f, leaves);
        const fast = f.digitCopeSenderFoldUniform(x, widths, sender.row), ref = genericDigitCopeSenderFold(f, x, widths, refReader.row);
        eq(f, fast.c, ref.c);
        eq(f, fast.t, ref.t);
        // L words per leaf, plus one per skipped word (extreme leaves: every fourth word is p)
        const skips = L === DIGIT_FOLD_CHUNK ? Math.floor(L / 3) : 0;
        widths.forEach((wi, i) => { for (let j = 0; j < 1 << wi; j++) { expect(sender.consumed(i, j)).toBe(refReader.consumed(i, j)); expect(sender.consumed(i, j)).toBeGreaterThanOrEqual(L + skips); } });
        const values = [5, 2, 1], missing = (i: number, j: number) => j === (1 << widths[i]!) - 1 - values[i]!;
        const receiver = leafReader(f, leaves, missing);
        const q = f.digitCopeReceiverFoldUniform(ref.c, L, widths, values, receiver.prow);
        eq(f, q, genericDigitCopeReceiverFold(f, ref.c, L, widths, values, leafReader(f, leaves, missing).prow));
        // the receiver reads its known leaves exactly as the sender does (the punctured one it never holds)
        widths.forEach((wi, i) => { for (let j = 0; j < 1 << wi; j++) if (!missing(i, j)) expect(receiver.consumed(i, j)).toBe(sender.consumed(i, j)); });
        const delta = BigInt(values[0]!) + (BigInt(values[1]!) << 3n) + (BigInt(values[2]!) << 6n);
        eq(f, f.add(q, fast.t), f.scale(x, delta));
        if (f === m61) expect(Math.max(...sender.reads)).toBeLessThanOrEqual(DIGIT_FOLD_CHUNK); // m61 reads in chunks
      }
    });
    it(`${f.name}: chooserFoldUniform and choiceBits`, () => {
      fc.assert(fc.property(cases, ({ seed, L, extreme }) => {
        const rng = seededRng(`kern/chooser/${f.name}/${seed}`);
        const x = elements(f, L, rng, extreme), d = elements(f, k * L, rng, extreme);
        const rs = Array.from({ length: k }, () => uniformRow(f, L, rng, extreme));
        expect(f.choiceBits(x)).toEqual(genericChoiceBits(f, x));
        eq(f, f.chooserFoldUniform(x, k, d, (h) => rs[h]!), genericChooserFoldUniform(f, x, k, d, (h) => rs[h]!));
      }), { numRuns: 8 });
    });
    it(`${f.name}: gather, scaleAddRange, fromMaskedBytes, encodeView`, () => {
      fc.assert(fc.property(cases, ({ seed, L, extreme }) => {
        const rng = seededRng(`kern/misc/${f.name}/${seed}`);
        const v = elements(f, L + 3, rng, extreme);
        const idx = Uint32Array.from({ length: 2 * L }, () => Number(rng.bytes(1)[0]!) % (L + 3));
        eq(f, f.gather(v, idx), genericGather(f, v, idx));
        expect(() => f.gather(v, Uint32Array.of(L + 3))).toThrow(RangeError);
        const acc = elements(f, L + 1, rng, extreme), s = extreme ? f.p - 1n : f.get(f.random(1, rng), 0);
        const want = f.toBigInts(acc).map((a, i) => (i < L ? (a + s * f.get(v, 2 + i)) % f.p : a));
        f.scaleAddRange(acc, v, 2, 2 + L, s);
        expect(f.toBigInts(acc)).toEqual(want);
        expect(() => f.scaleAddRange(acc, v, 2, L + 4, s)).toThrow(RangeError);
        const bytes = extreme ? new Uint8Array(f.byteLength * L).fill(0xee) : rng.bytes(f.byteLength * L);
        const ref = genericFromMaskedBytes(f, bytes.slice(), L);
        const fast = f.fromMaskedBytes(bytes.slice(), L);
        expect(fast && f.toBigInts(fast)).toEqual(ref && f.toBigInts(ref));
        expect(f.encodeView(v)).toEqual(f.encode(v));
      }), { numRuns: 8 });
    });
    it(`${f.name}: signedRowSums (1- and 2-bit codes) and combineRowPairs`, () => {
      fc.assert(fc.property(cases, ({ seed, L, extreme }) => {
        const rng = seededRng(`kern/rows/${f.name}/${seed}`);
        const n = L + 1, rows = 4, v = elements(f, n, rng, extreme);
        for (const codeBits of [1, 2] as const) {
          const codes = extreme ? new Uint8Array(rows * n).fill(codeBits === 1 ? 0xff : 0x00) : rng.bytes(rows * n);
          const fast = f.toBigInts(f.signedRowSums(v, codes, codeBits, 1, 3));
          expect(fast).toEqual(f.toBigInts(genericSignedRowSums(f, v, codes, codeBits, 1, 3)));
          const naive = [1, 2, 3].map((i) => f.toBigInts(v).reduce((s, x, k) => s + BigInt(signCode(codes, codeBits, i * n + k)) * x, 0n));
          expect(fast).toEqual(naive.map((s) => ((s % f.p) + f.p) % f.p));
          expect(() => f.signedRowSums(v, codes.subarray(0, 1), codeBits, 0, rows + 8)).toThrow(RangeError);
        }
        const width = 3, R = Math.ceil(n / width), a = elements(f, n, rng, extreme), b = f.random(n, rng);
        const cs = Array.from({ length: 3 }, () => elements(f, R, rng, extreme));
        const pairs = f.combineRowPairs(a, b, width, R, 3, (j) => cs[j]!).map(([x, y]) => [f.toBigInts(x), f.toBigInts(y)]);
        expect(pairs).toEqual(genericCombineRowPairs(f, a, b, width, R, 3, (j) => cs[j]!).map(([x, y]) => [f.toBigInts(x), f.toBigInts(y)]));
        const rowOf = (v: FieldVec, l: number) => Array.from({ length: width }, (_, i) => (l * width + i < n ? f.get(v, l * width + i) : 0n));
        const comb = (v: FieldVec, c: FieldVec) => Array.from({ length: width }, (_, i) => Array.from({ length: R }, (_, l) => f.get(c, l) * rowOf(v, l)[i]!).reduce((x, y) => x + y, 0n) % f.p);
        expect(pairs).toEqual(cs.map((c) => [comb(a, c), comb(b, c)]));
        expect(() => f.combineRowPairs(a, b, width, R - 1, 1, (j) => cs[j]!)).toThrow(RangeError);
      }), { numRuns: 8 });
    });
    it(`${f.name}: fromMaskedBytes rejects an element equal to p`, () => {
      const b = new Uint8Array(2 * f.byteLength).fill(0xff); // masks to 2^bits − 1 = p
      expect(f.fromMaskedBytes(b, 2)).toBeUndefined();
      expect(genericFromMaskedBytes(f, new Uint8Array(2 * f.byteLength).fill(0xff), 2)).toBeUndefined();
    });
    it(`${f.name}: decodeExact round-trips (aligned and unaligned) and refuses wrong lengths and non-canonical elements`, () => {
      const rng = seededRng(`kern/decode/${f.name}`);
      const v = elements(f, 7, rng, true), enc = f.encode(v);
      for (const off of [0, 1, 4]) {
        const buf = new Uint8Array(off + enc.length);
        buf.set(enc, off);
        eq(f, f.decodeExact(buf.subarray(off), 7), v);
        eq(f, genericDecodeExact(f, buf.subarray(off), 7), v);
        expect(() => f.decodeExact(buf.subarray(off), 6)).toThrow(RangeError);
        expect(() => f.decodeExact(buf.subarray(off), 8)).toThrow(RangeError);
        expect(() => f.decodeExact(buf.subarray(off, off + enc.length - 1), 7)).toThrow(RangeError);
        for (const bad of [f.p, (1n << BigInt(8 * f.byteLength)) - 1n]) {
          const b = buf.slice();
          for (let j = 0; j < f.byteLength; j++) b[off + 3 * f.byteLength + j] = Number((bad >> BigInt(8 * j)) & 0xffn);
          expect(() => f.decodeExact(b.subarray(off), 7)).toThrow(/not canonical/);
        }
      }
      expect(() => f.decodeExact(new Uint8Array(0), 0)).not.toThrow();
    });
    it(`${f.name}: folds refuse rows and corrections of the wrong length`, () => {
      const rng = seededRng(`kern/len/${f.name}`);
      const x = f.random(3, rng);
      expect(() => f.copeSenderFoldUniform(x, 2, () => [rng.bytes(f.uniformByteLength * 2), rng.bytes(f.uniformByteLength * 3)])).toThrow(RangeError);
      const leaf = () => rng.bytes(f.byteLength * 3);
      expect(() => f.digitCopeSenderFoldUniform(x, [2, 2], () => rng.bytes(f.byteLength * 2))).toThrow(RangeError); // short leaf
      expect(() => f.digitCopeSenderFoldUniform(x, [0], leaf)).toThrow(RangeError); // width 0
      expect(() => f.digitCopeSenderFoldUniform(x, [9], leaf)).toThrow(RangeError); // width > 8
      expect(() => f.digitCopeSenderFoldUniform(x, Array.from({ length: f.bits + 1 }, () => 1), leaf)).toThrow(RangeError); // > bits
      expect(() => f.digitCopeReceiverFoldUniform(f.random(5, rng), 3, [2, 2], [0, 0], leaf)).toThrow(RangeError); // correction length
      expect(() => f.digitCopeReceiverFoldUniform(f.random(6, rng), 3, [2, 2], [0, 4], leaf)).toThrow(RangeError); // digit value
      expect(() => f.digitCopeReceiverFoldUniform(f.random(6, rng), 3, [2, 2], [0], leaf)).toThrow(RangeError); // value count
      expect(() => f.chooserFoldUniform(x, 2, f.random(5, rng), () => rng.bytes(f.uniformByteLength * 3))).toThrow(RangeError);
    });
  }
});

/** Protocol steps reach field representations only through the Field interface. */
describe("protocol/mascot uses no concrete field vector", () => {
  const dir = join(import.meta.dirname, "../../../protocol/mascot");
  const concrete = /instanceof\s+(M61Vec|P128Vec)\b|from\s+["'][^"']*field\/(m61|p128)\.ts["']/;
  const files = readdirSync(dir).filter((n) => n.endsWith(".ts"));
  it("no instanceof M61Vec|P128Vec and no import of field/m61.ts or field/p128.ts", () => {
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.filter((n) => concrete.test(readFileSync(join(dir, n), "utf8")));
    expect(offenders).toEqual([]);
  });
  it("the pattern catches both forms", () => {
    expect(concrete.test("if (x instanceof M61Vec) {")).toBe(true);
    expect(concrete.test('import { P128Vec } from "../field/p128.ts";')).toBe(true);
    expect(concrete.test('import type { Field } from "../field/types.ts";')).toBe(false);
  });
});
