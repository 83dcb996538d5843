/** Bindings of the coordinator Worker (see wrangler.toml). */
import type { JobDO } from "../durable-objects/job-do.ts";
import type { RoundDO } from "../durable-objects/round-do.ts";
import type { RegistryShardDO } from "../durable-objects/registry-shard-do.ts";

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      MODELS: R2Bucket;
      JOB_DO: DurableObjectNamespace<JobDO>;
      ROUND_DO: DurableObjectNamespace<RoundDO>;
      /** Node liveness and request nonces, sharded by node id (durable-objects/core/registry.ts). */
      REGISTRY_SHARD: DurableObjectNamespace<RegistryShardDO>;
      /** Bearer token for job submitters and operators (Worker secret). */
      API_TOKEN?: string;
      /** Hex Ed25519 seed of the coordinator's log-signing key (Worker secret). Without it, signing routes answer 503 signing-key-missing. */
      COORDINATOR_SIGNING_KEY?: string;
      /**
       * Tests only: "1" lets the coordinator sign with the PUBLIC development key
       * (protocol/crypto/dev-key.ts) when COORDINATOR_SIGNING_KEY is unset. Set in
       * vitest.config.ts for the workerd pool; never in wrangler.toml or a deployment.
       */
      DEV_INSECURE_SIGNING_KEY?: string;
      /** FHE sub-app: maximum bytes of one uploaded evaluation-key set (default 48 MiB). */
      FHE_MAX_KEY_SET_BYTES?: string;
      /** FHE sub-app: maximum live evaluation-key sets stored per model (default 32). */
      FHE_MAX_KEY_SETS_PER_MODEL?: string;
      /** FHE sub-app: seconds a stored evaluation-key set lives (default 604800 = 7 days). */
      FHE_KEY_SET_TTL_S?: string;
      /**
       * Optional consortium (protocol/consortium.ts): the admin's public key (base64url) and
       * the signed membership list (JSON text). When both are set, only listed identity keys
       * may register, so selection never offers committees that members' policies refuse.
       * Nodes check the list themselves regardless; this only spares them the declines.
       */
      CONSORTIUM_ADMIN_KEY?: string;
      CONSORTIUM_LIST?: string;
      /** Seconds a node may be silent before it is no longer eligible. */
      LIVENESS_WINDOW_S?: string;
      /**
       * Registry shard count (a power of two, default 16) and, while it switches, the previous
       * count and the instant of the switch (ISO date or Unix ms): durable-objects/core/registry.ts
       * registryPlan.
       */
      REGISTRY_SHARDS?: string;
      REGISTRY_PREVIOUS_SHARDS?: string;
      REGISTRY_RESHARDED_AT?: string;
      /**
       * Round progress timeout (ms, default 8000; "0" turns it off): a committee member the
       * running round needs, silent this long (no frame, no ping) while others are heard, is
       * named in a `timeout` abort at once (durable-objects/core/round-referee.ts onAlarm).
       */
      ROUND_PROGRESS_TIMEOUT_MS?: string;
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
/** A verified signed request whose nonce is not yet consumed (functions/auth.ts): consume it in the node's registry shard before any write. */
export interface VerifiedNode {
  nodeId: string;
  /** The request's nonce (x-2pm-nonce), format-checked by the signature verification. */
  nonce: string;
}

export type AppEnv = { Bindings: Env; Variables: { nodeId: string; verified: VerifiedNode } };
