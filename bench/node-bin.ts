/**
 * Which `2pm` CLI a bench's node processes run. By default the built package (client/dist/
 * cli.mjs, rebuilt here first with scripts/build-client.ts — what `npm install` of the node
 * package gives a data holder, as the demo runs it); `--source` runs the TypeScript sources
 * through tsx instead (the repository's client/cli/bin.mjs), which adds the transpiler's start-up
 * and on-demand transforms to every node's CPU.
 */
import { buildNodeCli } from "../scripts/build-client.ts";

/** Builds the node package unless `--source` is among `args`; returns the CLI to pass as startCluster's nodeBin (undefined = the sources). Throws on a build error. */
export async function benchNodeBin(args: readonly string[]): Promise<string | undefined> {
  return args.includes("--source") ? undefined : buildNodeCli();
}

/** The bench note saying which CLI the nodes ran. */
export function nodeBinNote(bin: string | undefined): string {
  return bin ? "nodes: the built package (client/dist/cli.mjs, as installed; `--source` runs the TypeScript sources through tsx)" : "nodes: the TypeScript sources through tsx (`--source`)";
}
