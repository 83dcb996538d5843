/**
 * The one step driver of the MASCOT parties: party.ts's main protocol (online.ts, linear-only,
 * plaintext) and offline.ts's setup and triple batches run on it. A protocol is a fixed list
 * of steps; step k expects, from every other party, one message of each phase in
 * `steps[k].expect`, in that order, so each sender's inbound phase sequence is known in advance
 * and every message is checked on arrival (a phase out of sequence aborts, naming the sender).
 * Messages of a later step (a faster peer) are buffered; a step runs once all of its messages
 * are in and every earlier step has run (a step expecting nothing, as soon as it is reached).
 * Sequence numbers are the caller's business (party.ts checks them on a sender's one stream).
 */
import { ProtocolAbort } from "./errors.ts";
import type { Inbox, OutboundMessage, Step } from "./types.ts";

/** What the driver does with a phase that comes out of order. */
export interface StepDriverOptions {
  /**
   * A phase the sender already sent (a replay with a fresh seq) aborts "replay" if it belongs
   * to a step at or after the index this returns (offline.ts: the first step of the current
   * setup block or batch), else "unexpected-message" like any other phase out of sequence.
   * Default: always "unexpected-message".
   */
  replaysFrom?: () => number;
  /** Prefix of abort details ("offline: " for offline.ts). */
  label?: string;
}

/** Runs a fixed list of steps on messages from parties 0..n−1 (see the module comment). */
export class StepDriver {
  private readonly expected: string[] = [];
  /** stepOf[k] = step index of the k-th expected message of every sender. */
  private readonly stepOf: number[] = [];
  /** Per sender: index into the expected phase sequence. */
  private readonly nextMsg: number[];
  private readonly inboxes: Inbox[] = [];
  private readonly pending: number[] = [];
  private idx = 0;

  /** n = committee size, me = our index, steps = the protocol in order (not copied: leave it unchanged). */
  constructor(private readonly n: number, private readonly me: number, readonly steps: readonly Step[], private readonly opts: StepDriverOptions = {}) {
    steps.forEach((s, k) => { for (const ph of s.expect) { this.expected.push(ph); this.stepOf.push(k); } });
    this.nextMsg = new Array<number>(n).fill(0);
    for (const s of steps) { this.inboxes.push(new Map()); this.pending.push((n - 1) * s.expect.length); }
  }

  /** Index of the step that runs next (steps.length once all have run). */
  get index(): number { return this.idx; }
  /** The step that runs next, undefined once all have run (finished). */
  get current(): Step | undefined { return this.steps[this.idx]; }
  /** True if the current step has all of its messages (false once finished). */
  get ready(): boolean { return this.idx < this.steps.length && this.pending[this.idx] === 0; }

  /**
   * Checks `phase` against `from`'s expected sequence and buffers the payload (through the
   * step's `eager` hook when it has one). Returns the index of the step it belongs to.
   * `from` must be a valid peer index (the caller checks). Throws ProtocolAbort naming `from`:
   * "unexpected-message" (wrong phase, or nothing more expected), or "replay" for a phase
   * it already sent when the options say so; whatever `eager` throws.
   */
  accept(from: number, phase: string, payload: Uint8Array): number {
    const label = this.opts.label ?? "";
    const k = this.nextMsg[from]!;
    const want = this.expected[k];
    if (want === undefined) throw new ProtocolAbort("unexpected-message", [from], `${label}unexpected ${phase} from party ${from} after the protocol ended`);
    if (phase !== want) {
      const q = k > 0 && this.opts.replaysFrom ? this.expected.lastIndexOf(phase, k - 1) : -1;
      if (q >= 0 && this.stepOf[q]! >= this.opts.replaysFrom!()) throw new ProtocolAbort("replay", [from], `${label}second ${phase} from party ${from}`);
      throw new ProtocolAbort("unexpected-message", [from], `${label}expected ${want} from party ${from}, got ${phase}`);
    }
    this.nextMsg[from] = k + 1;
    const step = this.stepOf[k]!;
    const inbox = this.inboxes[step]!;
    let slot = inbox.get(phase);
    if (!slot) { slot = new Array<Uint8Array | undefined>(this.n).fill(undefined); inbox.set(phase, slot); }
    const st = this.steps[step]!;
    slot[from] = st.eager ? st.eager(phase, from, payload) : payload;
    this.pending[step]!--;
    return step;
  }

  /**
   * Runs the current step and moves on; returns what it sends. While it runs, {@link index}
   * is its index. Throws Error if the step is not {@link ready} (a caller bug), else what the step throws.
   */
  run(): OutboundMessage[] {
    const out = this.steps[this.idx]!.run(this.take());
    this.idx++;
    return out;
  }

  /** {@link run} with the step's `runAsync` when it has one (same messages and state). */
  async runAsync(): Promise<OutboundMessage[]> {
    const s = this.steps[this.idx]!, box = this.take();
    const out = await (s.runAsync ?? s.run)(box);
    this.idx++;
    return out;
  }

  /** The current step's inbox, released (payloads freed once the step is done with them). */
  private take(): Inbox {
    if (!this.ready) throw new Error("StepDriver.run: the current step is not ready");
    const box = this.inboxes[this.idx]!;
    this.inboxes[this.idx] = new Map();
    return box;
  }

  /** Peers whose messages the current step still lacks (empty once finished). */
  waitingFor(): number[] {
    const s = this.current;
    if (!s) return [];
    const box = this.inboxes[this.idx]!;
    return [...Array(this.n).keys()].filter((j) => j !== this.me && s.expect.some((ph) => box.get(ph)?.[j] === undefined));
  }
}
