/**
 * Generates test/vectors/mascot/pine.json: a known-answer vector for the PINE norm check
 * (validation.ts, `l2-norm` with method "pine") with every intermediate value: parameters
 * (h, b1, D, L), the coin-A seed, the wraparound vectors z_k, ⟨z_k, x⟩, the window values
 * v_k = ⟨z_k, x⟩ + h, which checks pass, the owner's late inputs (success bits g, window
 * bits), the exact-norm slack bits, and the zero terms (all 0 for the honest input) with the
 * real products. Deterministic (seededRng). Run: `npx tsx test/vectors/mascot/generate-pine.ts`.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { pineShape, ValidationPlan } from "../../../protocol/mascot/validation.ts";

export function makeVector() {
  const f = m61;
  const m = 8;
  const bound = 400n;
  const x = [3, -4, 5, 0, -7, 1, 2, -6].map(BigInt); // Σx² = 140
  const xv = f.fromBigInts(x.map((v) => ((v % f.p) + f.p) % f.p));
  const plan = new ValidationPlan(f, m, [{ kind: "l2-norm", bound, method: "pine" }]);
  const shape = pineShape(f.p, m, bound);
  const rng = seededRng("2pm/kat/pine/v1");
  const seedA = rng.bytes(32);
  const coins = plan.coinVectors(seedA);
  const Z = coins.wrap[0]!;
  const zs = Array.from({ length: Z.rows }, (_, k) => Array.from({ length: m }, (_, i) => Z.entry(k, i)));
  const ys = f.toBigInts(Z.apply(f, xv));
  const vs = ys.map((y) => (y + shape.half) % f.p);
  const late = f.toBigInts(plan.lateInput(xv, f.zeros(plan.lateMaskLength), coins)); // masks 0: e = c
  const witness = f.toBigInts(plan.witness(xv));
  // Clear evaluation of every zero term (one party holding everything, α = 0, real products);
  // with masks 0 the late values are all in e and the mask slots of the extended vector hold 0.
  const ctx = { field: f, me: 0, alpha: 0n };
  const extMasked = f.concat([xv, f.fromBigInts(witness), f.zeros(plan.maskLength + 1)]);
  const sm = { value: extMasked, mac: f.zeros(extMasked.length) };
  const ops = plan.operands(ctx, sm, coins);
  const prods = f.mul(ops.left.value, ops.right.value);
  const terms = f.toBigInts(plan.terms(ctx, sm, { value: prods, mac: f.zeros(prods.length) }, f.fromBigInts(late), coins).value);
  return {
    description: "PINE norm check (validation.ts): Σx² ≤ B over m entries with r wraparound checks; every intermediate value; field m61",
    field: "m61",
    m, bound: bound.toString(), x: x.map(String),
    params: { checks: shape.checks, successes: shape.successes, alpha: shape.alpha, half: shape.half.toString(), wrapBits: shape.wrapBits, diameter: shape.diameter.toString(), slackBits: shape.slackBits },
    seedA: toHex(seedA),
    z: zs,
    dot: ys.map(String),
    window: vs.map(String),
    pass: vs.map((v) => v < 1n << BigInt(shape.wrapBits)),
    slackBits: witness.map(String),
    late: { successBits: late.slice(0, shape.checks).map(String), windowBits: late.slice(shape.checks).map(String) },
    terms: terms.map(String),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = path.join(import.meta.dirname, "pine.json");
  writeFileSync(out, JSON.stringify(makeVector(), null, 1) + "\n");
  console.log(`wrote ${out}`);
}
