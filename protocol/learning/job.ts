/**
 * The learning part of a job: model spec, stopping rule, aggregation and evaluation
 * parameters, and the fixed-point plan derived from them for a given committee size.
 */
import { z } from "zod";
import { ModelSpec, weightShapes } from "./spec.ts";
import { StoppingRule } from "./stopping.ts";
import { totalSize } from "./flatten.ts";
import { planUpdateEncoding, type UpdateEncodingPlan } from "./bounds.ts";
import { PrivacySpec } from "../dp/privacy.ts";
import { LearningDp } from "./dp.ts";

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
    /** The whole job's zCDP budget (all rounds and the final evaluation; docs/dp.md "Learning (DP-FedAvg)"). Needs `dp`. */
    privacy: PrivacySpec.optional(),
    /** DP-FedSGD parameters (per-example clip, fixed batch per node and round; protocol/learning/dp.ts). Needs `privacy`. */
    dp: LearningDp.optional(),
  })
  .superRefine((j, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if ((j.privacy === undefined) !== (j.dp === undefined)) {
      issue([j.privacy ? "dp" : "privacy"], "a private learning job needs both privacy (the budget) and dp ({ clip, batchSize })");
    }
    if (j.privacy) {
      if (j.aggregation.mode !== "validated") issue(["aggregation", "mode"], `privacy needs validated aggregation (noise no party can remove is added inside validated MASCOT); got ${j.aggregation.mode}`);
      if (j.model.clipNorm !== undefined) issue(["model", "clipNorm"], "a private job clips per example with dp.clip; remove model.clipNorm");
      if (j.model.optimizer.kind !== "sgd") issue(["model", "optimizer", "kind"], "a private job takes one SGD step per round (DP-FedSGD); use optimizer sgd (its learningRate is the step)");
      if (j.stopping.target || j.stopping.patience !== undefined) issue(["stopping"], "a private job releases no per-round evaluation, so stopping.target and stopping.patience cannot apply; it runs stopping.maxRounds rounds");
    }
    if (j.aggregation.mode === "validated" && j.model.clipNorm === undefined && !j.dp) {
      ctx.addIssue({ code: "custom", path: ["model", "clipNorm"], message: "validated aggregation needs model.clipNorm (the L2 bound derives from it)" });
    }
  });
export type LearningJob = z.infer<typeof LearningJob>;
export type LearningJobInput = z.input<typeof LearningJob>;

/**
 * Fixed-point plan of a job's update vectors for a committee of `parties` over F_p. Every
 * mode needs model.clipNorm: entries must be bounded for the sum not to overflow. Throws
 * RangeError (via {@link planUpdateEncoding}) if no fracBits fits, or if clipNorm is missing.
 * A private job (`dp`) bounds Σ of dp.batchSize clipped per-example gradients (clip dp.clip)
 * with the count dp.batchSize. `fracBits` overrides the job's (learningLayout's search for a
 * private job's noise).
 */
export function planForJob(job: LearningJob, parties: number, p: bigint, fracBits?: number): UpdateEncodingPlan {
  const clipNorm = job.dp ? job.dp.clip : job.model.clipNorm;
  if (clipNorm === undefined) throw new RangeError("planForJob: model.clipNorm is required to bound the update vector");
  return planUpdateEncoding({
    p, parties,
    dim: totalSize(weightShapes(job.model)),
    clipNorm,
    // DP: the contribution is Σ of B clipped per-example gradients, ‖·‖ ≤ B·C, with the count B.
    maxSamples: job.dp ? job.dp.batchSize : job.aggregation.maxSamplesPerNode,
    fracBits: fracBits ?? job.aggregation.fracBits,
    validated: job.aggregation.mode === "validated",
    ...(job.aggregation.normCheck ? { normCheck: job.aggregation.normCheck } : {}),
  });
}
