/**
 * Broadcast-hash echo against equivocation. The relay cannot forge a party's broadcast (it
 * is signed), but a malicious sender or relay could deliver *different* signed broadcasts
 * to different recipients. Each party therefore keeps a canonical transcript of every
 * broadcast it saw (its own included) and, before accepting an output, sends the hash of
 * that transcript to everyone; any mismatch aborts with "equivocation". Goldwasser–Lindell
 * "broadcast with abort" (J. Cryptology 2005) in its simplest form: one echo round.
 *
 * Canonical order: (round, phase, sender). The hash does not depend on arrival order.
 */
import { sha256 } from "./hash.ts";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import { ProtocolAbort } from "./errors.ts";

function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x, true);
  return b;
}

/** A canonical record of broadcasts, folded step by step into a running hash. */
export class Transcript {
  private digestValue: Uint8Array;
  private closed = -1;
  private pending = new Map<string, Uint8Array>();

  /** @param sessionId binds the transcript to one job/round/attempt. */
  constructor(sessionId: Uint8Array) {
    this.digestValue = sha256(concatBytes(utf8("2pm/mascot/transcript/v1"), u32(sessionId.length), sessionId));
  }

  /**
   * Records broadcast `payload` of `phase` sent by `from` in protocol step `step`.
   * Throws ProtocolAbort "replay" if the same (step, phase, from) is recorded twice, and
   * RangeError (our bug) if the step was already closed.
   */
  record(step: number, phase: string, from: number, payload: Uint8Array): void {
    if (step <= this.closed) throw new RangeError(`Transcript: step ${step} already closed`);
    const key = `${String(step).padStart(6, "0")}\u0000${phase}\u0000${String(from).padStart(6, "0")}`;
    if (this.pending.has(key)) throw new ProtocolAbort("replay", [from], `duplicate broadcast ${phase} from party ${from}`);
    this.pending.set(key, sha256(payload));
  }

  /**
   * Folds every recorded broadcast of steps ≤ `step`, sorted by (step, phase, sender), into
   * the running hash. Idempotent for steps already closed.
   */
  closeThrough(step: number): void {
    if (step <= this.closed) return;
    const keys = [...this.pending.keys()].filter((k) => Number(k.slice(0, 6)) <= step).sort();
    const parts: Uint8Array[] = [this.digestValue, u32(step)];
    for (const k of keys) {
      parts.push(u32(k.length), utf8(k), this.pending.get(k)!);
      this.pending.delete(k);
    }
    this.digestValue = sha256(concatBytes(...parts));
    this.closed = step;
  }

  /** SHA-256 chain over every closed step so far (32 bytes). */
  digest(): Uint8Array {
    return this.digestValue;
  }
}

/** Phase name of the echo broadcast. */
export const ECHO_PHASE = "echo";

/**
 * Compares every party's echoed digest with ours. Throws ProtocolAbort "equivocation"
 * naming the parties whose view differs (the equivocator or the relay is to blame; a
 * differing honest party is named too, since one cannot tell them apart from one view).
 */
export function checkEchoes(mine: Uint8Array, echoes: ReadonlyMap<number, Uint8Array>): void {
  const differing: number[] = [];
  for (const [from, h] of echoes) if (!bytesEqual(h, mine)) differing.push(from);
  if (differing.length > 0) {
    differing.sort((a, b) => a - b);
    throw new ProtocolAbort("equivocation", differing, `broadcast echo mismatch with parties ${differing.join(",")}`);
  }
}
