/**
 * The party thread of a node agent (Node worker_threads, started by party-thread.ts): it runs
 * the MASCOT parties of the node's rounds, so a protocol step that computes for seconds never
 * blocks the agent's event loop — the relay session keeps pinging, acknowledging and receiving
 * while the party computes, and the round referee's progress timeout can be short without
 * naming an honest node that is merely busy.
 *
 * The thread keeps the node's OT-extension base OTs (base-ot-cache.ts) across rounds, as the
 * agent did; they never leave the thread. While the agent is idle (no assignment under way: the
 * agent says so with `idle`, and no party exists) for `TWOPM_BASE_OT_PREPARE_DELAY_MS` (5 s) it
 * prepares base-OT receiver halves for the next first meeting (BaseOtCache.prepareAfterIdle), a
 * chunk of a few milliseconds at a time, stopping as soon as the agent reports an assignment. Its randomness is the platform CSPRNG
 * (protocol/rng.ts cryptoRng); its PRG streams use node:crypto's AES-128-CTR (party-aes.ts). One request at a time per party; parties of different rounds
 * may interleave.
 */
import { parentPort } from "node:worker_threads";
import { fieldByName } from "../../protocol/field/index.ts";
import type { Field } from "../../protocol/field/types.ts";
import { ProtocolAbort } from "../../protocol/mascot/errors.ts";
import { SecureSumParty, type OutboundMessage } from "../../protocol/mascot/party.ts";
import { cryptoRng } from "../../protocol/rng.ts";
import { BaseOtCache, baseOtCacheOptionsFromEnv } from "./base-ot-cache.ts";
import { installNodeAes } from "./party-aes.ts";
import type { PartyAnswer, PartyRequest, PartyView } from "./party-protocol.ts";

const port = parentPort;
if (!port) throw new Error("party-worker.ts runs only as a worker thread (client/agent/party-thread.ts)");

installNodeAes(); // native sync AES-128-CTR for the PRG streams (same bytes as WebCrypto and noble)
const cache = new BaseOtCache(baseOtCacheOptionsFromEnv()); // the agent checked the variable at start
const parties = new Map<number, { p: SecureSumParty; field: Field }>();

function view({ p, field }: { p: SecureSumParty; field: Field }): PartyView {
  const r = p.result;
  return {
    phase: p.phase, done: p.done, outputReleased: p.outputReleased,
    ...(r ? { result: { sum: field.encode(r.sum), excluded: r.excluded, transcriptHash: r.transcriptHash, ...(r.signs ? { signs: r.signs } : {}) } } : {}),
  };
}

function party(id: number): { p: SecureSumParty; field: Field } {
  const e = parties.get(id);
  if (!e) throw new Error(`party thread: no party ${id}`);
  return e;
}

/** An error thrown by a party call, with the party's view at that moment (outputReleased matters after an abort). */
class CallFailed extends Error {
  constructor(readonly cause: unknown, readonly view: PartyView) { super(cause instanceof Error ? cause.message : String(cause)); }
}

/**
 * One small validated sum between two parties inside this thread (their own throwaway base-OT
 * store, never the node's; inputs and the session id fresh), so that the protocol's code is
 * compiled before the node's first real round: a new process's first round otherwise spends
 * about a third more CPU (bench stats: 10 nodes, 11.1–11.5 s against 8.2 s for any later job).
 * Covers the base OTs, SoftSpokenOT, digit COPE, triples, a range proof and the MAC checks.
 * Throws what a party throws (it never should).
 */
async function warmUp(): Promise<void> {
  const field = fieldByName("m61"), n = 2, length = 256;
  const store = new BaseOtCache({ maxUses: 0 });
  const committee = ["warm-up-0", "warm-up-1"];
  const sessionId = cryptoRng.bytes(16);
  const ps = [0, 1].map((me) => new SecureSumParty(
    { field, parties: n, me, mode: "validated", length, predicates: [{ kind: "range", bits: 16 }], sessionId },
    field.fromInts(Array.from({ length }, (_, i) => (i * 37 + me) % 1000)), cryptoRng, { baseOts: store.forSession(committee) },
  ));
  const seq = [[0, 0], [0, 0]];
  const queue: Array<{ to: number; from: number; m: OutboundMessage }> = [];
  const post = (from: number, out: OutboundMessage[]) => { for (const m of out) queue.push({ to: 1 - from, from, m }); };
  ps.forEach((p, i) => post(i, p.start()));
  while (queue.length) {
    const { to, from, m } = queue.shift()!;
    post(to, await ps[to]!.receiveAsync({ from, phase: m.phase, seq: seq[to]![from]!++, payload: m.payload }));
  }
  if (!ps.every((p) => p.done)) throw new Error("party thread warm-up did not finish");
}

/** The agent's last word on whether it is idle (op `idle`), and how often it said it was not. */
let agentIdle = true, busyCount = 0;

/**
 * Prepares base-OT receiver halves once the agent has been idle for the cache's delay, for as
 * long as it stays idle and no party exists (best effort: a failure only leaves the pool short).
 */
function prepareWhileIdle(): void {
  const since = busyCount;
  cache.prepareAfterIdle(() => agentIdle && since === busyCount && parties.size === 0);
}

async function handle(req: PartyRequest): Promise<{ out: OutboundMessage[]; view: PartyView | null; prepared?: number }> {
  switch (req.op) {
    case "create": {
      const field = fieldByName(req.spec.field);
      const e = { p: new SecureSumParty({ ...req.spec, field }, field.decode(req.input), cryptoRng, { baseOts: cache.forSession(req.committee) }), field };
      parties.set(req.party, e);
      return { out: [], view: view(e) };
    }
    case "start": {
      const e = party(req.party);
      try {
        return { out: e.p.start(), view: view(e) };
      } catch (err) {
        throw new CallFailed(err, view(e));
      }
    }
    case "receive": {
      const e = party(req.party);
      try {
        return { out: await e.p.receiveAsync(req.message), view: view(e) };
      } catch (err) {
        throw new CallFailed(err, view(e));
      }
    }
    case "drop":
      parties.delete(req.party);
      return { out: [], view: null };
    case "forget":
      cache.forget(req.nodeIds);
      return { out: [], view: null };
    case "warm":
      await warmUp();
      prepareWhileIdle();
      return { out: [], view: null };
    case "idle": {
      const was = agentIdle;
      agentIdle = req.idle;
      if (!req.idle) busyCount++;
      else if (!was) prepareWhileIdle();
      return { out: [], view: null, prepared: cache.prepared };
    }
  }
}

port.on("message", (req: PartyRequest) => {
  handle(req).then(
    (r) => {
      const a: PartyAnswer = { id: req.id, ok: true, out: r.out, view: r.view, ...(r.prepared !== undefined ? { prepared: r.prepared } : {}) };
      port.postMessage(a);
    },
    (e: unknown) => {
      const cause = e instanceof CallFailed ? e.cause : e;
      const a: PartyAnswer = {
        id: req.id, ok: false, message: cause instanceof Error ? cause.message : String(cause),
        ...(cause instanceof ProtocolAbort ? { abort: { code: cause.code, culprits: cause.culprits } } : {}),
        ...(e instanceof CallFailed ? { view: e.view } : {}),
      };
      port.postMessage(a);
    },
  );
});
