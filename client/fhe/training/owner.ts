/**
 * The data owner's side of encrypted training: its own CKKS key (a {@link Querier}: the secret
 * key never leaves it), the standardisation computed on its rows before encryption, the packed
 * and encrypted data, the public evaluation keys the server needs (relinearisation + Galois
 * for the power-of-two steps) as one key-set frame sent once per run, the serialised request
 * for each block (naming the key set by id), decryption of the
 * returned weights, and the refresh between blocks (decrypt and re-encrypt the weight vectors
 * only).
 */
import { CkksContext } from "../context.ts";
import { FheError } from "../errors.ts";
import { Querier, type EvaluationKeyBytes } from "../querier.ts";
import type { Seal } from "../seal.ts";
import { galoisSteps, layoutFor, packRows, packWeights, stateFromBetas, unpackWeights, type Layout, type NagConfig, type NagState } from "./nag.ts";
import type { TrainingPlan } from "./params.ts";
import type { TrainProgress } from "./server.ts";
import { decodeTrainResponse, encodeTrainKeys, encodeTrainRequest, trainKeyId } from "./wire.ts";

/** The data are encrypted as z/8, so inner products are u/8, the sigmoid polynomial's variable. */
export const DATA_SCALE = 1 / 8;

/** Replicas of a weight may differ by CKKS noise only; more means another key, other parameters or tampering. */
const REPLICA_TOLERANCE = 1e-2;

export class TrainingOwner {
  readonly ctx: CkksContext;
  readonly layout: Layout;
  private data: Uint8Array[] | undefined;
  private keys: EvaluationKeyBytes | undefined;
  private keySet: { bytes: Uint8Array; keyId: Promise<string> } | undefined;

  private constructor(
    readonly plan: TrainingPlan,
    readonly nag: NagConfig,
    readonly rows: number,
    readonly features: number,
    private readonly querier: Querier,
  ) {
    this.ctx = querier.ctx;
    this.layout = layoutFor(rows, features, this.ctx.slots);
  }

  /** Generates the owner's key for the plan's parameters (SEAL's CSPRNG). */
  static create(seal: Seal, plan: TrainingPlan, nag: NagConfig, rows: number, features: number): TrainingOwner {
    const ctx = CkksContext.get(seal, plan.params);
    const layout = layoutFor(rows, features, ctx.slots);
    const q = Querier.create(ctx, { relin: true, galoisSteps: galoisSteps(layout) });
    return new TrainingOwner(plan, nag, rows, features, q);
  }

  /** Encrypts the packed rows z_i (from nag.ts `zRows`), once. Throws FheError("shape-mismatch"). */
  encryptData(z: Float64Array[]): void {
    if (z.length !== this.rows || z.some((r) => r.length !== this.features + 1)) throw new FheError("shape-mismatch", `expected ${this.rows} rows of ${this.features + 1} values`);
    this.data = this.encryptVectors(packRows(z, this.layout, DATA_SCALE));
  }

  /** Public evaluation keys (serialised, seeded), generated once. */
  evaluationKeys(): EvaluationKeyBytes {
    this.keys ??= this.querier.evaluationKeys("none");
    return this.keys;
  }

  /** The key-set frame the server stores once per run, and its key id (SHA-256 of the frame). */
  keySetFrame(): { bytes: Uint8Array; keyId: Promise<string> } {
    if (!this.keySet) {
      const k = this.evaluationKeys();
      const bytes = encodeTrainKeys(this.plan.params, { relin: k.relin!, galois: k.galois! });
      this.keySet = { bytes, keyId: trainKeyId(bytes) };
    }
    return this.keySet;
  }

  /** Encodes and encrypts full slot vectors (through the querier's feature-major path: vector k = its "feature" k). */
  private encryptVectors(vectors: Float64Array[]): Uint8Array[] {
    const slots = this.ctx.slots;
    const rows = Array.from({ length: slots }, (_, i) => Float64Array.from(vectors, (v) => v[i]!));
    return this.querier.encryptBatch(rows, vectors.length, "none");
  }

  /**
   * The serialised public request for block `b`, naming the uploaded key set `keyId`
   * (state: the refreshed NAG state, for blocks after the first).
   */
  request(b: { from: number; to: number }, keyId: string, state?: NagState): Uint8Array {
    if (!this.data) throw new FheError("shape-mismatch", "encryptData first");
    let st: { v: Uint8Array; beta: Uint8Array } | undefined;
    if (b.from > 0) {
      if (!state || state.t !== b.from) throw new FheError("shape-mismatch", `block from ${b.from} needs the state after ${b.from} iterations`);
      const [v, beta] = this.encryptVectors([packWeights(state.v, this.layout), packWeights(state.beta, this.layout)]);
      st = { v: v!, beta: beta! };
    }
    return encodeTrainRequest(
      { v: 1, kind: "2pm-fhe-train/v1", ckks: this.plan.params, rows: this.rows, features: this.features, nag: { ...this.nag }, block: b, keyId, state: !!st },
      { data: this.data, state: st },
    );
  }

  /**
   * Decrypts one returned weight ciphertext, checking that every replica of every weight agrees
   * and that the padding slots are ≈ 0 — what a ciphertext under another key, other parameters
   * or a tampered one fails. Throws FheError("bad-ciphertext").
   */
  decryptWeights(bytes: Uint8Array): Float64Array {
    const slots = this.querier.decrypt(bytes, this.ctx.slots);
    const w = unpackWeights(slots, this.layout);
    let worst = 0;
    for (let s = 0; s < slots.length; s++) {
      const j = s % this.layout.f;
      const expect = j < this.layout.width ? w[j]! : 0;
      const d = Math.abs(slots[s]! - expect);
      if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
    }
    if (!(worst < REPLICA_TOLERANCE) || w.some((x) => !Number.isFinite(x))) {
      throw new FheError("bad-ciphertext", `decrypted weights are inconsistent (replicas differ by ${worst.toExponential(2)}): the result was computed on ciphertexts under another key or parameters, or was tampered with`);
    }
    return w;
  }

  /**
   * Reads a block's response: β_T (and β_{T−1}), and the NAG state to continue from
   * (`prevBeta`: β at the block's start, which the owner already has); `onProgress` gets the
   * server's per-iteration report. Throws FheError.
   */
  readResponse(bytes: Uint8Array, block: { from: number; to: number }, prevBeta: Float64Array, onProgress?: (p: TrainProgress) => void): NagState {
    const r = decodeTrainResponse(bytes);
    if (r.header.block.from !== block.from || r.header.block.to !== block.to) throw new FheError("shape-mismatch", "response is for another block");
    const beta = this.decryptWeights(r.beta);
    const betaPrev = r.betaPrev ? this.decryptWeights(r.betaPrev) : prevBeta;
    const state = stateFromBetas(block.to, beta, betaPrev, this.nag);
    for (const p of r.header.progress) onProgress?.(p);
    return state;
  }

  /** Deletes the secret key. */
  dispose(): void {
    this.querier.dispose();
  }
}
