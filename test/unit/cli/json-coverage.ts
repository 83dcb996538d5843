/**
 * Which test runs each documented command with --json: commands that need no coordinator run
 * in test/unit/cli/json.test.ts; those that need one run against the tutorial's coordinator
 * and nodes at the end of test/e2e/tutorial.test.ts. json.test.ts checks the two lists cover
 * every command in client/cli/help.ts exactly once.
 */
export const OFFLINE_JSON = [
  "submitter init", "submitter show", "consortium init", "consortium sign", "consortium verify",
  "node init", "node add-source", "node ledger", "node budget", "fhe train", "fhe serve",
] as const;

export const ONLINE_JSON = [
  "node start", "job submit", "job watch", "job result", "job verify", "job cancel", "job list", "model download", "infer",
] as const;
