/** The coordinator core stays pure: it imports protocol/ and itself, nothing of Workers, functions/ or the DO shells; its machines read no clock. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const core = path.join(import.meta.dirname, "../../../durable-objects/core");

describe("durable-objects/core imports", () => {
  for (const file of readdirSync(core).filter((f) => f.endsWith(".ts"))) {
    it(file, () => {
      const specifiers = [...readFileSync(path.join(core, file), "utf8").matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
      expect(specifiers.length).toBeGreaterThan(0);
      for (const s of specifiers) {
        const ok = s.startsWith("./") || s.startsWith("../../protocol/") || s.startsWith("@noble/");
        expect(ok, `${file} imports ${s}`).toBe(true);
      }
    });
  }
  it("the machines take time and randomness only from their context", () => {
    for (const file of ["job-machine.ts", "round-referee.ts", "selection.ts", "job-types.ts"]) {
      expect(readFileSync(path.join(core, file), "utf8"), file).not.toMatch(/Date\.now\(|Math\.random\(|cryptoRng|getRandomValues|console\./);
    }
  });
});
