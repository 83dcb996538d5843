/** `2pm fhe train`: a model file on success, one-line errors and no file on bad input. */
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { fheTrain } from "../../../client/cli/fhe-train.ts";
import { commands } from "../../../client/cli/commands.ts";
import { CliError, UsageError } from "../../../client/cli/errors.ts";
import { checkDenseModel } from "../../../client/fhe/model.ts";
import { DATA_DIR } from "../fhe/helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const dir = mkdtempSync(path.join(tmpdir(), "fhe-train-cli-"));
const data = path.join(dir, "rows.csv");
writeFileSync(data, readFileSync(path.join(DATA_DIR, "wdbc.data"), "utf8").trim().split("\n").slice(0, 100).join("\n") + "\n");
const schema = path.join(ROOT, "examples/schemas/wdbc.json");

describe("2pm fhe train", () => {
  it("is registered and writes a 2pm-dense/v1 model, with progress per iteration on stderr", async () => {
    expect(commands["fhe train"]).toBe(fheTrain);
    const out = path.join(dir, "model.json");
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      // defaults: degree 5, learning rate "auto" (AUTO_LR_FACTOR / λ_max of the owner's rows)
      expect(await fheTrain(["--data", data, "--schema", schema, "--label", "diagnosis", "--exclude", "id", "--iterations", "2", "--out", out])).toBe(0);
      const lines = err.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => /degree 5, learning rate \d+(\.\d+)? \(auto\)/.test(l))).toBe(true);
      expect(lines.some((l) => /^iteration 1\/2 {2}level 1 \(\d+ left\) {2}\d+\.\d+ s/.test(l))).toBe(true);
      expect(lines.some((l) => /^iteration 2\/2 {2}level 5 \(0 left\)/.test(l))).toBe(true);
    } finally {
      err.mockRestore();
      log.mockRestore();
    }
    const m = checkDenseModel(JSON.parse(readFileSync(out, "utf8")));
    expect(m.inputDim).toBe(30);
    expect(m.preprocessing!.mean).toHaveLength(30);
  });

  it("bad input: usage errors (exit 2), refusals (exit 1), no output file", async () => {
    const out = path.join(dir, "never.json");
    const base = ["--data", data, "--schema", schema, "--label", "diagnosis", "--out", out];
    await expect(fheTrain([...base, "--iterations", "0"])).rejects.toBeInstanceOf(UsageError);
    await expect(fheTrain([...base, "--iterations", "2", "--degree", "4"])).rejects.toBeInstanceOf(UsageError);
    await expect(fheTrain([...base.slice(2), "--iterations", "2"])).rejects.toThrow(/missing --data/);
    await expect(fheTrain([...base, "--iterations", "7", "--degree", "3"])).rejects.toThrow(/need 19 levels.*--refresh-every 2/);
    await expect(fheTrain([...base, "--iterations", "7"])).rejects.toBeInstanceOf(CliError);
    await expect(fheTrain([...base, "--iterations", "2", "--label", "radius_mean"])).rejects.toThrow(CliError);
    await expect(fheTrain(["--data", path.join(dir, "missing.csv"), "--schema", schema, "--iterations", "2", "--out", out])).rejects.toThrow(/cannot read/);
    expect(existsSync(out)).toBe(false);
  });
});
