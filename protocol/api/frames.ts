/**
 * RoundDO WebSocket frames. Text frames are JSON with a version and a kind discriminant;
 * binary frames carry relay envelopes (protocol/crypto/envelope.ts):
 *   client → server: the envelope bytes;
 *   server → client: mailbox index (u32 big-endian, starting at 1) ‖ envelope bytes.
 * A client that reconnects sends `hello` with the last index it processed and is sent
 * every later entry of its own mailbox again. The relay authenticates the sender by its
 * connection, not by each envelope's signature: recipients verify every envelope and answer
 * a bad signature with `dispute` (see ClientFrame).
 */
import { z } from "zod";

/** Closed set of round abort reasons (MASCOT's ProtocolAbort codes plus relay outcomes). */
export const ROUND_ABORT_CODES = [
  "mac-check-failed", "commitment-mismatch", "cope-check-failed", "ot-check-failed", "sacrifice-failed",
  "input-check-failed", "equivocation", "unexpected-message", "replay", "bad-encoding", "timeout",
  "result-mismatch", "cancelled", "declined", "view-mismatch",
  /** The relay checked a disputed envelope (ClientFrame `dispute`) and its sender's signature does not verify: the sender is named. */
  "bad-signature",
] as const;
export const RoundAbortCode = z.enum(ROUND_ABORT_CODES);
export type RoundAbortCode = z.infer<typeof RoundAbortCode>;

export const RoundPhase = z.enum(["waiting", "running", "finalizing", "accepted", "aborted"]);
export type RoundPhase = z.infer<typeof RoundPhase>;

const b64 = z.string().regex(/^[A-Za-z0-9_-]*$/).max(2_000_000);

export const ClientFrame = z.discriminatedUnion("kind", [
  z.strictObject({ v: z.literal(1), kind: z.literal("hello"), cursor: z.number().int().min(0) }),
  z.strictObject({
    v: z.literal(1), kind: z.literal("result"),
    /** The opened aggregate (field-encoded bytes), identical at every honest party. */
    aggregate: b64,
    /** SHA-256 over every broadcast seen, in order (MASCOT's transcript hash). */
    transcriptHash: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    excluded: z.array(z.number().int().min(0)).max(64).default([]),
  }),
  z.strictObject({ v: z.literal(1), kind: z.literal("abort"), code: RoundAbortCode, culprits: z.array(z.number().int().min(0)).max(64), detail: z.string().max(512).optional() }),
  /** Liveness (answered by `pong`; the RoundDO counts it as the party being alive). */
  z.strictObject({ v: z.literal(1), kind: z.literal("ping") }),
  /**
   * The party is about to run a protocol step on the same thread that pings (a browser node's
   * page): the RoundDO counts it as heard for BUSY_GRACE_MS more (durable-objects/core/round-referee.ts).
   */
  z.strictObject({ v: z.literal(1), kind: z.literal("busy") }),
  /** The client processed its mailbox up to `cursor`: the relay may drop those entries. */
  z.strictObject({ v: z.literal(1), kind: z.literal("ack"), cursor: z.number().int().min(0) }),
  /**
   * Entry `index` of the client's own mailbox (not acknowledged) does not carry a valid
   * signature of its sender. The relay checks its stored copy and aborts the round naming the
   * sender (`bad-signature`) if the signature is bad, else the disputing client
   * (`unexpected-message`); a dispute of an acknowledged entry names the client, one of an
   * index the relay never assigned is refused (docs/coordinator.md "Relay: sender
   * authentication and disputes").
   */
  z.strictObject({ v: z.literal(1), kind: z.literal("dispute"), index: z.number().int().min(1).max(0xffffffff) }),
]);
export type ClientFrame = z.input<typeof ClientFrame>;

export type ServerFrame =
  /**
   * `lastSeq`: the highest envelope seq the relay has accepted from this party (−1: none), so
   * a reconnecting party re-sends only what is above it.
   */
  | { v: 1; kind: "welcome"; me: number; phase: RoundPhase; cursor: number; connected: number[]; lastSeq?: number }
  | { v: 1; kind: "phase"; phase: RoundPhase }
  | { v: 1; kind: "accepted"; aggregateHash: string; transcriptHash: string; excluded: number[] }
  | { v: 1; kind: "aborted"; code: RoundAbortCode; culprits: number[]; detail: string }
  | { v: 1; kind: "error"; code: string; detail: string }
  | { v: 1; kind: "pong" }
  /**
   * Flow control (durable-objects/round-do.ts, docs/coordinator.md "Relay: throughput and
   * back-pressure"): stop sending envelopes — `party` is the recipient whose unread backlog
   * caused it, −1 when the relay's memory did — until `resume` or a new connection's `welcome`.
   */
  | { v: 1; kind: "pause"; party: number }
  | { v: 1; kind: "resume" };

/** Prefixes a delivered envelope with its mailbox index. */
export function encodeDelivery(index: number, envelope: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + envelope.length);
  new DataView(out.buffer).setUint32(0, index);
  out.set(envelope, 4);
  return out;
}

/** Splits a delivered binary frame. Throws RangeError when shorter than 4 bytes. */
export function decodeDelivery(frame: Uint8Array): { index: number; envelope: Uint8Array } {
  if (frame.length < 4) throw new RangeError("delivery frame too short");
  return { index: new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0), envelope: frame.subarray(4) };
}

/** Thrown by {@link parseJsonStrict}: the text is not JSON, or an object in it has the key `__proto__` (at `path`). */
export class StrictJsonError extends Error {
  constructor(readonly reason: "malformed" | "proto-key", detail: string, readonly path = "") {
    super(detail);
    this.name = "StrictJsonError";
  }
}

/**
 * `JSON.parse` for untrusted bodies and frames. Refuses (StrictJsonError "proto-key", with the
 * dotted path of the object) any object key `"__proto__"` at any depth: zod drops such a key
 * silently instead of refusing it as unknown, and code that copies objects could let it reach
 * a prototype. Throws StrictJsonError "malformed" on text that is not JSON. Iterative, so deep
 * nesting cannot overflow the stack.
 */
export function parseJsonStrict(text: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StrictJsonError("malformed", "not valid JSON");
  }
  if (!text.includes("__proto__") && !text.includes("\\u")) return v; // no key can spell it
  const stack: Array<{ x: unknown; path: string }> = [{ x: v, path: "" }];
  while (stack.length) {
    const { x, path } = stack.pop()!;
    if (typeof x !== "object" || x === null) continue;
    if (!Array.isArray(x) && Object.hasOwn(x, "__proto__")) {
      throw new StrictJsonError("proto-key", `the key "__proto__" is not allowed${path ? ` (in ${path})` : ""}`, path);
    }
    for (const [k, y] of Object.entries(x)) if (typeof y === "object" && y !== null) stack.push({ x: y, path: path ? `${path}.${k}` : k });
  }
  return v;
}
