/** Stopping rules for a learning job, evaluated by the coordinator after each round's federated evaluation. */
import { z } from "zod";

export const StoppingRule = z.strictObject({
  /** Hard limit on rounds. */
  maxRounds: z.int().min(1).max(10_000),
  /** Stop once the metric reaches the value (accuracy ≥ value, or loss ≤ value). */
  target: z.strictObject({ metric: z.enum(["accuracy", "loss"]), value: z.number() }).optional(),
  /** Stop after this many consecutive rounds without an improvement of the monitored metric by more than minDelta. */
  patience: z.int().min(1).optional(),
  /** Metric watched by `patience` (default: the target's metric, else loss). */
  monitor: z.enum(["accuracy", "loss"]).optional(),
  minDelta: z.number().nonnegative().default(0),
});
export type StoppingRule = z.infer<typeof StoppingRule>;

/** Federated evaluation of one round. */
export interface RoundMetrics { round: number; loss: number; accuracy: number }

export type StopDecision = { stop: false } | { stop: true; reason: "target" | "no-improvement" | "max-rounds"; bestRound: number };

/**
 * Decides after the last entry of `history` (rounds in order, 1 entry per completed round)
 * whether to stop. `bestRound` is the round with the best monitored metric (the model to keep).
 * Pure and deterministic; an empty history never stops.
 */
export function shouldStop(history: readonly RoundMetrics[], rule: StoppingRule): StopDecision {
  if (history.length === 0) return { stop: false };
  const monitor = rule.monitor ?? rule.target?.metric ?? "loss";
  const better = (a: RoundMetrics, b: RoundMetrics) =>
    monitor === "accuracy" ? a.accuracy > b.accuracy + rule.minDelta : a.loss < b.loss - rule.minDelta;
  let best = history[0]!;
  let sinceBest = 0;
  for (const h of history.slice(1)) {
    if (better(h, best)) { best = h; sinceBest = 0; } else sinceBest++;
  }
  const last = history[history.length - 1]!;
  if (rule.target) {
    const hit = rule.target.metric === "accuracy" ? last.accuracy >= rule.target.value : last.loss <= rule.target.value;
    if (hit) return { stop: true, reason: "target", bestRound: last.round };
  }
  if (rule.patience !== undefined && sinceBest >= rule.patience) return { stop: true, reason: "no-improvement", bestRound: best.round };
  if (history.length >= rule.maxRounds) return { stop: true, reason: "max-rounds", bestRound: best.round };
  return { stop: false };
}
