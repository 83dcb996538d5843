/**
 * Encrypted logistic-regression training end to end: the owner standardises and encrypts its
 * rows, a server (by default in this process, behind a function boundary that receives and
 * returns only serialised public material — the same bytes could cross a network) runs each
 * block of iterations, the owner decrypts the weights and, between blocks, re-encrypts only
 * the NAG weight pair (β_t, v_t). The result is a `2pm-dense/v1` model with the owner's
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
import { trainBlock, type TrainProgress } from "./server.ts";

/** The server side as seen by the owner: serialised request in, serialised response out. */
export type TrainServer = (request: Uint8Array) => Promise<Uint8Array> | Uint8Array;

/** The in-process server: the request bytes go to {@link trainBlock}, nothing else. */
export function localTrainServer(seal: Seal, onProgress?: (p: TrainProgress) => void): TrainServer {
  return (request) => trainBlock(seal, request, { onProgress });
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
  server?: TrainServer;
  onProgress?: (p: TrainProgress) => void;
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
  let ownerSeconds = 0, serverSeconds = 0;
  const clock = () => performance.now() / 1000;
  let t = clock();
  const owner = TrainingOwner.create(o.seal, plan, nag, z.length, st.mean.length);
  try {
    owner.encryptData(z);
    owner.evaluationKeys();
    let state: NagState = { t: 0, beta: new Float64Array(st.mean.length + 1), v: new Float64Array(st.mean.length + 1) };
    for (const b of plan.blocks) {
      const req = owner.request(b, b.from > 0 ? state : undefined);
      ownerSeconds += clock() - t;
      t = clock();
      const res = await server(req);
      const s = clock() - t;
      serverSeconds += s;
      t = clock();
      state = owner.readResponse(res, b, state.beta);
      o.onBlock?.({ ...b, requestBytes: req.length, responseBytes: res.length, seconds: s });
    }
    ownerSeconds += clock() - t;
    return { beta: state.beta, standardisation: st, model: toDenseModel(state.beta, st), plan, ownerSeconds, serverSeconds };
  } finally {
    owner.dispose();
  }
}
