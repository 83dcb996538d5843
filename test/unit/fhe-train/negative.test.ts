/**
 * Refusals of encrypted training: too many iterations (before any work), ciphertexts under
 * other parameters or another key, tampered and truncated requests, and every way of handing
 * the server a secret key (types, header, parts). Small: 48 rows × 5 features, one iteration,
 * N = 8192.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SecretKey } from "node-seal/throws";
import { FheError } from "../../../client/fhe/errors.ts";
import { loadSealNode } from "../../../client/fhe/seal-node.ts";
import type { Seal } from "../../../client/fhe/seal.ts";
import { encodeFrame, decodeFrame } from "../../../client/fhe/wire.ts";
import { DEFAULT_NAG, standardisation, zRows, type NagConfig } from "../../../client/fhe/training/nag.ts";
import { TrainingOwner } from "../../../client/fhe/training/owner.ts";
import { planTraining, type TrainingPlan } from "../../../client/fhe/training/params.ts";
import { TrainKeyStore } from "../../../client/fhe/training/keys.ts";
import { trainBlock, type StoredKeySet } from "../../../client/fhe/training/server.ts";
import { trainEncrypted, type TrainServer } from "../../../client/fhe/training/train.ts";
import { decodeTrainKeys, decodeTrainRequest, encodeTrainKeys, encodeTrainRequest, trainKeyId, type TrainRequestParts } from "../../../client/fhe/training/wire.ts";

let seal: Seal;
const x = Array.from({ length: 48 }, (_, i) => [Math.sin(i), Math.cos(2 * i), i % 5, (i * 7) % 11, Math.sin(i / 3)]);
const y = x.map((r) => (r[0]! + r[1]! > 0 ? 1 : 0));
const z = zRows(x, y, standardisation(x));
const nag: NagConfig = { ...DEFAULT_NAG, iterations: 1, learningRate: 1 };
const plan = planTraining(nag);
const block = plan.blocks[0]!;
let owner: TrainingOwner;
let request: Uint8Array;
let keys: StoredKeySet;
const NO_KEY = "0".repeat(64);

beforeAll(async () => {
  seal = await loadSealNode();
  owner = TrainingOwner.create(seal, plan, nag, z.length, 5);
  owner.encryptData(z);
  const ks = owner.keySetFrame();
  keys = { keyId: await ks.keyId, bytes: ks.bytes };
  request = owner.request(block, keys.keyId);
  // sanity: the honest request trains
  owner.readResponse(trainBlock(seal, request, keys), block, new Float64Array(6));
});

/** The server's call, with the stored key set the request names by default. */
const train = (req: Uint8Array, ks: StoredKeySet = keys) => trainBlock(seal, req, ks);

function rebuild(mod: (p: TrainRequestParts) => void, keyId = keys.keyId): Uint8Array {
  const { header, parts } = decodeTrainRequest(request);
  const copy: TrainRequestParts = { data: parts.data.map((d) => d.slice()) };
  mod(copy);
  const { digest: _d, ...h } = header;
  return encodeTrainRequest({ ...h, keyId }, copy);
}

/** A key set with modified parts, and the honest request re-pointed at it. */
async function withKeySet(mod: (k: { relin: Uint8Array; galois: Uint8Array }) => void): Promise<{ ks: StoredKeySet; req: Uint8Array }> {
  const k = decodeTrainKeys(keys.bytes);
  const parts = { relin: k.relin.slice(), galois: k.galois.slice() };
  mod(parts);
  const bytes = encodeTrainKeys(k.header.ckks, parts);
  const keyId = await trainKeyId(bytes);
  return { ks: { keyId, bytes }, req: rebuild(() => undefined, keyId) };
}

function refused(f: () => unknown, code: FheError["code"], msg?: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a refusal").toBeInstanceOf(FheError);
  expect((err as FheError).code).toBe(code);
  if (msg) expect((err as FheError).message).toMatch(msg);
}

function secretKeyBytes(o: TrainingOwner): Uint8Array {
  const sk = (o as unknown as { querier: { secret: SecretKey } }).querier.secret;
  return new Uint8Array(sk.saveToArray(seal.ComprModeType.none) as Uint8Array);
}

describe("encrypted training refusals", () => {
  it("too many iterations for the depth: RangeError before any key, ciphertext or server call", async () => {
    let calls = 0;
    const server: TrainServer = { putKeys: () => (calls++, NO_KEY), train: () => (calls++, new Uint8Array()) };
    await expect(trainEncrypted({ seal, x, y, nag: { ...nag, iterations: 9 }, server })).rejects.toThrow(/need 25 levels.*--refresh-every 2/);
    await expect(trainEncrypted({ seal, x, y, nag: { ...nag, iterations: 2 }, refreshEvery: 0, server })).rejects.toThrow(RangeError);
    expect(calls).toBe(0);
    // a request claiming a deeper block than its parameters hold is refused by the server too
    const frame = decodeFrame(request, { maxParts: 100, maxPartBytes: 2 ** 30 });
    const h = { ...(frame.header as Record<string, unknown>), nag: { ...nag, iterations: 3 }, block: { from: 0, to: 3 } };
    const { digest: _d, ...rest } = h as unknown as { digest: string };
    refused(() => train(encodeTrainRequest(rest as never, decodeTrainRequest(request).parts)), "bad-parameters", /need 7 levels/);
  });

  it("a ciphertext under other parameters is refused", () => {
    const other: TrainingPlan = { ...plan, params: { ...plan.params, coeffModulusBits: [60, 30, 60], scaleBits: 30 } };
    const b = TrainingOwner.create(seal, other, nag, z.length, 5);
    try {
      b.encryptData(z);
      const foreign = decodeTrainRequest(b.request(block, NO_KEY)).parts.data[0]!;
      refused(() => train(rebuild((p) => (p.data[0] = foreign))), "bad-ciphertext", /CKKS parameters/);
    } finally {
      b.dispose();
    }
  });

  it("a ciphertext under another key: the owner's decryption check refuses the result", () => {
    const b = TrainingOwner.create(seal, plan, nag, z.length, 5);
    try {
      b.encryptData(z);
      const foreign = decodeTrainRequest(b.request(block, NO_KEY)).parts.data[0]!;
      const res = train(rebuild((p) => (p.data[0] = foreign))); // the server cannot tell
      refused(() => owner.readResponse(res, block, new Float64Array(6)), "bad-ciphertext", /another key/);
    } finally {
      b.dispose();
    }
  });

  it("tampered or truncated requests are refused before any work, with no output", () => {
    const flipped = request.slice();
    flipped[Math.floor(flipped.length / 2)]! ^= 1;
    refused(() => train(flipped), "bad-ciphertext", /digest/);
    refused(() => train(request.subarray(0, request.length - 100)), "bad-ciphertext", /malformed frame/);
    refused(() => train(request.subarray(0, 10)), "bad-ciphertext", /malformed frame/);
    // altered by someone who also recomputes the digest: SEAL's own validation (coefficient ≥ q)
    const bad = rebuild((p) => p.data[0]!.fill(0xff, p.data[0]!.length >> 1, (p.data[0]!.length >> 1) + 16));
    refused(() => train(bad), "bad-ciphertext");
    // a truncated part with a recomputed digest
    refused(() => train(rebuild((p) => (p.data[0] = p.data[0]!.subarray(0, 1000)))), "bad-ciphertext");
    // a tampered response: the owner refuses it
    const res = train(request).slice();
    res[res.length - 5]! ^= 0x10;
    refused(() => owner.readResponse(res, block, new Float64Array(6)), "bad-ciphertext", /digest/);
  });

  it("a key set other than the one named, or for other parameters, is refused", async () => {
    const same = await withKeySet(() => undefined);
    expect(same.ks.keyId).toBe(keys.keyId); // same bytes, same id
    refused(() => train(rebuild(() => undefined, NO_KEY)), "bad-keys", /names key set/);
    const other: TrainingPlan = { ...plan, params: { ...plan.params, coeffModulusBits: [60, 30, 60], scaleBits: 30 } };
    const frame = encodeTrainKeys(other.params, decodeTrainKeys(keys.bytes));
    const id = await trainKeyId(frame);
    refused(() => train(rebuild(() => undefined, id), { keyId: id, bytes: frame }), "bad-keys", /key set is for/);
    // a key set without its two parts
    refused(() => train(request, { keyId: keys.keyId, bytes: encodeFrame(decodeFrame(keys.bytes, { maxParts: 2, maxPartBytes: 2 ** 30 }).header, []) }), "bad-keys", /2 parts/);
  });

  it("the server cannot be handed a secret key: types, header fields and parts", async () => {
    const sk = (owner as unknown as { querier: { secret: SecretKey } }).querier.secret;
    // @ts-expect-error — trainBlock takes serialised public material (bytes), not a SecretKey
    refused(() => trainBlock(seal, sk, keys), "secret-key-refused");
    // @ts-expect-error — nor the owner that holds it
    refused(() => trainBlock(seal, owner, keys), "bad-ciphertext", /serialised public request/);
    // @ts-expect-error — nor a SecretKey as the key set
    refused(() => trainBlock(seal, request, { keyId: keys.keyId, bytes: sk }), "secret-key-refused");
    const frame = decodeFrame(request, { maxParts: 100, maxPartBytes: 2 ** 30 });
    refused(() => train(encodeFrame({ ...(frame.header as object), secretKey: "AAAA" }, frame.parts)), "secret-key-refused");
    const kf = decodeFrame(keys.bytes, { maxParts: 2, maxPartBytes: 2 ** 30 });
    refused(() => train(request, { keyId: keys.keyId, bytes: encodeFrame({ ...(kf.header as object), sk: "AAAA" }, kf.parts) }), "secret-key-refused");
    const skBytes = secretKeyBytes(owner);
    const g = await withKeySet((k) => (k.galois = skBytes));
    refused(() => train(g.req, g.ks), "secret-key-refused");
    const r = await withKeySet((k) => (k.relin = skBytes));
    refused(() => train(r.req, r.ks), "secret-key-refused");
    refused(() => train(rebuild((p) => (p.data[1] = skBytes))), "secret-key-refused");
    // the key store refuses it at upload already
    const store = new TrainKeyStore({}, async () => seal);
    await expect(store.put(g.ks.bytes)).rejects.toMatchObject({ code: "secret-key-refused" });
    await expect(store.put(r.ks.bytes)).rejects.toMatchObject({ code: "secret-key-refused" });
    expect(store.size).toBe(0);
    // and an honest run holds none: no part of the request or the key set loads as a secret key
    const { parts } = decodeTrainRequest(request);
    const ks = decodeTrainKeys(keys.bytes);
    for (const p of [ks.relin, ks.galois, ...parts.data]) {
      const k = new seal.SecretKey();
      try {
        expect(() => k.loadFromArray(owner.ctx.context, p)).toThrow();
      } finally {
        k.delete();
      }
    }
  });
});
