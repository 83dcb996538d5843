/**
 * Memory in workerd: after warm-up, 200 consecutive inference requests through the sub-app
 * (LR single-sample, every 10th a batch of 4096 rows) do not grow the SEAL WASM memory.
 * The 1000-request version runs in `npm run bench -- fhe --memory 1000` (workerd RSS) and
 * test/slow/fhe-memory.test.ts (Node).
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { inferRoutes } from "../../functions/fhe/routes.ts";
import { CkksContext } from "../../client/fhe/context.ts";
import { buildPackage } from "../../client/fhe/package.ts";
import { Querier } from "../../client/fhe/querier.ts";
import { loadSeal, wasmMemoryBytes } from "../../client/fhe/seal.ts";
import { encodeFrame, FRAME_CONTENT_TYPE } from "../../client/fhe/wire.ts";
import type { DenseModel } from "../../client/fhe/model.ts";

it("SEAL WASM memory stays flat over 200 requests in workerd", async () => {
  const seal = await loadSeal({ wasmModule: sealWasm });
  const model: DenseModel = {
    format: "2pm-dense/v1", inputDim: 30, preprocessing: null,
    layers: [{ weights: Array.from({ length: 30 }, (_, j) => [Math.sin(j) / 4]), bias: [0.2], activation: "sigmoid" }],
  };
  const pkg = await buildPackage(model, { modelId: "mem-lr" });
  const put = await inferRoutes.request("/mem-lr/package", { method: "PUT", headers: { authorization: "Bearer test-api-token", "content-type": "application/json" }, body: JSON.stringify(pkg) }, env);
  expect(put.status).toBe(201);
  const ctx = CkksContext.get(seal, pkg.ckks);
  const q = Querier.create(ctx, { relin: false, galoisSteps: [1, 2, 4, 8, 16] });
  try {
    const keys = q.evaluationKeys();
    const kr = await inferRoutes.request("/mem-lr/keys", { method: "POST", headers: { authorization: "Bearer test-api-token", "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, kinds: ["galois"] }, [keys.galois!]) }, env);
    const { keyId } = (await kr.json()) as { keyId: string };
    const rows = Array.from({ length: ctx.slots }, (_, i) => Array.from({ length: 30 }, (_, j) => Math.cos(i * j)));
    const batch = encodeFrame({ v: 1, keyId, mode: "batch", compression: "none" }, q.encryptBatch(rows, 30, "none"));
    const single = encodeFrame({ v: 1, keyId, mode: "single", compression: "none" }, [q.encryptSingle(rows[1]!, "none")]);
    const call = async (i: number) => {
      const r = await inferRoutes.request("/mem-lr/infer", { method: "POST", headers: { authorization: "Bearer test-api-token", "content-type": FRAME_CONTENT_TYPE }, body: i % 10 === 9 ? batch : single }, env);
      if (r.status !== 200) throw new Error(`request ${i}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    };
    for (let i = 0; i < 20; i++) await call(i);
    const start = wasmMemoryBytes();
    for (let i = 0; i < 200; i++) await call(i);
    const end = wasmMemoryBytes();
    console.log(`[fhe] workerd WASM memory over 200 requests: ${start} → ${end} bytes`);
    expect(start).toBeGreaterThan(0);
    expect(end - start).toBe(0);
  } finally {
    q.dispose();
  }
});
