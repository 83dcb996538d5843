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

describe("CLI help", () => {
  it("every command has help with examples, and every help entry a command", async () => {
    const { HELP, commandHelp } = await import("../../../client/cli/help.ts");
    const { commands } = await import("../../../client/cli/commands.ts");
    expect(Object.keys(HELP).sort()).toEqual(Object.keys(commands).sort());
    for (const name of Object.keys(commands)) {
      const text = commandHelp(name)!;
      expect(text).toMatch(new RegExp(`^usage: 2pm ${name} `));
      expect(text).toMatch(/examples:\n  \S/);
    }
  });

  it("2pm help <command> and 2pm <command> --help print that command's help with exit 0; 2pm node alone names its subcommands", () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "client/cli/bin.mjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    const a = run("help", "job", "submit");
    expect(a.status).toBe(0);
    expect(a.stdout).toMatch(/^usage: 2pm job submit <spec\.json>/);
    expect(a.stdout).toMatch(/examples:/);
    const b = run("node", "init", "--help");
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/^usage: 2pm node init /);
    const c = run("node");
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/needs a subcommand: node init, node start/);
    const d = run("help", "nope");
    expect(d.status).toBe(2);
  }, 120_000);
});
