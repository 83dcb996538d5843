import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
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
  it("l2-norm on a random projection", () => {
    const d = 64;
    const small = Array.from({ length: d }, (_, k) => (k % 3 === 0 ? 1 : 0)); // ‖x‖² = 22
    const big = Array.from({ length: d }, () => 10); // ‖x‖² = 6400
    check(3, [small, big, small], [{ kind: "l2-norm", bound: 25n, projection: { rows: 128 } }], [1]);
  });
});
