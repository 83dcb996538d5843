/** Global models per round in R2, hash-checked against the job's transparency log. */
import { Hono } from "hono";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../../protocol/encoding.ts";
import { modelKey } from "../../durable-objects/job-do.ts";
import { tokenMatches, tokenOrMember } from "../auth.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../env.ts";
import { modelLimit } from "../limits.ts";
import { intParam } from "../validate.ts";
import { jobStub } from "./jobs.ts";

export const modelRoutes = new Hono<AppEnv>()
  /**
   * PUT /v1/jobs/:id/models/:round (token; application/octet-stream): stores the global model
   * that round `round` starts from and logs its SHA-256. 201 {hash}; 409 if the round already
   * has a different model.
   */
  .put("/:id/models/:round", modelLimit, async (c) => {
    if (!tokenMatches(c.env, c.req.header("authorization"))) throw new ApiError(401, "unauthorized", "missing or invalid API token");
    const round = intParam(c.req.param("round"), "round");
    const stub = await jobStub(c, c.req.param("id"));
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.length === 0) throw new ApiError(400, "bad-request", "empty model");
    const r = await stub.putModel(round, bytes);
    if (!r.ok) throw new ApiError(r.code === "not-found" ? 404 : 409, r.code, r.detail);
    return c.json({ hash: r.hash }, 201);
  })
  /**
   * GET /v1/jobs/:id/models/:round (token, or signed by a member of one of the job's
   * committees; others 403 not-a-member): the model bytes, with header x-2pm-model-hash. The
   * Worker re-hashes the R2 object and refuses (409 model-hash-mismatch) if it differs from
   * the logged hash.
   */
  .get("/:id/models/:round", async (c) => {
    await tokenOrMember(c, c.req.param("id"));
    const round = intParam(c.req.param("round"), "round");
    const id = c.req.param("id");
    const logged = await (await jobStub(c, id)).modelHash(round);
    if (!logged) throw new ApiError(404, "not-found", "no model logged for this round");
    const obj = await c.env.MODELS.get(modelKey(id, round));
    if (!obj) throw new ApiError(404, "not-found", "model object missing");
    const bytes = new Uint8Array(await obj.arrayBuffer());
    if (toHex(sha256(bytes)) !== logged) throw new ApiError(409, "model-hash-mismatch", "stored model does not match the logged hash");
    return c.body(bytes, 200, { "content-type": "application/octet-stream", "x-2pm-model-hash": logged });
  });
