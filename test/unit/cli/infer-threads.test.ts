/** `2pm infer --threads`: a bad count is a usage error before anything is read or sent. */
import { describe, expect, it } from "vitest";
import { modelCommands } from "../../../client/cli/model.ts";
import { UsageError } from "../../../client/cli/errors.ts";

describe("2pm infer --threads", () => {
  for (const bad of ["0", "17", "two", "1.5"]) {
    it(`refuses --threads ${bad}`, async () => {
      const err = await modelCommands.infer(["--model", "job-1", "--input", "missing.csv", "--schema", "missing.json", "--threads", bad]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/--threads must be an integer in \[1, 16\]/);
    });
  }
});
