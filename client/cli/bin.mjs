#!/usr/bin/env node
// Entry point of the `2pm` CLI in the repository: loads the TypeScript sources through tsx
// (run.ts checks the Node version and runs the CLI). The installable package
// (client/package.json, built by scripts/build-client.ts) runs the same run.ts bundled.
import { tsImport } from "tsx/esm/api";
await tsImport("./run.ts", import.meta.url);
