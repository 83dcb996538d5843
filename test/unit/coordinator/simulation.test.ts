/**
 * A seeded simulation of the job machine over the in-memory store (in the spirit of
 * TigerBeetle's VOPR): random outcomes, culprits, releases, stale reports, node churn, alarms
 * and cancellations; invariants checked after every step. A failing seed replays exactly.
 */
import { describe, expect, it } from "vitest";
import { JobRunner } from "../../../durable-objects/core/job-runner.ts";
import { MemoryJobStore, MemoryRoundPort } from "../../../durable-objects/core/memory-store.ts";
import { isJobTerminal } from "../../../durable-objects/core/machines.ts";
import type { RoundAbortCode } from "../../../protocol/api/frames.ts";
import type { RoundManifest } from "../../../protocol/api/schemas.ts";
import { verifyJobLog } from "../../../protocol/jobs/audit.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { aggregate, ctx, nodes, PUBLIC_KEY, spec, T0 } from "./fixtures.ts";

const CODES: RoundAbortCode[] = ["timeout", "declined", "equivocation", "mac-check-failed", "result-mismatch", "unexpected-message"];
const NAMES_CULPRITS = new Set<RoundAbortCode>(["timeout", "declined", "equivocation"]);
const TRANSCRIPT = "ab".repeat(32);

/** Checks every invariant over the whole log and the state; returns the problems. */
function check(store: MemoryJobStore, runner: JobRunner, retryBudget: number): string[] {
  const problems = verifyJobLog(store.entries, PUBLIC_KEY).problems; // chain, signatures, no rerun after a release, …
  const excluded = new Set<string>();
  const failed = new Map<number, string[][]>();
  const committees = new Map<string, string[]>();
  for (const { body: b } of store.entries) {
    if (b.kind === "manifest") {
      const c = (b.manifest as RoundManifest).committee.map((x) => x.nodeId);
      committees.set(`${b.round}/${b.attempt}`, c);
      if (c.some((n) => excluded.has(n))) problems.push(`round ${b.round}/${b.attempt} seats an excluded node`);
      if ((failed.get(b.round) ?? []).some((f) => f.every((n) => c.includes(n)))) problems.push(`round ${b.round}/${b.attempt} is a superset of a failed committee`);
      if (b.attempt > retryBudget) problems.push(`attempt ${b.attempt} beyond the retry budget`);
    } else if (b.kind === "abort" && b.code !== "cancelled") {
      b.culprits.forEach((n) => excluded.add(n));
      if (b.culprits.length === 0) failed.set(b.round, [...(failed.get(b.round) ?? []), committees.get(`${b.round}/${b.attempt}`)!]);
      if (b.released && runner.state!.status !== "failed") problems.push("a released abort did not fail the job");
    }
  }
  const s = runner.state!;
  if (isJobTerminal(s.status) && (store.alarm !== null || s.open !== null)) problems.push("a terminal job keeps a timer or an open round");
  if (!isJobTerminal(s.status) && s.open === null && store.alarm === null) problems.push("a live job with no open round and no alarm would stall");
  if (JSON.stringify(store.state) !== JSON.stringify(s)) problems.push("stored state differs from the runner's");
  return problems;
}

async function simulate(seed: number): Promise<{ problems: string[]; status: string }> {
  const rng = seededRng(`sim/${seed}`);
  const pick = (n: number) => rng.bytes(1)[0]! % n;
  const store = new MemoryJobStore();
  const pool = nodes(4 + pick(4));
  let now = T0;
  store.nodes = pool.slice(0, 2 + pick(pool.length - 1));
  const ports = new Map<string, MemoryRoundPort>();
  const port = (_j: string, r: number, a: number) => ports.get(`${r}/${a}`) ?? ports.set(`${r}/${a}`, new MemoryRoundPort()).get(`${r}/${a}`)!;
  let calls = 0;
  const runner = new JobRunner(store, port, () => ctx(now, `sim/${seed}/${calls++}`));
  const retryBudget = pick(4);
  await runner.create(`job${seed}`, spec({ committee: { size: 3, min: 2 }, retryBudget, deadlines: { join: 60, compute: 60, finalize: 60, select: 30 } }), null);
  for (let step = 0; step < 60 && !isJobTerminal(runner.state!.status); step++) {
    const s = runner.state!;
    const at = { jobId: s.jobId, round: s.round, attempt: s.attempt };
    const e = pick(10);
    if (e < 3 || !s.open) {
      now += 5_000;
      store.nodes = pool.filter(() => pick(4) > 0).map((n) => ({ ...n, lastSeen: now }));
      await runner.alarm();
    } else if (e === 3) {
      await runner.roundFinished({ ...at, outcome: "accepted", aggregate: aggregate(7), transcriptHash: TRANSCRIPT, excluded: [] });
    } else if (e === 4) {
      expect((await runner.roundFinished({ ...at, attempt: s.attempt + 1, outcome: "aborted", code: "timeout", culprits: [0], detail: "stale" })).applied).toBe(false);
    } else if (e === 5 && pick(4) === 0) {
      await runner.cancel();
    } else {
      const code = CODES[pick(CODES.length)]!;
      const culprits = NAMES_CULPRITS.has(code) ? s.open.committee.map((_, i) => i).filter(() => pick(3) === 0) : [];
      await runner.roundFinished({ ...at, outcome: "aborted", code, culprits, detail: code === "declined" ? "party 0 declined: policy: no" : "sim", released: pick(5) === 0 });
    }
    const problems = check(store, runner, retryBudget);
    if (problems.length) return { problems: problems.map((p) => `seed ${seed} step ${step}: ${p}`), status: runner.state!.status };
  }
  return { problems: [], status: runner.state!.status };
}

describe("job machine simulation", () => {
  it("holds every invariant over 80 seeded runs, and reaches every ending", async () => {
    const endings = new Map<string, number>();
    for (let seed = 0; seed < 80; seed++) {
      const { problems, status } = await simulate(seed);
      expect(problems).toEqual([]);
      endings.set(status, (endings.get(status) ?? 0) + 1);
    }
    expect([...endings.keys()].sort()).toEqual(expect.arrayContaining(["cancelled", "completed", "failed"]));
  });
});
