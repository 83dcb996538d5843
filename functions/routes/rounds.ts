/** Round sessions: the WebSocket to a RoundDO (signed) and an operator status view (token). */
import { Hono, type Context } from "hono";
import { roundObjectName } from "../../protocol/names.ts";
import { VERIFIED_NODE_HEADER } from "../../durable-objects/round-do.ts";
import { readWithNonce, requireToken, verifyNodeDeferred } from "../auth.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv, Env } from "../env.ts";
import { intParam, parseBody, rawBody } from "../validate.ts";
import { jsonLimit } from "../limits.ts";
import { Decline } from "../../protocol/api/schemas.ts";

/** The round route's `job` parameter: a well-formed id, else 404 (no DO is ever named after garbage). */
function roundParams(c: Context<AppEnv>): { job: string; round: number; attempt: number } {
  const job = c.req.param("job") ?? "";
  const round = intParam(c.req.param("round"), "round");
  const attempt = intParam(c.req.param("attempt"), "attempt");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(job)) throw new ApiError(404, "not-found", "no such round");
  return { job, round, attempt };
}

/**
 * Verifies the node's signed request and, concurrently with consuming its nonce, that it holds an
 * assignment to this round attempt (written by the JobDO after the RoundDO was initialised,
 * closed but never deleted). Only then may the caller touch the RoundDO, so no request can
 * create a Durable Object for a round that does not exist. Returns the node id; throws 401,
 * or 403 `not-in-committee` (also for a round that does not exist: no probing).
 */
async function verifyCommitteeMember(c: Context<AppEnv>, r: { job: string; round: number; attempt: number }): Promise<string> {
  const v = await verifyNodeDeferred(c);
  const [member] = await readWithNonce(c.env, v, [
    c.env.DB.prepare("SELECT 1 AS m FROM assignments WHERE node_id = ? AND job_id = ? AND round = ? AND attempt = ?").bind(v.nodeId, r.job, r.round, r.attempt),
  ]);
  if (!member?.results.length) throw new ApiError(403, "not-in-committee", "this node is not in the round's committee");
  return v.nodeId;
}

/** Whether any node was ever assigned to this round attempt (the RoundDO exists exactly then). */
async function roundExists(env: Env, r: { job: string; round: number; attempt: number }): Promise<boolean> {
  return (await env.DB.prepare("SELECT 1 AS m FROM assignments WHERE job_id = ? AND round = ? AND attempt = ? LIMIT 1").bind(r.job, r.round, r.attempt).first()) !== null;
}

const roundStub = (env: Env, r: { job: string; round: number; attempt: number }) => env.ROUND_DO.get(env.ROUND_DO.idFromName(roundObjectName(r.job, r.round, r.attempt)));

export const roundRoutes = new Hono<AppEnv>()
  /**
   * WebSocket upgrade, authenticated by a signed request (auth values in headers or, for
   * clients that cannot set headers, in the query: protocol/crypto/request.ts signUrl).
   * Only committee members (checked in D1 before the RoundDO is touched) reach the RoundDO.
   */
  .get("/:job/:round/:attempt/ws", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "upgrade-required", "expected a WebSocket upgrade");
    const r = roundParams(c);
    const nodeId = await verifyCommitteeMember(c, r);
    const headers = new Headers(c.req.raw.headers);
    headers.set(VERIFIED_NODE_HEADER, nodeId);
    const res = await roundStub(c.env, r).fetch(new Request(c.req.raw.url, { method: "GET", headers }));
    if (res.status === 101) return res;
    if (res.status === 403) throw new ApiError(403, "not-in-committee", "this node is not in the round's committee");
    throw new ApiError(404, "not-found", "no such round");
  })
  /**
   * A committee member declines the round (signed by the node): the round aborts at once
   * with `declined`, naming it; the job excludes it and reselects. 204; 403 not-in-committee
   * (also for a round that does not exist: no RoundDO is created for it).
   */
  .post("/:job/:round/:attempt/decline", jsonLimit, rawBody, async (c) => {
    const r = roundParams(c);
    const nodeId = await verifyCommitteeMember(c, r);
    const body = await parseBody(c, Decline);
    if (!(await roundStub(c.env, r).decline(nodeId, body.reason))) throw new ApiError(403, "not-in-committee", "this node is not in the round's committee");
    return c.body(null, 204);
  })
  /** Operator view of a round attempt: phase, joined and connected parties, outcome. 404 for a round never assigned. */
  .get("/:job/:round/:attempt", requireToken, async (c) => {
    const r = roundParams(c);
    if (!(await roundExists(c.env, r))) throw new ApiError(404, "not-found", "no such round");
    const status = await roundStub(c.env, r).status();
    if (!status) throw new ApiError(404, "not-found", "no such round");
    return c.json({ round: status });
  });
