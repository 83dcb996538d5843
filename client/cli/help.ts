/**
 * The CLI's help text, one entry per command: `2pm` / `2pm help` print the summary of all,
 * `2pm help <command>` and `2pm <command> --help` one command with its options and
 * examples. The single source for usage text (main.ts builds its usage from it; a test
 * checks every command in commands.ts has an entry and every entry a command).
 */
import { UsageError } from "./errors.ts";

export interface CommandHelp {
  /** Options and positionals, as on the usage line. */
  usage: string;
  /** One line: what it does. */
  summary: string;
  /** Longer notes (optional). */
  details?: string;
  /** Complete command lines a user can copy. */
  examples: string[];
}

export const HELP: Record<string, CommandHelp> = {
  "node init": {
    usage: "--coordinator <url> --source <file>... --schema <schema.json>... [--format csv|jsonl] [--dir .2pm] [--label <name>] [--trust-submitter <key>]... [--min-committee <n>] [--consortium <list.json> --consortium-admin <key>] [--json]",
    summary: "make this node's keys (mode 0600, never sent) and its node.json",
    details: "One --schema for all sources or one per --source; a node offers each dataset (schema name) from one source. The policy starts closed: list the submitters whose signed jobs it accepts (docs/node-policy.md).",
    examples: [
      "2pm node init --dir hospital-a --coordinator http://127.0.0.1:8787 --source a.csv --schema schema.json --trust-submitter=<key>",
    ],
  },
  "node add-source": {
    usage: "--source <file>... --schema <schema.json>... [--format csv|jsonl] [--dir .2pm] [--json]",
    summary: "offer more datasets from an initialised node (takes effect at the next node start)",
    examples: ["2pm node add-source --dir hospital-a --source visits.csv --schema visits.json"],
  },
  "node start": {
    usage: "[--dir .2pm] [--json]",
    summary: "register, heartbeat and take part in rounds until stopped; prints rounds, phases and declines",
    details: "On a terminal the MPC phases of the current round update one status line; piped, every event is a plain line; --json prints one JSON object per event.",
    examples: ["2pm node start --dir hospital-a", "2pm node start --dir hospital-a --json > node.log"],
  },
  "node ledger": {
    usage: "[--dir .2pm] [--json]",
    summary: "what this node took part in, from its own ledger: jobs per dataset against its budget, rounds released",
    examples: ["2pm node ledger --dir hospital-a"],
  },
  "node budget": {
    usage: "[--dir .2pm] [--delta 1e-6] [--json]",
    summary: "the node's privacy budget per dataset, from its own audited ledger: ρ spent in the window, the cap, what remains (and ε at δ)",
    examples: ["2pm node budget --dir hospital-a", "2pm node budget --dir hospital-a --json"],
  },
  "submitter init": {
    usage: "[--out ~/.2pm/submitter.json] [--json]",
    summary: "make a submitter (analyst) signing key; prints its public key for nodes to trust",
    examples: ["2pm submitter init", "2pm submitter init --out team.json"],
  },
  "submitter show": {
    usage: "[--submitter-key <file>] [--json]",
    summary: "print the submitter's public key",
    examples: ["KEY=$(2pm submitter show)"],
  },
  "consortium init": {
    usage: "--out <admin.json> [--json]",
    summary: "make a consortium admin key (signs the list of nodes allowed to register)",
    examples: ["2pm consortium init --out admin.json"],
  },
  "consortium sign": {
    usage: "--admin <admin.json> --members <members.json> --name <n> --out <list.json> [--json]",
    summary: "sign the consortium's member list",
    examples: ["2pm consortium sign --admin admin.json --members members.json --name hospitals --out consortium.json"],
  },
  "consortium verify": {
    usage: "<list.json> --admin-key <key> [--json]",
    summary: "check a member list's signature against the admin key",
    examples: ["2pm consortium verify consortium.json --admin-key <key>"],
  },
  "job submit": {
    usage: "<spec.json> [--wait] [--submitter-key <file>] [--coordinator <url>] [--token <t>] [--json]",
    summary: "sign a job spec with the submitter key and submit it; prints the job id (with --wait, follows it as job watch does)",
    details: "A learning spec that standardises runs a federated feature-moments statistics job first. With --wait the exit code is 0 only if the job completes; a job that can no longer find enough nodes (declines) fails at once with each node's reason.",
    examples: ["JOB=$(2pm job submit examples/jobs/adult-stats-small.json)", "2pm job submit examples/jobs/wdbc-learning.json --wait", "2pm job submit spec.json --json | jq -r .id"],
  },
  "job watch": {
    usage: "<job-id> [--json]",
    summary: "follow a job until it ends: rounds, attempts, committees, metrics, decline reasons; exit 0 only if it completes",
    details: "Rounds are counted from 1 (\"round 2/5\"); a learning job's last round evaluates its final model. On a terminal a status line shows a bar, the phase and an ETA from the rounds done; --json prints one JSON object per event.",
    examples: ["2pm job watch $JOB", "2pm job watch $JOB --json"],
  },
  "job result": {
    usage: "<job-id> [--json]",
    summary: "print a job's result: statistics tables, or a learning job's models with loss and accuracy",
    examples: ["2pm job result $JOB", "2pm job result $JOB --json"],
  },
  "job verify": {
    usage: "<job-id> [--key <coordinator key>] [--file log.json] [--json]",
    summary: "verify the job's transparency log: signatures, hash chain, manifests, releases",
    examples: ["2pm job verify $JOB", "2pm job verify $JOB --json"],
  },
  "job cancel": {
    usage: "<job-id> [--json]",
    summary: "cancel a job: its open round is stopped and no further round starts",
    examples: ["2pm job cancel $JOB"],
  },
  "job list": {
    usage: "[--status pending|running|completed|failed|cancelled] [--limit 20] [--json]",
    summary: "list jobs, newest first: id, type, dataset, status, current round",
    examples: ["2pm job list", "2pm job list --status failed --json"],
  },
  "model download": {
    usage: "<job-id> [--round <model>] [--out <dir>] [--json]",
    summary: "download a learning job's model (tf.js layers format and dense.json); by default the best evaluated one",
    details: "Model k is the global model after k rounds (0: the initial one); every model the job reports, the final one included, has been evaluated on the nodes' held-out rows.",
    examples: ["2pm model download $JOB --out model", "2pm model download $JOB --round 5 --out final-model"],
  },
  infer: {
    usage: "--model <job-id> --input <rows.csv> --schema <schema.json> [--local] [--threads <1..16>] [--json]",
    summary: "score rows under CKKS encryption: only this process sees rows and predictions",
    examples: ["2pm infer --model $JOB --input new-patients.csv --schema schema.json"],
  },
  "fhe train": {
    usage: "--data <rows.csv> --schema <schema.json> --label <column> --iterations <k> [--degree 3|5|7] [--learning-rate auto|<lr>] [--refresh-every <b>] [--exclude <col,...>] [--out model.json] [--server <url> [--token <t>]] [--json]",
    summary: "encrypted logistic regression: the server trains on ciphertexts, only you decrypt (docs/fhe.md)",
    examples: ["2pm fhe train --data rows.csv --schema schema.json --label outcome --iterations 14 --refresh-every 2 --out model.json"],
  },
  "fhe serve": {
    usage: "[--host 127.0.0.1] [--port 8791] [--token <t>] [--max-key-bytes <B>] [--max-key-sets <n>] [--max-total-key-bytes <B>] [--max-block-bytes <B>] [--json]",
    summary: "the untrusted compute process for fhe train --server (token or TWOPM_FHE_TOKEN)",
    examples: ["TWOPM_FHE_TOKEN=secret 2pm fhe serve --port 8791"],
  },
};

const FOOTER = `Every command takes --json: machine-readable JSON on stdout (one object per line), same exit codes.
Rounds and attempts are counted from 1 ("round 2/5"); model k is the global model after k rounds.
Coordinator and token come from --coordinator / --token or TWOPM_COORDINATOR / TWOPM_API_TOKEN;
the submitter key from --submitter-key, TWOPM_SUBMITTER_KEY or ~/.2pm/submitter.json.
2pm help <command> shows a command's options and examples. A local coordinator: npm run coordinator.`;

/** The overview: one usage line and summary per command. Pure. */
export function usage(): string {
  const lines = ["usage: 2pm <command> [options]", ""];
  for (const [name, h] of Object.entries(HELP)) lines.push(`  ${name.padEnd(17)} ${h.summary}`);
  return [...lines, "", FOOTER].join("\n");
}

/** One command's help, or undefined for an unknown command. Pure. */
export function commandHelp(name: string): string | undefined {
  const h = HELP[name];
  if (!h) return undefined;
  return [
    `usage: 2pm ${name} ${h.usage}`,
    "",
    h.summary,
    ...(h.details ? ["", h.details] : []),
    "",
    "examples:",
    ...h.examples.map((e) => `  ${e}`),
  ].join("\n");
}

/** The UsageError a command throws for wrong positionals: its usage line from {@link HELP}. */
export function usageError(name: string): UsageError {
  return new UsageError(`usage: 2pm ${name} ${HELP[name]?.usage ?? ""}`.trimEnd());
}
