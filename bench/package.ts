/**
 * `npm run bench -- package [--runs 5]`: the installable node package (issue 16).
 * Builds and packs client/ (scripts/build-client.ts), installs the tarball into an empty
 * directory with npm (runtime dependencies only), and measures
 *  - the tarball size and the installed size (the directory's node_modules, all dependencies);
 *  - the cold start of `2pm node start` from the installed package: process spawn until the
 *    node has registered with a running local coordinator (median of --runs), side by side
 *    with the repository's `client/cli/bin.mjs` (TypeScript through tsx), same machine, same run.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildClient, packClient } from "../scripts/build-client.ts";
import { startCoordinator } from "../scripts/lib/coordinator.ts";
import type { BenchResult } from "./types.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

function duBytes(p: string): number {
  let total = 0;
  for (const e of readdirSync(p, { withFileTypes: true })) {
    const f = path.join(p, e.name);
    if (e.isDirectory()) total += duBytes(f);
    else if (e.isFile()) total += statSync(f).size;
  }
  return total;
}

/** Spawns `node <bin> node start --dir <dir> --json` and resolves with ms until "registered". */
function coldStart(bin: string, dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [bin, "node", "start", "--dir", dir, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`no registration within 60 s: ${out.slice(-500)}`)); }, 60_000);
    p.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes('"kind":"registered"')) {
        const ms = performance.now() - t0;
        clearTimeout(timer);
        p.once("exit", () => resolve(ms));
        p.kill("SIGTERM");
      }
    });
    p.stderr.on("data", (b: Buffer) => { out += b.toString(); });
  });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

export async function run(args: string[]): Promise<BenchResult> {
  const runs = Number(args[args.indexOf("--runs") + 1] ?? 5) || 5;
  await buildClient();
  const tarball = packClient();
  const install = mkdtempSync(path.join(os.tmpdir(), "2pm-pkg-bench-"));
  const coord = await startCoordinator({ apiToken: "bench" });
  try {
    const t0 = performance.now();
    const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", tarball], { cwd: install, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`npm install failed: ${r.stderr.slice(-500)}`);
    const installMs = performance.now() - t0;
    const pkgBin = path.join(install, "node_modules", "@2pm", "node", "dist", "cli.mjs");
    const repoBin = path.join(ROOT, "client", "cli", "bin.mjs");
    const rows: BenchResult["rows"] = [];
    for (const [name, bin] of [["installed package (dist/cli.mjs)", pkgBin], ["repository (bin.mjs via tsx)", repoBin]] as const) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const dir = path.join(install, `node-${name.length}-${i}`);
        const init = spawnSync(process.execPath, [bin, "node", "init", "--dir", dir, "--coordinator", coord.url, "--source", path.join(ROOT, "examples/data/wdbc.data"), "--schema", path.join(ROOT, "examples/schemas/wdbc.json")], { encoding: "utf8" });
        if (init.status !== 0) throw new Error(`node init failed: ${init.stderr}`);
        times.push(await coldStart(bin, dir));
      }
      rows.push({ cli: name, "cold start to registered, median ms": Math.round(median(times)), "min ms": Math.round(Math.min(...times)), "max ms": Math.round(Math.max(...times)), runs });
    }
    const sizes = { tarball: statSync(tarball).size, installed: duBytes(path.join(install, "node_modules")), pkgOnly: duBytes(path.join(install, "node_modules", "@2pm", "node")) };
    return {
      name: "package",
      rows,
      notes: [
        `tarball ${(sizes.tarball / 1e6).toFixed(2)} MB; installed ${(sizes.installed / 1e6).toFixed(1)} MB in node_modules (of which @2pm/node ${(sizes.pkgOnly / 1e6).toFixed(2)} MB; the rest are its runtime dependencies: tfjs, node-seal, noble, zod, hono); npm install ${(installMs / 1000).toFixed(1)} s from the local npm cache`,
        "cold start = spawn of `2pm node start` until the coordinator acknowledged its signed registration (keys loaded, dataset parsed and committed, one HTTP round trip)",
      ],
    };
  } finally {
    await coord.stop();
    rmSync(install, { recursive: true, force: true });
    rmSync(tarball, { force: true });
  }
}
