#!/usr/bin/env node
// Entry point of the `2pm` CLI in the repository: loads the TypeScript sources through tsx.
// The installable package (client/package.json, built by scripts/build-client.ts) runs the
// same client/cli/run.ts bundled to JavaScript instead.
import { tsImport } from "tsx/esm/api";
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`2pm: Node.js >= 22 is required (this is ${process.version})`);
  process.exit(1);
}
await tsImport("./run.ts", import.meta.url);
