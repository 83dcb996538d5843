import os from "node:os";

/** A benchmark's output: rows printed as a table and written as JSON. */
export interface BenchResult {
  /** Short name, e.g. "mascot". */
  name: string;
  /** One object per measured configuration; values are numbers or short strings. */
  rows: Array<Record<string, string | number>>;
  /** Free-form notes printed under the table (goals, anchors, caveats). */
  notes?: string[];
}

/** A benchmark module: `bench/<name>.ts` exports `run`. */
export type BenchRun = (args: string[]) => Promise<BenchResult>;

/** The machine's measured load average (1/5/15 min) and core count, for a bench note: never a fixed guess. */
export function loadNote(when = "now"): string {
  return `load average ${when} ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")} (1/5/15 min) on ${os.availableParallelism()} cores`;
}
