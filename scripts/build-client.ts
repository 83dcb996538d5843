/**
 * Builds the installable node/querier package in client/ (`npm run build:client`):
 *  1. esbuild bundles the entries (client/cli/run.ts → dist/cli.mjs with a shebang,
 *     client/node.ts → dist/node.mjs, client/querier.ts → dist/querier.mjs, and the worker
 *     threads → dist/encrypt-worker.js, dist/eval-worker.js, dist/serve-worker.js, dist/party-worker.js) as ESM for Node ≥ 22, with the
 *     runtime dependencies of client/package.json left external;
 *  2. tsc emits the entries' declarations into dist/types (--noCheck: `npm run typecheck` checks the sources);
 *  3. with `--pack`, `npm pack` writes client/2pm-node-<version>.tgz and prints its path.
 * Exits non-zero with the failing step's output on any error.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLIENT = path.join(ROOT, "client");
const DIST = path.join(CLIENT, "dist");

/** Builds dist/ without types and returns the bundled CLI (dist/cli.mjs) that node processes run, as installed. Throws on a build error. */
export async function buildNodeCli(): Promise<string> {
  await buildClient({ declarations: false });
  return path.join(DIST, "cli.mjs");
}

/**
 * Builds dist/; returns the runtime dependencies left external. `declarations: false` skips the
 * .d.ts emit (the demo runs the built CLI and needs no types). Throws on a build error.
 */
export async function buildClient(o: { declarations?: boolean } = {}): Promise<string[]> {
  const pkg = JSON.parse(readFileSync(path.join(CLIENT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const external = Object.keys(pkg.dependencies).flatMap((d) => [d, `${d}/*`]);
  rmSync(DIST, { recursive: true, force: true });
  const common = { bundle: true, platform: "node" as const, format: "esm" as const, target: "node22", external, sourcemap: true, logLevel: "warning" as const, legalComments: "none" as const };
  await build({ ...common, entryPoints: { cli: path.join(CLIENT, "cli", "run.ts") }, outdir: DIST, outExtension: { ".js": ".mjs" }, banner: { js: "#!/usr/bin/env node" } });
  await build({ ...common, entryPoints: { node: path.join(CLIENT, "node.ts"), querier: path.join(CLIENT, "querier.ts") }, outdir: DIST, outExtension: { ".js": ".mjs" } });
  // The browser entry (client/browser/index.ts): ESM for bundlers; learning (tfjs) in a lazily imported chunk.
  await build({ ...common, platform: "browser", target: "es2022", splitting: true, entryPoints: { browser: path.join(CLIENT, "browser", "index.ts") }, outdir: DIST, outExtension: { ".js": ".mjs" }, chunkNames: "browser-chunks/[name]-[hash]" });
  // Worker threads are started by URL next to the code that starts them (dist/*.mjs), as
  // "./<name>.js" (the sources use "./<name>.ts" under tsx): one bundle per worker.
  await build({ ...common, entryPoints: { "encrypt-worker": path.join(CLIENT, "fhe", "encrypt-worker.ts"), "eval-worker": path.join(CLIENT, "fhe", "eval-worker.ts"), "serve-worker": path.join(CLIENT, "fhe", "training", "serve-worker.ts"), "party-worker": path.join(CLIENT, "agent", "party-worker.ts") }, outdir: DIST });
  if (o.declarations === false) return Object.keys(pkg.dependencies);
  const tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(CLIENT, "tsconfig.build.json"), "--noCheck"], { cwd: ROOT, encoding: "utf8" });
  if (tsc.status !== 0) throw new Error(`declarations: ${(tsc.stdout + tsc.stderr).trim().split("\n").slice(0, 10).join("\n")}`);
  return Object.keys(pkg.dependencies);
}

/** Runs `npm pack` in client/; returns the tarball's absolute path. Throws on failure. */
export function packClient(): string {
  const r = spawnSync("npm", ["pack", "--silent", "--pack-destination", CLIENT], { cwd: CLIENT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr.trim()}`);
  return path.join(CLIENT, r.stdout.trim().split("\n").pop()!);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const deps = await buildClient();
    console.log(`built client/dist (external: ${deps.join(", ")})`);
    if (process.argv.includes("--pack")) console.log(packClient());
  } catch (e) {
    console.error(`build-client: ${(e as Error).message}`);
    process.exit(1);
  }
}
