/**
 * Runs the `2pm` CLI on this process's arguments (after a Node ≥ 22 check). The entry of the
 * built package (`dist/cli.mjs`) and, through tsx, of the repository's `client/cli/bin.mjs`.
 */
import { runCli } from "./main.ts";

const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`2pm: Node.js >= 22 is required (this is ${process.version})`);
  process.exit(1);
}
runCli(process.argv.slice(2));
