/**
 * Which `2pm` CLI a bench's node processes run. By default the built package (client/dist/
 * cli.mjs, rebuilt here first with scripts/build-client.ts — what `npm install` of the node
 * package gives a data holder, as the demo runs it); `--source` runs the TypeScript sources
 * through tsx instead (the repository's client/cli/bin.mjs), which adds the transpiler's start-up
 * and on-demand transforms to every node's CPU.
 */
import path from "node:path";
import { buildNodeCli } from "../scripts/build-client.ts";

/** Builds the node package unless `--source` is among `args`; returns the CLI to pass as startCluster's nodeBin (undefined = the sources). Throws on a build error. */
export async function benchNodeBin(args: readonly string[]): Promise<string | undefined> {
  return args.includes("--source") ? undefined : buildNodeCli();
}

/**
 * `--profile-node DIR`: the environment of node `i` — node 0 runs with V8's CPU profiler, one
 * profile per thread (agent and party thread) written into DIR at exit; empty for the others
 * or without a DIR.
 */
export function profileNodeEnv(dir: string, i: number): Record<string, string> {
  return dir && i === 0 ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(dir)}` } : {};
}

/** The bench note saying which CLI the nodes ran. */
export function nodeBinNote(bin: string | undefined): string {
  return bin ? "nodes: the built package (client/dist/cli.mjs, as installed; `--source` runs the TypeScript sources through tsx)" : "nodes: the TypeScript sources through tsx (`--source`)";
}
