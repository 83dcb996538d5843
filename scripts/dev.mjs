#!/usr/bin/env node
// `npm run dev [-- <wrangler dev args>]`: the local coordinator on workerd.
//  1. writes .dev.vars with a random API_TOKEN and COORDINATOR_SIGNING_KEY if absent
//     (existing values are kept; missing ones are appended);
//  2. applies the D1 migrations to the local database (`wrangler d1 migrations apply DB --local`);
//  3. runs `wrangler dev` with local D1, R2 and Durable Objects (state under .wrangler/state).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const args = process.argv.slice(2);

function ensureDevVars() {
  const file = path.join(root, ".dev.vars");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const has = (k) => new RegExp(`^${k}=\\S+`, "m").test(text);
  const add = [];
  if (!has("API_TOKEN")) add.push(`API_TOKEN=${randomBytes(24).toString("base64url")}`);
  if (!has("COORDINATOR_SIGNING_KEY")) add.push(`COORDINATOR_SIGNING_KEY=${randomBytes(32).toString("hex")}`);
  if (add.length) {
    const kept = text.split("\n").filter((l) => l.trim() && !/^(API_TOKEN|COORDINATOR_SIGNING_KEY)=\s*$/.test(l));
    writeFileSync(file, [...kept, ...add].join("\n") + "\n", { mode: 0o600 });
    console.log(`dev: wrote ${add.map((l) => l.split("=")[0]).join(", ")} to .dev.vars`);
  }
  const token = /^API_TOKEN=(\S+)/m.exec(readFileSync(file, "utf8"))?.[1];
  console.log(`dev: API token (Authorization: Bearer …) is in .dev.vars: ${token?.slice(0, 4)}…`);
}

function persistArgs() {
  const i = args.indexOf("--persist-to");
  return i >= 0 && args[i + 1] ? ["--persist-to", args[i + 1]] : [];
}

ensureDevVars();
const mig = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", ...persistArgs()], { cwd: root, env: { ...env, CI: "true" }, stdio: "inherit" });
if (mig.status !== 0) {
  console.error("dev: applying D1 migrations failed");
  process.exit(mig.status ?? 1);
}
const child = spawn(process.execPath, [wrangler, "dev", "--local", ...args], { cwd: root, env, stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
