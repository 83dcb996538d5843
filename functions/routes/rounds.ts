/** Round sessions: the WebSocket to a RoundDO (signed) and an operator status view (token). */
import { Hono } from "hono";
import { roundObjectName } from "../../protocol/names.ts";
import { VERIFIED_NODE_HEADER } from "../../durable-objects/round-do.ts";
import { requireToken, verifyNode } from "../auth.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../env.ts";
import { intParam, rawBody } from "../validate.ts";
import { jsonLimit } from "../limits.ts";
import { Decline } from "../../protocol/api/schemas.ts";

export const roundRoutes = new Hono<AppEnv>()
  /**
   * WebSocket upgrade, authenticated by a signed request (auth values in headers or, for
   * clients that cannot set headers, in the query: protocol/crypto/request.ts signUrl).
   * The RoundDO accepts only committee members.
   */
  .get("/:job/:round/:attempt/ws", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "upgrade-required", "expected a WebSocket upgrade");
    const job = c.req.param("job");
    const round = intParam(c.req.param("round"), "round");
    const attempt = intParam(c.req.param("attempt"), "attempt");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(job)) throw new ApiError(404, "not-found", "no such round");
    const nodeId = await verifyNode(c);
    const headers = new Headers(c.req.raw.headers);
    headers.set(VERIFIED_NODE_HEADER, nodeId);
    const stub = c.env.ROUND_DO.get(c.env.ROUND_DO.idFromName(roundObjectName(job, round, attempt)));
    const res = await stub.fetch(new Request(c.req.raw.url, { method: "GET", headers }));
    if (res.status === 101) return res;
    if (res.status === 403) throw new ApiError(403, "not-in-committee", "this node is not in the round's committee");
    throw new ApiError(404, "not-found", "no such round");
  })
  /**
   * A committee member declines the round (signed by the node): the round aborts at once
   * with `declined`, naming it; the job excludes it and reselects. 204; 403 not-in-committee.
   */
  .post("/:job/:round/:attempt/decline", jsonLimit, rawBody, async (c) => {
    const job = c.req.param("job");
    const round = intParam(c.req.param("round"), "round");
    const attempt = intParam(c.req.param("attempt"), "attempt");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(job)) throw new ApiError(404, "not-found", "no such round");
    const nodeId = await verifyNode(c);
    const body = Decline.safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new ApiError(400, "validation-failed", "body must be {\"reason\": string (1..512)}");
    const stub = c.env.ROUND_DO.get(c.env.ROUND_DO.idFromName(roundObjectName(job, round, attempt)));
    if (!(await stub.decline(nodeId, body.data.reason))) throw new ApiError(403, "not-in-committee", "this node is not in the round's committee");
    return c.body(null, 204);
  })
  /** Operator view of a round attempt: phase, joined and connected parties, outcome. */
  .get("/:job/:round/:attempt", requireToken, async (c) => {
    const job = c.req.param("job");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(job)) throw new ApiError(404, "not-found", "no such round");
    const stub = c.env.ROUND_DO.get(c.env.ROUND_DO.idFromName(roundObjectName(job, intParam(c.req.param("round"), "round"), intParam(c.req.param("attempt"), "attempt"))));
    const status = await stub.status();
    if (!status) throw new ApiError(404, "not-found", "no such round");
    return c.json({ round: status });
  });
