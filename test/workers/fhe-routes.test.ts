import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { clearInferCaches, inferCacheSizes, inferRoutes } from "../../functions/fhe/routes.ts";
import { CkksContext } from "../../client/fhe/context.ts";
import { buildPackage, type ModelPackage } from "../../client/fhe/package.ts";
import { Querier } from "../../client/fhe/querier.ts";
import { loadSeal, type Seal } from "../../client/fhe/seal.ts";
import { encodeFrame, decodeFrame, FRAME_CONTENT_TYPE } from "../../client/fhe/wire.ts";
import { plainScores, type DenseModel } from "../../client/fhe/model.ts";
import { constantTermReplyBytes } from "../../client/fhe/evaluator.ts";
import { nextPow2 } from "../../client/fhe/bsgs.ts";
import { httpTransport } from "../../client/fhe/client.ts";

const TOKEN = "test-api-token";
const lr: DenseModel = {
  format: "2pm-dense/v1", inputDim: 4, preprocessing: { mean: [1, 2, 3, 4], std: [2, 2, 1, 0.5] },
  layers: [{ weights: [[0.5], [-1.25], [2], [0.75]], bias: [-0.3], activation: "sigmoid" }],
};
const mlp: DenseModel = {
  format: "2pm-dense/v1", inputDim: 3, preprocessing: null,
  layers: [
    { weights: [[0.5, -1], [1, 0.25], [-0.75, 1]], bias: [0.1, -0.2], activation: "square" },
    { weights: [[1, 0.5], [-2, 1]], bias: [0.05, 0], activation: "softmax" },
  ],
};

let seal: Seal;
let lrPkg: ModelPackage;
let mlpPkg: ModelPackage;

type E = typeof env;
function req(path: string, init: RequestInit, e: E = env): Promise<Response> {
  return Promise.resolve(inferRoutes.request(path, init, e));
}
const auth = (token: string | null = TOKEN): Record<string, string> => (token === null ? {} : { authorization: `Bearer ${token}` });
async function put(pkg: ModelPackage, id = pkg.modelId, token = TOKEN): Promise<Response> {
  return req(`/${id}/package`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(pkg) });
}
async function uploadKeys(id: string, keyParts: object, kinds?: string[], o: { token?: string | null; env?: E } = {}): Promise<Response> {
  const parts = keyParts as Record<string, Uint8Array | undefined>;
  const ks = kinds ?? Object.keys(parts).filter((k) => parts[k]);
  return req(`/${id}/keys`, { method: "POST", headers: { ...auth(o.token), "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, kinds: ks }, ks.map((k) => parts[k]!)) }, o.env);
}
async function infer(id: string, header: Record<string, unknown>, cts: Uint8Array[], o: { token?: string | null; env?: E } = {}): Promise<Response> {
  return req(`/${id}/infer`, { method: "POST", headers: { ...auth(o.token), "content-type": FRAME_CONTENT_TYPE }, body: encodeFrame({ v: 1, mode: "batch", ...header }, cts) }, o.env);
}
async function expectProblem(r: Response, status: number, code: string): Promise<void> {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toContain("application/problem+json");
  const body = (await r.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  expect(Object.keys(body).sort()).toEqual(["code", "detail", "status", "title", "type"].filter((k) => k in body).sort());
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/); // no stack trace
}

beforeAll(async () => {
  seal = await loadSeal({ wasmModule: sealWasm });
  lrPkg = await buildPackage(lr, { modelId: "wdbc-lr" });
  mlpPkg = await buildPackage(mlp, { modelId: "toy-mlp" });
  expect((await put(lrPkg)).status).toBe(201);
  expect((await put(mlpPkg)).status).toBe(201);
});

describe("package routes", () => {
  it("stores and serves a package", async () => {
    const r = await req("/wdbc-lr/package", { method: "GET" });
    expect(r.status).toBe(200);
    const info = (await r.json()) as Record<string, unknown>;
    expect(info).toMatchObject({ format: "2pm-fhe-public/v1", hash: lrPkg.hash, inputDim: 4, outputDim: 1, output: "sigmoid", singleSample: true, needsRelin: false });
    expect(JSON.stringify(info)).not.toMatch(/weights|mean|std|bias/); // the querier never gets the model
    const full = await req("/wdbc-lr/package", { method: "GET", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await full.json()) as ModelPackage).hash).toBe(lrPkg.hash);
    await expectProblem(await req("/wdbc-lr/package", { method: "GET", headers: { authorization: "Bearer wrong" } }), 401, "unauthorized");
  });
  it("refuses a wrong token, a tampered package and an id mismatch", async () => {
    await expectProblem(await put(lrPkg, "wdbc-lr", "nope"), 401, "unauthorized");
    await expectProblem(await req("/wdbc-lr/package", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(lrPkg) }), 401, "unauthorized");
    const tampered = structuredClone(lrPkg);
    tampered.model.layers[0]!.bias[0] = 9;
    await expectProblem(await put(tampered), 400, "bad-model");
    await expectProblem(await put(lrPkg, "other-id"), 400, "model-id-mismatch");
    await expectProblem(await req("/nope/package", { method: "GET" }), 404, "unknown-model");
  });
});

describe("encrypted inference in workerd", () => {
  it("logistic regression, batch and single sample, matches plaintext", async () => {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [1, 2] });
    try {
      const kr = await uploadKeys("wdbc-lr", q.evaluationKeys());
      expect(kr.status).toBe(201);
      const { keyId } = (await kr.json()) as { keyId: string };
      const rows = [[1, 2, 3, 4], [0, 0, 0, 0], [5, -1, 2, 4.5]];
      const r = await infer("wdbc-lr", { keyId }, q.encryptBatch(rows, 4));
      expect(r.status).toBe(200);
      const f = decodeFrame(new Uint8Array(await r.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
      const got = q.decrypt(f.parts[0]!, rows.length);
      rows.forEach((x, i) => expect(Math.abs(got[i]! - plainScores(lr, x)[0]!)).toBeLessThan(1e-4));
      // two rows per slot (complex packing): the J-parts hold the second half of the rows
      const rc = await infer("wdbc-lr", { keyId, packing: "complex" }, q.encryptBatch(rows, 4, "none", "complex"));
      expect(rc.status).toBe(200);
      const fc = decodeFrame(new Uint8Array(await rc.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
      const gotC = q.decryptPacked(fc.parts[0]!, rows.length, "complex");
      rows.forEach((x, i) => expect(Math.abs(gotC[i]! - plainScores(lr, x)[0]!)).toBeLessThan(1e-4));
      // single sample (rotate-and-sum), after an isolate-cache eviction: keys come back from R2
      clearInferCaches();
      const rs = await infer("wdbc-lr", { keyId, mode: "single" }, [q.encryptSingle(rows[2]!)]);
      expect(rs.status).toBe(200);
      const fs = decodeFrame(new Uint8Array(await rs.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
      const s = q.decrypt(fs.parts[0]!, nextPow2(4));
      expect(Math.abs(s[0]! - plainScores(lr, rows[2]!)[0]!)).toBeLessThan(1e-4);
      expect(Math.abs(s[3]! - s[0]!)).toBeLessThan(1e-4);
      expect(inferCacheSizes().keys).toBe(1);
    } finally {
      q.dispose();
    }
  });

  /**
   * One row of wdbc-lr scored on the `single` path (a querier without Galois keys); the reply
   * frame's parts and what is needed to check them. The caller disposes `q`.
   */
  async function singleRow(single: "masked-sum" | "constant-term") {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const { keyId } = (await (await uploadKeys("wdbc-lr", q.evaluationKeys())).json()) as { keyId: string };
    const row = [5, -1, 2, 4.5];
    const ct = q.encryptRow(row);
    const r = await infer("wdbc-lr", { keyId, mode: "single", single }, [ct]);
    expect(r.status).toBe(200);
    const f = decodeFrame(new Uint8Array(await r.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
    expect(f.parts).toHaveLength(1);
    return { ctx, q, keyId, row, ct, r, part: f.parts[0]! };
  }

  /** What both single-row paths refuse: a multi-layer model, a tampered ciphertext, two ciphertexts. */
  async function refusesSingle(single: "masked-sum" | "constant-term", keyId: string, ct: Uint8Array): Promise<void> {
    const { keyId: mk } = (await (await uploadKeys("toy-mlp", {})).json()) as { keyId: string };
    const qm = Querier.create(CkksContext.get(seal, mlpPkg.ckks), { relin: false, galoisSteps: [] });
    await expectProblem(await infer("toy-mlp", { keyId: mk, mode: "single", single }, [qm.encryptRow([1, 2, 3])]), 400, "shape-mismatch");
    qm.dispose();
    const bad = ct.slice();
    bad[20] = bad[20]! ^ 0xff; // inside the parms id
    await expectProblem(await infer("wdbc-lr", { keyId, mode: "single", single }, [bad]), 400, "bad-ciphertext");
    await expectProblem(await infer("wdbc-lr", { keyId, mode: "single", single }, [ct, ct]), 400, "shape-mismatch");
  }

  it("the querier's HTTP transport reports the endpoint's problem code (401 unauthorized, 404 unknown-key), not an FHE error", async () => {
    const viaApp = (async (input: RequestInfo | URL, init?: RequestInit) => req(new URL(String(input)).pathname, init ?? {})) as typeof fetch;
    const q = Querier.create(CkksContext.get(seal, lrPkg.ckks), { relin: false, galoisSteps: [] });
    try {
      await expect(httpTransport("http://x", "wdbc-lr", viaApp).uploadKeys(q.evaluationKeys())).rejects.toMatchObject({ name: "ApiClientError", status: 401, code: "unauthorized" });
      const t = httpTransport("http://x", "wdbc-lr", viaApp, TOKEN);
      await expect(t.infer("0".repeat(64), "batch", q.encryptBatch([[1, 2, 3, 4]], 4), "none")).rejects.toMatchObject({ name: "ApiClientError", status: 404, code: "unknown-key", message: /^inference endpoint answered 404 unknown-key/ });
    } finally {
      q.dispose();
    }
  });

  it("single sample by masked sum: no Galois key, the score equals plaintext, slots are masked", async () => {
    const { q, keyId, row, ct, part } = await singleRow("masked-sum");
    try {
      expect(Math.abs(q.decryptMaskedSum(part) - plainScores(lr, row)[0]!)).toBeLessThan(1e-5);
      // the slots themselves are the mask: no product w_j·x_j is readable
      const slots = q.decrypt(part, 4);
      expect(slots.every((v) => Math.abs(v) > 1e3 || !Number.isFinite(v))).toBe(true);
      // a masked sum is for single-layer models only; a tampered ciphertext is refused
      await refusesSingle("masked-sum", keyId, ct);
      await expectProblem(await infer("wdbc-lr", { keyId, mode: "single", single: "sideways" }, [ct]), 400, "bad-request");
    } finally {
      q.dispose();
    }
  });

  it("single sample by constant term: c1 and the constant term of c0 only, the score equals plaintext; Server-Timing names the phases", async () => {
    const { ctx, q, keyId, row, ct, r, part } = await singleRow("constant-term");
    try {
      expect(r.headers.get("server-timing")).toMatch(/^model;dur=[\d.]+, body;dur=[\d.]+, keys;dur=[\d.]+, eval;dur=[\d.]+, frame;dur=[\d.]+$/);
      expect(part.length).toBe(constantTermReplyBytes(ctx.params.polyModulusDegree, ctx.levels[1]!.primes.length));
      expect(Math.abs(q.decryptConstantTerm(part) - plainScores(lr, row)[0]!)).toBeLessThan(1e-5);
      // the same refusals as the masked sum
      await refusesSingle("constant-term", keyId, ct);
    } finally {
      q.dispose();
    }
  });

  it("concurrent requests survive a package replacement and cache evictions", async () => {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    try {
      const { keyId } = (await (await uploadKeys("wdbc-lr", q.evaluationKeys())).json()) as { keyId: string };
      const cts = q.encryptBatch([[1, 2, 3, 4]], 4);
      const rs = await Promise.all([infer("wdbc-lr", { keyId }, cts), put(lrPkg), infer("wdbc-lr", { keyId }, cts), Promise.resolve(clearInferCaches()), infer("wdbc-lr", { keyId }, cts)]);
      for (const r of rs) if (r) expect([200, 201]).toContain(r.status);
    } finally {
      q.dispose();
    }
  });

  it("returns zstd-compressed results on request and refuses keys made for other parameters", async () => {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const q = Querier.create(ctx, { relin: true, galoisSteps: [] });
    const other = Querier.create(CkksContext.get(seal, mlpPkg.ckks), { relin: true, galoisSteps: [] });
    try {
      const { keyId } = (await (await uploadKeys("wdbc-lr", {})).json()) as { keyId: string };
      const r = await infer("wdbc-lr", { keyId, compression: "zstd" }, q.encryptBatch([[1, 2, 3, 4]], 4));
      expect(r.status).toBe(200);
      const f = decodeFrame(new Uint8Array(await r.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
      expect(f.parts[0]![5]).toBe(2); // SEAL header: compr_mode zstd
      expect(q.decrypt(f.parts[0]!, 1)[0]).toBeCloseTo(plainScores(lr, [1, 2, 3, 4])[0]!, 4);
      await expectProblem(await uploadKeys("wdbc-lr", other.evaluationKeys()), 400, "bad-keys");
    } finally {
      q.dispose();
      other.dispose();
    }
  });

  it("square MLP, batch", async () => {
    const ctx = CkksContext.get(seal, mlpPkg.ckks);
    const q = Querier.create(ctx, { relin: true, galoisSteps: [] });
    try {
      const { keyId } = (await (await uploadKeys("toy-mlp", q.evaluationKeys())).json()) as { keyId: string };
      const rows = [[1, 2, 3], [-1, 0.5, 0]];
      const r = await infer("toy-mlp", { keyId }, q.encryptBatch(rows, 3));
      expect(r.status).toBe(200);
      const f = decodeFrame(new Uint8Array(await r.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
      expect(f.parts.length).toBe(2);
      for (let k = 0; k < 2; k++) {
        const got = q.decrypt(f.parts[k]!, rows.length);
        rows.forEach((x, i) => expect(Math.abs(got[i]! - plainScores(mlp, x)[k]!)).toBeLessThan(1e-3));
      }
      // two rows per slot through a square needs the conjugation key (Galois step 0), which this key set lacks
      await expectProblem(await infer("toy-mlp", { keyId, packing: "complex" }, q.encryptBatch(rows, 3, "none", "complex")), 400, "bad-keys");
      const qc = Querier.create(ctx, { relin: true, galoisSteps: [0] });
      try {
        const { keyId: kc } = (await (await uploadKeys("toy-mlp", qc.evaluationKeys())).json()) as { keyId: string };
        const rc = await infer("toy-mlp", { keyId: kc, packing: "complex" }, qc.encryptBatch(rows, 3, "none", "complex"));
        expect(rc.status).toBe(200);
        const fc = decodeFrame(new Uint8Array(await rc.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
        for (let k = 0; k < 2; k++) {
          const got = qc.decryptPacked(fc.parts[k]!, rows.length, "complex");
          rows.forEach((x, i) => expect(Math.abs(got[i]! - plainScores(mlp, x)[k]!)).toBeLessThan(1e-3));
        }
      } finally {
        qc.dispose();
      }
    } finally {
      q.dispose();
    }
  });
});

describe("refusals", () => {
  it("never accepts a secret key", async () => {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const kg = new seal.KeyGenerator(ctx.context);
    const sk = kg.secretKey();
    const skBytes = new Uint8Array(sk.saveToArray(seal.ComprModeType.zstd) as Uint8Array);
    sk.delete();
    kg.delete();
    await expectProblem(await uploadKeys("wdbc-lr", { secret: skBytes }), 400, "secret-key-refused");
    await expectProblem(await uploadKeys("wdbc-lr", { secretKey: skBytes }, ["secretKey"]), 400, "secret-key-refused");
    await expectProblem(await uploadKeys("wdbc-lr", { relin: skBytes }), 400, "bad-keys"); // a secret key does not load as a relin key
    await expectProblem(await uploadKeys("wdbc-lr", { galois: skBytes }), 400, "bad-keys");
    expect(await env.MODELS.list({ prefix: "fhe-keys/" }).then((l) => l.objects.every((o) => o.size !== skBytes.length))).toBe(true);
  });

  it("rejects malformed, oversized, wrong-parameter ciphertexts and unknown key ids", async () => {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const q = Querier.create(ctx, { relin: false, galoisSteps: [] });
    const other = Querier.create(CkksContext.get(seal, mlpPkg.ckks), { relin: false, galoisSteps: [] });
    try {
      const { keyId } = (await (await uploadKeys("wdbc-lr", {})).json()) as { keyId: string };
      const good = q.encryptBatch([[1, 2, 3, 4]], 4);
      await expectProblem(await infer("wdbc-lr", { keyId: "0".repeat(64) }, good), 404, "unknown-key");
      await expectProblem(await infer("wdbc-lr", { keyId: "xyz" }, good), 400, "bad-request");
      await expectProblem(await infer("wdbc-lr", { keyId }, good.slice(0, 3)), 400, "shape-mismatch");
      const junk = good.map((c) => c.slice());
      const j1 = junk[1]!;
      j1[40] = j1[40]! ^ 0xff;
      await expectProblem(await infer("wdbc-lr", { keyId }, junk), 400, "bad-ciphertext");
      await expectProblem(await infer("wdbc-lr", { keyId }, [good[0]!, good[1]!, good[2]!, new Uint8Array(10)]), 400, "bad-ciphertext");
      await expectProblem(await infer("wdbc-lr", { keyId }, other.encryptBatch([[1, 2, 3, 4]], 4)), 400, "bad-ciphertext"); // other parameters
      await expectProblem(await infer("wdbc-lr", { keyId }, q.encryptBatch([[1, 2, 3, 4]], 4, "zstd")), 400, "bad-ciphertext"); // compressed: unbounded inflation
      await expectProblem(await uploadKeys("wdbc-lr", Querier.create(ctx, { relin: true, galoisSteps: [] }).evaluationKeys("zstd")), 400, "bad-keys");
      await expectProblem(await infer("wdbc-lr", { keyId }, [...good.slice(0, 3), new Uint8Array(ctx.maxCiphertextBytes() + 1)]), 413, "oversized");
      await expectProblem(await infer("wdbc-lr", { keyId }, [...good, good[0]!]), 413, "oversized");
      await expectProblem(await req("/wdbc-lr/infer", { method: "POST", headers: { ...auth(), "content-type": FRAME_CONTENT_TYPE }, body: new Uint8Array([1, 2, 3]) }), 400, "bad-ciphertext");
      await expectProblem(await req("/wdbc-lr/infer", { method: "POST", headers: { ...auth(), "content-type": "application/json" }, body: "{}" }), 415, "unsupported-media-type");
      await expectProblem(await infer("nope", { keyId }, good), 404, "unknown-model");
      // MLP needs relin keys: an empty key set is refused at evaluation
      const { keyId: emptyMlp } = (await (await uploadKeys("toy-mlp", {})).json()) as { keyId: string };
      await expectProblem(await infer("toy-mlp", { keyId: emptyMlp }, other.encryptBatch([[1, 2, 3]], 3)), 400, "bad-keys");
      // single mode without Galois keys
      await expectProblem(await infer("wdbc-lr", { keyId, mode: "single" }, [q.encryptSingle([1, 2, 3, 4])]), 400, "bad-keys");
    } finally {
      q.dispose();
      other.dispose();
    }
  });
});

describe("authentication", () => {
  it("key upload, key deletion and inference need the bearer API token (401 without, or with a wrong one)", async () => {
    const ctx = CkksContext.get(seal, lrPkg.ckks);
    const q = Querier.create(ctx, { relin: true, galoisSteps: [] });
    try {
      const keys = q.evaluationKeys();
      const stored = async () => (await env.MODELS.list({ prefix: "fhe-keys/" })).objects.map((o) => o.key).sort();
      const before = await stored();
      await expectProblem(await uploadKeys("wdbc-lr", keys, undefined, { token: null }), 401, "unauthorized");
      await expectProblem(await uploadKeys("wdbc-lr", keys, undefined, { token: "wrong" }), 401, "unauthorized");
      expect(await stored()).toEqual(before); // nothing stored
      const up = await uploadKeys("wdbc-lr", keys);
      expect(up.status).toBe(201);
      const { keyId } = (await up.json()) as { keyId: string };
      const cts = q.encryptBatch([[1, 2, 3, 4]], 4);
      await expectProblem(await infer("wdbc-lr", { keyId }, cts, { token: null }), 401, "unauthorized");
      await expectProblem(await infer("wdbc-lr", { keyId }, cts, { token: "wrong" }), 401, "unauthorized");
      const ok = await infer("wdbc-lr", { keyId }, cts);
      expect(ok.status).toBe(200);
      const f = decodeFrame(new Uint8Array(await ok.arrayBuffer()), { maxParts: 10, maxPartBytes: 1e7 });
      expect(q.decrypt(f.parts[0]!, 1)[0]).toBeCloseTo(plainScores(lr, [1, 2, 3, 4])[0]!, 4);
      // deleting needs the token too; afterwards the key id is unknown
      await expectProblem(await req(`/wdbc-lr/keys/${keyId}`, { method: "DELETE" }), 401, "unauthorized");
      expect((await req(`/wdbc-lr/keys/${keyId}`, { method: "DELETE", headers: auth() })).status).toBe(204);
      await expectProblem(await infer("wdbc-lr", { keyId }, cts), 404, "unknown-key");
    } finally {
      q.dispose();
    }
  });

  it("a key set is bound to the model it was uploaded for", async () => {
    const { keyId } = (await (await uploadKeys("wdbc-lr", {})).json()) as { keyId: string };
    const q = Querier.create(CkksContext.get(seal, mlpPkg.ckks), { relin: false, galoisSteps: [] });
    try {
      await expectProblem(await infer("toy-mlp", { keyId }, q.encryptBatch([[1, 2, 3]], 3)), 404, "unknown-key");
    } finally {
      q.dispose();
    }
  });
});

describe("evaluation-key quotas", () => {
  let quotaPkg: ModelPackage;
  beforeAll(async () => {
    quotaPkg = await buildPackage(lr, { modelId: "quota-lr" });
    expect((await put(quotaPkg)).status).toBe(201);
  });

  it("refuses a key set above FHE_MAX_KEY_SET_BYTES with 413 key-set-too-large", async () => {
    const q = Querier.create(CkksContext.get(seal, quotaPkg.ckks), { relin: true, galoisSteps: [] });
    try {
      const keys = q.evaluationKeys();
      const size = keys.relin!.length;
      // body far above the limit (refused before it is read in full) and parts just above it (frame within the slack)
      for (const limit of [Math.floor(size / 4), size - 1]) {
        const e = { ...env, FHE_MAX_KEY_SET_BYTES: String(limit) };
        await expectProblem(await uploadKeys("quota-lr", keys, undefined, { env: e }), 413, "key-set-too-large");
      }
      expect((await uploadKeys("quota-lr", keys, undefined, { env: { ...env, FHE_MAX_KEY_SET_BYTES: String(size) } })).status).toBe(201);
      // the default limit (48 MiB) admits it
      const ok = await uploadKeys("quota-lr", keys);
      expect(ok.status).toBe(201);
      const { keyId } = (await ok.json()) as { keyId: string };
      expect((await req(`/quota-lr/keys/${keyId}`, { method: "DELETE", headers: auth() })).status).toBe(204);
    } finally {
      q.dispose();
    }
  });

  it("refuses more than FHE_MAX_KEY_SETS_PER_MODEL live key sets per model with 429 key-quota-exceeded; re-uploads are free, deletion and expiry free a slot", async () => {
    const ctx = CkksContext.get(seal, quotaPkg.ckks);
    const qs = [0, 1, 2].map(() => Querier.create(ctx, { relin: true, galoisSteps: [] }));
    const e = { ...env, FHE_MAX_KEY_SETS_PER_MODEL: "2" };
    const prefix = "fhe-keys/quota-lr/";
    try {
      for (const o of (await env.MODELS.list({ prefix })).objects) await env.MODELS.delete(o.key);
      const keySets = qs.map((q) => q.evaluationKeys()); // (each call makes fresh keys)
      const up = async (i: number) => uploadKeys("quota-lr", keySets[i]!, undefined, { env: e });
      const id0 = ((await (await up(0)).json()) as { keyId: string }).keyId;
      const r1 = await up(1);
      expect(r1.status).toBe(201);
      const id1 = ((await r1.json()) as { keyId: string }).keyId;
      await expectProblem(await up(2), 429, "key-quota-exceeded");
      expect((await up(0)).status).toBe(201); // a stored set: no new slot
      // the refused set was not stored and cannot be used
      expect((await env.MODELS.list({ prefix })).objects.map((o) => o.key).sort()).toEqual([prefix + id0, prefix + id1].sort());
      // deleting frees a slot
      expect((await req(`/quota-lr/keys/${id1}`, { method: "DELETE", headers: auth() }, e)).status).toBe(204);
      const r2 = await up(2);
      expect(r2.status).toBe(201);
      const id2 = ((await r2.json()) as { keyId: string }).keyId;
      await expectProblem(await up(1), 429, "key-quota-exceeded");
      // an expired set does not count, is refused for inference, and the next upload deletes it
      const stored = (await env.MODELS.get(prefix + id0))!;
      await env.MODELS.put(prefix + id0, await stored.arrayBuffer(), { customMetadata: { ...stored.customMetadata, expiresAt: String(Date.now() - 1000) } });
      clearInferCaches();
      await expectProblem(await infer("quota-lr", { keyId: id0 }, qs[0]!.encryptBatch([[1, 2, 3, 4]], 4), { env: e }), 404, "unknown-key");
      expect((await infer("quota-lr", { keyId: id2 }, qs[2]!.encryptBatch([[1, 2, 3, 4]], 4), { env: e })).status).toBe(200);
      expect((await up(1)).status).toBe(201);
      expect(await env.MODELS.head(prefix + id0)).toBeNull();
    } finally {
      for (const q of qs) q.dispose();
    }
  });
});
