/**
 * The learning part of a job: model spec, stopping rule, aggregation and evaluation
 * parameters, and the fixed-point plan derived from them for a given committee size.
 */
import { z } from "zod";
import { ModelSpec, weightShapes } from "./spec.ts";
import { StoppingRule } from "./stopping.ts";
import { totalSize } from "./flatten.ts";
import { planUpdateEncoding, type UpdateEncodingPlan } from "./bounds.ts";

export const LearningJob = z
  .strictObject({
    model: ModelSpec,
    stopping: StoppingRule,
    aggregation: z.strictObject({
      /**
       * validated (default, every model size): MASCOT with an L2-norm predicate on [n·Δ ‖ n]
       * (PINE or per-entry ranges, `normCheck`) and an unsigned count check; linear-only: no
       * validation (explicit option); plaintext: benchmark baseline only (see ALLOW_PLAINTEXT_AGGREGATION).
       */
      mode: z.enum(["validated", "linear-only", "plaintext"]).default("validated"),
      /** Declared maximum training rows per node (n ≤ maxSamples is part of the validation). */
      maxSamplesPerNode: z.int().min(1).max(1e9),
      fracBits: z.int().min(0).max(52).optional(),
      /**
       * Validated mode's norm check: "range" (per-entry bits + exact L2) or "pine" (exact L2 +
       * PINE wraparound checks, no per-entry bits). Default: "pine" for more than 256 entries.
       */
      normCheck: z.enum(["range", "pine"]).optional(),
    }),
    evaluation: z.strictObject({
      /** Fraction of each node's rows held out for federated evaluation (deterministic by row order). */
      heldOutFraction: z.number().min(0).lt(1).default(0.1),
    }).default({ heldOutFraction: 0.1 }),
  })
  .superRefine((j, ctx) => {
    if (j.aggregation.mode === "validated" && j.model.clipNorm === undefined) {
      ctx.addIssue({ code: "custom", path: ["model", "clipNorm"], message: "validated aggregation needs model.clipNorm (the L2 bound derives from it)" });
    }
  });
export type LearningJob = z.infer<typeof LearningJob>;
export type LearningJobInput = z.input<typeof LearningJob>;

/**
 * Fixed-point plan of a job's update vectors for a committee of `parties` over F_p. Every
 * mode needs model.clipNorm: entries must be bounded for the sum not to overflow. Throws
 * RangeError (via {@link planUpdateEncoding}) if no fracBits fits, or if clipNorm is missing.
 */
export function planForJob(job: LearningJob, parties: number, p: bigint): UpdateEncodingPlan {
  if (job.model.clipNorm === undefined) throw new RangeError("planForJob: model.clipNorm is required to bound the update vector");
  return planUpdateEncoding({
    p, parties,
    dim: totalSize(weightShapes(job.model)),
    clipNorm: job.model.clipNorm,
    maxSamples: job.aggregation.maxSamplesPerNode,
    fracBits: job.aggregation.fracBits,
    validated: job.aggregation.mode === "validated",
    ...(job.aggregation.normCheck ? { normCheck: job.aggregation.normCheck } : {}),
  });
}
