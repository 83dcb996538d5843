/**
 * Issue 15, defect 2: a storage error, a lost reply or a crash at ANY effect of the job
 * machine (every commit, model write, candidates read, catalogue, assignment, RoundDO call)
 * leaves a state from which the next call or alarm finishes the work exactly once: the job
 * ends as it does without the fault, one result entry per round, nothing stuck, no assignment
 * left open, reliability credited exactly as the log says.
 */
import { describe, expect, it } from "vitest";
import { JobRunner } from "../../../durable-objects/core/job-runner.ts";
import type { RoundOutcome } from "../../../durable-objects/core/job-machine.ts";
import { isJobTerminal } from "../../../durable-objects/core/machines.ts";
import { MemoryJobStore, MemoryRoundPort } from "../../../durable-objects/core/memory-store.ts";
import type { JobSpec } from "../../../protocol/api/schemas.ts";
import { verifyJobLog } from "../../../protocol/jobs/audit.ts";
import { expectedCredits, FAULT_KINDS, FaultPlan, FaultyJobStore, FaultyRoundPort, type FaultKind } from "../../sim/faults.ts";
import { aggregate, ctx, learningAggregate, learningSpec, nodes, PUBLIC_KEY, spec, T0 } from "./fixtures.ts";

const TRANSCRIPT = "ab".repeat(32);

interface Scenario {
  name: string;
  spec: JobSpec;
  pool: number;
  /** What the RoundDO of (round, attempt) reports once its members are assigned, or "cancel" (the submitter cancels instead). */
  outcome(round: number, attempt: number, committee: string[]): Omit<RoundOutcome, "jobId" | "round" | "attempt"> | "cancel";
}

const accepted = (bytes: Uint8Array) => ({ outcome: "accepted" as const, aggregate: bytes, transcriptHash: TRANSCRIPT, excluded: [] });

const SCENARIOS: Scenario[] = [
  {
    name: "stats: a timeout naming a member, then accepted",
    spec: spec({ committee: { size: 3, min: 2 }, retryBudget: 2 }),
    pool: 5,
    outcome: (_r, a) => (a === 0 ? { outcome: "aborted", code: "timeout", culprits: [1], detail: "absent: 1" } : accepted(aggregate(11))),
  },
  {
    name: "stats: a decline, then an unattributed abort, then the retry budget is exhausted",
    spec: spec({ committee: { size: 2, min: 2 }, retryBudget: 1 }),
    pool: 5,
    outcome: (_r, a) => (a === 0 ? { outcome: "aborted", code: "declined", culprits: [0], detail: "party 0 declined: policy: no" } : { outcome: "aborted", code: "mac-check-failed", culprits: [], detail: "mac" }),
  },
  {
    name: "stats: cancelled while its round is open",
    spec: spec(),
    pool: 3,
    outcome: () => "cancel",
  },
  {
    name: "learning: a MAC-check abort in round 1, then every round accepted, then the final evaluation",
    spec: learningSpec({ retryBudget: 2 }),
    pool: 4,
    outcome: (r, a, committee) => (r === 0 && a === 0 ? { outcome: "aborted", code: "mac-check-failed", culprits: [], detail: "mac" } : accepted(learningAggregate(learningSpec(), committee.length))),
  },
];

/** Drives one job to its end under `plan`, as the JobDO's callers would (retrying the submitter's calls and the RoundDO's reports, firing due alarms, restarting after a crash). */
async function drive(sc: Scenario, plan: FaultPlan) {
  const mem = new MemoryJobStore();
  mem.nodes = nodes(sc.pool);
  const store = new FaultyJobStore(mem, plan);
  const rounds = new Map<string, MemoryRoundPort>();
  const roundDO = (r: number, a: number) => rounds.get(`${r}/${a}`) ?? rounds.set(`${r}/${a}`, new MemoryRoundPort()).get(`${r}/${a}`)!;
  let now = T0;
  let calls = 0;
  const make = () => new JobRunner(store, (_j, r, a) => new FaultyRoundPort(roundDO(r, a), plan), () => ctx(now, `c${calls++}`), () => undefined);
  let runner = make();
  let restarts = 0;
  const restart = async () => {
    while (plan.dead) {
      plan.restart();
      restarts++;
      runner = make();
      await runner.load();
      await runner.recover();
    }
  };
  const retry = async (f: () => Promise<unknown>) => {
    for (let i = 0; i < 10; i++) {
      try { await f(); return; } catch { await restart(); now += 500; }
    }
    throw new Error("a call kept failing");
  };
  await retry(() => runner.create("job1", sc.spec, null));
  const reported = new Set<string>();
  let ticks = 0;
  for (; ticks < 2000; ticks++) {
    await restart();
    const s = mem.state!;
    if (isJobTerminal(s.status) && !s.outbox?.length) break;
    if (s.open && !reported.has(`${s.round}/${s.attempt}`)) {
      const assigned = s.open.committee.every((n) => mem.assignments.get(`job1/${s.round}/${s.attempt}/${n}`) === "open");
      if (roundDO(s.round, s.attempt).inits.length > 0 && assigned) {
        const o = sc.outcome(s.round, s.attempt, s.open.committee);
        try {
          if (o === "cancel") await runner.cancel();
          else await runner.roundFinished({ jobId: "job1", round: s.round, attempt: s.attempt, ...o } as RoundOutcome);
          reported.add(`${s.round}/${s.attempt}`);
        } catch (e) { if (process.env.DBG) console.log("report failed", e); /* the RoundDO (or the submitter) tries again */ }
      }
    }
    if (mem.alarm !== null && mem.alarm <= now) {
      mem.alarm = null; // a fired alarm is gone unless the handler re-arms it
      try { await runner.alarm(); } catch { mem.alarm ??= now + 2000; /* workerd retries a failed alarm */ }
    }
    now += 250;
  }
  await restart();
  // A RoundDO whose report was applied but whose reply was lost sends it again: harmless.
  const duplicates: string[] = [];
  for (const e of mem.entries) {
    if (e.body.kind !== "manifest") continue;
    const o = sc.outcome(e.body.round, e.body.attempt, (e.body.manifest as { committee: Array<{ nodeId: string }> }).committee.map((c) => c.nodeId));
    if (o === "cancel") continue;
    const r = await runner.roundFinished({ jobId: "job1", round: e.body.round, attempt: e.body.attempt, ...o } as RoundOutcome).catch((x: unknown) => ({ applied: `threw ${String(x)}` }));
    if (r.applied !== false) duplicates.push(`a repeated report of ${e.body.round}/${e.body.attempt} was answered ${String(r.applied)}`);
  }
  return { mem, rounds, ticks, restarts, duplicates };
}

/** Everything that must hold once the job has ended. */
function problems(sc: Scenario, r: Awaited<ReturnType<typeof drive>>, expectStatus: string): string[] {
  const { mem, rounds } = r;
  const s = mem.state!;
  const out = [...verifyJobLog(mem.entries, PUBLIC_KEY).problems, ...r.duplicates];
  if (s.status !== expectStatus) out.push(`status ${s.status}, expected ${expectStatus} (${s.error ?? ""})`);
  if (s.outbox?.length) out.push(`outbox not empty: ${s.outbox.map((e) => e.kind).join(",")}`);
  if (mem.alarm !== null || s.open) out.push("a terminal job keeps an alarm or an open round");
  const results = mem.entries.filter((e) => e.body.kind === "result").map((e) => (e.body as { round: number }).round);
  if (new Set(results).size !== results.length) out.push(`duplicated result entries for rounds ${results.join(",")}`);
  const open = [...mem.assignments].filter(([, v]) => v === "open").map(([k]) => k);
  if (open.length) out.push(`assignments left open: ${open.join(" ")}`);
  const want = expectedCredits(mem.entries);
  for (const n of new Set([...want.keys(), ...mem.reliability.keys()])) {
    const a = JSON.stringify(mem.reliability.get(n) ?? { ok: 0, failed: 0 });
    const b = JSON.stringify(want.get(n) ?? { ok: 0, failed: 0 });
    if (a !== b) out.push(`reliability of ${n}: ${a}, the log implies ${b}`);
  }
  if (mem.catalogueRows.get("job1")?.status !== s.status) out.push(`catalogue says ${mem.catalogueRows.get("job1")?.status}, state ${s.status}`);
  for (const e of mem.entries) {
    if (e.body.kind === "model" && mem.models.get(`job1/${e.body.round}`)?.hash !== e.body.modelHash) out.push(`model ${e.body.round} logged but not stored`);
  }
  for (const e of mem.entries) {
    if (e.body.kind === "manifest" && !rounds.get(`${e.body.round}/${e.body.attempt}`)?.inits.length) out.push(`round ${e.body.round}/${e.body.attempt} never reached its RoundDO`);
  }
  if (sc.outcome(0, 0, []) === "cancel" && !rounds.get("0/0")?.cancelled) out.push("the open round was never cancelled");
  return out;
}

describe("crash safety: one fault at every effect of a job", () => {
  for (const sc of SCENARIOS) {
    it(sc.name, async () => {
      const base = await drive(sc, new FaultPlan());
      const status = base.mem.state!.status;
      expect(`${status} ${base.mem.state!.error ?? ""}`).toMatch(/^(completed|failed|cancelled)/);
      expect(problems(sc, base, status)).toEqual([]);
      const n = new FaultPlan();
      await drive(sc, n); // count the operations of a fault-free run
      expect(n.ops).toBeGreaterThan(8);
      const failures: string[] = [];
      let crashes = 0;
      for (let at = 0; at < n.ops; at++) {
        for (const kind of FAULT_KINDS as FaultKind[]) {
          const plan = FaultPlan.at(at, kind);
          const r = await drive(sc, plan);
          crashes += plan.crashes;
          const p = problems(sc, r, status);
          if (!plan.hits.length) p.push("the fault was never hit");
          if (p.length) failures.push(`${kind} at op ${at} (${plan.hits[0]?.op ?? "?"}): ${p.join("; ")}`);
          if (JSON.stringify(r.mem.state!.result) !== JSON.stringify(base.mem.state!.result)) failures.push(`${kind} at op ${at}: another result than without the fault`);
        }
      }
      expect(failures).toEqual([]);
      expect(crashes).toBe(2 * n.ops);
    });
  }
});
