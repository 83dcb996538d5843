import { describe, expect, it } from "vitest";
import { m61, p128 } from "../../../protocol/field/index.ts";
import type { Predicate } from "../../../protocol/mascot/party.ts";
import { plainSum, runWithDealer } from "./helpers.ts";

function check(n: number, inputs: number[][], predicates: Predicate[], wantExcluded: number[]) {
  const xs = inputs.map((x) => m61.fromInts(x));
  const { parties, net } = runWithDealer({ n, inputs: xs, predicates, seed: JSON.stringify(predicates, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + n });
  expect(net.errors).toEqual(new Array(n).fill(undefined));
  for (const p of parties) {
    expect(p.result!.excluded).toEqual(wantExcluded);
    expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, xs, wantExcluded));
  }
}

describe("validation predicates (online phase, dealer triples)", () => {
  it("bits: honest inputs pass (n = 2, 3, 5)", () => {
    for (const n of [2, 3, 5]) check(n, Array.from({ length: n }, (_, i) => [i % 2, 1, 0, 1]), [{ kind: "bits" }], []);
  });
  it("bits: a party with a 2 is named and excluded", () => {
    check(3, [[1, 0, 1], [0, 2, 1], [1, 1, 1]], [{ kind: "bits" }], [1]);
  });
  it("one-hot: sum ≤ 1 and exact", () => {
    const groups: Array<[number, number]> = [[0, 3], [3, 5]];
    check(3, [[0, 1, 0, 1, 0], [0, 0, 0, 0, 1], [1, 1, 0, 0, 1]], [{ kind: "one-hot", groups }], [2]);
    check(3, [[0, 1, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 1]], [{ kind: "one-hot", groups, exact: true }], [1]);
  });
  it("range: [0, 2^8) with a negative and a too-large entry", () => {
    check(5, [[0, 255, 3], [1, 2, 3], [-1, 0, 0], [4, 5, 6], [256, 0, 0]], [{ kind: "range", bits: 8 }], [2, 4]);
  });
  it("range on a sub-range of indices", () => {
    check(2, [[1000, 3, 3], [5, 300, 1]], [{ kind: "range", bits: 4, indices: [1, 3] }], [1]);
  });
  it("l2-norm exact, combined with range", () => {
    const preds: Predicate[] = [{ kind: "range", bits: 8 }, { kind: "l2-norm", bound: 100n }];
    check(3, [[6, 8, 0], [10, 1, 0], [5, 5, 5]], preds, [1]);
  });
  it("range with a public offset checks signed entries in [−offset, 2^bits − offset)", () => {
    // bits 4, offset 8: entries must lie in [−8, 8)
    check(3, [[-8, 7, 0], [3, -9, 1], [0, 8, 0]], [{ kind: "range", bits: 4, offset: 8n }], [1, 2]);
  });
  it("l2-norm over a sub-range of signed entries (learning updates), other entries unconstrained by it", () => {
    const preds: Predicate[] = [{ kind: "range", bits: 5, indices: [0, 3], offset: 16n }, { kind: "l2-norm", bound: 50n, indices: [0, 3] }];
    // party 0: ‖(−5, 4, 3)‖² = 50 passes despite a large entry 1000 outside the indices; party 1: 51 fails
    check(3, [[-5, 4, 3, 1000], [-5, 5, 1, 0], [0, 0, -7, 9]], preds, [1]);
  });
  it("l2-norm on a random projection", () => {
    const d = 64;
    const small = Array.from({ length: d }, (_, k) => (k % 3 === 0 ? 1 : 0)); // ‖x‖² = 22
    const big = Array.from({ length: d }, () => 10); // ‖x‖² = 6400
    check(3, [small, big, small], [{ kind: "l2-norm", bound: 25n, projection: { rows: 192 } }], [1]); // rows > 4t = 168 (MIN_PROJECTION_ROWS)
  });
});

import { projectionThreshold, ValidationPlan, PROJECTION_TAIL_T } from "../../../protocol/mascot/validation.ts";
import { seededRng } from "../../../protocol/rng.ts";

describe("projection threshold: measured error rates (documented bound in validation.ts)", () => {
  it("honest ‖x‖² = B never exceeds T; ‖x‖² beyond the gap factor never falls below T (m = 256, 300 trials each)", () => {
    const m = 256, d = 40, B = 10_000n;
    const T = projectionThreshold(m, B);
    const t = PROJECTION_TAIL_T;
    const gap = (m + 2 * Math.sqrt(m * t) + 2 * t) / (m - 2 * Math.sqrt(m * t));
    const plan = new ValidationPlan(m61, d, [{ kind: "l2-norm", bound: B, projection: { rows: m } }]);
    const rng = seededRng("proj-measure");
    const sq = (x: number[], R: NonNullable<ReturnType<typeof plan.projectionFromSeed>>) => {
      let s = 0n;
      for (const v of m61.toBigInts(R.apply(m61, m61.fromInts(x), 0, R.rows))) {
        const c = v > m61.p / 2n ? v - m61.p : v;
        s += c * c;
      }
      return s;
    };
    // x with ‖x‖² = B exactly: 100 entries of 10 would exceed d, so use 25 entries of 20 (= 10000).
    const honest = Array.from({ length: d }, (_, k) => (k < 25 ? (k % 2 ? 20 : -20) : 0));
    const bigScale = Math.ceil(Math.sqrt(gap)) + 1; // ‖x‖² = bigScale²·B > gap·B
    const big = honest.map((v) => v * bigScale);
    let falseReject = 0, falseAccept = 0;
    for (let i = 0; i < 300; i++) {
      const R = plan.projectionFromSeed(rng.bytes(32))!;
      if (sq(honest, R) > T) falseReject++;
      if (sq(big, R) <= T) falseAccept++;
    }
    expect(falseReject).toBe(0);
    expect(falseAccept).toBe(0);
  });
  it("Projection.apply (m61 word path) equals row-by-row dot products, also over p128", () => {
    const rng = seededRng("proj-apply");
    for (const f of [m61, p128]) {
      const plan = new ValidationPlan(f, 33, [{ kind: "l2-norm", bound: 5n, projection: { rows: 169 } }]); // the fewest rows allowed
      const R = plan.projectionFromSeed(rng.bytes(32))!;
      const v = f.random(33, rng);
      const want = Array.from({ length: 4 }, (_, i) => f.dot(R.row(f, 3 + i), v));
      expect(f.toBigInts(R.apply(f, v, 3, 4))).toEqual(want);
    }
  });
});
