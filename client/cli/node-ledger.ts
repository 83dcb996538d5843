/**
 * `2pm node ledger [--dir .2pm] [--json]`: what this node has taken part in, from its own
 * ledger (never the coordinator's): jobs per dataset against the policy's budget, and each
 * round attempt with whether the node may have released its output.
 */
import path from "node:path";
import { Ledger } from "../agent/ledger.ts";
import { parse } from "./args.ts";
import { CliError } from "./errors.ts";
import { jsonOption } from "./output.ts";
import { fileLedgerStore, readNodeConfig } from "./node-start.ts";

export async function nodeLedger(args: string[]): Promise<number> {
  const { values } = parse(args, { dir: { type: "string", default: ".2pm" }, ...jsonOption }, false);
  const dir = path.resolve(values.dir!);
  const config = await readNodeConfig(dir);
  const ledger = await Ledger.open(fileLedgerStore(path.join(dir, "ledger.json"))).catch((e: unknown) => { throw new CliError(`${path.join(dir, "ledger.json")}: ${(e as Error).message}`); });
  const snap = ledger.snapshot();
  if (values.json) {
    console.log(JSON.stringify(snap));
    return 0;
  }
  const { maxJobs, windowDays } = config.policy.budget;
  const since = Date.now() - windowDays * 86_400_000;
  const schemas = [...new Set(snap.jobs.map((j) => j.schemaId))];
  if (!schemas.length) console.log("no jobs yet");
  for (const s of schemas) console.log(`${s}: ${ledger.jobsUsing(s, since)}/${maxJobs} jobs in the last ${windowDays} days`);
  for (const j of snap.jobs) {
    const attempts = j.attempts.map((a) => `round ${a.round + 1} attempt ${a.attempt + 1}${a.released === true ? " released" : a.released === "unknown" ? " (unknown: counts as released)" : ""}`).join(", ");
    console.log(`  ${j.jobId} (${j.schemaId}, ${new Date(j.firstAt).toISOString()}): ${attempts}`);
  }
  return 0;
}
