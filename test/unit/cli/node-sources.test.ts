import { afterAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { nodeInit } from "../../../client/cli/node-init.ts";
import { nodeAddSource } from "../../../client/cli/node-sources.ts";
import { CliError, UsageError } from "../../../client/cli/errors.ts";
import { parseNodeConfig } from "../../../client/agent/config.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const ex = (p: string): string => path.join(ROOT, "examples", p);
const tmp = mkdtempSync(path.join(os.tmpdir(), "2pm-sources-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
vi.spyOn(console, "log").mockImplementation(() => {});

const init = (dir: string, extra: string[]): Promise<number> =>
  nodeInit(["--dir", dir, "--coordinator", "http://127.0.0.1:8787", ...extra]);

describe("node sources", () => {
  it("node init takes several sources, pairing --schema per --source", async () => {
    const dir = path.join(tmp, "a");
    expect(await init(dir, ["--source", ex("data/wdbc.data"), "--schema", ex("schemas/wdbc.json"), "--source", ex("data/pima-indians-diabetes.csv"), "--schema", ex("schemas/pima.json")])).toBe(0);
    const cfg = parseNodeConfig(readFileSync(path.join(dir, "node.json"), "utf8"));
    expect(cfg.sources.map((s) => path.basename(s.path))).toEqual(["wdbc.data", "pima-indians-diabetes.csv"]);
    expect(cfg.sources.every((s) => s.format === "csv")).toBe(true);
  });

  it("node add-source appends a dataset and refuses one the node already offers", async () => {
    const dir = path.join(tmp, "b");
    await init(dir, ["--source", ex("data/wdbc.data"), "--schema", ex("schemas/wdbc.json")]);
    expect(await nodeAddSource(["--dir", dir, "--source", ex("data/adult-test.csv"), "--schema", ex("schemas/adult.json")])).toBe(0);
    const cfg = parseNodeConfig(readFileSync(path.join(dir, "node.json"), "utf8"));
    expect(cfg.sources).toHaveLength(2);
    await expect(nodeAddSource(["--dir", dir, "--source", ex("data/adult-train.csv"), "--schema", ex("schemas/adult.json")])).rejects.toThrow(/both offer dataset "adult"/);
    expect(parseNodeConfig(readFileSync(path.join(dir, "node.json"), "utf8")).sources).toHaveLength(2); // unchanged
  });

  it("bad combinations get a clear error and write nothing", async () => {
    const dir = path.join(tmp, "c");
    await expect(init(dir, ["--source", ex("data/wdbc.data"), "--source", ex("data/adult-test.csv"), "--schema", ex("schemas/wdbc.json"), "--schema", ex("schemas/adult.json"), "--schema", ex("schemas/pima.json")])).rejects.toThrow(UsageError);
    await expect(init(dir, ["--source", ex("data/wdbc.data"), "--source", ex("data/wdbc.data"), "--schema", ex("schemas/wdbc.json")])).rejects.toThrow(/both offer dataset "wdbc"/);
    await expect(init(dir, ["--source", path.join(tmp, "nope.csv"), "--schema", ex("schemas/wdbc.json")])).rejects.toThrow(CliError);
    await expect(init(dir, ["--schema", ex("schemas/wdbc.json")])).rejects.toThrow(/missing --source/);
    await expect(nodeAddSource(["--dir", path.join(tmp, "none"), "--source", ex("data/wdbc.data"), "--schema", ex("schemas/wdbc.json")])).rejects.toThrow(/run 2pm node init first/);
    writeFileSync(path.join(tmp, "bad-schema.json"), "{");
    await expect(init(dir, ["--source", ex("data/wdbc.data"), "--schema", path.join(tmp, "bad-schema.json")])).rejects.toThrow(/not valid JSON/);
  });
});
