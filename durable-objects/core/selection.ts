/**
 * Committee selection policy (DESIGN §3 step 1), pure so it can be tested without storage.
 * Eligibility is a hard filter; ranking is weighted random sampling without replacement
 * (Efraimidis–Spirakis: key = u^(1/w), take the largest keys) with weight from reliability
 * and freshness. Every eligible node has a positive weight, so none is always chosen and
 * none is never chosen; randomness comes from the injected CSPRNG.
 */
import type { JobSpec } from "../../protocol/api/schemas.ts";
import type { Rng } from "../../protocol/rng.ts";

export interface Candidate {
  nodeId: string;
  identityKey: string;
  kxKey: string;
  rows: number;
  commitment: string;
  reliability: number;
  lastSeen: number;
  cores: number;
  memoryMb: number;
  bandwidthMbps: number;
  availFrom: number | null;
  availTo: number | null;
  onBattery: boolean;
  online: boolean;
}

/** True iff `hour` (UTC, 0..23) lies in [from, to), wrapping past midnight; null window = always. */
export function inAvailabilityWindow(from: number | null, to: number | null, hour: number): boolean {
  if (from === null || to === null) return true;
  if (from === to) return true;
  return from < to ? hour >= from && hour < to : hour >= from || hour < to;
}

/** Hard eligibility: liveness window, online, rows, declared resources, availability, battery. */
export function isEligible(c: Candidate, spec: Pick<JobSpec, "eligibility">, now: number, livenessMs: number): boolean {
  const e = spec.eligibility;
  return (
    now - c.lastSeen <= livenessMs &&
    c.online &&
    c.rows >= e.minRows &&
    c.cores >= e.minCores &&
    c.memoryMb >= e.minMemoryMb &&
    c.bandwidthMbps >= e.minBandwidthMbps &&
    (e.allowOnBattery || !c.onBattery) &&
    inAvailabilityWindow(c.availFrom, c.availTo, new Date(now).getUTCHours())
  );
}

/** Selection weight in [0.1, 1]: 0.1 floor + 0.6·reliability + 0.3·freshness. */
export function selectionWeight(c: Candidate, now: number, livenessMs: number): number {
  const fresh = Math.min(1, Math.max(0, 1 - (now - c.lastSeen) / Math.max(1, livenessMs)));
  const rel = Math.min(1, Math.max(0, c.reliability));
  return 0.1 + 0.6 * rel + 0.3 * fresh;
}

function uniform01(rng: Rng): number {
  const b = rng.bytes(7);
  let x = 0;
  for (let i = 0; i < 7; i++) x = x * 256 + b[i]!;
  x = Math.floor(x / 8); // 53 bits
  return (x + 0.5) / 2 ** 53; // in (0, 1)
}

/**
 * Picks up to `size` nodes among the eligible, not excluded candidates. Returns them in
 * committee order (the sampling order). Never returns a node twice.
 */
export function selectCommittee(
  candidates: readonly Candidate[], spec: Pick<JobSpec, "eligibility">, size: number, opts: { now: number; livenessMs: number; exclude?: ReadonlySet<string>; rng: Rng },
): Candidate[] {
  const seen = new Set<string>();
  const keyed: Array<{ c: Candidate; key: number }> = [];
  for (const c of candidates) {
    if (seen.has(c.nodeId) || opts.exclude?.has(c.nodeId) || !isEligible(c, spec, opts.now, opts.livenessMs)) continue;
    seen.add(c.nodeId);
    keyed.push({ c, key: Math.log(uniform01(opts.rng)) / selectionWeight(c, opts.now, opts.livenessMs) });
  }
  keyed.sort((a, b) => b.key - a.key);
  return keyed.slice(0, size).map((k) => k.c);
}

/**
 * Selection after unattributed aborts (a failed MAC check names no culprit: MASCOT has no
 * identifiable abort). Any committee containing every member of a failed committee would
 * contain the unknown cheater again, so the new committee must not be a superset of any
 * failed one; it is drawn at random (weighted as {@link selectCommittee}) with one member
 * fewer than the eligible pool allows, but never below `min`. With k eligible nodes and one
 * cheater this finds a clean committee within k − min + 1 further attempts. Returns the
 * plain selection when nothing failed, or [] when no admissible committee exists.
 */
export function selectAvoiding(
  candidates: readonly Candidate[], spec: Pick<JobSpec, "eligibility" | "committee">, failed: readonly (readonly string[])[],
  opts: { now: number; livenessMs: number; exclude?: ReadonlySet<string>; rng: Rng },
): Candidate[] {
  const first = selectCommittee(candidates, spec, spec.committee.size, opts);
  if (failed.length === 0) return first;
  const eligible = selectCommittee(candidates, spec, Number.MAX_SAFE_INTEGER, opts).length;
  const size = Math.max(spec.committee.min, Math.min(spec.committee.size, eligible - 1));
  const admissible = (c: Candidate[]) => !failed.some((f) => f.every((id) => c.some((x) => x.nodeId === id)));
  for (let i = 0; i < 256; i++) {
    const c = selectCommittee(candidates, spec, size, opts);
    if (admissible(c)) return c;
  }
  return [];
}
