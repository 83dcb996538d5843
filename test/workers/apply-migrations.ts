// Applies the D1 migrations (migrations/*.sql, read by vitest.config.ts) before the workerd tests.
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { D1Migration } from "cloudflare:test";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS as D1Migration[]);
