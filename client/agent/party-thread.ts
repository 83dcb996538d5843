/**
 * A node agent's party thread (Node only): the MASCOT parties of its rounds run in one
 * worker thread (party-worker.ts), so the agent's event loop — relay pings, acknowledgements,
 * heartbeats — never waits for a protocol step that computes for seconds. The round referee's
 * progress timeout (durable-objects/core/round-referee.ts) can then be short: a stopped or
 * dead node falls silent, a busy one does not.
 *
 * {@link ThreadParty} has the surface the relay session uses (relay-session.ts `RelayParty`):
 * `start`, `receiveAsync`, `phase`, `done`, `result`, `outputReleased`, refreshed after every
 * call. A protocol abort in the thread is thrown here as the same ProtocolAbort (code and
 * culprits); a thread that dies fails every pending call with an Error, and the next round
 * starts a fresh thread (which has no kept base OTs: the safe direction).
 *
 * The thread module is `party-worker.ts` beside this file (run through tsx) or
 * `party-worker.js` beside the bundled CLI (scripts/build-client.ts builds it).
 */
import type { Worker } from "node:worker_threads";
import { startThread } from "../threads.ts";
import type { Field, FieldVec } from "../../protocol/field/types.ts";
import { ABORT_CODES, ProtocolAbort, type AbortCode } from "../../protocol/mascot/errors.ts";
import type { InboundMessage, OutboundMessage, SecureSumConfig, SecureSumResult } from "../../protocol/mascot/party.ts";
import type { PartyAnswer, PartyCall, PartyRequest, PartyView } from "./party-protocol.ts";

/** Rebuilds the thread's answer as the error the party itself would have thrown. */
function failure(a: Extract<PartyAnswer, { ok: false }>): Error {
  if (a.abort && (ABORT_CODES as readonly string[]).includes(a.abort.code)) {
    const e = new ProtocolAbort(a.abort.code as AbortCode, a.abort.culprits);
    e.message = a.message;
    return e;
  }
  return new Error(`party thread: ${a.message}`);
}

/** The agent's one party thread; see the module comment. */
export class PartyThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private nextParty = 1;
  private readonly pending = new Map<number, { resolve: (a: PartyAnswer) => void; reject: (e: Error) => void }>();

  /**
   * `warm` (default true): start the thread now, so loading (and, under tsx, transpiling) the
   * protocol modules happens while the agent is idle rather than inside its first round. The
   * idle thread is unref'd: it never keeps the process alive. A thread that fails to start
   * is reported by the first call, as without warming.
   */
  constructor(opts: { warm?: boolean } = {}) {
    if (opts.warm ?? true) {
      try { this.start(); } catch { /* the first call starts it again and reports the failure */ }
    }
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = startThread(import.meta.url, "party-worker");
    w.unref(); // an idle thread never keeps the process alive
    w.on("message", (a: PartyAnswer) => {
      const p = this.pending.get(a.id);
      if (!p) return;
      this.pending.delete(a.id);
      p.resolve(a);
    });
    const die = (e: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on("error", (e) => die(new Error(`party thread failed: ${e.message}`)));
    w.on("exit", (code) => die(new Error(`party thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  /** Sends one request; resolves with the thread's answer. Rejects (Error) if the thread dies first. */
  call(req: PartyCall): Promise<PartyAnswer> {
    const w = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref(); // keep the process alive while a call is outstanding
      w.postMessage({ ...req, id } as PartyRequest);
    }).finally(() => { if (this.pending.size === 0) this.worker?.unref(); }) as Promise<PartyAnswer>;
  }

  /**
   * A party for one round, running in the thread with the agent's kept base OTs for
   * `committee` (node ids in party order). Throws what the party's constructor throws
   * (TypeError / RangeError for a bad configuration), or Error if the thread cannot start.
   */
  async party(cfg: SecureSumConfig, input: FieldVec, committee: readonly string[]): Promise<ThreadParty> {
    const party = this.nextParty++;
    const { field, ...rest } = cfg;
    const a = await this.call({ op: "create", party, spec: { ...rest, field: field.name }, input: field.encode(input), committee: [...committee] });
    if (!a.ok) throw failure(a);
    return new ThreadParty(this, party, field, a.view!);
  }

  /**
   * Runs a small validated sum between two parties inside the thread (party-worker.ts
   * `warmUp`), so the protocol's code is compiled before the first real round. Keeps nothing
   * (no base OTs, no party). Rejects if the thread fails.
   */
  async warm(): Promise<void> {
    const a = await this.call({ op: "warm" });
    if (!a.ok) throw failure(a);
  }

  /**
   * Tells the thread whether the agent is idle (no assignment under way): only then does it
   * prepare base-OT receiver halves (party-worker.ts). Resolves with the number of halves it
   * holds (0 from a dead thread, which prepares nothing); never rejects.
   */
  async setIdle(idle: boolean): Promise<number> {
    if (!this.worker) return 0;
    const a = await this.call({ op: "idle", idle }).catch(() => undefined);
    return a?.ok ? (a.prepared ?? 0) : 0;
  }

  /** Forgets the kept base OTs shared with these nodes (after a round with them that did not finish cleanly). */
  async forget(nodeIds: readonly string[]): Promise<void> {
    if (!this.worker || nodeIds.length === 0) return;
    await this.call({ op: "forget", nodeIds: [...nodeIds] }).catch(() => undefined); // a dead thread kept nothing
  }

  /** Stops the thread; pending calls fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) p.reject(new Error("party thread closed"));
    this.pending.clear();
    await w?.terminate();
  }
}

/** One round's party in the {@link PartyThread}: the relay session's view of it. */
export class ThreadParty {
  private view: PartyView;
  private cachedResult: SecureSumResult | undefined;
  private busy = false;

  constructor(private readonly thread: PartyThread, private readonly id: number, private readonly field: Field, view: PartyView) {
    this.view = view;
  }

  get phase(): string { return this.view.phase; }
  get done(): boolean { return this.view.done; }
  get outputReleased(): boolean { return this.view.outputReleased; }
  get result(): SecureSumResult | undefined {
    const r = this.view.result;
    if (!r) return undefined;
    this.cachedResult ??= { sum: this.field.decode(r.sum), excluded: r.excluded, transcriptHash: r.transcriptHash, ...(r.signs ? { signs: r.signs } : {}) };
    return this.cachedResult;
  }

  private async run(req: PartyCall & { op: "start" | "receive" }): Promise<OutboundMessage[]> {
    if (this.busy) throw new Error("ThreadParty: calls must not overlap (await each before the next)");
    this.busy = true;
    try {
      const a = await this.thread.call(req);
      if (!a.ok) {
        if (a.view) this.view = a.view;
        throw failure(a);
      }
      this.view = a.view!;
      return a.out;
    } finally {
      this.busy = false;
    }
  }

  /** The party's first messages (SecureSumParty.start, in the thread). */
  start(): Promise<OutboundMessage[]> {
    return this.run({ op: "start", party: this.id });
  }

  /** One inbound message (SecureSumParty.receiveAsync, in the thread): the same checks, messages and aborts. */
  receiveAsync(m: InboundMessage): Promise<OutboundMessage[]> {
    return this.run({ op: "receive", party: this.id, message: m });
  }

  /** Frees the party in the thread (after the round, whatever its end). */
  async dispose(): Promise<void> {
    await this.thread.call({ op: "drop", party: this.id }).catch(() => undefined);
  }
}
