/**
 * Every documented way to invoke the CLI runs it: `node client/cli/bin.mjs`, `npx 2pm` (npm runs the package's bin through a link). None may exit 0
 * silently: no arguments prints usage and exits 2, `help` exits 0 with usage, an unknown
 * command is one line on stderr and exit 2.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const forms: Array<[string, string[]]> = [
  ["node bin.mjs", [process.execPath, path.join(ROOT, "client/cli/bin.mjs")]],
  ["npx 2pm (through npm's bin link)", ["npx", "--no", "2pm"]],
];

describe("CLI invocation forms", () => {
  for (const [name, cmd] of forms) {
    it(`${name}: usage with exit 2, help with exit 0, an unknown command as one line with exit 2`, () => {
      const run = (...args: string[]) => spawnSync(cmd[0]!, [...cmd.slice(1), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      const none = run();
      expect(none.status).toBe(2);
      expect(none.stdout).toMatch(/usage: 2pm/);
      const help = run("help");
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/submitter init/);
      const bad = run("frobnicate");
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split("\n")).toHaveLength(1);
      expect(bad.stderr).toMatch(/unknown command/);
    }, 120_000);
  }
});
