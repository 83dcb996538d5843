#!/usr/bin/env node
// Entry point of the `2pm` CLI: loads the TypeScript sources through tsx.
import { tsImport } from "tsx/esm/api";
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`2pm: Node.js >= 22 is required (this is ${process.version})`);
  process.exit(1);
}
// Call the CLI explicitly: under `npx 2pm` argv[1] is npm's `.bin/2pm` link, not this file.
const { runCli } = await tsImport("./main.ts", import.meta.url);
runCli(process.argv.slice(2));
