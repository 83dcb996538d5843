/**
 * `2pm submitter init | show`: the submitter's Ed25519 key, which signs every job spec it
 * submits. Nodes list its public key in `policy.submitters`; a node takes part only in jobs
 * whose signed spec verifies under a key it lists.
 */
import os from "node:os";
import path from "node:path";
import { existsSync } from "node:fs";
import { parse } from "./args.ts";
import { UsageError } from "./errors.ts";
import { createKeyFile, loadKeyFile, type SigningKey } from "./keyfile.ts";
import { jsonOption, outputFor } from "./output.ts";

/** The default submitter key file: `~/.2pm/submitter.json`. */
export const DEFAULT_SUBMITTER_KEY = path.join(os.homedir(), ".2pm", "submitter.json");

/**
 * The submitter key to sign with: `--submitter-key`, else TWOPM_SUBMITTER_KEY, else the default
 * file if it exists. Throws UsageError naming how to make one when there is none.
 */
export async function submitterKeyFrom(values: { "submitter-key"?: string | boolean }): Promise<SigningKey> {
  const file = typeof values["submitter-key"] === "string" ? values["submitter-key"] : process.env.TWOPM_SUBMITTER_KEY || (existsSync(DEFAULT_SUBMITTER_KEY) ? DEFAULT_SUBMITTER_KEY : undefined);
  if (!file) throw new UsageError("no submitter key: run `2pm submitter init` and pass --submitter-key <file> or set TWOPM_SUBMITTER_KEY");
  return loadKeyFile(file, "2pm-submitter-key");
}

async function init(args: string[]): Promise<number> {
  const { values } = parse(args, { out: { type: "string", default: DEFAULT_SUBMITTER_KEY }, ...jsonOption }, false);
  const key = await createKeyFile(values.out!, "2pm-submitter-key");
  outputFor(values).result({ file: path.resolve(values.out!), publicKey: key.publicKeyB64 }, [
    `submitter key written to ${values.out} (mode 0600)`,
    `public key ${key.publicKeyB64}`,
    "nodes that accept your jobs list this key in policy.submitters (2pm node init --trust-submitter <key>)",
  ]);
  return 0;
}

async function show(args: string[]): Promise<number> {
  const { values } = parse(args, { "submitter-key": { type: "string" }, ...jsonOption }, false);
  const key = await submitterKeyFrom(values);
  outputFor(values).result({ publicKey: key.publicKeyB64 }, key.publicKeyB64);
  return 0;
}

export const submitterCommands = {
  "submitter init": init,
  "submitter show": show,
} satisfies Record<string, (args: string[]) => Promise<number>>;
