/**
 * Plain-text rendering of a learning job's result (`2pm job result` on a learning job).
 * Convention, the same as `job watch`, the dashboard and the log's texts: rounds are counted
 * from 1; "model k" is the global model after k aggregated training rounds (model 0 is the
 * initial one). The federated evaluation in round k+1 measures model k on the nodes'
 * held-out rows; once the stopping rule fires, one more round evaluates the final model only,
 * so every model the job publishes as its answer has been evaluated. Pure.
 */
import type { LearningResult } from "./learning.ts";

const pct = (x: number | null): string => (x !== null && Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : "—");
const loss = (x: number | null): string => (x !== null && Number.isFinite(x) ? x.toFixed(4) : "—");

/** Renders rounds, per-model metrics, the best and the newest (final) model, and how to download them. */
export function formatLearningResult(r: LearningResult, jobId: string): string {
  const rounds = r.latestModelRound;
  const stop = r.stopReason === null ? "still running" : r.stopReason === "max-rounds" ? "reached its round limit" : r.stopReason === "target" ? "reached its target" : "stopped improving";
  const fin = r.final === "evaluated" ? `; final model ${rounds} evaluated` : r.final === "evaluating" ? `; evaluating final model ${rounds}`
    : r.final === "not-evaluated" ? `; final model ${rounds} not evaluated (its evaluation round could not run)` : "";
  const out = [`learning job ${jobId}: ${rounds} round${rounds === 1 ? "" : "s"} aggregated, ${stop}${fin}`, "", `${"model".padEnd(9)}${"loss".padEnd(10)}${"accuracy".padEnd(11)}${"samples".padEnd(9)}parties`];
  for (const h of r.history) {
    const marks = [h.round === r.bestRound ? "← best" : "", r.final === "evaluated" && h.round === rounds ? "← final (evaluated only)" : ""].filter(Boolean).join(", ");
    const samples = r.final === "evaluated" && h.round === rounds ? "—" : String(h.samples);
    out.push(`${String(h.round).padEnd(9)}${loss(h.loss).padEnd(10)}${pct(h.accuracy).padEnd(11)}${samples.padEnd(9)}${h.parties}${marks ? `   ${marks}` : ""}`);
  }
  if (!r.history.some((h) => h.round === rounds)) out.push(`${String(rounds).padEnd(9)}${r.final === "evaluating" ? "(final model, being evaluated)" : "(newest model, not evaluated yet)"}`);
  const best = r.history.find((h) => h.round === r.bestRound);
  const newest = r.history.find((h) => h.round === rounds);
  out.push("", `best model: ${r.bestRound}${best ? ` (accuracy ${pct(best.accuracy)}, loss ${loss(best.loss)})` : ""}; newest model: ${rounds}${newest && rounds !== r.bestRound ? ` (accuracy ${pct(newest.accuracy)}, loss ${loss(newest.loss)})` : ""}`);
  if (r.privacy) {
    const q = r.privacy;
    out.push(`privacy: ρ spent ${q.rhoSpent.toPrecision(3)} of ${q.rhoTotal.toPrecision(3)} (ε = ${q.epsilonSpent.toPrecision(3)} at δ = ${q.delta}) over ${q.roundsReleased}/${q.releases} releases; per example (replace-one), clip ${q.clip}, batch ${q.batchSize}, σ per node ${q.sigmaUpdate.toPrecision(3)}, ${q.noisyParties} noisy parties`);
  }
  out.push(`download: 2pm model download ${jobId} [--round <model>]   (default: the best model)`);
  return out.join("\n");
}
