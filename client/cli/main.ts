/**
 * The `2pm` command line. Every failure is one line on stderr and a non-zero exit:
 * 2 for usage errors, 1 for everything else. Secrets are never printed.
 */
import { CliError, UsageError } from "./errors.ts";
import { commands } from "./commands.ts";
import { commandHelp, usage } from "./help.ts";

export async function main(argv: string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  if (!group || group === "--help" || group === "-h") {
    console.log(usage());
    return group ? 0 : 2;
  }
  if (group === "help") {
    const name = argv.slice(1).join(" ");
    if (!name) { console.log(usage()); return 0; }
    const text = commandHelp(name);
    if (text === undefined) throw new UsageError(`unknown command "${name}"; run 2pm help`);
    console.log(text);
    return 0;
  }
  const single = commands[group];
  const key = typeof single === "function" ? group : `${group} ${sub ?? ""}`.trim();
  const run = typeof single === "function" ? single : commands[key];
  if (typeof run !== "function") {
    // `2pm node` alone: list that group's commands instead of a bare error.
    const group_ = Object.keys(commands).filter((c) => c.startsWith(`${group} `));
    if (group_.length && sub === undefined) throw new UsageError(`"${group}" needs a subcommand: ${group_.join(", ")}`);
    throw new UsageError(`unknown command "${key}"; run 2pm help`);
  }
  const args = typeof single === "function" ? [sub, ...rest].filter((a): a is string => a !== undefined) : rest;
  if (args.includes("--help") || args.includes("-h")) {
    console.log(commandHelp(key) ?? usage());
    return 0;
  }
  return run(args);
}

/**
 * Runs the CLI and exits the process with its code: one line on stderr and exit 1 or 2 on
 * any error. Called by run.ts (the entry of bin.mjs in the repository and of the built
 * package's dist/cli.mjs, also through npm's `.bin/2pm` link, `npx 2pm`).
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

