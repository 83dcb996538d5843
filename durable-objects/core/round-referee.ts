/**
 * The round referee: the rules of one round attempt as pure functions of explicit state,
 * `(state, event) → { state, effects }`. The RoundDO (durable-objects/round-do.ts) is the
 * transport around it: sockets, mailboxes, sequence numbers, signature checks, and carrying
 * out the effects.
 *
 * Trust rules (DESIGN §1, docs/ARCHITECTURE.md "Relay"):
 *  - it reads nothing of the parties' data: it sees phase names and public results only;
 *  - `released` is set once an output-opening envelope (open.sum, lin.open, plain.open; chunk
 *    suffix stripped) is relayed, and reported with an abort;
 *  - culprits only on its own evidence: absent at a deadline, a self-decline, two different
 *    results from one member; a party's `abort` names no one (its accusation goes into the
 *    detail), and codes only the coordinator decides become `unexpected-message`; once the
 *    phase deadline has passed, the deadline's outcome wins;
 *  - a result mismatch names no one (a corrupt majority could outvote an honest member);
 *  - liveness ({@link onAlarm}): while the round runs, a member the phase still needs (running:
 *    everyone; finalizing: those without a result) from whom the relay has heard nothing — no
 *    frame, no ping — for `progressMs` is named in a `timeout` abort at once, provided some
 *    other member was heard within `progressMs` (if nobody was, the silence is more likely the
 *    coordinator's own outage, and the phase deadline decides). The transport supplies when it
 *    last heard from each party; that is its own observation, never a party's word.
 */
import type { RoundAbortCode, RoundPhase } from "../../protocol/api/frames.ts";
import type { RoundManifest } from "../../protocol/api/schemas.ts";
import { LIN_OPEN } from "../../protocol/mascot/linear-only.ts";
import { isRoundTerminal, transitionRound } from "./machines.ts";

/** One member's submitted result: public values only (the bytes stay with the transport). */
export interface SubmittedResult {
  party: number;
  aggregateHash: string;
  transcriptHash: string;
  /** Sorted, distinct. */
  excluded: number[];
}

export type RefereeOutcome =
  | { kind: "accepted"; aggregateHash: string; transcriptHash: string; excluded: number[] }
  /** `during`: the phase the round was in when it aborted (absent in states stored before it existed). */
  | { kind: "aborted"; code: RoundAbortCode; culprits: number[]; detail: string; during?: RoundPhase };

export interface RoundState {
  manifest: RoundManifest;
  logEntryHash: string;
  phase: RoundPhase;
  /** Parties that have connected at least once. */
  joined: number[];
  results: SubmittedResult[];
  outcome: RefereeOutcome | null;
  /** The JobDO has not yet acknowledged the outcome. */
  notifyPending: boolean;
  /** Whether to report the outcome to the JobDO at all (false after cancellation). */
  notifyJob: boolean;
  /** An output-opening envelope has been relayed. */
  released: boolean;
  /**
   * Progress timeout (ms): a needed member silent this long while others are heard is named
   * and the round aborts early ({@link onAlarm}). Absent or 0: only the phase deadlines apply.
   */
  progressMs?: number;
}

/**
 * Default {@link RoundState.progressMs}: five missed pings (nodes ping every 2 s). A node
 * process runs its protocol steps in a worker thread (client/agent/party-thread.ts), so it
 * pings while it computes: silence means stopped or dead. A node whose steps run on the
 * pinging thread (the browser node) announces each step with a `busy` frame, which buys it
 * {@link BUSY_GRACE_MS} more: a validated p128 round with DP noise has steps of over 8 s on a
 * loaded 2-core machine, and an honest node must never be named for computing.
 */
export const DEFAULT_PROGRESS_MS = 10_000;

/**
 * How long after a `busy` frame a party counts as heard (the transport adds it to the time it
 * received the frame). A stopped party that sent one is named at most this much later; a party
 * that keeps sending `busy` without progress is no worse than one that keeps pinging: the
 * phase deadlines bound both.
 */
export const BUSY_GRACE_MS = 30_000;

export type RoundEffect =
  /** Tell every connected party the new (non-terminal) phase. */
  | { kind: "phase"; phase: RoundPhase }
  | { kind: "alarm"; at: number }
  /** An error frame to the party that caused the event; the round goes on. */
  | { kind: "refuse"; code: string; detail: string }
  /** Keep the aggregate bytes of the result just submitted. */
  | { kind: "store-aggregate" }
  /** Outcome frame to everyone, close the sockets, drop relayed ciphertexts, then report to the JobDO if `notifyPending`. */
  | { kind: "finish" };

export interface RoundStep {
  state: RoundState;
  effects: RoundEffect[];
}

/**
 * Phases that open the round's output (protocol/mascot/party.ts OUTPUT_PHASES): validated
 * "open.sum", linear-only LIN_OPEN, the plaintext baseline's "plain.open".
 */
export const OUTPUT_PHASES: ReadonlySet<string> = new Set(["open.sum", LIN_OPEN, "plain.open"]);

/** Abort codes only the coordinator itself decides; a party reporting one aborts with `unexpected-message`. */
const RELAY_ONLY_CODES: ReadonlySet<RoundAbortCode> = new Set<RoundAbortCode>(["cancelled", "declined", "result-mismatch", "bad-signature"]);

/** The phase without a chunk suffix `#i/n` (client/agent/relay-session.ts chunkPayload). */
export function basePhase(phase: string): string {
  return phase.replace(/#\d+\/\d+$/, "");
}

const same = (state: RoundState, ...effects: RoundEffect[]): RoundStep => ({ state, effects });

function setPhase(s: RoundState, to: RoundPhase, ...then: RoundEffect[]): RoundStep {
  const state = { ...s, phase: transitionRound(s.phase, to) };
  return same(state, ...(isRoundTerminal(to) ? [] : [{ kind: "phase", phase: to } as const]), ...then);
}

function end(s: RoundState, outcome: RefereeOutcome): RoundStep {
  if (isRoundTerminal(s.phase)) return same(s);
  const next = setPhase({ ...s, outcome }, outcome.kind);
  next.state.notifyPending = next.state.notifyJob;
  return same(next.state, { kind: "finish" });
}

function abort(s: RoundState, code: RoundAbortCode, culprits: number[], detail: string): RoundStep {
  return end(s, { kind: "aborted", code, culprits: [...new Set(culprits)].sort((a, b) => a - b), detail, during: s.phase });
}

/**
 * A fresh round from its manifest, with the join deadline armed. `progressMs` (default
 * {@link DEFAULT_PROGRESS_MS}; 0 turns early liveness aborts off). Throws RangeError on a
 * negative or non-integer `progressMs`.
 */
export function initRound(manifest: RoundManifest, logEntryHash: string, o: { progressMs?: number } = {}): RoundStep {
  const progressMs = o.progressMs ?? DEFAULT_PROGRESS_MS;
  if (!Number.isSafeInteger(progressMs) || progressMs < 0) throw new RangeError(`initRound: progressMs must be a non-negative integer, got ${progressMs}`);
  const state: RoundState = { manifest, logEntryHash, phase: "waiting", joined: [], results: [], outcome: null, notifyPending: false, notifyJob: true, released: false, progressMs };
  return same(state, { kind: "alarm", at: manifest.deadlines.join });
}

/** Whether the liveness rule applies in this state (a progress timeout is set and the round runs or finalizes). */
function livenessOn(s: RoundState): s is RoundState & { progressMs: number } {
  return !!s.progressMs && (s.phase === "running" || s.phase === "finalizing");
}

/**
 * When to arm the one alarm for a wanted time `at`: no later than the next liveness check
 * (`now + progressMs`) while the liveness rule applies, else `at`. Pure.
 */
export function alarmAt(s: RoundState, at: number, now: number): number {
  return livenessOn(s) ? Math.min(at, now + s.progressMs) : at;
}

/** Parties the current phase still needs something from: running, everyone; finalizing, those without a result. */
export function neededParties(s: RoundState): number[] {
  const all = s.manifest.committee.map((c) => c.index);
  if (s.phase === "running") return all;
  if (s.phase === "finalizing") return all.filter((i) => !s.results.some((r) => r.party === i));
  return [];
}

/**
 * The one alarm. At or past the phase deadline: {@link onDeadline}. Before it, while the round
 * runs or finalizes: the liveness rule — `heard[i]` is when the transport last heard anything
 * from party i (Unix ms). Needed parties silent for ≥ progressMs are named in a `timeout`
 * abort if at least one party was heard within progressMs; otherwise the alarm is re-armed at
 * the earliest time a needed party could become silent (or the deadline). Nothing once terminal.
 */
export function onAlarm(s: RoundState, now: number, connected: readonly number[], heard: readonly number[]): RoundStep {
  if (isRoundTerminal(s.phase)) return same(s);
  const deadline = phaseDeadline(s);
  if (now >= deadline) return onDeadline(s, now, connected, heard);
  if (!livenessOn(s)) return same(s, { kind: "alarm", at: deadline });
  const p = s.progressMs;
  const last = (i: number) => heard[i] ?? -Infinity;
  const needed = neededParties(s);
  const silent = needed.filter((i) => now - last(i) >= p);
  const live = s.manifest.committee.map((c) => c.index).filter((i) => now - last(i) < p);
  if (silent.length && live.length) {
    return abort(s, "timeout", silent, `no progress from ${silent.length > 1 ? "parties" : "party"} ${silent.join(", ")} for ≥ ${p} ms while ${s.phase} (heard within it: ${live.join(", ")})`);
  }
  // Next check: when the first needed party that is still live could turn silent; if all are
  // silent (nobody live), look again after a full period.
  const next = Math.min(...needed.map((i) => (now - last(i) < p ? last(i) + p : now + p)));
  return same(s, { kind: "alarm", at: Math.min(deadline, Math.max(next, now + 1)) });
}

/** The current phase's deadline (Unix ms). */
export function phaseDeadline(s: RoundState): number {
  const d = s.manifest.deadlines;
  return s.phase === "waiting" ? d.join : s.phase === "running" ? d.compute : d.finalize;
}

/** A member connected. When the whole committee has joined, the round runs (compute deadline armed). */
export function onJoin(s: RoundState, party: number): RoundStep {
  if (s.outcome || s.joined.includes(party)) return same(s);
  const state = { ...s, joined: [...s.joined, party] };
  if (state.phase === "waiting" && state.joined.length === s.manifest.committee.length) return setPhase(state, "running", { kind: "alarm", at: s.manifest.deadlines.compute });
  return same(state);
}

/**
 * Header checks of an envelope from the connection of `party`, whose last accepted seq is
 * `lastSeq`: the refusal, or null. (The transport checks the signature.)
 */
export function checkEnvelope(s: RoundState, party: number, e: { jobId: string; round: number; attempt: number; from: number; to: number | "all"; seq: number }, lastSeq: number): { code: string; detail: string } | null {
  const m = s.manifest;
  if (isRoundTerminal(s.phase)) return { code: "round-closed", detail: `round is ${s.phase}` };
  if (e.jobId !== m.jobId || e.round !== m.round || e.attempt !== m.attempt) return { code: "wrong-context", detail: "envelope belongs to another round" };
  if (e.from !== party) return { code: "forbidden", detail: `connection is party ${party}, envelope claims ${e.from}` };
  if (e.to !== "all" && (e.to >= m.committee.length || e.to === party)) return { code: "bad-recipient", detail: `no party ${e.to}` };
  if (e.seq <= lastSeq) return { code: "replay", detail: `seq ${e.seq} not above ${lastSeq}` };
  return null;
}

/**
 * The sequence rule, checked after the sender's signature: a member numbers its envelopes 0, 1,
 * 2, … without a gap, so one above `lastSeq + 1` means an earlier one never reached the relay
 * (its connection dropped, or the relay's group commit failed and reset the object) while the
 * sender, reconnected, sent a newer one before its `welcome`. Accepting it would make the
 * missing one a "replay" when re-sent, and the round would stall. Refused with `replay` — the
 * code a sender treats as "already handled, go on" (client/agent/relay-session.ts) — because
 * the sender re-sends everything above `welcome.lastSeq`, in order, right after: nothing is lost.
 */
export function checkSequence(seq: number, lastSeq: number): { code: string; detail: string } | null {
  // Checked from the second accepted envelope on: a sender's first may carry any seq (the
  // client's is 0, sent only after its first `welcome`; some test harnesses start at 1).
  return lastSeq >= 0 && seq > lastSeq + 1 ? { code: "replay", detail: `out of order: seq ${seq} after ${lastSeq}; re-send from ${lastSeq + 1}` } : null;
}

/** An envelope of `phase` is being relayed: an output opening sets `released` (durable before delivery). */
export function onRelay(s: RoundState, phase: string): RoundState {
  return !s.released && OUTPUT_PHASES.has(basePhase(phase)) ? { ...s, released: true } : s;
}

/**
 * A member's `abort` frame. Past the phase deadline the deadline decides (absent parties, by
 * our own observation); otherwise the round aborts with the reported code, naming no one.
 */
export function onPartyAbort(s: RoundState, party: number, f: { code: RoundAbortCode; culprits: number[]; detail?: string | undefined }, now: number, connected: readonly number[], heard?: readonly number[]): RoundStep {
  if (isRoundTerminal(s.phase)) return same(s);
  if (now >= phaseDeadline(s)) {
    const d = onDeadline(s, now, connected, heard);
    if (isRoundTerminal(d.state.phase)) return d;
  }
  // A party's report is not evidence the relay can check: abort with its code, record whom it
  // accuses in the detail, name no one (a liar could get honest members excluded).
  const accused = [...new Set(f.culprits)].filter((c) => Number.isInteger(c) && c >= 0 && c < s.manifest.committee.length).sort((a, b) => a - b);
  const detail = `party ${party} reports ${f.code}${accused.length ? `, accusing ${accused.join(", ")}` : ""}${f.detail ? `: ${f.detail}` : ""}`;
  // Outcomes only the coordinator decides (a cancellation stops the job's retries) are not a party's to report.
  return abort(s, RELAY_ONLY_CODES.has(f.code) ? "unexpected-message" : f.code, [], detail.slice(0, 1000));
}

/**
 * A member's result. The first one moves the round to `finalizing`; a second, different one
 * from the same member is `equivocation` naming it; identical results from all → accepted;
 * otherwise `result-mismatch` naming no one.
 */
export function onResult(s: RoundState, r: SubmittedResult): RoundStep {
  if (s.phase !== "running" && s.phase !== "finalizing") return same(s, { kind: "refuse", code: "wrong-phase", detail: `results are not accepted while ${s.phase}` });
  const key = (x: SubmittedResult) => `${x.aggregateHash}|${x.transcriptHash}|${x.excluded.join(",")}`;
  const prior = s.results.find((x) => x.party === r.party);
  if (prior) return key(prior) === key(r) ? same(s) : abort(s, "equivocation", [r.party], `party ${r.party} submitted two different results`);
  let step = same({ ...s, results: [...s.results, r] }, { kind: "store-aggregate" });
  if (s.phase === "running") {
    const f = setPhase(step.state, "finalizing", { kind: "alarm", at: s.manifest.deadlines.finalize });
    step = same(f.state, ...step.effects, ...f.effects);
  }
  const all = step.state.results;
  if (all.length < s.manifest.committee.length) return step;
  const groups = new Map<string, number[]>();
  for (const x of all) groups.set(key(x), [...(groups.get(key(x)) ?? []), x.party]);
  const ended = groups.size === 1
    ? end(step.state, { kind: "accepted", aggregateHash: all[0]!.aggregateHash, transcriptHash: all[0]!.transcriptHash, excluded: all[0]!.excluded })
    // No culprit: the relay cannot tell which result is right, and a corrupt majority could frame an honest member by outvoting it.
    : abort(step.state, "result-mismatch", [], `committee members submitted different aggregates or transcripts (groups: ${[...groups.values()].sort((a, b) => b.length - a.length).map((g) => `[${g.join(",")}]`).join(" ")})`);
  return same(ended.state, ...step.effects, ...ended.effects);
}

/**
 * The phase deadline. Before it: re-arm. After it: `timeout` naming the absent parties —
 * while waiting, those not joined or not connected; while running, those not connected;
 * while finalizing, those without a result. With `heard` (when the transport last heard each
 * party) and a progress timeout, a party heard within it counts as connected: a member
 * reconnecting after a blip at the deadline is not absent (found by the simulation, test/sim/).
 * Nothing once terminal.
 */
export function onDeadline(s: RoundState, now: number, connected: readonly number[], heard?: readonly number[]): RoundStep {
  if (isRoundTerminal(s.phase)) return same(s);
  const deadline = phaseDeadline(s);
  if (now < deadline) return same(s, { kind: "alarm", at: deadline });
  const on = new Set(connected);
  const recent = (i: number) => !!heard && !!s.progressMs && now - (heard[i] ?? -Infinity) < s.progressMs;
  const present = (i: number) => s.phase === "finalizing" ? s.results.some((r) => r.party === i) : (on.has(i) || recent(i)) && (s.phase !== "waiting" || s.joined.includes(i));
  const absent = s.manifest.committee.map((c) => c.index).filter((i) => !present(i));
  return abort(s, "timeout", absent, `${s.phase} deadline passed; absent: ${absent.length ? absent.join(", ") : "none"}`);
}

/** A committee member declines before taking part: `declined`, naming it. `member: false` if `nodeId` is not in the committee. */
export function onDecline(s: RoundState, nodeId: string, reason: string): RoundStep & { member: boolean } {
  const m = s.manifest.committee.find((c) => c.nodeId === nodeId);
  if (!m) return { ...same(s), member: false };
  return { ...abort(s, "declined", [m.index], `party ${m.index} declined: ${reason.slice(0, 300)}`), member: true };
}

/** The job was cancelled: abort `cancelled` without reporting back. */
export function onCancel(s: RoundState): RoundStep {
  if (isRoundTerminal(s.phase)) return same(s);
  return abort({ ...s, notifyJob: false }, "cancelled", [], "job cancelled");
}

/**
 * What the relay itself observed going wrong with its transport (durable-objects/round-do.ts,
 * "Back-pressure" and "Crash safety" in docs/coordinator.md):
 *  - `slow-reader`: the relay paused every sender because `party`'s unacknowledged backlog
 *    passed the pause mark, and `party` acknowledged nothing for `ms` while paused;
 *  - `pause-ignored`: `party` kept sending after the pause until a recipient's backlog passed
 *    the hard limit (an honest session stops at the pause, with at most its socket's
 *    in-flight bytes behind it);
 *  - `state-lost`: a restart lost relayed envelopes that were held only in memory and that a
 *    reconnecting recipient (`party`) had not processed: they cannot be re-delivered;
 *  - `bad-signature`: `recipient` disputed mailbox entry `index`, and the relay's own copy of
 *    it, sent on `party`'s authenticated connection, does not carry `party`'s valid signature;
 *    or (`resentSeq`) `party` re-sent the envelope of that seq, which a restart lost and which
 *    fills entry `index` of `recipient`, with a signature that does not verify;
 *  - `false-dispute`: `party` disputed entry `index` of its mailbox (from `sender`) whose
 *    signature verifies on the relay's copy, or one it had already acknowledged (`acked`).
 */
export type RelayFault =
  | { kind: "slow-reader"; party: number; ms: number; backlog: number }
  | { kind: "pause-ignored"; party: number; recipient: number; backlog: number }
  | { kind: "state-lost"; party: number; from: number; to: number }
  | { kind: "bad-signature"; party: number; recipient: number; index: number; resentSeq?: number }
  | { kind: "false-dispute"; party: number; sender: number | null; index: number; acked: boolean };

/**
 * A relay fault aborts the round: `slow-reader` with `timeout` naming the reader, and
 * `pause-ignored` with `unexpected-message` naming the sender (both the relay's own evidence:
 * backlog and acknowledgements it counted); `state-lost` with `timeout` naming no one (the
 * coordinator's restart, not a member, lost the envelopes), so the job retries; a dispute's
 * verdict with `bad-signature` naming the sender, or `unexpected-message` naming the disputing
 * party (both decided on the relay's own copy of the envelope, never on a party's word).
 * Nothing once terminal. Pure.
 */
export function onRelayFault(s: RoundState, f: RelayFault): RoundStep {
  if (isRoundTerminal(s.phase)) return same(s);
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  switch (f.kind) {
    case "slow-reader":
      return abort(s, "timeout", [f.party], `relay back-pressure: party ${f.party} acknowledged nothing for ${f.ms} ms with ${mib(f.backlog)} unread while the senders were paused`);
    case "pause-ignored":
      return abort(s, "unexpected-message", [f.party], `relay back-pressure: party ${f.party} kept sending while paused (backlog of party ${f.recipient} reached ${mib(f.backlog)})`);
    case "state-lost":
      return abort(s, "timeout", [], `relay state lost: a coordinator restart lost envelopes ${f.from}..${f.to} of party ${f.party}'s mailbox before it processed them (held in memory only); no member is at fault`);
    case "bad-signature":
      return abort(s, "bad-signature", [f.party], f.resentSeq !== undefined
        ? `party ${f.party} re-sent envelope seq ${f.resentSeq} (lost by a coordinator restart; mailbox entry ${f.index} of party ${f.recipient}) with a signature that does not verify`
        : `party ${f.recipient} disputed mailbox entry ${f.index}: the envelope party ${f.party} sent on its connection does not carry its valid signature (checked on the relay's copy)`);
    case "false-dispute":
      return abort(s, "unexpected-message", [f.party], f.acked
        ? `party ${f.party} disputed mailbox entry ${f.index}, which it had acknowledged`
        : `party ${f.party} disputed mailbox entry ${f.index}, whose signature by party ${f.sender} verifies (checked on the relay's copy)`);
  }
}
