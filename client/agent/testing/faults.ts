/**
 * Test-only deviations of a node, to prove the protocol catches them (end-to-end tests start
 * real node processes with TWOPM_FAULT). Not on the production path: `2pm node start` imports
 * this module only when TWOPM_FAULT is set, and the agent sees nothing but its generic
 * {@link AgentHooks}.
 */
import type { Field, FieldVec } from "../../../protocol/field/types.ts";
import type { OutboundMessage, Predicate } from "../../../protocol/mascot/party.ts";
import type { AgentHooks } from "../agent.ts";

/** One deviation. */
export type FaultPlan =
  /** Add 2^40 to the first input entry (breaks any range predicate). */
  | { kind: "bad-input" }
  /**
   * Every entry covered by the job's L2-norm predicate at the largest value its range predicate
   * allows: each entry passes the range check, the norm exceeds the bound.
   */
  | { kind: "big-norm" }
  /** Flip a byte of every outbound payload of this phase. */
  | { kind: "tamper"; phase: string }
  /** Call `onCrash` when the party reaches this phase (the CLI exits the process). */
  | { kind: "crash"; phase: string; onCrash: () => void };

/**
 * Parses TWOPM_FAULT: "bad-input", "big-norm", "tamper:<phase>", "crash:<phase>" (the crash
 * exits the process with 137). Throws Error naming an unknown fault.
 */
export function faultFromEnv(v: string): FaultPlan {
  if (v === "bad-input") return { kind: "bad-input" };
  if (v === "big-norm") return { kind: "big-norm" };
  const [kind, phase] = v.split(":");
  if (kind === "tamper" && phase) return { kind: "tamper", phase };
  if (kind === "crash" && phase) return { kind: "crash", phase, onCrash: () => { console.error(`fault: crashing at phase ${phase}`); process.exit(137); } };
  throw new Error(`TWOPM_FAULT: unknown fault ${JSON.stringify(v)}`);
}

/** The agent hooks that carry out `plan`. */
export function faultHooks(plan: FaultPlan): AgentHooks {
  switch (plan.kind) {
    case "bad-input": return { input: (field, v) => corrupt(field, v) };
    case "big-norm": return { input: (field, v, predicates) => inflateNorm(field, v, predicates) };
    case "tamper": return { tamper: (m) => (m.phase === plan.phase ? flipByte(m) : m) };
    case "crash": return { onPhase: (phase) => { if (phase === plan.phase) plan.onCrash(); } };
  }
}

function corrupt(field: Field, v: FieldVec): FieldVec {
  const out = field.slice(v, 0, v.length);
  field.set(out, 0, (field.get(out, 0) + (1n << 40n)) % field.p);
  return out;
}

function inflateNorm(field: Field, v: FieldVec, predicates: readonly Predicate[]): FieldVec {
  const l2 = predicates.find((p) => p.kind === "l2-norm");
  if (!l2) return v;
  const out = field.slice(v, 0, v.length);
  const [s, e] = l2.indices ?? [0, v.length];
  for (let i = s; i < e; i++) {
    const range = predicates.find((p) => p.kind === "range" && i >= (p.indices?.[0] ?? 0) && i < (p.indices?.[1] ?? v.length));
    if (range?.kind !== "range") continue;
    const offset = range.offset ?? 0n;
    const max = (1n << BigInt(range.bits)) - 1n - offset; // x + offset ∈ [0, 2^bits)
    field.set(out, i, ((max % field.p) + field.p) % field.p);
  }
  return out;
}

function flipByte(m: OutboundMessage): OutboundMessage {
  // Flip the low bit of the last 8-byte word: for field-encoded payloads that is the least
  // significant byte of the last element, so the value stays canonical but is wrong.
  const payload = m.payload.slice();
  if (payload.length) payload[Math.max(0, payload.length - 8)]! ^= 0x01;
  return { ...m, payload };
}
