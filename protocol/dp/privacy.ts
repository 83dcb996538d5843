/**
 * The `privacy` field of a job spec: the zCDP budget a submitter asks one release to spend,
 * written either as ρ or as an (ε, δ) target (converted with `rhoFor`). Shared by statistics
 * queries and learning specs, and by the node that checks the spend against its own budget.
 * Pure; `resolveRho` throws RangeError for parameters outside the domain (the schema refuses
 * them first).
 */
import { z } from "zod";
import { epsilonOf, rhoFor } from "./zcdp.ts";

/** ρ is capped at 100 (ε ≈ 100): beyond that "private" means nothing and a typo is likelier. */
const Rho = z.number({ error: "rho must be a positive number" }).positive("rho must be a positive number").max(100, "rho must be at most 100");
const Epsilon = z.number({ error: "epsilon must be a positive number" }).positive("epsilon must be a positive number").max(100, "epsilon must be at most 100");
const Delta = z
  .number({ error: "delta must be a number in (0, 1e-3]" })
  .positive("delta must be a number in (0, 1e-3]")
  .max(1e-3, "delta must be at most 1e-3 (a larger δ permits releasing a row outright)");

/** `{ rho }` or `{ epsilon, delta }`: the whole job's budget (all its releases together). */
export const PrivacySpec = z.union([z.strictObject({ rho: Rho }), z.strictObject({ epsilon: Epsilon, delta: Delta })], {
  error: 'privacy must be { "rho": ρ } or { "epsilon": ε, "delta": δ }',
});
export type PrivacySpec = z.infer<typeof PrivacySpec>;

/** The zCDP ρ a privacy spec grants (the (ε, δ) form is converted exactly, never rounded up). */
export function resolveRho(p: PrivacySpec): number {
  return "rho" in p ? p.rho : rhoFor(p.epsilon, p.delta);
}

/** What a result states about the privacy applied: ρ, and ε at the δ asked for (or 1e-6 by default). */
export function describePrivacy(p: PrivacySpec): { rho: number; epsilon: number; delta: number } {
  const rho = resolveRho(p);
  const delta = "delta" in p ? p.delta : 1e-6;
  return { rho, epsilon: epsilonOf(rho, delta), delta };
}
