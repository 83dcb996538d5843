import { expect, it } from "vitest";
import { measureMemory } from "./memory.ts";

it("memory stays flat over 60 consecutive evaluations (1000 in test/slow/fhe-memory.test.ts)", async () => {
  const r = await measureMemory(60);
  console.log(`[fhe] memory over ${r.requests} requests: ${JSON.stringify(r)}`);
  expect(r.wasmStartBytes).toBeGreaterThan(0);
  expect(r.wasmGrowthBytes).toBe(0);
  expect(r.heapGrowthBytes).toBeLessThan(16 * 2 ** 20);
});
