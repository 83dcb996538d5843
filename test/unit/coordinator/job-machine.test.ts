/** The pure job machine: transitions, effects, the output-released rule, reselection, culprits, deadlines. */
import { describe, expect, it } from "vitest";
import { assignmentsWritten, cancelJob, createJob, manifestDelivered, onOutcome, onWake, plan, putModel, RETRY_MS, type JobEffect, type JobState, type RoundOutcome } from "../../../durable-objects/core/job-machine.ts";
import { verifyLog } from "../../../protocol/log/index.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { m61 } from "../../../protocol/field/index.ts";
import { aggregate, ctx, learningAggregate, learningSpec, nodes, PUBLIC_KEY, spec, storedModel, T0 } from "./fixtures.ts";

const kinds = (effects: JobEffect[]) => effects.map((e) => e.kind);
const logged = (effects: JobEffect[]) => effects.flatMap((e) => (e.kind === "log" ? [e.entry] : []));

/** Creates a job and opens round 0 with `pool` candidates; returns the state and every log entry so far. */
function opened(o: Parameters<typeof spec>[0] = {}, pool = nodes(3)) {
  const c = createJob("job1", spec(o), null, ctx());
  const p = plan(c.state, pool, ctx());
  return { state: p.state, log: [...logged(c.effects), ...logged(p.effects)], effects: p.effects };
}

const aborted = (s: JobState, o: Partial<Extract<RoundOutcome, { outcome: "aborted" }>> = {}): RoundOutcome =>
  ({ jobId: s.jobId, round: s.round, attempt: s.attempt, outcome: "aborted", code: "timeout", culprits: [], detail: "d", ...o });
const accepted = (s: JobState, rows = 5): Extract<RoundOutcome, { outcome: "accepted" }> =>
  ({ jobId: s.jobId, round: s.round, attempt: s.attempt, outcome: "accepted", aggregate: aggregate(rows), transcriptHash: "t", excluded: [] });

describe("job machine: create and plan", () => {
  it("create logs the spec, writes the catalogue and asks for round 0's committee", () => {
    const c = createJob("job1", spec(), null, ctx());
    expect(c.state).toMatchObject({ status: "pending", round: 0, attempt: 0, open: null, excluded: [] });
    expect(kinds(c.effects)).toEqual(["log", "catalogue", "select"]);
    expect(logged(c.effects)[0]!.body.kind).toBe("job");
  });

  it("plan opens the attempt: manifest with absolute deadlines, commitments, running, RoundDO init before assignments; the log verifies", () => {
    const { state, log, effects } = opened({ deadlines: { join: 10, compute: 20, finalize: 30, select: 60 } });
    expect(state.status).toBe("running");
    expect(state.open).toMatchObject({ delivered: false });
    expect(state.open!.committee).toHaveLength(3);
    expect(kinds(effects)).toEqual(["log", "log", "log", "init-round", "assign", "catalogue"]);
    expect(log.map((e) => e.body.kind)).toEqual(["job", "manifest", "dataset-commitments", "status"]);
    const m = (log[1]!.body as { manifest: RoundManifest }).manifest;
    expect(m.deadlines).toEqual({ join: T0 + 10_000, compute: T0 + 30_000, finalize: T0 + 60_000 });
    expect(effects.find((e) => e.kind === "init-round")).toEqual({ kind: "init-round", seq: 1 });
    expect(effects.find((e) => e.kind === "assign")).toEqual({ kind: "assign", seq: 1 });
    expect(verifyLog(log, PUBLIC_KEY)).toEqual([]);
    // delivery and assignments are retried from the outbox (job-runner.ts), not by `wakeAt`
    expect(state.wakeAt).toBeNull();
    // a state stored before the outbox existed: the alarm redelivers an undelivered manifest, once
    const legacy = { ...state, wakeAt: T0 + RETRY_MS, outbox: undefined };
    expect(onWake(legacy).effects).toEqual([{ kind: "init-round", seq: 1 }]);
    expect(onWake({ ...legacy, outbox: [{ kind: "init-round", seq: 1 }] }).effects).toEqual([]);
    expect(manifestDelivered(state, 0)).toBe(state);
    const d = manifestDelivered(state, 1);
    expect(d.wakeAt).toBeNull();
    expect(onWake(d).effects).toEqual([]);
  });

  it("with too few eligible nodes it waits, retrying every 5 s until the select deadline, then fails insufficient-nodes", () => {
    const c = createJob("job1", spec({ deadlines: { join: 60, compute: 60, finalize: 60, select: 12 } }), null, ctx());
    const w = plan(c.state, nodes(1), ctx());
    expect(w.state).toMatchObject({ status: "pending", waitingSince: T0, wakeAt: T0 + RETRY_MS, open: null });
    expect(onWake(w.state).effects).toEqual([{ kind: "select" }]);
    const w2 = plan(w.state, nodes(1), ctx(T0 + 10_000));
    expect(w2.state.wakeAt).toBe(T0 + 12_000); // never past the deadline
    const f = plan(w2.state, nodes(1, T0 + 12_000), ctx(T0 + 12_000));
    expect(f.state.status).toBe("failed");
    expect(f.state.error).toBe("insufficient-nodes: 1 eligible, 2 required");
    expect(f.state.wakeAt).toBeNull();
    expect(onWake(f.state).effects).toEqual([]);
    // a second node in time starts the round
    const ok = plan(w.state, nodes(2, T0 + 5000), ctx(T0 + 5000));
    expect(ok.state.status).toBe("running");
    expect(ok.state.waitingSince).toBeNull();
  });

  it("plan is a no-op while an attempt is open or once the job is terminal", () => {
    const { state } = opened();
    expect(plan(state, nodes(3), ctx()).effects).toEqual([]);
    const cancelled = cancelJob(state, ctx()).state;
    expect(plan(cancelled, nodes(3), ctx()).effects).toEqual([]);
  });
});

describe("job machine: outcomes", () => {
  it("accepted: reduce, result logged, completed after maxRounds; everyone's reliability up", () => {
    const { state } = opened();
    const r = onOutcome(state, accepted(state, 42), ctx(T0 + 1000));
    expect(r.result.applied).toBe(true);
    expect(r.state.status).toBe("completed");
    expect((r.state.result as { stats: { measures: Array<{ groups: Array<{ count: number }> }> } }).stats.measures[0]!.groups[0]!.count).toBe(42);
    expect(logged(r.effects).map((e) => e.body.kind)).toEqual(["result", "status"]);
    expect(r.effects).toContainEqual({ kind: "unassign", round: 0, attempt: 0, ok: state.open!.committee, failed: [] });
    expect(r.state.open).toBeNull();
  });

  it("the job type's `done` ends the job before maxRounds", () => {
    const { state } = opened({ maxRounds: 4 });
    expect(onOutcome(state, accepted(state), ctx()).state.status).toBe("completed");
  });

  it("accepted with rounds left: the reduce's model is stored and logged for the next round, selected at attempt 0", () => {
    const s = learningSpec();
    const c = createJob("job1", s, null, ctx());
    expect(kinds(c.effects)).toEqual(["log", "put-model", "log", "catalogue", "select"]);
    const o = plan(c.state, nodes(3), ctx()).state;
    const r = onOutcome(o, { ...accepted(o), aggregate: learningAggregate(s, 3) }, ctx(), storedModel(c.effects, 0));
    expect(r.state).toMatchObject({ status: "running", round: 1, attempt: 0, open: null });
    expect(kinds(r.effects)).toEqual(["unassign", "put-model", "log", "log", "select"]);
    expect(Object.keys(r.state.models)).toEqual(["0", "1"]);
    const next = plan(r.state, nodes(3), ctx()).state;
    expect(next.open).not.toBeNull();
  });

  it("a reduce that throws fails the job reduce-failed", () => {
    const { state } = opened();
    const o = { ...accepted(state), aggregate: new Uint8Array(3) };
    const r = onOutcome(state, o, ctx());
    expect(r.state).toMatchObject({ status: "failed", error: "reduce-failed: m61.decode: length 3 is not a multiple of 8" });
    expect(logged(r.effects).map((e) => e.body.kind)).toEqual(["result", "status"]);
  });

  it("a learning round in which no node evaluated is accepted with null metrics (the log holds no NaN) and the job goes on", () => {
    const s = learningSpec();
    const c = createJob("job1", s, null, ctx());
    const o = plan(c.state, nodes(3), ctx()).state;
    const bytes = learningAggregate(s, 3);
    const noEval = m61.encode(m61.fromInts(m61.toBigInts(m61.decode(bytes)).map((x, i, a) => (i === a.length - 1 ? 0 : Number(x)))));
    const r = onOutcome(o, { ...accepted(o), aggregate: noEval }, ctx(), storedModel(c.effects, 0));
    expect(r.state).toMatchObject({ status: "running", round: 1 });
    expect(JSON.stringify(r.state)).not.toMatch(/reduce-failed/);
  });

  it("ignores reports about any attempt but the open one (duplicates, stale, other jobs)", () => {
    const { state } = opened();
    for (const o of [{ ...aborted(state), attempt: 1 }, { ...aborted(state), round: 1 }, { ...aborted(state), jobId: "other" }]) {
      const r = onOutcome(state, o, ctx());
      expect(r).toEqual({ state, effects: [], result: { applied: false } });
    }
    const once = onOutcome(state, aborted(state), ctx()).state;
    expect(onOutcome(once, aborted(state), ctx()).result.applied).toBe(false);
  });

  it("culprits named by the RoundDO are excluded and lose reliability; the next attempt avoids them", () => {
    const { state } = opened({ committee: { size: 2, min: 2 } }, nodes(4));
    const [a, b] = state.open!.committee as [string, string];
    const r = onOutcome(state, aborted(state, { culprits: [1, 1, 9] }), ctx());
    expect(r.state.excluded).toEqual([b]);
    expect(r.effects).toContainEqual({ kind: "unassign", round: 0, attempt: 0, ok: [a], failed: [b] });
    expect(r.state).toMatchObject({ round: 0, attempt: 1, status: "running" });
    expect(logged(r.effects)[0]!.body).toMatchObject({ kind: "abort", culprits: [b], released: false });
    for (let i = 0; i < 20; i++) expect(plan(r.state, nodes(4), ctx(T0, `s${i}`)).state.open!.committee).not.toContain(b);
  });

  it("a decline excludes the member but keeps its reliability, and insufficient-nodes repeats the reasons", () => {
    const { state } = opened({ committee: { size: 2, min: 2 }, deadlines: { join: 60, compute: 60, finalize: 60, select: 0 } }, nodes(2));
    const [a, b] = state.open!.committee as [string, string];
    const r = onOutcome(state, aborted(state, { code: "declined", culprits: [0], detail: "party 0 declined: policy: budget exhausted" }), ctx());
    expect(r.effects).toContainEqual({ kind: "unassign", round: 0, attempt: 0, ok: [b], failed: [] });
    expect(r.state.excluded).toEqual([a]);
    const f = plan(r.state, nodes(2), ctx());
    expect(f.state.status).toBe("failed");
    expect(f.state.error).toBe(`insufficient-nodes: 1 eligible, 2 required (1 excluded from this job); declined: node ${a}: policy: budget exhausted`);
  });

  it("a decline that leaves too few live eligible nodes fails the job at once, with each node's reason, not at the select deadline", () => {
    const { state } = opened({ committee: { size: 3, min: 3 }, retryBudget: 5, deadlines: { join: 60, compute: 60, finalize: 60, select: 600 } }, nodes(3));
    const [a] = state.open!.committee as [string];
    const r = onOutcome(state, aborted(state, { code: "declined", culprits: [0], detail: "party 0 declined: too-many-rows: node holds 900 rows, the job allows 500" }), ctx(T0 + 1000));
    expect(kinds(r.effects)).toContain("select");
    const f = plan(r.state, nodes(3, T0 + 1000), ctx(T0 + 1000)); // the selection the step asked for
    expect(f.state).toMatchObject({ status: "failed", wakeAt: null, waitingSince: null });
    expect(f.state.error).toBe(`insufficient-nodes: 2 eligible, 3 required (1 excluded from this job); declined: node ${a}: too-many-rows: node holds 900 rows, the job allows 500`);
    expect(logged(f.effects).map((e) => e.body)).toMatchObject([{ kind: "status", status: "failed" }]);
    // a culprit (not a decline) that leaves too few also ends the job at once
    const t = onOutcome(state, aborted(state, { code: "timeout", culprits: [1] }), ctx(T0 + 1000));
    expect(plan(t.state, nodes(3, T0 + 1000), ctx(T0 + 1000)).state.status).toBe("failed");
  });

  it("after a decline, enough remaining nodes start the next attempt; too few nodes with no exclusion still wait for the deadline", () => {
    const { state } = opened({ committee: { size: 2, min: 2 }, retryBudget: 5, deadlines: { join: 60, compute: 60, finalize: 60, select: 600 } }, nodes(2));
    const r = onOutcome(state, aborted(state, { code: "declined", culprits: [0], detail: "party 0 declined: no" }), ctx());
    const next = plan(r.state, nodes(3), ctx());
    expect(next.state).toMatchObject({ status: "running", attempt: 1 });
    expect(next.state.open!.committee).not.toContain(state.open!.committee[0]);
    const fresh = plan(createJob("j", spec({ committee: { size: 3, min: 3 }, deadlines: { join: 60, compute: 60, finalize: 60, select: 600 } }), null, ctx()).state, nodes(2), ctx());
    expect(fresh.state).toMatchObject({ status: "pending", waitingSince: T0 });
  });

  it("a decline that exhausts the retry budget repeats the node's reason", () => {
    const { state } = opened({ retryBudget: 0 });
    const [a] = state.open!.committee as [string];
    const r = onOutcome(state, aborted(state, { code: "declined", culprits: [0], detail: "party 0 declined: budget-exhausted: dataset used" }), ctx());
    expect(r.state.error).toBe(`retry budget exhausted in round 1 (last abort: declined); declined: node ${a}: budget-exhausted: dataset used`);
  });

  it("an abort after release fails the job output-released, never another attempt, even with retries left", () => {
    const { state } = opened({ retryBudget: 5 });
    const r = onOutcome(state, aborted(state, { code: "mac-check-failed", released: true }), ctx());
    expect(r.state.status).toBe("failed");
    expect(r.state.error).toMatch(/^output-released: round 1 attempt 1 aborted \(mac-check-failed\)/);
    expect(kinds(r.effects)).not.toContain("select");
    expect(logged(r.effects)[0]!.body).toMatchObject({ kind: "abort", released: true });
  });

  it("after an abort naming no one, reselection never picks a superset of the failed committee", () => {
    const { state } = opened({ committee: { size: 3, min: 2 }, retryBudget: 5 }, nodes(3));
    const failed = [...state.open!.committee].sort();
    const r = onOutcome(state, aborted(state, { code: "mac-check-failed" }), ctx());
    expect(r.state.failedCommittees).toEqual([{ round: 0, committee: state.open!.committee }]);
    expect(r.state.excluded).toEqual([]);
    expect(r.effects).toContainEqual({ kind: "unassign", round: 0, attempt: 0, ok: state.open!.committee, failed: [] });
    for (let i = 0; i < 20; i++) {
      const c = plan(r.state, nodes(3), ctx(T0, `r${i}`)).state.open!.committee;
      expect(c).toHaveLength(2);
      expect(failed.every((n) => c.includes(n))).toBe(false);
    }
  });

  it("absence at the join deadline of members the coordinator assigned late (a storage outage) blames no one; on time, or later in the round, it does", () => {
    const { state } = opened({ committee: { size: 2, min: 2 }, retryBudget: 3 }, nodes(4)); // join deadline T0 + 60 s
    const [a, b] = state.open!.committee as [string, string];
    const absent = (s: JobState, during: "waiting" | "running") => onOutcome(s, aborted(s, { code: "timeout", culprits: [1], detail: "waiting deadline passed; absent: 1", during }), ctx(T0 + 60_000));
    const blamed = (r: ReturnType<typeof absent>) => logged(r.effects)[0]!.body as { culprits: string[]; detail: string };
    // written on time: the absent member is named, excluded and loses reliability
    const onTime = absent(assignmentsWritten(state, state.open!.seq, T0 + 1_000), "waiting");
    expect(blamed(onTime).culprits).toEqual([b]);
    expect(onTime.state.excluded).toEqual([b]);
    // written 5 s before the deadline (margin: 10 s), or never confirmed: nobody is named, excluded, or a failed committee
    for (const late of [assignmentsWritten(state, state.open!.seq, T0 + 55_000), state]) {
      const r = absent(late, "waiting");
      expect(blamed(r).culprits).toEqual([]);
      expect(blamed(r).detail).toMatch(/not blamed: the coordinator wrote this attempt's assignments late$/);
      expect(r.state).toMatchObject({ excluded: [], failedCommittees: [], attempt: 1 });
      expect(r.effects).toContainEqual({ kind: "unassign", round: 0, attempt: 0, ok: [a, b], failed: [] });
    }
    // a member that joined and then fell silent while running is named even after a late start
    expect(blamed(absent(assignmentsWritten(state, state.open!.seq, T0 + 55_000), "running")).culprits).toEqual([b]);
    // assignmentsWritten only records the first write of the open attempt
    const w = assignmentsWritten(state, state.open!.seq, T0 + 1_000);
    expect(assignmentsWritten(w, state.open!.seq, T0 + 9_000)).toBe(w);
    expect(assignmentsWritten(state, state.open!.seq + 1, T0)).toBe(state);
  });

  it("the retry budget bounds the attempts", () => {
    const { state } = opened({ retryBudget: 0 });
    const r = onOutcome(state, aborted(state), ctx());
    expect(r.state).toMatchObject({ status: "failed", error: "retry budget exhausted in round 1 (last abort: timeout)" });
  });
});

describe("job machine: cancel and models", () => {
  it("cancel aborts the open attempt, is idempotent, and refuses a finished job", () => {
    const { state } = opened();
    const c = cancelJob(state, ctx());
    expect(c.result).toMatchObject({ ok: true, job: { status: "cancelled" } });
    expect(kinds(c.effects)).toEqual(["log", "unassign", "cancel-round", "catalogue"]);
    expect(logged(c.effects).map((e) => e.body)).toMatchObject([{ kind: "status", status: "cancelled" }]); // no claim about `released`, which only the RoundDO knows
    expect(c.state).toMatchObject({ open: null, wakeAt: null });
    expect(cancelJob(c.state, ctx())).toMatchObject({ effects: [], result: { ok: true } });
    expect(onOutcome(c.state, aborted(state), ctx()).result.applied).toBe(false);
    const done = onOutcome(state, accepted(state), ctx()).state;
    expect(cancelJob(done, ctx()).result).toEqual({ ok: false, code: "job-not-cancellable", detail: "job is completed" });
    const pending = createJob("j", spec(), null, ctx()).state;
    expect(kinds(cancelJob(pending, ctx()).effects)).toEqual(["log", "catalogue"]);
  });

  it("putModel stores and logs once; the same bytes again are fine, other bytes a conflict; the manifest names the hash", () => {
    const s0 = createJob("job1", spec({ maxRounds: 2 }), null, ctx()).state;
    const p = putModel(s0, 0, new Uint8Array([1, 2, 3]), ctx());
    expect(p.result.ok).toBe(true);
    expect(kinds(p.effects)).toEqual(["put-model", "log"]);
    expect(putModel(p.state, 0, new Uint8Array([1, 2, 3]), ctx())).toMatchObject({ effects: [], result: { ok: true } });
    expect(putModel(p.state, 0, new Uint8Array([9]), ctx()).result).toMatchObject({ ok: false, code: "conflict" });
    const o = plan(p.state, nodes(3), ctx());
    const m = logged(o.effects)[0]!.body as { manifest: RoundManifest };
    expect(m.manifest.modelHash).toBe((p.result as { hash: string }).hash);
  });
});
