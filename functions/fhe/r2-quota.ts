/**
 * The quota of uploaded FHE key sets in R2 (inference keys per model, training keys per
 * Worker): before a new set is stored, expired sets under the prefix are deleted and the upload
 * is refused while `max` live ones remain.
 */
import { ApiError } from "../errors.ts";

/**
 * Deletes the expired objects under `prefix` (at most 1000 per call; the rest on later calls) and
 * throws ApiError 429 `key-quota-exceeded` with `refusal(live)` when `max` or more live ones remain.
 * `expiresAt` reads an object's expiry (ms since the epoch) from its listing.
 */
export async function enforceR2Quota(
  bucket: R2Bucket,
  prefix: string,
  now: number,
  expiresAt: (o: R2Object) => number,
  max: number,
  refusal: (live: number) => string,
): Promise<void> {
  let live = 0;
  const dead: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000, include: ["customMetadata"] });
    for (const o of page.objects) {
      if (expiresAt(o) <= now) dead.push(o.key);
      else live++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor && dead.length < 1000);
  if (dead.length) await bucket.delete(dead.slice(0, 1000));
  if (live >= max) throw new ApiError(429, "key-quota-exceeded", refusal(live));
}
