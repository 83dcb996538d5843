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
import { trainBlock } from "../../../client/fhe/training/server.ts";
import { trainEncrypted } from "../../../client/fhe/training/train.ts";
import { decodeTrainRequest, encodeTrainRequest, type TrainRequestParts } from "../../../client/fhe/training/wire.ts";

let seal: Seal;
const x = Array.from({ length: 48 }, (_, i) => [Math.sin(i), Math.cos(2 * i), i % 5, (i * 7) % 11, Math.sin(i / 3)]);
const y = x.map((r) => (r[0]! + r[1]! > 0 ? 1 : 0));
const z = zRows(x, y, standardisation(x));
const nag: NagConfig = { ...DEFAULT_NAG, iterations: 1, learningRate: 1 };
const plan = planTraining(nag);
const block = plan.blocks[0]!;
let owner: TrainingOwner;
let request: Uint8Array;

beforeAll(async () => {
  seal = await loadSealNode();
  owner = TrainingOwner.create(seal, plan, nag, z.length, 5);
  owner.encryptData(z);
  request = owner.request(block);
  // sanity: the honest request trains
  owner.readResponse(trainBlock(seal, request), block, new Float64Array(6));
});

function rebuild(mod: (p: TrainRequestParts) => void): Uint8Array {
  const { header, parts } = decodeTrainRequest(request);
  const copy: TrainRequestParts = { relin: parts.relin.slice(), galois: parts.galois.slice(), data: parts.data.map((d) => d.slice()) };
  mod(copy);
  const { digest: _d, ...h } = header;
  return encodeTrainRequest(h, copy);
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
    await expect(trainEncrypted({ seal, x, y, nag: { ...nag, iterations: 9 }, server: () => { calls++; return new Uint8Array(); } })).rejects.toThrow(/need 25 levels.*--refresh-every 2/);
    await expect(trainEncrypted({ seal, x, y, nag: { ...nag, iterations: 2 }, refreshEvery: 0, server: () => { calls++; return new Uint8Array(); } })).rejects.toThrow(RangeError);
    expect(calls).toBe(0);
    // a request claiming a deeper block than its parameters hold is refused by the server too
    const frame = decodeFrame(request, { maxParts: 100, maxPartBytes: 2 ** 30 });
    const h = { ...(frame.header as Record<string, unknown>), nag: { ...nag, iterations: 3 }, block: { from: 0, to: 3 } };
    const { digest: _d, ...rest } = h as unknown as { digest: string };
    refused(() => trainBlock(seal, encodeTrainRequest(rest as never, decodeTrainRequest(request).parts)), "bad-parameters", /need 7 levels/);
  });

  it("a ciphertext under other parameters is refused", () => {
    const other: TrainingPlan = { ...plan, params: { ...plan.params, coeffModulusBits: [60, 30, 60], scaleBits: 30 } };
    const b = TrainingOwner.create(seal, other, nag, z.length, 5);
    try {
      b.encryptData(z);
      const foreign = decodeTrainRequest(b.request(block)).parts.data[0]!;
      refused(() => trainBlock(seal, rebuild((p) => (p.data[0] = foreign))), "bad-ciphertext", /CKKS parameters/);
    } finally {
      b.dispose();
    }
  });

  it("a ciphertext under another key: the owner's decryption check refuses the result", () => {
    const b = TrainingOwner.create(seal, plan, nag, z.length, 5);
    try {
      b.encryptData(z);
      const foreign = decodeTrainRequest(b.request(block)).parts.data[0]!;
      const res = trainBlock(seal, rebuild((p) => (p.data[0] = foreign))); // the server cannot tell
      refused(() => owner.readResponse(res, block, new Float64Array(6)), "bad-ciphertext", /another key/);
    } finally {
      b.dispose();
    }
  });

  it("tampered or truncated requests are refused before any work, with no output", () => {
    const flipped = request.slice();
    flipped[Math.floor(flipped.length / 2)]! ^= 1;
    refused(() => trainBlock(seal, flipped), "bad-ciphertext", /digest/);
    refused(() => trainBlock(seal, request.subarray(0, request.length - 100)), "bad-ciphertext", /malformed frame/);
    refused(() => trainBlock(seal, request.subarray(0, 10)), "bad-ciphertext", /malformed frame/);
    // altered by someone who also recomputes the digest: SEAL's own validation (coefficient ≥ q)
    const bad = rebuild((p) => p.data[0]!.fill(0xff, p.data[0]!.length >> 1, (p.data[0]!.length >> 1) + 16));
    refused(() => trainBlock(seal, bad), "bad-ciphertext");
    // a truncated part with a recomputed digest
    refused(() => trainBlock(seal, rebuild((p) => (p.data[0] = p.data[0]!.subarray(0, 1000)))), "bad-ciphertext");
    // a tampered response: the owner refuses it
    const res = trainBlock(seal, request).slice();
    res[res.length - 5]! ^= 0x10;
    refused(() => owner.readResponse(res, block, new Float64Array(6)), "bad-ciphertext", /digest/);
  });

  it("the server cannot be handed a secret key: types, header fields and parts", () => {
    const sk = (owner as unknown as { querier: { secret: SecretKey } }).querier.secret;
    // @ts-expect-error — trainBlock takes serialised public material (bytes), not a SecretKey
    refused(() => trainBlock(seal, sk), "secret-key-refused");
    // @ts-expect-error — nor the owner that holds it
    refused(() => trainBlock(seal, owner), "bad-ciphertext", /serialised public request/);
    const frame = decodeFrame(request, { maxParts: 100, maxPartBytes: 2 ** 30 });
    refused(() => trainBlock(seal, encodeFrame({ ...(frame.header as object), secretKey: "AAAA" }, frame.parts)), "secret-key-refused");
    const skBytes = secretKeyBytes(owner);
    refused(() => trainBlock(seal, rebuild((p) => (p.galois = skBytes))), "secret-key-refused");
    refused(() => trainBlock(seal, rebuild((p) => (p.relin = skBytes))), "secret-key-refused");
    refused(() => trainBlock(seal, rebuild((p) => (p.data[1] = skBytes))), "secret-key-refused");
    // and an honest request holds none: no part loads as a secret key
    const { parts } = decodeTrainRequest(request);
    for (const p of [parts.relin, parts.galois, ...parts.data]) {
      const k = new seal.SecretKey();
      try {
        expect(() => k.loadFromArray(owner.ctx.context, p)).toThrow();
      } finally {
        k.delete();
      }
    }
  });
});
