import { defineConfig } from "vitest/config";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import path from "node:path";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          setupFiles: ["./test/unit/native-crypto.setup.ts"],
          // Two files at a time on the 2-core CI machine (Vitest's default is cores − 1 = 1): many
          // files wait on a local coordinator, a proxy or a timer, not on the CPU.
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          // End-to-end suites each start a real coordinator and node processes: one at a time.
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          // The seeded simulation of the coordinator core (`npm run test:sim`; SIM_SEED=… replays one seed).
          name: "sim",
          include: ["test/sim/**/*.test.ts"],
          environment: "node",
          testTimeout: 900_000,
        },
      },
      {
        test: {
          name: "slow",
          include: ["test/slow/**/*.test.ts"],
          environment: "node",
          testTimeout: 1_800_000,
        },
      },
      {
        plugins: [
          cloudflareTest(async () => {
            const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
            return {
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // DEV_INSECURE_SIGNING_KEY: tests may sign the log with the public development key
                // (functions/keys.ts); nowhere else is it set.
                bindings: { TEST_MIGRATIONS: migrations, API_TOKEN: "test-api-token", DEV_INSECURE_SIGNING_KEY: "1" },
              },
            };
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          maxWorkers: 2, // as the node project: most of a file's time is workerd starting, not CPU
          setupFiles: ["./test/workers/apply-migrations.ts"],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
