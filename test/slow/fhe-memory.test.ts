/**
 * Memory flatness over 1000 consecutive encrypted evaluations (issue 6 acceptance): the same
 * evaluator the Worker runs, fed fresh ciphertexts each time (load → evaluate → save), with
 * the SEAL WASM linear memory and the JS heap sampled after warm-up and at the end.
 * `npm run test:slow -- test/slow/fhe-memory.test.ts`; a 60-request version is in the fast suite.
 */
import { expect, it } from "vitest";
import { measureMemory } from "../unit/fhe/memory.ts";

it("1000 consecutive LR batch + single + MLP evaluations keep memory flat", async () => {
  const r = await measureMemory(1000);
  console.log(`[fhe] memory over ${r.requests} requests: ${JSON.stringify(r)}`);
  expect(r.wasmGrowthBytes).toBe(0);
  expect(r.heapGrowthBytes).toBeLessThan(16 * 2 ** 20);
});
