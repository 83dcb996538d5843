/**
 * Plain-text rendering of a learning job's result (`2pm job result` on a learning job).
 * Convention, the same as `job watch` and the dashboard: rounds are counted from 1; "model k"
 * is the global model after k aggregated rounds (model 0 is the initial one). The federated
 * evaluation in round k+1 measures model k on the nodes' held-out rows, so the newest model
 * is listed without metrics until a later round evaluates it. Pure.
 */
import type { LearningResult } from "./learning.ts";

const pct = (x: number | null): string => (x !== null && Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : "—");
const loss = (x: number | null): string => (x !== null && Number.isFinite(x) ? x.toFixed(4) : "—");

/** Renders rounds, per-model metrics, the best and the newest model, and how to download them. */
export function formatLearningResult(r: LearningResult, jobId: string): string {
  const rounds = r.latestModelRound;
  const stop = r.stopReason === null ? "still running" : r.stopReason === "max-rounds" ? "reached its round limit" : r.stopReason === "target" ? "reached its target" : "stopped improving";
  const out = [`learning job ${jobId}: ${rounds} round${rounds === 1 ? "" : "s"} aggregated, ${stop}`, "", `${"model".padEnd(9)}${"loss".padEnd(10)}${"accuracy".padEnd(11)}${"samples".padEnd(9)}parties`];
  for (const h of r.history) {
    out.push(`${String(h.round).padEnd(9)}${loss(h.loss).padEnd(10)}${pct(h.accuracy).padEnd(11)}${String(h.samples).padEnd(9)}${h.parties}${h.round === r.bestRound ? "   ← best" : ""}`);
  }
  if (!r.history.some((h) => h.round === rounds)) out.push(`${String(rounds).padEnd(9)}(newest model, not evaluated yet)`);
  const best = r.history.find((h) => h.round === r.bestRound);
  out.push("", `best model: ${r.bestRound}${best ? ` (accuracy ${pct(best.accuracy)}, loss ${loss(best.loss)})` : ""}; newest model: ${rounds}`);
  out.push(`download: 2pm model download ${jobId} [--round <model>]`);
  return out.join("\n");
}
