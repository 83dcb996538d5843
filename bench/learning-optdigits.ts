/**
 * `npm run bench -- learning-optdigits [--nodes 5] [--rounds 4]`: bench/learning.ts for the
 * optdigits MLP alone (validated with the PINE norm check vs the plaintext baseline), written
 * to its own bench/results/learning-optdigits.json so that it does not replace the other
 * datasets' figures in learning.json.
 */
import { run as runLearning } from "./learning.ts";
import type { BenchResult } from "./types.ts";

export async function run(args: string[]): Promise<BenchResult> {
  const r = await runLearning(["--datasets", "optdigits", ...args]);
  return { ...r, name: "learning-optdigits" };
}
