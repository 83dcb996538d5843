/**
 * docs/tutorial.md, executed: every ```sh block in order, in one bash session, exactly as
 * written except for two substitutions (the work directory and the coordinator port, so the
 * run cannot collide with anything on the machine). Blocks marked `background "<line>"` are
 * started in the background and the run waits until their output shows that line. The
 * tutorial fails here if any command fails or a documented result does not appear.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../scripts/lib/coordinator.ts";
import { ONLINE_JSON } from "../unit/cli/json-coverage.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const DOC = readFileSync(path.join(ROOT, "docs", "tutorial.md"), "utf8");
const work = mkdtempSync(path.join(os.tmpdir(), "2pm-tutorial-"));

interface Block { code: string; waitFor?: string }

/** The doc's sh blocks in order. */
export function extractBlocks(md: string): Block[] {
  const out: Block[] = [];
  for (const m of md.matchAll(/^```sh(?: background "([^"]+)")?\n([\s\S]*?)^```$/gm)) {
    out.push({ code: m[2]!, ...(m[1] ? { waitFor: m[1] } : {}) });
  }
  return out;
}

let shell: ChildProcess | undefined;
afterAll(() => {
  if (shell?.pid && shell.exitCode === null) { try { process.kill(-shell.pid, "SIGKILL"); } catch { /* gone */ } }
  rmSync(work, { recursive: true, force: true });
});

/**
 * One bash session fed block by block on stdin (`set -euo pipefail`: the first failing
 * command ends it), so variables and exports carry over as in a terminal. Background blocks
 * run as `( … ) > log &` in the same session; the runner waits for their line in the log.
 */
class Session {
  private out = "";
  private exited: number | null = null;
  private readonly proc: ChildProcess;
  constructor(env: NodeJS.ProcessEnv) {
    this.proc = spawn("bash", ["-euo", "pipefail", "-s"], { cwd: ROOT, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    shell = this.proc;
    this.proc.stdout!.on("data", (b: Buffer) => { this.out += b.toString(); });
    this.proc.stderr!.on("data", (b: Buffer) => { this.out += b.toString(); });
    this.proc.on("exit", (code) => { this.exited = code ?? 1; });
  }
  get output(): string { return this.out; }
  private async until(test: () => boolean, what: string, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!test()) {
      if (this.exited !== null) throw new Error(`the tutorial's shell exited ${this.exited} while waiting for ${what}:\n${this.out.slice(-4000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${this.out.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  async run(i: number, code: string): Promise<void> {
    this.proc.stdin!.write(`${code}\necho "@@block ${i} done"\n`);
    await this.until(() => this.out.includes(`@@block ${i} done`), `block ${i}`, 600_000);
  }
  async background(i: number, code: string, waitFor: string): Promise<void> {
    const log = path.join(work, `background-${i}.log`);
    this.proc.stdin!.write(`( ${code}\n) > "${log}" 2>&1 &\necho "@@block ${i} done"\n`);
    await this.until(() => this.out.includes(`@@block ${i} done`), `block ${i}`, 10_000);
    const seen = (): boolean => { try { return readFileSync(log, "utf8").includes(waitFor); } catch { return false; } };
    await this.until(seen, `"${waitFor}" from block ${i}`, 180_000);
  }
}

describe("docs/tutorial.md", () => {
  it("has the blocks the runner expects", () => {
    const blocks = extractBlocks(DOC);
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    expect(blocks.filter((b) => b.waitFor).length).toBe(4);
    expect(DOC).toContain("/tmp/2pm-tutorial");
    expect(DOC).toContain("8787");
  });

  it("runs from a CSV to a verified result and an encrypted prediction", async () => {
    const port = String(await freePort());
    const subst = (s: string): string => s.replaceAll("/tmp/2pm-tutorial", work).replaceAll("8787", port);
    const blocks = extractBlocks(DOC);
    const session = new Session({ ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" });
    for (const [i, b] of blocks.entries()) {
      if (b.waitFor) await session.background(i, subst(b.code), b.waitFor);
      else await session.run(i, subst(b.code));
    }
    const all = session.output;
    expect(all).toMatch(/pima-indians-diabetes-test\.csv: \d+ rows \(hold-out\)/);
    expect(all).toMatch(/^patients — count by diabetes$/m);
    expect(all).toMatch(/^learning job \S+: 5 rounds aggregated/m);
    expect(all).toMatch(/← best$/m);
    expect(all).toMatch(/log verifies: \d+ entries/);
    expect(all).toMatch(/rows scored encrypted \(by the coordinator\); (\d+)\/\1 labels equal plaintext inference/);
    // Friction 5: the job's last round evaluated the final model, and the table shows it.
    expect(all).toMatch(/^learning job \S+: 5 rounds aggregated, \S.*; final model 5 evaluated$/m);
    expect(all).toMatch(/^5 +\d\.\d{4} +\d+\.\d{2} % +— +3 .*← final/m);
    expect(all).toMatch(/^final evaluation of model 5 attempt 1: accepted/m);

    await checkJsonCommands(port);
  }, 900_000);
});

/**
 * Every command that needs a coordinator, with --json, against the tutorial's coordinator and
 * nodes (the others: test/unit/cli/json.test.ts): stdout must parse as JSON lines. Also a job
 * that every node declines (too many rows for its query) fails at once with their reasons.
 */
async function checkJsonCommands(port: string): Promise<void> {
  const env = {
    ...process.env, TWOPM_COORDINATOR: `http://127.0.0.1:${port}`, TWOPM_SUBMITTER_KEY: path.join(work, "submitter.json"),
    TWOPM_API_TOKEN: (JSON.parse(readFileSync(path.join(work, "coordinator", "secrets.json"), "utf8")) as { apiToken: string }).apiToken,
  };
  const seen = new Set<string>();
  const cli = (name: string, ...args: string[]): { status: number | null; json: Array<Record<string, unknown>>; stderr: string } => {
    seen.add(name);
    const r = spawnSync(process.execPath, [path.join(ROOT, "client/cli/bin.mjs"), ...name.split(" "), ...args, "--json"], { cwd: work, env, encoding: "utf8", timeout: 300_000 });
    const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
    let json: Array<Record<string, unknown>>;
    try { json = lines.map((l) => JSON.parse(l) as Record<string, unknown>); } catch { throw new Error(`2pm ${name} --json printed non-JSON:\n${r.stdout}\n${r.stderr}`); }
    return { status: r.status, json, stderr: r.stderr };
  };
  const list = cli("job list");
  expect(list.status).toBe(0);
  const jobs = list.json[0] as unknown as Array<{ id: string; type: string; status: string }>;
  const learning = jobs.find((j) => j.type === "learning" && j.status === "completed")!;
  const stats = jobs.find((j) => j.type === "stats" && j.status === "completed")!;
  expect(learning && stats).toBeTruthy();

  const result = cli("job result", learning.id);
  const lr = result.json[0]!.result as { history: Array<{ round: number; accuracy: number | null }>; latestModelRound: number; final: string; bestRound: number };
  expect(lr.final).toBe("evaluated");
  expect(lr.history.find((h) => h.round === lr.latestModelRound)?.accuracy).toEqual(expect.any(Number)); // the final model was evaluated
  const watched = cli("job watch", stats.id);
  expect(watched.status).toBe(0);
  expect(watched.json.at(-1)).toMatchObject({ kind: "job", status: "completed" });
  expect(watched.json.filter((e) => e.kind === "round").length).toBeGreaterThan(0);
  expect(cli("job verify", learning.id).json[0]).toMatchObject({ ok: true, problems: [] });
  const dl = cli("model download", learning.id, "--round", String(lr.latestModelRound), "--out", path.join(work, "final-model"));
  expect(dl.json[0]).toMatchObject({ model: lr.latestModelRound, files: ["model.json", "weights.bin", "dense.json"], accuracy: expect.any(Number) });
  const inf = cli("infer", "--model", learning.id, "--input", path.join(work, "split", "pima-indians-diabetes-test.csv"), "--schema", path.join(work, "pima.json"), "--local");
  expect(inf.json[0]).toMatchObject({ labels: expect.any(Array) });

  // A job the nodes decline (each holds more rows than the query allows) fails at once, each reason shown.
  const spec = JSON.parse(readFileSync(path.join(work, "pima-stats.json"), "utf8")) as Record<string, unknown> & { task: Record<string, unknown>; deadlines: Record<string, number> };
  const query = JSON.parse(readFileSync(path.join(work, "pima-query.json"), "utf8")) as { limits: Record<string, number> };
  writeFileSync(path.join(work, "tiny-query.json"), JSON.stringify({ ...query, limits: { ...query.limits, maxRowsPerParty: 10 } }));
  writeFileSync(path.join(work, "tiny-stats.json"), JSON.stringify({ ...spec, deadlines: { ...spec.deadlines, select: 600 }, task: { ...spec.task, query: "tiny-query.json" } }));
  const t0 = Date.now();
  const declined = cli("job submit", path.join(work, "tiny-stats.json"), "--wait");
  expect(declined.status).toBe(1);
  expect(Date.now() - t0).toBeLessThan(120_000); // not the 600 s select deadline
  const end = declined.json.at(-1)!;
  expect(end).toMatchObject({ kind: "job", status: "failed" });
  expect(String(end.error)).toMatch(/^insufficient-nodes: .*; declined: node \S+: .*maxRowsPerParty = 10/);

  // A job that waits for a committee larger than the nodes there are (up to its 600 s select
  // deadline), so it is still live when the cancel arrives however fast a round would be.
  writeFileSync(path.join(work, "waiting-stats.json"), JSON.stringify({ ...spec, committee: { size: 8, min: 8 }, deadlines: { ...spec.deadlines, select: 600 } }));
  const sub = cli("job submit", path.join(work, "waiting-stats.json"));
  expect(sub.status, sub.stderr).toBe(0);
  const id = String(sub.json[0]!.id);
  const cancelled = cli("job cancel", id);
  expect(cancelled.status, cancelled.stderr).toBe(0);
  expect(cancelled.json[0]).toMatchObject({ id, status: "cancelled" });

  // node start --json: a fresh node's first line is its registration, as JSON.
  spawnSync(process.execPath, [path.join(ROOT, "client/cli/bin.mjs"), "node", "init", "--dir", path.join(work, "extra"), "--source", path.join(work, "split", "pima-indians-diabetes-node0.csv"), "--schema", path.join(work, "pima.json")], { cwd: work, env, encoding: "utf8" });
  seen.add("node start");
  const node = spawn(process.execPath, [path.join(ROOT, "client/cli/bin.mjs"), "node", "start", "--dir", path.join(work, "extra"), "--json"], { cwd: work, env });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`node start printed no line in 60 s: ${buf}`)), 60_000);
      node.stdout!.on("data", (b: Buffer) => { buf += b.toString(); if (buf.includes("\n")) { clearTimeout(timer); resolve(buf.split("\n")[0]!); } });
    });
    expect(JSON.parse(first)).toMatchObject({ kind: "registered", nodeId: expect.any(String) });
  } finally {
    node.kill("SIGTERM");
  }
  expect([...seen].sort()).toEqual([...ONLINE_JSON].sort());
}
