/** The FHE sub-app as mounted by functions/index.ts at /v1/models (through SELF). */
import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { buildPackage } from "../../client/fhe/package.ts";
import { inferRows } from "../../client/fhe/client.ts";
import { loadSeal } from "../../client/fhe/seal.ts";
import type { DenseModel } from "../../client/fhe/model.ts";

it("serves public info, keys and inference under /v1/models with problem-details errors", async () => {
  const r404 = await SELF.fetch("https://x/v1/models/no-such-model/package");
  expect(r404.status).toBe(404);
  expect(await r404.json()).toMatchObject({ status: 404, code: "unknown-model" });
  const model: DenseModel = { format: "2pm-dense/v1", inputDim: 3, preprocessing: null, layers: [{ weights: [[1], [-1], [0.5]], bias: [0.25], activation: "sigmoid" }] };
  const pkg = await buildPackage(model, { modelId: "mounted-lr" });
  const put = await SELF.fetch("https://x/v1/models/mounted-lr/package", { method: "PUT", headers: { authorization: "Bearer test-api-token", "content-type": "application/json" }, body: JSON.stringify(pkg) });
  expect(put.status).toBe(201);
  const seal = await loadSeal({ wasmModule: sealWasm });
  const fetchSelf = ((input: string | URL | Request, init?: RequestInit) => SELF.fetch(input as string, init)) as typeof fetch;
  const rows = [[1, 2, 3], [0, 0, 0], [-1, 4, 2]];
  const r = await inferRows({ baseUrl: "https://x/v1/models", modelId: "mounted-lr", rows, fetch: fetchSelf, token: "test-api-token", seal, mode: "batch" });
  rows.forEach((x, i) => expect(r.scores[i]![0]).toBeCloseTo(x[0]! - x[1]! + 0.5 * x[2]! + 0.25, 4));
  expect(r.modelHash).toBe(pkg.hash);
  const one = await inferRows({ baseUrl: "https://x/v1/models", modelId: "mounted-lr", rows: [rows[2]!], fetch: fetchSelf, token: "test-api-token", seal });
  expect(one.labels[0]).toBe(0);
  expect(one.probabilities[0]![0]).toBeCloseTo(1 / (1 + Math.exp(-(-1 - 4 + 1 + 0.25))), 4);
  // the one-shot client deleted its key sets afterwards (quota slots freed)
  const { env } = await import("cloudflare:test");
  expect((await env.MODELS.list({ prefix: "fhe-keys/mounted-lr/" })).objects).toEqual([]);
  // without the token: 401 problem details through the app's error boundary
  await expect(inferRows({ baseUrl: "https://x/v1/models", modelId: "mounted-lr", rows, fetch: fetchSelf, seal, mode: "batch" })).rejects.toThrow(/unauthorized/);
  const r401 = await SELF.fetch("https://x/v1/models/mounted-lr/infer", { method: "POST", headers: { "content-type": "application/vnd.2pm.fhe+binary" }, body: new Uint8Array(16) });
  expect(r401.status).toBe(401);
  expect(await r401.json()).toMatchObject({ status: 401, code: "unauthorized" });
});

it("mounts the FHE training routes at /v1/fhe/train behind the token", async () => {
  for (const [method, path] of [["POST", "/v1/fhe/train/keys"], ["POST", "/v1/fhe/train/block"], ["DELETE", "/v1/fhe/train/keys/abc"]] as const) {
    const r = await SELF.fetch(`https://x${path}`, { method, headers: { "content-type": "application/x-2pm-frame" }, body: method === "POST" ? new Uint8Array(16) : null });
    expect(r.status, `${method} ${path}`).toBe(401);
    expect(await r.json()).toMatchObject({ status: 401, code: "unauthorized" });
  }
});
