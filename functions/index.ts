/**
 * The coordinator Worker: a hono app under /v1 (small route modules, one error boundary)
 * plus the Durable Object classes. `AppType` types the one API client (client/api: hc<AppType>).
 */
/// <reference path="./fhe/wasm.d.ts" />
import { Hono } from "hono";
import type { AppEnv } from "./env.ts";
import { errorBoundary, problem } from "./errors.ts";
import { assignmentRoutes } from "./routes/assignments.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { logRoutes } from "./routes/log.ts";
import { modelRoutes } from "./routes/models.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { roundRoutes } from "./routes/rounds.ts";
import { dashboardRoutes } from "./dashboard/routes.ts";
import { nodePageRoutes } from "./node-page/routes.ts";
import { inferRoutes } from "./fhe/routes.ts";
import { trainRoutes } from "./fhe/train-routes.ts";
import { requireSigningKey } from "./keys.ts";
import { openApiDocument } from "./openapi.ts";
export { JobDO } from "../durable-objects/job-do.ts";
export { RoundDO } from "../durable-objects/round-do.ts";
export { RegistryShardDO } from "../durable-objects/registry-shard-do.ts";

const app = new Hono<AppEnv>()
  .get("/v1/health", (c) => c.json({ ok: true as const }))
  .get("/v1/openapi.json", (c) => c.json(openApiDocument()))
  .route("/v1/nodes", nodeRoutes)
  .route("/v1/nodes", assignmentRoutes)
  // Submitting, cancelling and model uploads append signed log entries: 503 signing-key-missing
  // up front when the coordinator has no signing key (functions/keys.ts), before any DO call.
  .use("/v1/jobs/*", requireSigningKey)
  .route("/v1/jobs", jobRoutes)
  .route("/v1/jobs", modelRoutes)
  .route("/v1", logRoutes)
  .route("/v1/rounds", roundRoutes)
  .route("/v1/models", inferRoutes) // FHE inference (functions/fhe)
  .route("/v1/fhe/train", trainRoutes) // FHE training blocks (functions/fhe/train-routes.ts)
  .route("/dashboard", dashboardRoutes) // operator dashboard (functions/dashboard)
  .route("/", nodePageRoutes); // browser node page at /node/ (functions/node-page)

app.notFound(() => problem(404, "not-found", "no such route"));
app.onError(errorBoundary);

export type AppType = typeof app;
export default app;
