import { Hono } from "hono";
export { JobDO } from "../durable-objects/job-do.ts";
export { RoundDO } from "../durable-objects/round-do.ts";

const app = new Hono();
app.get("/v1/health", (c) => c.json({ ok: true }));
export default app;
