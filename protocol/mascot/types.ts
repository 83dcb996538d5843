/**
 * Types shared by the MASCOT party (party.ts), the validated engine (online.ts) and the
 * validation plans (validation.ts): messages, steps, predicates, configuration and result.
 * In a module of their own so that those modules do not import each other in a circle;
 * party.ts re-exports them (its public API is unchanged).
 */
import type { Field, FieldVec } from "../field/types.ts";
import type { NoiseConfig } from "./noise.ts";

/** A message to send: to one party or to "all" (a broadcast, same bytes to everyone). */
export interface OutboundMessage { to: number | "all"; phase: string; payload: Uint8Array }
/** A delivered message; seq = index of this message in the stream from `from` to us (from 0). */
export interface InboundMessage { from: number; phase: string; seq: number; payload: Uint8Array }
/**
 * "validated" (default: MACs, predicates, exclusion), "linear-only" (explicit option, no
 * validation) or "plaintext" (benchmark baseline only: every input is broadcast in the clear
 * to the committee and summed; no privacy at all; the coordinator refuses it unless told to).
 */
export type AggregationMode = "validated" | "linear-only" | "plaintext";

/** Input predicates checked in validated mode (see validation.ts for costs and error bounds). */
export type Predicate =
  | { kind: "none" }
  | { kind: "bits" }
  | { kind: "one-hot"; groups: Array<[start: number, end: number]>; exact?: boolean }
  /** x_k + offset ∈ [0, 2^bits) for k in indices (offset: a public shift, e.g. for signed entries). */
  | { kind: "range"; bits: number; indices?: [number, number]; offset?: bigint }
  /**
   * Σ x_k² ≤ bound over indices (default: all entries). method "exact" (default): an identity
   * mod p, sound over the integers only with a range predicate on the same entries; method
   * "pine": the exact check plus PINE wraparound checks (validation.ts), sound over the
   * integers on its own, with no per-entry witness bits.
   */
  | { kind: "l2-norm"; bound: bigint; projection?: { rows: number }; indices?: [number, number]; method?: "exact" | "pine"; pine?: PineOptions };
/** Wraparound-check parameters of an `l2-norm` predicate with method "pine" (defaults in validation.ts). */
export interface PineOptions { checks?: number; successes?: number; alpha?: number }
/** One party's view of a secure sum: committee size, own index, mode, input length, predicates, session binding. */
export interface SecureSumConfig {
  field: Field; parties: number; me: number; mode: AggregationMode;
  length: number; predicates: Predicate[]; sessionId: Uint8Array;
  /**
   * Differential-privacy noise (validated mode only; noise.ts, docs/dp.md): public per-entry
   * σ² covering all `length` entries. Each party inputs its own z ~ N_Z(0, σ²) next to x, its
   * norm is checked, and only Σ (x_j + r ⊙ z_j) is opened, r public signs from a late coin.
   */
  noise?: NoiseConfig;
}
/**
 * The output: the sum of the accepted inputs, the excluded parties, and the transcript hash all
 * parties echoed. With noise: `sum` = Σ (x_j + r ⊙ z_j) and `signs` = r (public).
 */
export interface SecureSumResult { sum: FieldVec; excluded: number[]; transcriptHash: Uint8Array; signs?: Array<1 | -1> }

/** One protocol step (step-driver.ts): the phases expected from every other party, and what to do once they are in. */
export interface Step {
  readonly name: string;
  readonly expect: readonly string[];
  /** `inbox.get(phase)[j]` is party j's payload (undefined at our own index). */
  run(inbox: Inbox): OutboundMessage[];
  /** Optional: the same as `run` (same messages and state), with async precomputation (WebCrypto); step-driver.ts runAsync. */
  runAsync?(inbox: Inbox): Promise<OutboundMessage[]>;
  /**
   * Optional: called as each message of this step arrives (after the seq/phase checks);
   * may consume a large payload right away and return what to keep in the inbox instead
   * (bounds memory to one payload at a time). Must leave the payload alone if it cannot
   * process it yet. May throw ProtocolAbort.
   */
  eager?(phase: string, from: number, payload: Uint8Array): Uint8Array;
}
/** Payloads of one step, by phase then sender index. */
export type Inbox = Map<string, Array<Uint8Array | undefined>>;

