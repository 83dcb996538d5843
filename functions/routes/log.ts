/** Transparency log and the coordinator's public key. */
import { Hono } from "hono";
import type { LogEntry } from "../../protocol/log/index.ts";
import { coordinatorKey } from "../keys.ts";
import type { AppEnv } from "../env.ts";
import { queryParams } from "../validate.ts";
import { LogQuery } from "../../protocol/api/schemas.ts";
import { jobStub } from "./jobs.ts";
import { tokenOrMember } from "../auth.ts";

export const logRoutes = new Hono<AppEnv>()
  /**
   * GET /v1/jobs/:id/log?from=&limit= (token, or signed by a member of one of the job's
   * committees; others 403 not-a-member): entries, verify with verifyLog.
   */
  .get("/jobs/:id/log", async (c, next) => {
    await tokenOrMember(c, c.req.param("id")); // authentication first, then the query
    await next();
  }, queryParams(LogQuery), async (c) => {
    const from = c.req.valid("query").from ?? 0;
    const limit = Math.min(1000, c.req.valid("query").limit ?? 1000);
    const entries = await (await jobStub(c, c.req.param("id"))).log(from, limit);
    return c.json({ entries: entries as LogEntry[], publicKey: coordinatorKey(c.env).publicKeyB64 });
  })
  /** GET /v1/coordinator/key (public): the Ed25519 key that signs every log entry; 503 signing-key-missing without one. */
  .get("/coordinator/key", (c) => {
    const k = coordinatorKey(c.env);
    return c.json({ algorithm: "Ed25519" as const, publicKey: k.publicKeyB64, insecureDevKey: k.insecureDevKey });
  });
