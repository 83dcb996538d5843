/**
 * A malicious owner that forges its product proof (product-proof.ts) consistently, i.e. it
 * broadcasts and uses the same forged H: the proof check at the joint challenge r names it
 * and it is excluded, whether its input is valid or not, and the sum of the others opens.
 * The forgery is injected by wrapping proveProducts: the k-th call (one per owner) forges,
 * and the forger is recognised by its input among the proof's operands.
 */
import { describe, expect, it, vi } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import { plainSum, runWithDealer } from "./helpers.ts";

const forge = vi.hoisted(() => ({ call: 0, target: -1, kind: "move" as "move" | "claim", forgedX: [] as bigint[] }));
vi.mock("../../../protocol/mascot/product-proof.ts", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../../protocol/mascot/product-proof.ts")>();
  return {
    ...orig,
    proveProducts: (f: Field, shape: Parameters<typeof orig.proveProducts>[1], a: FieldVec, b: FieldVec, seeds: FieldVec) => {
      const h = orig.proveProducts(f, shape, a, b, seeds);
      if (forge.call++ !== forge.target) return h;
      // Operands are [range bits − 1 (4·5) | x (4, the L2 squares' right side) | slack bits − 1]: x names the forger.
      forge.forgedX = f.toBigInts(f.slice(b, 20, 24));
      const bump = (i: number, by: bigint) => f.set(h, i, (((f.get(h, i) + by) % f.p) + f.p) % f.p);
      if (forge.kind === "move") { bump(0, 9n); bump(1, -9n); } // Σ_{l≤L} H(l) unchanged, H ≠ Σ A_i·B_i
      else bump(0, 12345n); // claims another inner product
      return h;
    },
  };
});

describe("forged product proof by a consistent malicious owner", () => {
  const cases: Array<{ name: string; kind: "move" | "claim"; inputs: number[][] }> = [
    { name: "valid input, proof mass moved between points (same claimed sum)", kind: "move", inputs: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]] },
    { name: "valid input, proof claims another inner product", kind: "claim", inputs: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]] },
    { name: "out-of-range input (40 ≥ 2^5) hidden behind a forged proof", kind: "claim", inputs: [[1, 2, 3, 4], [5, 40, 7, 8], [9, 10, 11, 12]] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const forgers = new Set<number>();
      for (const target of [0, 1, 2]) {
        Object.assign(forge, { call: 0, target, kind: c.kind });
        const inputs = c.inputs.map((x) => m61.fromInts(x));
        const { net, parties } = runWithDealer({ n: 3, inputs, predicates: [{ kind: "range", bits: 5 }, { kind: "l2-norm", bound: 1000n }] });
        expect(net.errors).toEqual([undefined, undefined, undefined]);
        expect(forge.call).toBe(3); // one proof per owner
        const forger = c.inputs.findIndex((x) => x.every((v, i) => BigInt(v) === forge.forgedX[i]));
        expect(forger).toBeGreaterThanOrEqual(0);
        // The forger is excluded, and so is the out-of-range owner.
        const outOfRange = c.inputs.findIndex((x) => x.some((v) => v >= 32));
        const excluded = [...new Set([forger, ...(outOfRange >= 0 ? [outOfRange] : [])])].sort();
        for (const p of parties) {
          expect(p.result!.excluded).toEqual(excluded);
          expect(m61.toBigInts(p.result!.sum)).toEqual(plainSum(m61, inputs, excluded));
        }
        forgers.add(forger);
      }
      expect(forgers.size).toBe(3); // every party forged once
    });
  }
});
