/**
 * docs/tutorial.md, executed: every ```sh block in order, in one bash session, exactly as
 * written except for two substitutions (the work directory and the coordinator port, so the
 * run cannot collide with anything on the machine). Blocks marked `background "<line>"` are
 * started in the background and the run waits until their output shows that line. The
 * tutorial fails here if any command fails or a documented result does not appear.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../scripts/lib/coordinator.ts";

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
  }, 900_000);
});
