/**
 * The `2pm` command line. Every failure is one line on stderr and a non-zero exit:
 * 2 for usage errors, 1 for everything else. Secrets are never printed.
 */
import { CliError, UsageError } from "./errors.ts";
import { commands } from "./commands.ts";

const USAGE = `usage: 2pm <command> [options]

  node init    --coordinator <url> --source <file>... --schema <schema.json>... [--format csv|jsonl] [--dir .2pm]
               [--trust-submitter <key>]... [--min-committee <n>] [--consortium <list.json> --consortium-admin <key>]
  node add-source --source <file>... --schema <schema.json>... [--format csv|jsonl] [--dir .2pm]
               offer more datasets (one source per schema name; one --schema for all or one each)
  node start   [--dir .2pm]
  node ledger  [--dir .2pm] [--json]       jobs and released rounds per dataset, against the policy's budget
  submitter init [--out ~/.2pm/submitter.json]     submitter show [--submitter-key <file>]
  consortium init --out <admin.json>   consortium sign --admin <admin.json> --members <members.json> --name <n> --out <list.json>
  consortium verify <list.json> --admin-key <key>
  job submit   <spec.json> [--submitter-key <file>]
  job watch    <job-id>
  job result   <job-id> [--json]
  job verify   <job-id>
  model download <job-id> [--round <n>] [--out <dir>]
  infer        --model <job-id> --input <rows.csv> --schema <schema.json> [--local] [--json]
  fhe train    --data <rows.csv> --schema <schema.json> --label <column> --iterations <k> [--degree 3|5|7]
               [--learning-rate 10] [--refresh-every <b>] [--exclude <col,...>] [--out model.json]
               encrypted logistic regression: owner and server in this process (docs/fhe.md)
               [--server <url> [--token <t>]]   the server is a running \`fhe serve\` instead
  fhe serve    [--host 127.0.0.1] [--port 8791] [--token <t>] [--max-key-bytes <B>] [--max-key-sets <n>]
               [--max-total-key-bytes <B>] [--max-block-bytes <B>]
               the untrusted compute process for fhe train --server (token or TWOPM_FHE_TOKEN)

Coordinator and token come from --coordinator / --token or TWOPM_COORDINATOR / TWOPM_API_TOKEN;
the submitter key from --submitter-key, TWOPM_SUBMITTER_KEY or ~/.2pm/submitter.json.`;

export async function main(argv: string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  if (!group || group === "help" || group === "--help" || group === "-h") {
    console.log(USAGE);
    return group ? 0 : 2;
  }
  const single = commands[group];
  const key = typeof single === "function" ? group : `${group} ${sub ?? ""}`.trim();
  const run = typeof single === "function" ? single : commands[key];
  if (typeof run !== "function") throw new UsageError(`unknown command "${key}"; run 2pm help`);
  const args = typeof single === "function" ? [sub, ...rest].filter((a): a is string => a !== undefined) : rest;
  return run(args);
}

/**
 * Runs the CLI and exits the process with its code: one line on stderr and exit 1 or 2 on
 * any error. Called by bin.mjs (also through npm's `.bin/2pm` link, `npx 2pm`) and when this
 * file is run directly.
 */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const oneLine = (m: string) => m.replace(/\s*\n\s*/g, "; ");
      if (e instanceof CliError) {
        console.error(`2pm: ${oneLine(e.message)}`);
        process.exit(e.exitCode);
      }
      console.error(`2pm: ${oneLine(e instanceof Error ? e.message : String(e))}`);
      process.exit(1);
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) runCli(process.argv.slice(2));
