/** Jobs (bearer API token): submit, list, get, cancel, rounds, result. */
import { Hono, type Context } from "hono";
import { toBase64Url } from "../../protocol/encoding.ts";
import { JobListQuery, JobSpec, type JobSummary } from "../../protocol/api/schemas.ts";
import { jobObjectName } from "../../protocol/names.ts";
import { cryptoRng } from "../../protocol/rng.ts";
import { requireToken } from "../auth.ts";
import { ApiError, zodIssues } from "../errors.ts";
import type { AppEnv, Env } from "../env.ts";
import { jsonLimit } from "../limits.ts";
import { jsonBody, queryParams } from "../validate.ts";
import { validateSpec } from "../../protocol/jobs/registry.ts";
import { SpecLimitError } from "../../protocol/jobs/limits.ts";
import { SignedJobSpec, verifySpecSignature } from "../../protocol/jobs/signed-spec.ts";
import { objectHash } from "../../protocol/log/index.ts";
import { z, ZodError } from "zod";

/** `POST /v1/jobs` body: a submitter-signed spec, or (accepted, but declined by nodes with a policy) a bare spec. */
const JobSubmission = z.unknown().transform((v, ctx): SignedJobSpec | JobSpec => {
  const signed = typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "signed-job-spec";
  const r = (signed ? SignedJobSpec : JobSpec).safeParse(v);
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({ code: "custom", path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)), message: i.message });
    return z.NEVER;
  }
  return r.data;
});

/** A one-line description of a task validation error (zod issues flattened to path: message). */
function taskProblem(e: unknown): string {
  if (e instanceof ZodError) return zodIssues(e).slice(0, 5).map((i) => `task.${i.path}: ${i.message}`).join("; ");
  return e instanceof Error ? e.message.slice(0, 500) : "task is invalid";
}

/** The JobDO stub of an existing job; 404 when the catalogue does not know the id. */
export async function jobStub(c: Context<AppEnv>, id: string) {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new ApiError(404, "not-found", "no such job");
  const row = await c.env.DB.prepare("SELECT id FROM jobs WHERE id = ?").bind(id).first();
  if (!row) throw new ApiError(404, "not-found", "no such job");
  return jobStubUnchecked(c.env, id);
}

export function jobStubUnchecked(env: Env, id: string) {
  return env.JOB_DO.get(env.JOB_DO.idFromName(jobObjectName(id)));
}

// requireToken is applied per route (not with .use): other modules mounted under /v1/jobs
// (models, log) also admit signed nodes.
export const jobRoutes = new Hono<AppEnv>()
  /** Submit a job. 201 with the job summary; the JobDO starts selecting a committee at once. */
  .post("/", requireToken, jsonLimit, jsonBody(JobSubmission), async (c) => {
    const body = c.req.valid("json");
    // A signed spec (the normal case) carries the submitter's Ed25519 signature, which nodes
    // check against their own policy; an unsigned spec is accepted here but no node with a
    // policy will take part in it.
    const signed = "kind" in body && body.kind === "signed-job-spec" ? body : null;
    const spec: JobSpec = signed ? signed.spec : (body as JobSpec);
    if (signed && !verifySpecSignature(objectHash(spec), signed.submitter)) {
      throw new ApiError(400, "bad-spec-signature", "the submitter's signature does not verify over this spec");
    }
    if (spec.mode === "plaintext" && c.env.ALLOW_PLAINTEXT_AGGREGATION !== "1") {
      throw new ApiError(403, "plaintext-disabled", "mode \"plaintext\" (no MPC) is a benchmark baseline; this coordinator does not allow it");
    }
    // Before anything is written (no JobDO, no R2 object, no D1 row for a refused job): the
    // job type's checks, including the limits of what this coordinator can serve.
    try {
      validateSpec(spec);
    } catch (e) {
      if (e instanceof SpecLimitError) throw new ApiError(413, e.code, `spec exceeds ${e.limit}: ${e.message}`);
      throw new ApiError(400, "invalid-task", taskProblem(e));
    }
    const id = toBase64Url(cryptoRng.bytes(16));
    const r = await jobStubUnchecked(c.env, id).create(id, spec, signed?.submitter ?? null);
    if (!r.ok) throw new ApiError(409, "conflict", r.detail);
    return c.json({ job: r.job as JobSummary }, 201);
  })
  /** List jobs from the catalogue, newest first. `?status=`, `?limit=` (≤ 200), `?offset=`. */
  .get("/", requireToken, queryParams(JobListQuery), async (c) => {
    const { status, limit: asked, offset = 0 } = c.req.valid("query");
    const limit = Math.min(200, asked ?? 50);
    const q = status
      ? c.env.DB.prepare("SELECT * FROM jobs WHERE status = ? ORDER BY created_at DESC LIMIT ? OFFSET ?").bind(status, limit, offset)
      : c.env.DB.prepare("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ? OFFSET ?").bind(limit, offset);
    const { results } = await q.all<{ id: string; type: string; schema_id: string; status: string; round: number; attempt: number; created_at: number; updated_at: number; error: string | null }>();
    const jobs: JobSummary[] = results.map((r) => ({
      id: r.id, type: r.type as JobSummary["type"], schemaId: r.schema_id, status: r.status as JobSummary["status"], round: r.round, attempt: r.attempt,
      createdAt: r.created_at, updatedAt: r.updated_at, error: r.error,
    }));
    return c.json({ jobs, limit, offset });
  })
  .get("/:id", requireToken, async (c) => {
    const stub = await jobStub(c, c.req.param("id"));
    const [job, spec] = await Promise.all([stub.get(), stub.spec()]);
    if (!job) throw new ApiError(404, "not-found", "no such job");
    return c.json({ job: job as JobSummary, spec: spec as unknown as JobSpec });
  })
  /** Cancel: 200 (also when already cancelled), 409 job-not-cancellable when completed or failed. */
  .post("/:id/cancel", requireToken, async (c) => {
    const r = await (await jobStub(c, c.req.param("id"))).cancel();
    if (!r.ok) throw new ApiError(r.code === "not-found" ? 404 : 409, r.code, r.detail);
    return c.json({ job: r.job as JobSummary });
  })
  .get("/:id/rounds", requireToken, async (c) => {
    const rounds = await (await jobStub(c, c.req.param("id"))).rounds();
    return c.json({ rounds });
  })
  .get("/:id/result", requireToken, async (c) => {
    const r = await (await jobStub(c, c.req.param("id"))).result();
    if (!r) throw new ApiError(404, "not-found", "no such job");
    return c.json(r as { status: JobSummary["status"]; result: unknown; error: string | null });
  });
