/**
 * Encrypted training in workerd (functions/fhe/train-routes.ts, the sub-app as functions/index.ts
 * mounts it at /v1/fhe/train): the owner's `httpTrainServer` — the client of `2pm fhe serve` —
 * trains through the route, equal to the plaintext NAG within 1e-3 per weight; the Worker's
 * limits (N, bytes, one block per isolate), the token, unknown / tampered / secret-key inputs,
 * each a problem-details answer with a stable code. Logs the isolate's SEAL WASM memory
 * (owner and server share this test isolate, so it bounds the server's from above).
 */
import { env } from "cloudflare:test";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import sealWasm from "../../node_modules/node-seal/dist/seal_throws.wasm";
import { trainRoutes, WORKER_TRAIN_LIMITS } from "../../functions/fhe/train-routes.ts";
import { loadSeal, wasmMemoryBytes, type Seal } from "../../client/fhe/seal.ts";
import { FRAME_CONTENT_TYPE, decodeFrame, encodeFrame } from "../../client/fhe/wire.ts";
import { httpTrainServer } from "../../client/fhe/training/http.ts";
import { trainEncrypted } from "../../client/fhe/training/train.ts";
import { TrainingOwner } from "../../client/fhe/training/owner.ts";
import { planTraining } from "../../client/fhe/training/params.ts";
import { DEFAULT_NAG, nagPlain, standardisation, zRows, type NagConfig } from "../../client/fhe/training/nag.ts";
import { seededRng } from "../../protocol/rng.ts";

const TOKEN = "test-api-token";
const app = new Hono().route("/v1/fhe/train", trainRoutes);
const fetchApp = ((input: string | URL | Request, init?: RequestInit) => Promise.resolve(app.request(String(input), init, env))) as typeof fetch;

let seal: Seal;
beforeAll(async () => {
  seal = await loadSeal({ wasmModule: sealWasm });
});

/** Seeded synthetic rows: n × d features, labels from a noisy linear rule. */
function synthetic(n: number, d: number): { x: number[][]; y: number[] } {
  const b = seededRng(`train-route-${n}x${d}`).bytes(n * (d + 1));
  const x = Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => b[i * (d + 1) + j]! / 32 - 4 + j));
  const y = x.map((r, i) => (r.reduce((s, v, j) => s + (j % 2 ? v : -v) / (j + 1), 0) + (b[i * (d + 1) + d]! / 128 - 1) > 0 ? 1 : 0));
  return { x, y };
}

async function call(method: string, p: string, body?: Uint8Array, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "content-type": FRAME_CONTENT_TYPE }): Promise<Response> {
  return fetchApp(`http://w/v1/fhe/train${p}`, { method, headers, body: body as Uint8Array<ArrayBuffer> | undefined });
}
async function expectProblem(r: Response, status: number, code: string): Promise<void> {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toContain("application/problem+json");
  const body = (await r.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
}

describe("encrypted training route in workerd", () => {
  it("trains through the Worker: equal to plaintext NAG, key set once, progress from the response", async () => {
    const { x, y } = synthetic(200, 10);
    const z = zRows(x, y, standardisation(x));
    const nag: NagConfig = { ...DEFAULT_NAG, degree: 3, iterations: 2, learningRate: 1 };
    const before = wasmMemoryBytes();
    const progress: string[] = [];
    const log: string[] = [];
    const logged: typeof fetch = async (input, init) => {
      const r = await fetchApp(input, init);
      log.push(`${init?.method} ${new URL(String(input)).pathname.replace(/[0-9a-f]{64}/, "<id>")} ${r.status}`);
      return r;
    };
    const t = performance.now();
    const r = await trainEncrypted({ seal, x, y, nag, refreshEvery: 1, server: httpTrainServer("http://w", TOKEN, logged), onProgress: (p) => progress.push(`${p.iteration}/${p.iterations}@${p.level}`) });
    const ms = performance.now() - t;
    const ref = nagPlain(z, nag).beta;
    let err = 0;
    for (let j = 0; j < ref.length; j++) err = Math.max(err, Math.abs(ref[j]! - r.beta[j]!));
    console.log(`[fhe-train] workerd: 200×10, 2 iterations, N=${r.plan.params.polyModulusDegree} [${r.plan.params.coeffModulusBits}], refresh every 1: max |β − β_plain| ${err.toExponential(2)}; server ${r.serverSeconds.toFixed(2)} s, total ${(ms / 1000).toFixed(2)} s; WASM memory ${(before / 2 ** 20).toFixed(1)} → ${(wasmMemoryBytes() / 2 ** 20).toFixed(1)} MiB (owner + server in this isolate)`);
    expect(r.plan.params.polyModulusDegree).toBe(8192);
    expect(err).toBeLessThan(1e-3);
    expect(log).toEqual(["POST /v1/fhe/train/keys 201", "POST /v1/fhe/train/block 200", "POST /v1/fhe/train/block 200", "DELETE /v1/fhe/train/keys/<id> 204"]);
    expect(progress).toEqual(["1/2@1", "2/2@3"]);
    expect(wasmMemoryBytes()).toBeLessThan(128 * 2 ** 20);
  });

  it("refuses what does not fit, foreign or tampered inputs and secret keys, with stable codes", async () => {
    const { x, y } = synthetic(64, 4);
    const z = zRows(x, y, standardisation(x));
    const nag: NagConfig = { ...DEFAULT_NAG, degree: 3, iterations: 1, learningRate: 1 };
    const owner = TrainingOwner.create(seal, planTraining(nag, 1), nag, z.length, 4);
    try {
      owner.encryptData(z);
      const ks = owner.keySetFrame();
      const keyId = await ks.keyId;
      // no token, wrong token, wrong media type
      await expectProblem(await call("POST", "/keys", ks.bytes, { "content-type": FRAME_CONTENT_TYPE }), 401, "unauthorized");
      await expectProblem(await call("POST", "/keys", ks.bytes, { authorization: "Bearer nope", "content-type": FRAME_CONTENT_TYPE }), 401, "unauthorized");
      await expectProblem(await call("POST", "/keys", ks.bytes, { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }), 415, "unsupported-media-type");
      // a block before its keys: unknown key
      const req = owner.request({ from: 0, to: 1 }, keyId);
      await expectProblem(await call("POST", "/block", req), 404, "unknown-key");
      const up = await call("POST", "/keys", ks.bytes);
      expect(up.status).toBe(201);
      expect(((await up.json()) as { keyId: string }).keyId).toBe(keyId);
      expect((await call("POST", "/keys", ks.bytes)).status).toBe(200); // idempotent
      // a secret key offered as a key part is refused before anything is stored
      const sk = (owner as unknown as { querier: { secretKeyForThreads(): Uint8Array } }).querier.secretKeyForThreads();
      const f = decodeFrame(ks.bytes, { maxParts: 2, maxPartBytes: 2 ** 30 });
      await expectProblem(await call("POST", "/keys", encodeFrame(f.header as object, [sk, f.parts[1]!])), 400, "secret-key-refused");
      // a tampered request (one byte of a ciphertext): the digest refuses it before SEAL
      const bad = req.slice();
      bad[bad.length - 100] = bad[bad.length - 100]! ^ 1;
      await expectProblem(await call("POST", "/block", bad), 400, "bad-ciphertext");
      await expectProblem(await call("POST", "/block", new Uint8Array([1, 2, 3])), 400, "bad-ciphertext");
      // over the Worker's byte limits
      await expectProblem(await call("POST", "/block", new Uint8Array(WORKER_TRAIN_LIMITS.blockBytes + 1)), 413, "oversized");
      await expectProblem(await call("POST", "/keys", new Uint8Array(WORKER_TRAIN_LIMITS.keySetBytes + 1)), 413, "key-set-too-large");
      // the good request runs, then the key set is deleted: unknown afterwards
      const ok = await call("POST", "/block", req);
      expect(ok.status).toBe(200);
      expect(ok.headers.get("content-type")).toBe(FRAME_CONTENT_TYPE);
      expect((await call("DELETE", `/keys/${keyId}`)).status).toBe(204);
      await expectProblem(await call("DELETE", `/keys/${keyId}`), 404, "unknown-key");
      await expectProblem(await call("DELETE", "/keys/xyz"), 400, "bad-request");
      await expectProblem(await call("POST", "/block", req), 404, "unknown-key");
    } finally {
      owner.dispose();
    }
  });

  it("refuses parameters beyond the isolate (N = 16384: degree 5 or longer blocks) with bad-parameters", async () => {
    const { x, y } = synthetic(64, 4);
    const z = zRows(x, y, standardisation(x));
    const nag: NagConfig = { ...DEFAULT_NAG, degree: 5, iterations: 2, learningRate: 1 };
    const plan = planTraining(nag, 2);
    expect(plan.params.polyModulusDegree).toBeGreaterThan(WORKER_TRAIN_LIMITS.maxN);
    const owner = TrainingOwner.create(seal, plan, nag, z.length, 4);
    try {
      owner.encryptData(z);
      const ks = owner.keySetFrame();
      // its key set alone exceeds the Worker's byte limit, and a block naming it is refused on N
      expect(ks.bytes.length).toBeGreaterThan(WORKER_TRAIN_LIMITS.keySetBytes);
      await expectProblem(await call("POST", "/keys", ks.bytes), 413, "key-set-too-large");
      await expectProblem(await call("POST", "/block", owner.request({ from: 0, to: 2 }, await ks.keyId)), 400, "bad-parameters");
    } finally {
      owner.dispose();
    }
  });
});
