/** Assignments: a node long-polls for the rounds it was selected for. */
import { Hono } from "hono";
import { AssignmentQuery, type Assignment, type RoundManifest } from "../../protocol/api/schemas.ts";
import { requireSelf } from "../auth.ts";
import type { AppEnv, Env } from "../env.ts";
import { queryParams } from "../validate.ts";

const MAX_WAIT_S = 25;
const POLL_MS = 500;

async function openAssignments(env: Env, nodeId: string, now: number): Promise<Assignment[]> {
  const { results } = await env.DB.prepare(
    "SELECT job_id, round, attempt, party, manifest, log_hash FROM assignments WHERE node_id = ? AND status = 'open' AND expires_at > ? ORDER BY created_at",
  ).bind(nodeId, now).all<{ job_id: string; round: number; attempt: number; party: number; manifest: string; log_hash: string }>();
  return results.map((r) => ({
    jobId: r.job_id, round: r.round, attempt: r.attempt, index: r.party, manifest: JSON.parse(r.manifest) as RoundManifest, logEntryHash: r.log_hash,
    wsPath: `/v1/rounds/${r.job_id}/${r.round}/${r.attempt}/ws`,
  }));
}

export const assignmentRoutes = new Hono<AppEnv>()
  /**
   * GET /v1/nodes/:id/assignment?wait=<seconds ≤ 25>: the node's open assignments; waits up to
   * `wait` seconds for one to appear (long-poll). Always 200 with a possibly empty list.
   */
  .get("/:id/assignment", requireSelf, queryParams(AssignmentQuery), async (c) => {
    const wait = Math.min(MAX_WAIT_S, c.req.valid("query").wait ?? 0);
    const until = Date.now() + wait * 1000;
    for (;;) {
      const now = Date.now();
      const assignments = await openAssignments(c.env, c.get("nodeId"), now);
      if (assignments.length || now + POLL_MS > until || c.req.raw.signal?.aborted) return c.json({ assignments });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  });
