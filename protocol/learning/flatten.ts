/**
 * Flat update vectors. Weights travel as one Float64Array (the concatenation, in tfjs
 * `getWeights()` order, of each tensor in row-major order) plus a shape list.
 */

/** Number of elements of a tensor shape; [] is a scalar (1). Throws RangeError on a non-integer or negative dimension. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`shapeSize: bad dimension ${d} in [${shape.join(", ")}]`);
    n *= d;
  }
  return n;
}

/** Total number of parameters of a shape list. */
export function totalSize(shapes: readonly (readonly number[])[]): number {
  return shapes.reduce((a, s) => a + shapeSize(s), 0);
}

/**
 * Concatenates per-tensor arrays into one Float64Array. Throws RangeError if an array's
 * length does not match its shape or the counts differ.
 */
export function flatten(arrays: readonly ArrayLike<number>[], shapes: readonly (readonly number[])[]): Float64Array {
  if (arrays.length !== shapes.length) throw new RangeError(`flatten: ${arrays.length} arrays for ${shapes.length} shapes`);
  const out = new Float64Array(totalSize(shapes));
  let off = 0;
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i]!;
    const n = shapeSize(shapes[i]!);
    if (a.length !== n) throw new RangeError(`flatten: array ${i} has ${a.length} elements, shape [${shapes[i]!.join(", ")}] needs ${n}`);
    for (let j = 0; j < n; j++) out[off + j] = a[j]!;
    off += n;
  }
  return out;
}

/** Splits a flat vector back into per-tensor arrays (copies). Throws RangeError on a length mismatch. */
export function unflatten(vec: ArrayLike<number>, shapes: readonly (readonly number[])[]): Float64Array[] {
  const total = totalSize(shapes);
  if (vec.length !== total) throw new RangeError(`unflatten: vector has ${vec.length} elements, shapes need ${total}`);
  const out: Float64Array[] = [];
  let off = 0;
  for (const s of shapes) {
    const n = shapeSize(s);
    const a = new Float64Array(n);
    for (let j = 0; j < n; j++) a[j] = vec[off + j]!;
    out.push(a);
    off += n;
  }
  return out;
}

/** Euclidean norm. */
export function l2Norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/**
 * Client-side clipping: returns v scaled by min(1, clipNorm/‖v‖) (a copy) and the norm before
 * clipping. Throws RangeError if clipNorm is not positive or v has a non-finite entry.
 */
export function clipToNorm(v: ArrayLike<number>, clipNorm: number): { clipped: Float64Array; norm: number; scaled: boolean } {
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new RangeError(`clipToNorm: clipNorm must be positive, got ${clipNorm}`);
  const norm = l2Norm(v);
  if (!Number.isFinite(norm)) throw new RangeError("clipToNorm: update has a non-finite entry");
  const f = norm > clipNorm ? clipNorm / norm : 1;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * f;
  return { clipped: out, norm, scaled: f < 1 };
}
