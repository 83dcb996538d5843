/**
 * `--json` on every command (issue 17): stdout is machine-readable JSON (one object per
 * line), human notes go to stderr, exit codes are unchanged. The commands that need no
 * coordinator run here through the real entry (bin.mjs); the rest in the tutorial's e2e run.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HELP } from "../../../client/cli/help.ts";
import { Output } from "../../../client/cli/output.ts";
import { OFFLINE_JSON, ONLINE_JSON } from "./json-coverage.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const BIN = path.join(ROOT, "client/cli/bin.mjs");
const dir = mkdtempSync(path.join(os.tmpdir(), "2pm-json-"));
const env = { ...process.env, TWOPM_COORDINATOR: "http://127.0.0.1:9", TWOPM_API_TOKEN: "", TWOPM_SUBMITTER_KEY: "" };

/** Runs `2pm <args>`, returns exit code, the parsed stdout lines, and stderr. */
function run(...args: string[]): { status: number | null; json: unknown[]; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", env, timeout: 120_000 });
  const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
  return { status: r.status, json: lines.map((l) => JSON.parse(l) as unknown), stderr: r.stderr, stdout: r.stdout };
}

describe("--json", () => {
  it("the online and offline checks together cover every documented command once, and every usage line offers --json", () => {
    const all = [...OFFLINE_JSON, ...ONLINE_JSON];
    expect([...all].sort()).toEqual(Object.keys(HELP).sort());
    expect(new Set(all).size).toBe(all.length);
    for (const [name, h] of Object.entries(HELP)) expect(h.usage, name).toMatch(/\[--json\]/);
  });

  it("Output: one JSON line per result or event under --json, human text otherwise, notes to stderr", () => {
    const out: string[] = [], err: string[] = [];
    const j = new Output(true, (l) => out.push(l), (l) => err.push(l));
    j.result({ a: 1 }, "text");
    j.note("a note");
    j.event({ kind: "x" }, "x happened");
    expect(out).toEqual(['{"a":1}', '{"kind":"x"}']);
    expect(err).toEqual(["a note"]);
    const t: string[] = [];
    const h = new Output(false, (l) => t.push(l), (l) => t.push(`ERR ${l}`));
    h.result({ a: 1 }, () => ["line 1", "line 2"]);
    h.note("a note");
    expect(t).toEqual(["line 1", "line 2", "a note"]);
  });

  it("key, consortium and node commands print parseable JSON on stdout", () => {
    const init0 = run("submitter", "init", "--out", path.join(dir, "s.json"), "--json");
    expect(init0.status).toBe(0);
    expect(init0.json).toEqual([{ file: path.join(dir, "s.json"), publicKey: expect.any(String) }]);
    const show = run("submitter", "show", "--submitter-key", path.join(dir, "s.json"), "--json");
    expect(show.status).toBe(0);
    expect(show.json).toEqual([{ publicKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) }]);
    const key = (show.json[0] as { publicKey: string }).publicKey;

    const admin = run("consortium", "init", "--out", path.join(dir, "admin.json"), "--json");
    expect(admin.json).toEqual([{ file: path.join(dir, "admin.json"), publicKey: expect.any(String) }]);
    const adminKey = (admin.json[0] as { publicKey: string }).publicKey;

    copyFileSync(path.join(ROOT, "examples/schemas/pima.json"), path.join(dir, "pima.json"));
    writeFileSync(path.join(dir, "a.csv"), readFileSync(path.join(ROOT, "examples/data/pima-indians-diabetes.csv"), "utf8").split("\n").slice(0, 30).join("\n") + "\n");
    const init = run("node", "init", "--dir", path.join(dir, "n"), "--coordinator", "http://127.0.0.1:9", "--source", "a.csv", "--schema", "pima.json", "--json");
    expect(init.status).toBe(0);
    expect(init.json).toEqual([expect.objectContaining({ nodeId: expect.any(String), identityKey: expect.any(String), datasets: [expect.objectContaining({ dataset: "pima", format: "csv" })], submitters: [] })]);
    expect(init.stderr).toMatch(/no submitter is trusted yet/); // the note stays off stdout
    const identityKey = (init.json[0] as { identityKey: string }).identityKey;

    writeFileSync(path.join(dir, "other.json"), JSON.stringify({ ...JSON.parse(readFileSync(path.join(dir, "pima.json"), "utf8")), name: "pima2" }));
    const add = run("node", "add-source", "--dir", path.join(dir, "n"), "--source", "a.csv", "--schema", "other.json", "--json");
    expect(add.json).toEqual([{ added: [expect.objectContaining({ dataset: "pima2" })] }]);
    const ledger = run("node", "ledger", "--dir", path.join(dir, "n"), "--json");
    expect(ledger.status).toBe(0);
    expect(ledger.json).toEqual([expect.objectContaining({ jobs: [] })]);
    const budget = run("node", "budget", "--dir", path.join(dir, "n"), "--json");
    expect(budget.status, budget.stderr).toBe(0);
    expect(budget.json).toHaveLength(1);

    writeFileSync(path.join(dir, "members.json"), JSON.stringify([{ identityKey, label: "a" }]));
    const sign = run("consortium", "sign", "--admin", path.join(dir, "admin.json"), "--members", path.join(dir, "members.json"), "--name", "c", "--out", path.join(dir, "list.json"), "--json");
    expect(sign.json).toEqual([{ file: path.join(dir, "list.json"), name: "c", members: 1 }]);
    const verify = run("consortium", "verify", path.join(dir, "list.json"), "--admin-key", adminKey, "--json");
    expect(verify.json).toEqual([{ valid: true, name: "c", members: 1, issuedAt: expect.any(Number) }]);
    // a failure keeps its exit code and one line on stderr, and prints nothing on stdout
    const bad = run("consortium", "verify", path.join(dir, "list.json"), "--admin-key", key, "--json");
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  }, 300_000);

  it("fhe train and fhe serve print JSON", async () => {
    const rows = readFileSync(path.join(ROOT, "examples/data/wdbc.data"), "utf8").trim().split("\n").slice(0, 60).join("\n") + "\n";
    writeFileSync(path.join(dir, "wdbc.csv"), rows);
    const train = run("fhe", "train", "--data", "wdbc.csv", "--schema", path.join(ROOT, "examples/schemas/wdbc.json"), "--label", "diagnosis", "--exclude", "id", "--iterations", "1", "--out", "m.json", "--json");
    expect(train.status, train.stderr).toBe(0);
    expect(train.json).toEqual([expect.objectContaining({ out: path.join(dir, "m.json"), features: 30, rows: 60, iterations: 1, trainingAccuracy: expect.any(Number) })]);

    const serve = spawn(process.execPath, [BIN, "fhe", "serve", "--port", "0", "--token", "a-token-of-16-chars", "--json"], { cwd: dir, env });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let buf = "";
        serve.stdout.on("data", (b: Buffer) => { buf += b.toString(); if (buf.includes("\n")) resolve(buf.split("\n")[0]!); });
        serve.on("exit", (c) => reject(new Error(`fhe serve exited ${c}`)));
      });
      expect(JSON.parse(first)).toEqual({ listening: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    } finally {
      serve.kill("SIGTERM");
    }
  }, 300_000);
});
