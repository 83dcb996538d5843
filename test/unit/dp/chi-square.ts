/**
 * Pearson χ² of integer samples against a pmf on bins −m..m, the tails folded into the end
 * bins (pmf summed out to ±(m + 400)). Critical value by Wilson–Hilferty for df = 2m at the
 * false-alarm rate 10^-6 (z = 4.753): a correct sampler fails w.p. ≈ 10^-6.
 */
export function chiSquare(samples: readonly bigint[], pmf: (x: number) => number, m: number): { stat: number; critical: number } {
  const counts = new Array<number>(2 * m + 1).fill(0);
  for (const s of samples) counts[Math.max(-m, Math.min(m, Number(s))) + m]!++;
  const n = samples.length;
  let stat = 0;
  for (let k = -m; k <= m; k++) {
    let p = pmf(k);
    if (k === -m) for (let j = -m - 400; j < -m; j++) p += pmf(j);
    if (k === m) for (let j = m + 1; j <= m + 400; j++) p += pmf(j);
    const e = n * p;
    stat += (counts[k + m]! - e) ** 2 / e;
  }
  const df = 2 * m;
  const critical = df * (1 - 2 / (9 * df) + 4.753 * Math.sqrt(2 / (9 * df))) ** 3;
  return { stat, critical };
}
