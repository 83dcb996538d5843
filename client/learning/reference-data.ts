/**
 * Node-only loading of the reference datasets from examples/data (or /work/shared/data).
 * Kept out of index.ts so browser bundles do not pull node:fs.
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parseAdult, parseOptdigits, parsePima, parseWdbc, subset, type Dataset } from "./datasets.ts";

export type ReferenceName = "wdbc" | "optdigits" | "adult" | "pima";

/** Where the reference files live: examples/data if present, else /work/shared/data. */
export function referenceDataDir(): string {
  const local = path.join(import.meta.dirname, "..", "..", "examples", "data");
  for (const dir of [local, "/work/shared/data"]) if (existsSync(path.join(dir, "wdbc.data"))) return dir;
  throw new Error("reference datasets not found (examples/data or /work/shared/data)");
}

/**
 * Loads a reference dataset as train/test. wdbc and pima have no official split: a
 * deterministic 80/20 split (every 5th row to test; wdbc 456/113, pima 615/153). Node only (node:fs).
 */
export function loadReferenceDataset(name: ReferenceName, dir = referenceDataDir()): { train: Dataset; test: Dataset } {
  const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
  switch (name) {
    case "wdbc":
    case "pima": {
      const all = name === "wdbc" ? parseWdbc(read("wdbc.data")) : parsePima(read("pima-indians-diabetes.csv"));
      const testIdx: number[] = [];
      const trainIdx: number[] = [];
      for (let i = 0; i < all.n; i++) (i % 5 === 4 ? testIdx : trainIdx).push(i);
      return { train: subset(all, trainIdx), test: subset(all, testIdx) };
    }
    case "optdigits":
      return { train: parseOptdigits(read("optdigits.tra")), test: parseOptdigits(read("optdigits.tes")) };
    case "adult":
      return { train: parseAdult(read("adult-train.csv")), test: parseAdult(read("adult-test.csv")) };
  }
}
