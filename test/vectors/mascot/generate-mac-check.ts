/**
 * Generates test/vectors/mascot/mac-check.json: a known-answer vector for the batched MAC
 * check (MASCOT Fig. 10) with every intermediate value. Deterministic (seededRng).
 * Run: `npx tsx test/vectors/mascot/generate-mac-check.ts`.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { m61 } from "../../../protocol/field/index.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { commitSigma, macCheckCoefficients, macCheckSigma } from "../../../protocol/mascot/mac-check.ts";

export function makeVector() {
  const f = m61;
  const n = 3, t = 4;
  const rng = seededRng("2pm/kat/mac-check/v1");
  const alphaShares = f.toBigInts(f.random(n, rng));
  const alpha = alphaShares.reduce((a, b) => (a + b) % f.p, 0n);
  const values = f.random(t, rng); // the opened values a_1..a_t
  const macs = f.scale(values, alpha); // α·a_j, to be shared
  // Additive sharing of the MACs: parties 0..n-2 random, party n-1 the rest.
  const macShares: bigint[][] = [];
  let acc = f.zeros(t);
  for (let i = 0; i < n - 1; i++) { const s = f.random(t, rng); macShares.push(f.toBigInts(s)); f.addInPlace(acc, s); }
  macShares.push(f.toBigInts(f.sub(macs, acc)));
  const coinSeed = rng.bytes(32);
  const r = macCheckCoefficients(f, coinSeed, t);
  const parties = alphaShares.map((a, i) => {
    const sigma = macCheckSigma(f, a, values, f.fromBigInts(macShares[i]!), r);
    const c = commitSigma(f, sigma, rng);
    return {
      alphaShare: a.toString(), macShares: macShares[i]!.map(String), sigma: sigma.toString(),
      commitPayload: toHex(c.commitPayload), openPayload: toHex(c.openPayload),
    };
  });
  const sigmaSum = parties.reduce((s, p) => (s + BigInt(p.sigma)) % f.p, 0n);
  // Negative case: opened value a_2 off by one, everything else as above.
  const bad = f.add(values, f.zeros(t));
  f.set(bad, 1, (f.get(bad, 1) + 1n) % f.p);
  const badSigmas = alphaShares.map((a, i) => macCheckSigma(f, a, bad, f.fromBigInts(macShares[i]!), r));
  return {
    description: "MASCOT batched MAC check (Fig. 10): σ_i = Σ_j r_j(γ_i(a_j) − α_i a_j); commitments SHA-256(\"2pm/commit/v1\" ‖ nonce ‖ enc(σ_i)); accept iff Σσ_i = 0. r = expandSeed(m61, coinSeed, \"maccheck\", t) (ChaCha12, see protocol/mascot/shares.ts).",
    field: "m61", parties: n, count: t,
    alpha: alpha.toString(), opened: f.toBigInts(values).map(String), coinSeed: toHex(coinSeed), coefficients: f.toBigInts(r).map(String),
    perParty: parties, sigmaSum: sigmaSum.toString(),
    negative: { opened: f.toBigInts(bad).map(String), sigmas: badSigmas.map(String), sigmaSum: (badSigmas.reduce((s, x) => s + x, 0n) % f.p).toString() },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = path.join(import.meta.dirname, "mac-check.json");
  writeFileSync(out, JSON.stringify(makeVector(), null, 2) + "\n");
  console.log(`wrote ${out}`);
}
