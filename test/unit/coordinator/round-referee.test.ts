/** The round referee: phases, deadlines, `released`, acceptance and culprit rules, as pure functions. */
import { describe, expect, it } from "vitest";
import {
  alarmAt, checkEnvelope, checkSequence, initRound, onAlarm, onCancel, onDeadline, onDecline, onJoin, onPartyAbort, onRelay, onResult, type RoundState, type SubmittedResult,
} from "../../../durable-objects/core/round-referee.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { LIN_OPEN } from "../../../protocol/mascot/linear-only.ts";
import { T0 } from "./fixtures.ts";

const D = { join: T0 + 10_000, compute: T0 + 20_000, finalize: T0 + 30_000 };
const manifest = {
  jobId: "j", round: 0, attempt: 0, deadlines: D,
  committee: [0, 1, 2].map((index) => ({ index, nodeId: `n${index}`, identityKey: "", kxKey: "" })),
} as unknown as RoundManifest;

const fresh = () => initRound(manifest, "h").state;
function running(): RoundState {
  let s = fresh();
  for (const p of [0, 1, 2]) s = onJoin(s, p).state;
  return s;
}
const res = (party: number, agg = "a", o: Partial<SubmittedResult> = {}): SubmittedResult => ({ party, aggregateHash: agg, transcriptHash: "t", excluded: [], ...o });

describe("round referee", () => {
  it("arms the join deadline; runs once everyone joined, arming the compute deadline", () => {
    expect(initRound(manifest, "h").effects).toEqual([{ kind: "alarm", at: D.join }]);
    const s1 = onJoin(fresh(), 0);
    expect(s1).toMatchObject({ state: { phase: "waiting", joined: [0] }, effects: [] });
    expect(onJoin(s1.state, 0).state).toBe(s1.state);
    const s = onJoin(onJoin(s1.state, 2).state, 1);
    expect(s.state.phase).toBe("running");
    expect(s.effects).toEqual([{ kind: "phase", phase: "running" }, { kind: "alarm", at: D.compute }]);
  });

  it("sets `released` on an output opening (chunked too), and only then", () => {
    const s = running();
    for (const p of ["input.y", "open.summary", "maccheck.open", "open.sum#x"]) expect(onRelay(s, p)).toBe(s);
    for (const p of ["open.sum", "open.sum#0/2", LIN_OPEN, "plain.open"]) expect(onRelay(s, p).released).toBe(true);
  });

  it("accepts identical results from every member; the first result moves to finalizing with its deadline", () => {
    const a = onResult(running(), res(0));
    expect(a.state.phase).toBe("finalizing");
    expect(a.effects).toEqual([{ kind: "store-aggregate" }, { kind: "phase", phase: "finalizing" }, { kind: "alarm", at: D.finalize }]);
    const b = onResult(onResult(a.state, res(1)).state, res(2));
    expect(b.state).toMatchObject({ phase: "accepted", outcome: { kind: "accepted", aggregateHash: "a", transcriptHash: "t", excluded: [] }, notifyPending: true });
    expect(b.effects).toEqual([{ kind: "store-aggregate" }, { kind: "finish" }]);
  });

  it("a result mismatch names no one; two different results from one member name it (equivocation); the same result twice is nothing", () => {
    let s = onResult(onResult(running(), res(0, "good")).state, res(1, "good")).state;
    const m = onResult(s, res(2, "evil"));
    expect(m.state.outcome).toMatchObject({ kind: "aborted", code: "result-mismatch", culprits: [] });
    expect((m.state.outcome as { detail: string }).detail).toMatch(/groups: \[0,1\] \[2\]/);
    s = onResult(running(), res(1)).state;
    expect(onResult(s, res(1))).toEqual({ state: s, effects: [] });
    expect(onResult(s, res(1, "a", { excluded: [2] })).state.outcome).toMatchObject({ code: "equivocation", culprits: [1] });
    expect(onResult(fresh(), res(0)).effects).toEqual([{ kind: "refuse", code: "wrong-phase", detail: "results are not accepted while waiting" }]);
  });

  it("a party's abort names no one, keeps its accusation in the detail, and cannot pass as a coordinator decision", () => {
    const a = onPartyAbort(running(), 0, { code: "mac-check-failed", culprits: [1, 1, 7], detail: "a lie" }, T0, [0, 1, 2]);
    expect(a.state.outcome).toEqual({ kind: "aborted", code: "mac-check-failed", culprits: [], detail: "party 0 reports mac-check-failed, accusing 1: a lie", during: "running" });
    for (const code of ["cancelled", "declined", "result-mismatch"] as const) {
      expect(onPartyAbort(running(), 1, { code, culprits: [0] }, T0, [0, 1, 2]).state.outcome).toMatchObject({ code: "unexpected-message", culprits: [] });
    }
    expect(onPartyAbort(a.state, 1, { code: "timeout", culprits: [] }, T0, []).state).toBe(a.state);
  });

  it("past the phase deadline a party's abort gets the deadline's outcome, naming the absent from the relay's own observation", () => {
    let s = onJoin(fresh(), 0).state;
    const a = onPartyAbort(s, 0, { code: "timeout", culprits: [0] }, D.join, [0]);
    expect(a.state.outcome).toMatchObject({ code: "timeout", culprits: [1, 2] });
    s = running();
    expect(onPartyAbort(s, 0, { code: "timeout", culprits: [0] }, D.compute + 1, [0, 2]).state.outcome).toMatchObject({ code: "timeout", culprits: [1] });
  });

  it("deadlines: early → re-arm; waiting → not joined or not connected; running → not connected; finalizing → no result; nothing once terminal", () => {
    expect(onDeadline(fresh(), T0, [])).toMatchObject({ effects: [{ kind: "alarm", at: D.join }] });
    const w = onJoin(onJoin(fresh(), 0).state, 1).state;
    expect(onDeadline(w, D.join, [1, 2]).state.outcome).toMatchObject({ code: "timeout", culprits: [0, 2], detail: "waiting deadline passed; absent: 0, 2" });
    expect(onDeadline(running(), D.compute, [0, 1]).state.outcome).toMatchObject({ culprits: [2] });
    const f = onResult(running(), res(1)).state;
    const t = onDeadline(f, D.finalize, [0, 1, 2]);
    expect(t.state.outcome).toMatchObject({ code: "timeout", culprits: [0, 2] });
    expect(onDeadline(t.state, D.finalize + 1, [])).toEqual({ state: t.state, effects: [] });
  });

  it("sequence: after the first accepted envelope, a gap is refused (as a replay the sender re-sends past) until the missing one arrives", () => {
    expect(checkSequence(0, -1)).toBeNull();
    expect(checkSequence(1, -1)).toBeNull(); // the first may start anywhere
    expect(checkSequence(3, 2)).toBeNull();
    expect(checkSequence(4, 2)).toMatchObject({ code: "replay", detail: "out of order: seq 4 after 2; re-send from 3" });
  });

  it("at a deadline, a member heard within the progress timeout but reconnecting is present; one silent for longer, or never joined, is absent", () => {
    const w = onJoin(onJoin(fresh(), 0).state, 1).state; // party 2 never joined
    const heard = [D.join - 1_000, D.join - 60_000, D.join];
    // party 0 is between two connections at the join deadline, heard 1 s ago
    expect(onDeadline(w, D.join, [1], heard).state.outcome).toMatchObject({ code: "timeout", culprits: [2] });
    // without `heard` (or with progress timeouts off) only the socket counts
    expect(onDeadline(w, D.join, [1]).state.outcome).toMatchObject({ culprits: [0, 2] });
    expect(onDeadline({ ...w, progressMs: 0 }, D.join, [1], heard).state.outcome).toMatchObject({ culprits: [0, 2] });
    // running: party 1, disconnected and silent for a minute, is absent; party 0 (heard 1 s ago) is not
    expect(onDeadline(running(), D.compute, [2], [D.compute - 1_000, D.compute - 60_000, D.compute]).state.outcome).toMatchObject({ culprits: [1] });
    // through the alarm and a party's late abort as well
    expect(onAlarm(w, D.join, [1], heard).state.outcome).toMatchObject({ culprits: [2] });
    expect(onPartyAbort(w, 1, { code: "timeout", culprits: [] }, D.join, [1], heard).state.outcome).toMatchObject({ culprits: [2] });
  });

  it("a decline names the member at once; outsiders are not members; a cancellation reports nothing back", () => {
    const d = onDecline(running(), "n2", "policy: no");
    expect(d.member).toBe(true);
    expect(d.state.outcome).toEqual({ kind: "aborted", code: "declined", culprits: [2], detail: "party 2 declined: policy: no", during: "running" });
    expect(onDecline(running(), "x", "r").member).toBe(false);
    expect(onDecline(d.state, "n2", "again")).toMatchObject({ member: true, effects: [] });
    const c = onCancel(running());
    expect(c.state).toMatchObject({ phase: "aborted", notifyJob: false, notifyPending: false, outcome: { code: "cancelled" } });
    expect(c.effects).toEqual([{ kind: "finish" }]);
  });

  it("envelope headers: wrong round, a party speaking for another, bad recipients, replays, a closed round", () => {
    const s = running();
    const e = { jobId: "j", round: 0, attempt: 0, from: 0, to: 1 as number | "all", seq: 5 };
    expect(checkEnvelope(s, 0, e, 4)).toBeNull();
    expect(checkEnvelope(s, 0, { ...e, to: "all" }, 4)).toBeNull();
    expect(checkEnvelope(s, 0, { ...e, attempt: 1 }, 4)?.code).toBe("wrong-context");
    expect(checkEnvelope(s, 1, e, 4)?.code).toBe("forbidden");
    expect(checkEnvelope(s, 0, { ...e, to: 0 }, 4)?.code).toBe("bad-recipient");
    expect(checkEnvelope(s, 0, { ...e, to: 3 }, 4)?.code).toBe("bad-recipient");
    expect(checkEnvelope(s, 0, e, 5)?.code).toBe("replay");
    expect(checkEnvelope(onCancel(s).state, 0, e, 4)?.code).toBe("round-closed");
  });
});

describe("round referee: liveness (a stalled member is blamed, fast)", () => {
  const P = 8_000;
  const at = (ms: number) => T0 + ms;
  const runningAt = (progressMs = P) => {
    let s = initRound(manifest, "h", { progressMs }).state;
    for (const p of [0, 1, 2]) s = onJoin(s, p).state;
    return s;
  };

  it("names the one member silent past the progress timeout while the others are heard; the others are not blamed", () => {
    const s = runningAt();
    const step = onAlarm(s, at(9_000), [0, 1, 2], [at(8_500), at(500), at(8_900)]);
    expect(step.state.phase).toBe("aborted");
    expect(step.state.outcome).toMatchObject({ kind: "aborted", code: "timeout", culprits: [1] });
    expect(step.effects).toEqual([{ kind: "finish" }]);
  });

  it("before anyone is silent: re-arms at the earliest time a needed member could turn silent", () => {
    const s = runningAt();
    const step = onAlarm(s, at(5_000), [0, 1, 2], [at(4_000), at(2_000), at(4_500)]);
    expect(step.state).toBe(s);
    expect(step.effects).toEqual([{ kind: "alarm", at: at(2_000) + P }]);
  });

  it("everyone silent (the coordinator's own outage, e.g. a restart): no one is named before the phase deadline", () => {
    const s = runningAt();
    const step = onAlarm(s, at(12_000), [], [at(1_000), at(1_000), at(1_000)]);
    expect(step.state).toBe(s);
    expect(step.effects).toEqual([{ kind: "alarm", at: at(12_000) + P }]);
    // the phase deadline still decides, naming the absent
    expect(onAlarm(s, D.compute, [0, 2], [at(1_000), at(1_000), at(1_000)]).state.outcome).toMatchObject({ code: "timeout", culprits: [1] });
  });

  it("while finalizing, only members without a result are needed: a member that submitted and went quiet is not blamed", () => {
    let s = runningAt();
    s = onResult(s, res(0)).state;
    s = onResult(s, res(1)).state;
    expect(s.phase).toBe("finalizing");
    // 0 and 1 submitted and were silent since; 2 (no result) pings
    expect(onAlarm(s, at(20_000), [0, 1, 2], [at(1_000), at(1_000), at(19_000)]).state).toBe(s);
    // 2 (no result) is silent, 0 is heard: 2 is named, not 1
    expect(onAlarm(s, at(20_000), [0, 1, 2], [at(19_000), at(1_000), at(1_000)]).state.outcome).toMatchObject({ code: "timeout", culprits: [2] });
  });

  it("does not apply while waiting (members may still compute their inputs), nor with progressMs 0, nor on rounds from before it existed", () => {
    const waiting = onJoin(initRound(manifest, "h", { progressMs: P }).state, 0).state;
    expect(onAlarm(waiting, at(9_000), [0], [at(0), at(0), at(0)])).toEqual({ state: waiting, effects: [{ kind: "alarm", at: D.join }] });
    const off = runningAt(0);
    expect(onAlarm(off, at(15_000), [0, 1, 2], [at(14_000), at(0), at(14_000)]).state).toBe(off);
    const legacy = { ...runningAt(), progressMs: undefined };
    expect(onAlarm(legacy, at(15_000), [0, 1, 2], [at(14_000), at(0), at(14_000)]).state).toBe(legacy);
    expect(() => initRound(manifest, "h", { progressMs: -1 })).toThrow(RangeError);
  });

  it("alarmAt pulls a far phase deadline in to the next liveness check only while the rule applies", () => {
    const s = runningAt();
    expect(alarmAt(s, D.compute, at(1_000))).toBe(at(1_000) + P);
    expect(alarmAt(s, at(2_000), at(1_000))).toBe(at(2_000));
    expect(alarmAt(initRound(manifest, "h").state, D.join, at(1_000))).toBe(D.join);
  });

  it("past the phase deadline onAlarm is onDeadline; once terminal it does nothing", () => {
    const s = runningAt();
    expect(onAlarm(s, D.compute, [0, 1, 2], [D.compute, D.compute, D.compute])).toEqual(onDeadline(s, D.compute, [0, 1, 2]));
    const ended = onCancel(s).state;
    expect(onAlarm(ended, at(9_000), [], [0, 0, 0])).toEqual({ state: ended, effects: [] });
  });
});
