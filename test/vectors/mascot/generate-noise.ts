/**
 * Generates test/vectors/mascot/noise.json: a known-answer vector for DP noise inside the
 * validated sum (protocol/mascot/noise.ts): two segments with rational σ², the norm bound B,
 * the noise predicate, two parties' inputs x_j and exact discrete Gaussian noise z_j (seeded
 * CKS20 sampler), the sign-coin seed, the signs r and the release y = Σx + r ⊙ Σz, which is
 * what online.ts opens. Deterministic (seededRng). Run: `npx tsx test/vectors/mascot/generate-noise.ts`.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { noiseNormBound, noisePredicate, sampleNoise, signVector, type NoiseConfig } from "../../../protocol/mascot/noise.ts";

export function makeVector() {
  const f = m61;
  const d = 10;
  const noise: NoiseConfig = { segments: [{ start: 0, end: 6, sigma2: { num: 9n, den: 2n } }, { start: 6, end: 10, sigma2: { num: 1048577n, den: 1048576n } }] };
  const rng = seededRng("2pm/kat/noise/v1");
  const lift = (v: bigint) => (v > f.p / 2n ? v - f.p : v);
  const xs = [[1, 0, 3, 7, 2, 2, 9, 0, 1, 4], [0, 5, 1, 1, 8, 0, 2, 3, 3, 6]].map((x) => f.fromInts(x));
  const zs = [sampleNoise(f, rng, noise), sampleNoise(f, rng, noise)];
  const seed = rng.bytes(32);
  const r = signVector(f, seed, d);
  const y = f.add(f.add(xs[0]!, xs[1]!), f.mul(r, f.add(zs[0]!, zs[1]!)));
  const pred = noisePredicate(f, noise, d);
  return {
    field: f.name,
    d,
    segments: noise.segments.map((s) => ({ start: s.start, end: s.end, sigma2: `${s.sigma2.num}/${s.sigma2.den}` })),
    normBound: noiseNormBound(noise).toString(),
    predicate: { kind: pred.kind, bound: pred.bound.toString(), indices: pred.indices, method: pred.method },
    x: xs.map((x) => f.toBigInts(x).map(String)),
    z: zs.map((z) => f.toBigInts(z).map((v) => lift(v).toString())),
    signSeed: toHex(seed),
    signs: f.toBigInts(r).map((v) => Number(lift(v))),
    y: f.toBigInts(y).map((v) => lift(v).toString()),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = path.join(import.meta.dirname, "noise.json");
  writeFileSync(out, `${JSON.stringify(makeVector(), null, 2)}\n`);
  console.log(`wrote ${out}`);
}
