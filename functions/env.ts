/** Bindings of the coordinator Worker (see wrangler.toml). */
import type { JobDO } from "../durable-objects/job-do.ts";
import type { RoundDO } from "../durable-objects/round-do.ts";
import type { VerifiedNode } from "./auth.ts";

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      MODELS: R2Bucket;
      JOB_DO: DurableObjectNamespace<JobDO>;
      ROUND_DO: DurableObjectNamespace<RoundDO>;
      /** Bearer token for job submitters and operators (Worker secret). */
      API_TOKEN?: string;
      /** Hex Ed25519 seed of the coordinator's log-signing key (Worker secret). */
      COORDINATOR_SIGNING_KEY?: string;
      /** Seconds a node may be silent before it is no longer eligible. */
      LIVENESS_WINDOW_S?: string;
      /**
       * Benchmark only: "1" admits jobs with mode "plaintext" (inputs broadcast in the clear
       * to the committee, no MPC), the baseline of `npm run bench -- learning`. Never set it
       * in a deployment that holds real data.
       */
      ALLOW_PLAINTEXT_AGGREGATION?: string;
      /** Test-only: D1 migrations for the workerd test setup. */
      TEST_MIGRATIONS?: unknown;
    }
  }
}

export type Env = Cloudflare.Env;
export type AppEnv = { Bindings: Env; Variables: { nodeId: string; verified: VerifiedNode } };
