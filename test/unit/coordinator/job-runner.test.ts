/** The job runner over the in-memory store: what the JobDO does, outside workerd. */
import { describe, expect, it } from "vitest";
import { JobRunner, OUTBOX_RETRY_MS } from "../../../durable-objects/core/job-runner.ts";
import { MemoryJobStore, MemoryRoundPort } from "../../../durable-objects/core/memory-store.ts";
import { RETRY_MS, roundsFromLog } from "../../../durable-objects/core/job-machine.ts";
import { verifyLog } from "../../../protocol/log/index.ts";
import { aggregate, ctx, learningAggregate, learningSpec, nodes, PUBLIC_KEY, spec, T0 } from "./fixtures.ts";

function setup(k = 3) {
  const store = new MemoryJobStore();
  store.nodes = nodes(k);
  const ports = new Map<string, MemoryRoundPort>();
  const port = (_job: string, r: number, a: number) => ports.get(`${r}/${a}`) ?? ports.set(`${r}/${a}`, new MemoryRoundPort()).get(`${r}/${a}`)!;
  let now = T0;
  const runner = new JobRunner(store, port, () => ctx(now, `t${now}`));
  return { store, runner, port, tick: (ms: number) => (now += ms) };
}

describe("job runner over the memory store", () => {
  it("create → round opened (RoundDO initialised before the assignments) → accepted → completed; the stored log verifies", async () => {
    const { store, runner, port } = setup();
    const r = await runner.create("job1", spec(), null);
    expect(r).toMatchObject({ ok: true, job: { status: "running" } });
    expect(port("job1", 0, 0).inits).toHaveLength(1);
    expect(port("job1", 0, 0).inits[0]!.logEntryHash).toBe(store.entries[1]!.hash);
    expect(store.state!.open!.delivered).toBe(true);
    expect(store.alarm).toBeNull();
    expect([...store.assignments.values()]).toEqual(["open", "open", "open"]);
    expect(roundsFromLog(store.entries)).toMatchObject([{ round: 0, attempt: 0, status: "running" }]);
    expect(store.catalogueRows.get("job1")).toMatchObject({ status: "running" });
    // idempotent create; another spec is a conflict
    expect(await runner.create("job1", spec(), null)).toMatchObject({ ok: true });
    expect(await runner.create("job1", spec({ label: "x" }), null)).toMatchObject({ ok: false, code: "conflict" });

    const s = runner.state!;
    await runner.roundFinished({ jobId: "job1", round: 0, attempt: 0, outcome: "accepted", aggregate: aggregate(9), transcriptHash: "t", excluded: [] });
    expect(runner.state!.status).toBe("completed");
    expect([...store.assignments.values()]).toEqual(["closed", "closed", "closed"]);
    for (const n of s.open!.committee) expect(store.reliability.get(n)).toEqual({ ok: 1, failed: 0 });
    expect(roundsFromLog(store.entries)).toEqual([{ round: 0, attempt: 0, status: "accepted", committee: s.open!.committee, startedAt: T0, endedAt: T0, abort: null, aggregateHash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(store.catalogueRows.get("job1")).toMatchObject({ status: "completed" });
    expect(verifyLog(store.readLog(0, 100), PUBLIC_KEY)).toEqual([]);
    expect(store.entries.map((e) => e.body.kind)).toEqual(["job", "manifest", "dataset-commitments", "status", "result", "status"]);
    // a reload from storage sees the same job
    const again = new JobRunner(store, port, () => ctx());
    await again.load();
    expect(again.state).toEqual(runner.state);
  });

  it("one alarm: selection retries while waiting, then the round starts when nodes arrive", async () => {
    const { store, runner, tick } = setup(1);
    await runner.create("job1", spec(), null);
    expect(runner.state!.status).toBe("pending");
    expect(store.alarm).toBe(T0 + RETRY_MS);
    tick(RETRY_MS);
    await runner.alarm();
    expect(store.alarm).toBe(T0 + 2 * RETRY_MS);
    store.nodes = nodes(2, T0 + RETRY_MS);
    tick(RETRY_MS);
    await runner.alarm();
    expect(runner.state!.status).toBe("running");
    expect(store.alarm).toBeNull();
  });

  it("an unreachable RoundDO gets its manifest again from the alarm", async () => {
    const { store, runner, port, tick } = setup();
    port("job1", 0, 0).failInit = true;
    await runner.create("job1", spec(), null);
    expect(store.state!.open!.delivered).toBe(false);
    expect(store.alarm).toBe(T0 + OUTBOX_RETRY_MS);
    // the outbox keeps the init and everything after it, in order: no assignment before the RoundDO exists
    expect(store.state!.outbox!.map((e) => e.kind)).toEqual(["init-round", "assign", "catalogue"]);
    expect(store.assignments.size).toBe(0);
    port("job1", 0, 0).failInit = false;
    tick(OUTBOX_RETRY_MS);
    await runner.alarm();
    expect(port("job1", 0, 0).inits).toHaveLength(1);
    expect(store.state!.open!.delivered).toBe(true);
    expect(store.state!.outbox).toEqual([]);
    expect([...store.assignments.values()]).toEqual(["open", "open", "open"]);
    expect(store.alarm).toBeNull();
  });

  it("an abort naming a culprit: excluded, reliability down, next attempt opened without it; cancel aborts that attempt", async () => {
    const { store, runner, port } = setup(4);
    await runner.create("job1", spec({ committee: { size: 2, min: 2 } }), null);
    const [a, b] = runner.state!.open!.committee as [string, string];
    const r = await runner.roundFinished({ jobId: "job1", round: 0, attempt: 0, outcome: "aborted", code: "timeout", culprits: [1], detail: "absent: 1" });
    expect(r.applied).toBe(true);
    expect(store.reliability.get(b)).toEqual({ ok: 0, failed: 1 });
    expect(store.reliability.get(a)).toEqual({ ok: 1, failed: 0 });
    expect(runner.state).toMatchObject({ attempt: 1, excluded: [b] });
    expect(runner.state!.open!.committee).not.toContain(b);
    expect((await runner.roundFinished({ jobId: "job1", round: 0, attempt: 0, outcome: "aborted", code: "timeout", culprits: [1], detail: "again" })).applied).toBe(false);
    expect(await runner.cancel()).toMatchObject({ ok: true, job: { status: "cancelled" } });
    expect(port("job1", 0, 1).cancelled).toBe(1);
    expect(roundsFromLog(store.entries).map((x) => [x.attempt, x.status, x.abort?.code])).toEqual([[0, "aborted", "timeout"], [1, "aborted", "cancelled"]]);
    expect([...store.assignments.values()].every((v) => v === "closed")).toBe(true);
  });

  it("calls are serialised: a duplicate report arriving while the first is between its model write and its commit is answered `applied: false`", async () => {
    const store = new MemoryJobStore();
    store.nodes = nodes(3);
    const s = learningSpec();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const put = store.putModel.bind(store);
    store.putModel = async (j, r, bytes, hash, carry) => { if (r === 1) await gate; return put(j, r, bytes, hash, carry); };
    const runner = new JobRunner(store, () => new MemoryRoundPort(), () => ctx(T0));
    await runner.create("job1", s, null);
    const o = { jobId: "job1", round: 0, attempt: 0, outcome: "accepted" as const, aggregate: learningAggregate(s, 3), transcriptHash: "t", excluded: [] };
    const first = runner.roundFinished(o);
    const second = runner.roundFinished(o); // the RoundDO's retry, while the first waits on R2
    await new Promise((r) => setTimeout(r, 10));
    release();
    expect(await first).toEqual({ applied: true });
    expect(await second).toEqual({ applied: false });
    expect(store.entries.filter((e) => e.body.kind === "result")).toHaveLength(1);
  });

  it("putModel stores the bytes and logs the hash once", async () => {
    const { store, runner } = setup(0);
    expect(await runner.putModel(0, new Uint8Array([1]))).toMatchObject({ ok: false, code: "not-found" });
    await runner.create("job1", spec(), null);
    const p = await runner.putModel(1, new Uint8Array([1, 2]));
    expect(p.ok).toBe(true);
    expect(store.models.get("job1/1")?.hash).toBe((p as { hash: string }).hash);
    expect(store.entries.at(-1)!.body).toMatchObject({ kind: "model", round: 1 });
  });
});
