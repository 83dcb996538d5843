/**
 * The messages between a node agent and its party thread (party-thread.ts ↔ party-worker.ts).
 * Everything here is structured-cloneable: fields travel by name, field vectors as their
 * canonical encoding, protocol aborts as their code, culprits and message.
 */
import type { AggregationMode, InboundMessage, OutboundMessage, Predicate } from "../../protocol/mascot/party.ts";
import type { NoiseConfig } from "../../protocol/mascot/noise.ts";

/** A SecureSumConfig with the field named instead of given. */
export interface PartySpec {
  field: "m61" | "p128";
  parties: number;
  me: number;
  mode: AggregationMode;
  length: number;
  predicates: Predicate[];
  sessionId: Uint8Array;
  noise?: NoiseConfig;
}

/** The party's public state after each call. */
export interface PartyView {
  phase: string;
  done: boolean;
  outputReleased: boolean;
  /** The result once done: `sum` in the field's encoding. */
  result?: { sum: Uint8Array; excluded: number[]; transcriptHash: Uint8Array; signs?: Array<1 | -1> };
}

export type PartyRequest =
  | { id: number; op: "create"; party: number; spec: PartySpec; input: Uint8Array; committee: string[] }
  | { id: number; op: "start"; party: number }
  | { id: number; op: "receive"; party: number; message: InboundMessage }
  | { id: number; op: "drop"; party: number }
  | { id: number; op: "forget"; nodeIds: string[] }
  | { id: number; op: "warm" }
  /** The agent has (false) or has no (true) round under way: base-OT receiver halves are prepared only while idle. */
  | { id: number; op: "idle"; idle: boolean };

/** A request before the thread host numbers it. */
export type PartyCall = PartyRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export type PartyAnswer =
  | { id: number; ok: true; out: OutboundMessage[]; view: PartyView | null; /** op `idle`: prepared base-OT receiver halves held */ prepared?: number }
  | { id: number; ok: false; abort?: { code: string; culprits: number[] }; message: string; view?: PartyView };
