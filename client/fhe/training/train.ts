/**
 * Encrypted logistic-regression training end to end: the owner standardises and encrypts its
 * rows, uploads its public evaluation keys once, and a server (by default in this process,
 * behind a boundary that receives and returns only serialised public material; or
 * `2pm fhe serve` over HTTP, http.ts — the same frames) runs each block of iterations, the
 * owner decrypts the weights and, between blocks, re-encrypts only the NAG weight pair
 * (β_t, v_t). The result is a `2pm-dense/v1` model with the owner's
 * standardisation as preprocessing, ready for client/fhe/package.ts.
 *
 *   const r = await trainEncrypted({ seal, x, y, nag: { ...DEFAULT_NAG, iterations: 3 } });
 *   r.model; r.beta
 */
import type { DenseModel } from "../../../protocol/learning/dense.ts";
import type { Seal } from "../seal.ts";
import { checkNagConfig, standardisation, toDenseModel, zRows, type NagConfig, type NagState, type Standardisation } from "./nag.ts";
import { TrainingOwner } from "./owner.ts";
import { planTraining, type TrainingPlan } from "./params.ts";
import { decodeTrainRequest } from "./wire.ts";
import { FheError } from "../errors.ts";
import { requireKeySet, TrainKeyStore, type KeyStoreLimits } from "./keys.ts";
import { trainBlock, type TrainProgress } from "./server.ts";

/**
 * The server side as seen by the owner: serialised frames in, serialised frames out. `putKeys`
 * stores the key-set frame (wire.ts `encodeTrainKeys`) and returns its key id; `train` runs
 * one block request naming that id; `deleteKeys` forgets the set (best effort, at the end).
 */
export interface TrainServer {
  putKeys(keySet: Uint8Array): Promise<string> | string;
  train(request: Uint8Array): Promise<Uint8Array> | Uint8Array;
  deleteKeys?(keyId: string): Promise<void> | void;
}

/**
 * The in-process server: a {@link TrainKeyStore} and {@link trainBlock}, nothing else; the
 * frames are the ones `2pm fhe serve` receives. `onProgress` reports iterations as they run.
 */
export function localTrainServer(seal: Seal, onProgress?: (p: TrainProgress) => void, limits: Partial<KeyStoreLimits> = { maxSetBytes: 2 ** 31 - 1, maxTotalBytes: 2 ** 31 - 1 }): TrainServer {
  const store = new TrainKeyStore(limits, async () => seal);
  return {
    async putKeys(bytes) {
      const r = await store.put(bytes);
      if (!r.ok) throw new RangeError(r.detail);
      return r.keyId;
    },
    train(request) {
      const { header } = decodeTrainRequest(request);
      return trainBlock(seal, request, requireKeySet(store, header.keyId), { onProgress });
    },
    deleteKeys(keyId) {
      store.delete(keyId);
    },
  };
}

export interface TrainEncryptedOptions {
  seal: Seal;
  /** Raw feature rows (the owner's; standardised here before encryption). */
  x: ArrayLike<number>[];
  /** Labels 0/1. */
  y: ArrayLike<number>;
  nag: NagConfig;
  /** Owner-assisted refresh every this many iterations (default: none; RangeError if the depth does not allow it). */
  refreshEvery?: number;
  /** Default: {@link localTrainServer} in this process (progress reported live). */
  server?: TrainServer;
  /** Per iteration: live for the default server, from each block's response for a given one. */
  onProgress?: (p: TrainProgress) => void;
  /** Called once the key set is stored (bytes, seconds of the upload). */
  onKeys?: (k: { keyId: string; bytes: number; seconds: number }) => void;
  /** Called when a block is sent and when its response is read (bytes each way). */
  onBlock?: (b: { from: number; to: number; requestBytes: number; responseBytes: number; seconds: number }) => void;
}

export interface TrainEncryptedResult {
  beta: Float64Array;
  standardisation: Standardisation;
  model: DenseModel;
  plan: TrainingPlan;
  /** Seconds spent by the owner (keys, encryption, decryption) and in the server calls. */
  ownerSeconds: number;
  serverSeconds: number;
}

/** Runs encrypted training. Throws RangeError (bad sizes, too many iterations) before any work, FheError from either side. */
export async function trainEncrypted(o: TrainEncryptedOptions): Promise<TrainEncryptedResult> {
  const nag = checkNagConfig({ ...o.nag });
  const plan = planTraining(nag, o.refreshEvery);
  if (o.x.length === 0) throw new RangeError("no rows");
  const st = standardisation(o.x);
  const z = zRows(o.x, o.y, st);
  const server = o.server ?? localTrainServer(o.seal, o.onProgress);
  const responseProgress = o.server ? o.onProgress : undefined;
  let ownerSeconds = 0, serverSeconds = 0;
  const clock = () => performance.now() / 1000;
  let t = clock();
  const owner = TrainingOwner.create(o.seal, plan, nag, z.length, st.mean.length);
  let keyId: string | undefined;
  try {
    owner.encryptData(z);
    const keySet = owner.keySetFrame();
    const expected = await keySet.keyId;
    ownerSeconds += clock() - t;
    t = clock();
    keyId = await server.putKeys(keySet.bytes);
    const ks = clock() - t;
    serverSeconds += ks;
    // The id is the SHA-256 of what the owner sent: another id means the set was altered in transit or stored under another name.
    if (keyId !== expected) throw new FheError("bad-keys", `the server stored the key set as ${String(keyId).slice(0, 12)}…, expected ${expected.slice(0, 12)}…`);
    o.onKeys?.({ keyId, bytes: keySet.bytes.length, seconds: ks });
    t = clock();
    let state: NagState = { t: 0, beta: new Float64Array(st.mean.length + 1), v: new Float64Array(st.mean.length + 1) };
    for (const b of plan.blocks) {
      const req = owner.request(b, keyId, b.from > 0 ? state : undefined);
      ownerSeconds += clock() - t;
      t = clock();
      const res = await server.train(req);
      const s = clock() - t;
      serverSeconds += s;
      t = clock();
      state = owner.readResponse(res, b, state.beta, responseProgress);
      o.onBlock?.({ ...b, requestBytes: req.length, responseBytes: res.length, seconds: s });
    }
    ownerSeconds += clock() - t;
    return { beta: state.beta, standardisation: st, model: toDenseModel(state.beta, st), plan, ownerSeconds, serverSeconds };
  } finally {
    owner.dispose();
    if (keyId !== undefined && server.deleteKeys) await Promise.resolve(server.deleteKeys(keyId)).catch(() => undefined); // best effort: the server's caps bound what is left behind
  }
}
