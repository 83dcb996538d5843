/** Scalar modular arithmetic on bigints, for code that works outside a Field's vectors. */

/** x mod p in [0, p), also for negative x. */
export function mod(x: bigint, p: bigint): bigint {
  const r = x % p;
  return r < 0n ? r + p : r;
}

/** b^e mod p by square-and-multiply (e ≥ 0). Not constant time. */
export function modPow(b: bigint, e: bigint, p: bigint): bigint {
  let r = 1n;
  b = mod(b, p);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % p;
    b = (b * b) % p;
    e >>= 1n;
  }
  return r;
}
