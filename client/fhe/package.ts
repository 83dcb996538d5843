/**
 * The FHE model package: what the model holder publishes (R2 `MODELS`, `fhe-packages/<id>`) and
 * the querier downloads — DenseModel + preprocessing (inside the model) + CKKS parameters +
 * depth + version, bound by a SHA-256 over its canonical JSON.
 */
import { z } from "zod";
import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson, toHex, utf8 } from "../../protocol/encoding.ts";
import { FheError } from "./errors.ts";
import { checkDenseModel, compilePlan, denseModelSchema, type DenseModel } from "./model.ts";
import { checkParams, ckksParamsSchema, fastLinearParams, isFastLinear, levelsOf, paramsForDepth, type CkksParams } from "./params.ts";

export const PACKAGE_FORMAT = "2pm-fhe-package/v1";

export interface ModelPackage {
  format: typeof PACKAGE_FORMAT;
  modelId: string;
  version: number;
  model: DenseModel;
  ckks: CkksParams;
  depth: number;
  /** Lower-case hex SHA-256 of the canonical JSON of every other field. */
  hash: string;
}

export const modelIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

export const modelPackageSchema = z.object({
  format: z.literal(PACKAGE_FORMAT),
  modelId: modelIdSchema,
  version: z.number().int().min(1),
  model: denseModelSchema,
  ckks: ckksParamsSchema,
  depth: z.number().int().min(1).max(10),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * What a querier gets from `GET /v1/models/:id/package` without the API token: everything
 * needed to generate keys, encrypt and interpret results, and nothing of the weights or the
 * preprocessing statistics (folded into the first layer server-side). `hash` pins the package.
 */
export interface PublicModelInfo {
  format: "2pm-fhe-public/v1";
  modelId: string;
  version: number;
  hash: string;
  ckks: CkksParams;
  depth: number;
  inputDim: number;
  outputDim: number;
  /** Exact activation the querier applies to decrypted scores. */
  output: "sigmoid" | "softmax" | "linear";
  /** Whether evaluation squares (needs relinearisation keys). */
  needsRelin: boolean;
  /** Whether single-sample rotate-and-sum is available (single-layer models). */
  singleSample: boolean;
}

export const publicModelInfoSchema = z.object({
  format: z.literal("2pm-fhe-public/v1"),
  modelId: modelIdSchema,
  version: z.number().int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  ckks: ckksParamsSchema,
  depth: z.number().int().min(1).max(10),
  inputDim: z.number().int().min(1).max(4096),
  outputDim: z.number().int().min(1).max(4096),
  output: z.enum(["sigmoid", "softmax", "linear"]),
  needsRelin: z.boolean(),
  singleSample: z.boolean(),
});

/** The public view of a package (no weights, no preprocessing statistics). */
export function publicInfo(pkg: ModelPackage): PublicModelInfo {
  const plan = compilePlan(pkg.model);
  return {
    format: "2pm-fhe-public/v1", modelId: pkg.modelId, version: pkg.version, hash: pkg.hash, ckks: pkg.ckks, depth: pkg.depth,
    inputDim: plan.inputDim, outputDim: plan.outputDim, output: plan.output, needsRelin: plan.layers.some((l) => l.square), singleSample: plan.layers.length === 1,
  };
}

/** Validates a public view (schema and parameters). Throws FheError("bad-model" | "bad-parameters"). */
export function checkPublicInfo(p: unknown): PublicModelInfo {
  const r = publicModelInfoSchema.safeParse(p);
  if (!r.success) throw new FheError("bad-model", `invalid public model info: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
  checkParams(r.data.ckks);
  return r.data as PublicModelInfo;
}

/** Throws FheError("bad-parameters") unless `ckks` can evaluate `plan`. */
export function checkDepth(ckks: CkksParams, plan: { depth: number; layers: Array<{ square: boolean }> }): void {
  if (isFastLinear(ckks)) {
    if (plan.layers.length !== 1 || plan.layers[0]!.square) throw new FheError("bad-parameters", "the fast linear profile evaluates single-layer linear models only");
    return;
  }
  if (levelsOf(ckks) < plan.depth) throw new FheError("bad-parameters", `parameters allow depth ${levelsOf(ckks)}, the model needs ${plan.depth}`);
}

/** Lower-case hex SHA-256 of the canonical JSON (protocol/encoding.ts) of `body`. */
const contentHash = (body: unknown): string => toHex(sha256(utf8(canonicalJson(body))));

/**
 * Builds a package from a DenseModel: compiles it (FheError("bad-model") if it is not
 * evaluable), picks CKKS parameters for its depth unless given, and hashes it.
 */
export async function buildPackage(model: DenseModel, opts: { modelId: string; version?: number; ckks?: CkksParams; profile?: "precise" | "fast-linear" }): Promise<ModelPackage> {
  if (!modelIdSchema.safeParse(opts.modelId).success) throw new FheError("bad-model", `invalid model id ${JSON.stringify(opts.modelId)}`);
  const m = checkDenseModel(model);
  const plan = compilePlan(m);
  const ckks = opts.ckks ? checkParams(opts.ckks) : opts.profile === "fast-linear" ? fastLinearParams() : paramsForDepth(plan.depth);
  checkDepth(ckks, plan);
  const body = { format: PACKAGE_FORMAT, modelId: opts.modelId, version: opts.version ?? 1, model: m, ckks, depth: plan.depth } as const;
  return { ...body, hash: contentHash(body) };
}

/**
 * Validates a package received from anywhere: schema, model, parameters, depth and hash.
 * Throws FheError("bad-model" | "bad-parameters").
 */
export async function verifyPackage(p: unknown): Promise<ModelPackage> {
  const r = modelPackageSchema.safeParse(p);
  if (!r.success) throw new FheError("bad-model", `invalid model package: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
  const pkg = r.data as ModelPackage;
  const plan = compilePlan(pkg.model);
  checkParams(pkg.ckks);
  if (plan.depth !== pkg.depth) throw new FheError("bad-model", `package depth ${pkg.depth} differs from the model's ${plan.depth}`);
  checkDepth(pkg.ckks, plan);
  const { hash, ...body } = pkg;
  if (contentHash(body) !== hash) throw new FheError("bad-model", "package hash does not match its contents");
  return pkg;
}
