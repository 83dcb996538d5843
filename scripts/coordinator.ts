/**
 * `npm run coordinator [-- --dir <state dir>] [--port <n>]`: the same local coordinator the
 * demo and the end-to-end tests use (scripts/lib/coordinator.ts: the Worker bundled by
 * wrangler, served by Miniflare with local D1, R2 and Durable Objects), as a standalone
 * process with persistent state.
 *
 * State lives in `<dir>` (default `.2pm/coordinator`): `v3/` holds D1, R2 and the Durable
 * Objects; `secrets.json` (mode 0600) holds the API token and the log-signing key, created on
 * first start and reused afterwards, so nodes and submitters keep working across restarts.
 * Prints the URL, the token, and `export` lines for the CLI; runs until Ctrl-C.
 * Bad options: a one-line message and exit code 2.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { startCoordinator } from "./lib/coordinator.ts";
import { toHex } from "../protocol/encoding.ts";

interface Secrets { apiToken: string; signingKeyHex: string }

function fail(msg: string, code = 2): never {
  console.error(`coordinator: ${msg}`);
  process.exit(code);
}

/** Reads `<dir>/secrets.json`, or creates it with a fresh token and signing key. Throws on a malformed file. */
function loadSecrets(dir: string): { secrets: Secrets; created: boolean } {
  const file = path.join(dir, "secrets.json");
  if (existsSync(file)) {
    const s = JSON.parse(readFileSync(file, "utf8")) as Partial<Secrets>;
    if (typeof s.apiToken !== "string" || s.apiToken.length < 16 || typeof s.signingKeyHex !== "string" || !/^[0-9a-f]{64}$/.test(s.signingKeyHex)) {
      throw new Error(`${file} is malformed (expected {apiToken, signingKeyHex}); move it away to start fresh`);
    }
    return { secrets: { apiToken: s.apiToken, signingKeyHex: s.signingKeyHex }, created: false };
  }
  const secrets: Secrets = {
    apiToken: Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url"),
    signingKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  return { secrets, created: true };
}

async function main(): Promise<void> {
  let values: { dir?: string; port?: string };
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { dir: { type: "string" }, port: { type: "string" } }, strict: true, allowPositionals: false }));
  } catch (e) {
    fail(`${(e as Error).message.split("\n")[0]} (usage: npm run coordinator -- [--dir <state dir>] [--port <n>])`);
  }
  const dir = path.resolve(values.dir ?? ".2pm/coordinator");
  const port = values.port === undefined ? 8787 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be an integer 0..65535, got ${values.port}`);
  mkdirSync(dir, { recursive: true });
  let loaded: ReturnType<typeof loadSecrets>;
  try { loaded = loadSecrets(dir); } catch (e) { fail((e as Error).message); }
  const { secrets, created } = loaded;
  console.log(`coordinator: ${created ? "new" : "existing"} state in ${dir}; starting…`);
  const c = await startCoordinator({ apiToken: secrets.apiToken, signingKeyHex: secrets.signingKeyHex, persistDir: dir, keepState: true, port });
  console.log(`coordinator: listening on ${c.url}`);
  console.log(`coordinator: API token ${secrets.apiToken}`);
  console.log("coordinator: for the CLI in another shell:");
  console.log(`  export TWOPM_COORDINATOR=${c.url} TWOPM_API_TOKEN=${secrets.apiToken}`);
  console.log(`coordinator: dashboard ${c.url}/dashboard (sign in with the token); Ctrl-C stops, state is kept`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await c.stop();
    console.log("coordinator: stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message.split("\n")[0]! : String(e), 1));
