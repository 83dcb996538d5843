/**
 * The field F_p used by MASCOT (docs/ARCHITECTURE.md, "Field API"): `m61` (p = 2^61 − 1,
 * default, Number limbs) and `p128` (p = 2^127 − 1, BigInt). Vectors are the unit of work.
 */
import { m61 } from "./m61.ts";
import { p128 } from "./p128.ts";
import type { Field } from "./types.ts";

export type { Field, FieldVec } from "./types.ts";
export { m61, M61Vec } from "./m61.ts";
export { p128, P128Vec } from "./p128.ts";

/** Looks a field up by name ("m61" or "p128"). Throws RangeError for any other name. */
export function fieldByName(n: string): Field {
  if (n === "m61") return m61;
  if (n === "p128") return p128;
  throw new RangeError(`fieldByName: unknown field ${JSON.stringify(n)} (expected "m61" or "p128")`);
}
