/**
 * `2pm fhe serve`, the real CLI as a child process: encrypted training of wdbc through it equals
 * the in-process run (|Δβ| ≤ 1e-3 per weight, the tolerance of train.test.ts) with the key set
 * uploaded once per run; `2pm fhe train --server`; and every refusal as problem-details JSON
 * with a stable code (no/wrong token, unknown key id, malformed, tampered, secret key, wrong
 * media type, oversize, key quota, concurrent block).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SecretKey } from "node-seal/throws";
import { fheTrain } from "../../../client/cli/fhe-train.ts";
import { commands } from "../../../client/cli/commands.ts";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import type { Seal } from "../../../client/fhe/seal.ts";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../../../client/fhe/wire.ts";
import { httpTrainServer } from "../../../client/fhe/training/http.ts";
import { DEFAULT_NAG, nagPlain, standardisation, zRows, type NagConfig } from "../../../client/fhe/training/nag.ts";
import { TrainingOwner } from "../../../client/fhe/training/owner.ts";
import { planTraining } from "../../../client/fhe/training/params.ts";
import { trainEncrypted } from "../../../client/fhe/training/train.ts";
import { decodeTrainKeys, encodeTrainKeys } from "../../../client/fhe/training/wire.ts";
import { DATA_DIR, loadWdbc } from "../fhe/helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const TOKEN = "serve-test-token-0123456789";
const TOL = 1e-3;
const MAX_BLOCK = 16 * 2 ** 20;
const MAX_KEYS = 64 * 2 ** 20;
let seal: Seal;
let child: ChildProcessWithoutNullStreams;
let url: string;
let serverLog = "";

beforeAll(async () => {
  seal = await loadSealNode();
  child = spawn(process.execPath, [path.join(ROOT, "client/cli/bin.mjs"), "fhe", "serve", "--port", "0", "--max-key-sets", "2", "--max-key-bytes", "64MiB", "--max-block-bytes", "16MiB"], {
    env: { ...process.env, TWOPM_FHE_TOKEN: TOKEN },
    stdio: "pipe",
  });
  child.stderr.on("data", (c: Buffer) => (serverLog += c.toString()));
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`fhe serve did not start: ${serverLog}`)), 60_000);
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => reject(new Error(`fhe serve exited with ${code}: ${serverLog}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
});

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!));
  return m;
}

/** fetch that records "METHOD /path STATUS". */
function countingFetch(log: string[]): typeof fetch {
  return async (input, init) => {
    const r = await fetch(input, init);
    log.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname} ${r.status}`);
    return r;
  };
}

async function call(method: string, p: string, body?: Uint8Array, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "content-type": FRAME_CONTENT_TYPE }): Promise<{ status: number; type: string; json: Record<string, unknown>; bytes: Uint8Array }> {
  const r = await fetch(`${url}${p}`, { method, headers, body: body as Uint8Array<ArrayBuffer> | undefined });
  const bytes = new Uint8Array(await r.arrayBuffer());
  const type = r.headers.get("content-type") ?? "";
  const json = type.includes("json") ? (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>) : {};
  return { status: r.status, type, json, bytes };
}

/** Expects a problem-details answer with `status` and `code`, and no stack trace. */
function isProblem(r: Awaited<ReturnType<typeof call>>, status: number, code: string, detail?: RegExp): void {
  expect({ status: r.status, code: r.json.code }).toEqual({ status, code });
  expect(r.type).toBe("application/problem+json");
  expect(r.json).toMatchObject({ type: `https://2pm.dev/problems/${code}`, status });
  if (detail) expect(String(r.json.detail)).toMatch(detail);
  expect(new TextDecoder().decode(r.bytes)).not.toMatch(/\n\s+at |\.ts:\d+/);
}

describe("2pm fhe serve", () => {
  it("trains wdbc through the server: equal to the in-process run, key set uploaded once", async () => {
    const d = loadWdbc();
    const x = d.xTrain.slice(0, 128), y = d.yTrain.slice(0, 128);
    const nag: NagConfig = { ...DEFAULT_NAG, iterations: 2, learningRate: 1 };
    const requests: string[] = [];
    const progress: string[] = [];
    const remote = await trainEncrypted({ seal, x, y, nag, refreshEvery: 1, server: httpTrainServer(url, TOKEN, countingFetch(requests)), onProgress: (p) => progress.push(`${p.iteration}/${p.iterations}@${p.level}`) });
    const local = await trainEncrypted({ seal, x, y, nag, refreshEvery: 1 });
    const ref = nagPlain(zRows(x, y, standardisation(x)), nag).beta;
    const err = maxErr(remote.beta, local.beta);
    console.log(`wdbc 128×30, 2 iterations, refresh every 1, over HTTP: max |β_http − β_local| = ${err.toExponential(2)}, |β_http − β_plain| = ${maxErr(remote.beta, ref).toExponential(2)}; server ${remote.serverSeconds.toFixed(1)} s`);
    expect(err).toBeLessThan(TOL);
    expect(maxErr(remote.beta, ref)).toBeLessThan(TOL);
    expect(requests).toEqual(["POST /v1/fhe/train/keys 201", "POST /v1/fhe/train/block 200", "POST /v1/fhe/train/block 200", `DELETE /v1/fhe/train/keys/${requests[3]?.split("/").pop()?.split(" ")[0]} 204`]);
    expect(progress).toEqual(["1/2@1", "2/2@3"]);
    expect(await call("GET", "/v1/health", undefined, {})).toMatchObject({ status: 200, json: { status: "ok", busy: false } });
  });

  it("2pm fhe train --server: same progress lines, keys uploaded once, model written", async () => {
    expect(commands["fhe serve"]).toBeTypeOf("function");
    const dir = mkdtempSync(path.join(tmpdir(), "fhe-serve-cli-"));
    const data = path.join(dir, "rows.csv");
    writeFileSync(data, readFileSync(path.join(DATA_DIR, "wdbc.data"), "utf8").trim().split("\n").slice(0, 60).join("\n") + "\n");
    const out = path.join(dir, "model.json");
    const base = ["--data", data, "--schema", path.join(ROOT, "examples/schemas/wdbc.json"), "--label", "diagnosis", "--exclude", "id", "--iterations", "1", "--learning-rate", "1", "--out", out];
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      expect(await fheTrain([...base, "--server", url, "--token", TOKEN])).toBe(0);
      const lines = err.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => /^evaluation keys uploaded once: [\d.]+ MiB/.test(l))).toBe(true);
      expect(lines.some((l) => /^iteration 1\/1 {2}level 1 \(0 left\) {2}\d+\.\d+ s/.test(l))).toBe(true);
      expect(existsSync(out)).toBe(true);
      await expect(fheTrain([...base, "--server", url, "--token", "wrong-token-0123456789", "--out", path.join(dir, "never.json")])).rejects.toThrow(/401 unauthorized/);
      await expect(fheTrain([...base, "--server", "ftp://x"])).rejects.toThrow(/--server must be an http/);
      await expect(fheTrain([...base, "--token", TOKEN])).rejects.toThrow(/--token is for --server/);
      expect(existsSync(path.join(dir, "never.json"))).toBe(false);
    } finally {
      err.mockRestore();
      log.mockRestore();
    }
  });

  describe("refusals", () => {
    const xs = Array.from({ length: 48 }, (_, i) => [Math.sin(i), Math.cos(2 * i), i % 5, (i * 7) % 11, Math.sin(i / 3)]);
    const ys = xs.map((r) => (r[0]! + r[1]! > 0 ? 1 : 0));
    const z = zRows(xs, ys, standardisation(xs));
    const nag: NagConfig = { ...DEFAULT_NAG, iterations: 1, learningRate: 1 };
    const plan = planTraining(nag);
    const block = plan.blocks[0]!;
    const owners: TrainingOwner[] = [];
    const newOwner = () => {
      const o = TrainingOwner.create(seal, plan, nag, z.length, 5);
      o.encryptData(z);
      owners.push(o);
      return o;
    };
    afterAll(() => owners.forEach((o) => o.dispose()));

    it("token, routes, media type: 401 / 404 / 405 / 415, health without a token", async () => {
      const a = newOwner();
      const keys = a.keySetFrame().bytes;
      isProblem(await call("POST", "/v1/fhe/train/keys", keys, { "content-type": FRAME_CONTENT_TYPE }), 401, "unauthorized");
      isProblem(await call("POST", "/v1/fhe/train/keys", keys, { authorization: "Bearer wrong-token-0123456789", "content-type": FRAME_CONTENT_TYPE }), 401, "unauthorized");
      isProblem(await call("POST", "/v1/fhe/train/block", new Uint8Array(10), { authorization: `Basic ${TOKEN}` }), 401, "unauthorized");
      isProblem(await call("DELETE", `/v1/fhe/train/keys/${"0".repeat(64)}`, undefined, {}), 401, "unauthorized");
      isProblem(await call("GET", "/v1/nothing"), 404, "not-found");
      isProblem(await call("GET", "/v1/fhe/train/keys"), 405, "method-not-allowed");
      isProblem(await call("POST", "/v1/fhe/train/keys", keys, { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }), 415, "unsupported-media-type");
      expect((await call("GET", "/v1/health", undefined, {})).status).toBe(200);
    });

    it("keys: idempotent upload, quota 429, oversize 413, delete 204/404, malformed 400, secret key refused", async () => {
      const [a, b, c] = [newOwner(), newOwner(), newOwner()];
      const ka = a.keySetFrame(), kb = b.keySetFrame(), kc = c.keySetFrame();
      const r1 = await call("POST", "/v1/fhe/train/keys", ka.bytes);
      expect(r1).toMatchObject({ status: 201, json: { keyId: await ka.keyId } });
      expect(await call("POST", "/v1/fhe/train/keys", ka.bytes)).toMatchObject({ status: 200, json: { keyId: await ka.keyId } });
      expect((await call("POST", "/v1/fhe/train/keys", kb.bytes)).status).toBe(201);
      isProblem(await call("POST", "/v1/fhe/train/keys", kc.bytes), 429, "key-quota-exceeded", /2 key sets/);
      expect((await call("DELETE", `/v1/fhe/train/keys/${await kb.keyId}`)).status).toBe(204);
      isProblem(await call("DELETE", `/v1/fhe/train/keys/${await kb.keyId}`), 404, "unknown-key");
      isProblem(await call("DELETE", "/v1/fhe/train/keys/nothex"), 400, "bad-request");
      isProblem(await call("POST", "/v1/fhe/train/keys", new Uint8Array(MAX_KEYS + 1)), 413, "key-set-too-large");
      isProblem(await call("POST", "/v1/fhe/train/keys", new TextEncoder().encode("not a frame at all")), 400, "bad-ciphertext", /malformed frame/);
      const k = decodeTrainKeys(kc.bytes);
      isProblem(await call("POST", "/v1/fhe/train/keys", encodeFrame({ ...(decodeFrame(kc.bytes, { maxParts: 2, maxPartBytes: 2 ** 30 }).header as object), secretKey: "x" }, [k.relin, k.galois])), 400, "secret-key-refused");
      const sk = (c as unknown as { querier: { secret: SecretKey } }).querier.secret;
      const skBytes = new Uint8Array(sk.saveToArray(seal.ComprModeType.none) as Uint8Array);
      isProblem(await call("POST", "/v1/fhe/train/keys", encodeTrainKeys(plan.params, { relin: k.relin, galois: skBytes })), 400, "secret-key-refused", /secret key/);
      expect((await call("POST", "/v1/fhe/train/keys", kc.bytes)).status).toBe(201); // room again after the delete
      for (const id of [await ka.keyId, await kc.keyId]) expect((await call("DELETE", `/v1/fhe/train/keys/${id}`)).status).toBe(204);
    });

    it("blocks: unknown key 404, malformed / tampered 400, secret-key field refused, oversize 413, concurrent 503 busy", async () => {
      const a = newOwner();
      const ks = a.keySetFrame();
      const keyId = await ks.keyId;
      const req = a.request(block, keyId);
      isProblem(await call("POST", "/v1/fhe/train/block", req), 404, "unknown-key");
      expect((await call("POST", "/v1/fhe/train/keys", ks.bytes)).status).toBe(201);
      isProblem(await call("POST", "/v1/fhe/train/block", new Uint8Array(100).fill(7)), 400, "bad-ciphertext", /malformed frame/);
      isProblem(await call("POST", "/v1/fhe/train/block", req.subarray(0, req.length - 9)), 400, "bad-ciphertext", /malformed frame/);
      const flipped = req.slice();
      flipped[flipped.length - 1000]! ^= 1;
      isProblem(await call("POST", "/v1/fhe/train/block", flipped), 400, "bad-ciphertext", /digest/);
      const f = decodeFrame(req, { maxParts: 100, maxPartBytes: 2 ** 30 });
      isProblem(await call("POST", "/v1/fhe/train/block", encodeFrame({ ...(f.header as object), secretKey: "AAAA" }, f.parts)), 400, "secret-key-refused");
      isProblem(await call("POST", "/v1/fhe/train/block", new Uint8Array(MAX_BLOCK + 1)), 413, "oversized");
      // two blocks at once: one runs, the other is told the process is busy
      const both = await Promise.all([call("POST", "/v1/fhe/train/block", req), call("POST", "/v1/fhe/train/block", req)]);
      const statuses = both.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 503]);
      isProblem(both.find((r) => r.status === 503)!, 503, "busy");
      const ok = both.find((r) => r.status === 200)!;
      expect(ok.type).toBe(FRAME_CONTENT_TYPE);
      expect(Array.from(a.readResponse(ok.bytes, block, new Float64Array(6)).beta).every(Number.isFinite)).toBe(true);
      expect((await call("POST", "/v1/fhe/train/block", req)).status).toBe(200); // not busy any more
      // the owner's client turns problems into the one client error type, with the code
      await expect(httpTrainServer(url, TOKEN).train(new Uint8Array(3))).rejects.toMatchObject({ name: "ApiClientError", status: 400, code: "bad-ciphertext", message: /^training server answered 400 bad-ciphertext: / });
      expect((await call("DELETE", `/v1/fhe/train/keys/${keyId}`)).status).toBe(204);
      expect(serverLog).toMatch(/POST \/v1\/fhe\/train\/block 503/);
    });
  });

  it("the server process's modules never reach the owner's key: no import of owner.ts or querier.ts", () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, "utf8");
      for (const m of src.matchAll(/^\s*import\s+(?!type\b)[^"']*["'](\.{1,2}\/[^"']+)["']/gm)) visit(path.resolve(path.dirname(file), m[1]!));
      for (const m of src.matchAll(/await import\(["'](\.{1,2}\/[^"']+)["']\)/g)) visit(path.resolve(path.dirname(file), m[1]!));
    };
    visit(path.join(ROOT, "client/fhe/training/serve.ts"));
    visit(path.join(ROOT, "client/fhe/training/serve-worker.ts"));
    const rel = [...seen].map((f) => path.relative(ROOT, f));
    expect(rel).toContain("client/fhe/training/server.ts");
    expect(rel.filter((f) => /owner\.ts$|querier\.ts$|train\.ts$/.test(f))).toEqual([]);
  });
});
