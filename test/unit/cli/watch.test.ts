import { describe, expect, it } from "vitest";
import { watchJob, type WatchEvent } from "../../../client/cli/job.ts";
import type { ProgressState } from "../../../client/cli/progress.ts";
import type { ApiClient } from "../../../client/api/client.ts";

describe("2pm job watch", () => {
  it("prints a decline with the node's own reason, and the job's final error", async () => {
    const rounds = [{ round: 0, attempt: 0, status: "aborted", committee: ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"], abort: { code: "declined", culprits: ["bbbbbbbbbbbb"], detail: "party 1 declined: policy: submitter-not-trusted: the spec's submitter key is not in policy.submitters" } }];
    const client = {
      job: async () => ({ job: { id: "j1", status: "failed", error: "insufficient-nodes: 2 eligible; declined: policy: submitter-not-trusted" }, spec: { maxRounds: 1 } }),
      rounds: async () => rounds,
      result: async () => ({ result: null }),
    } as unknown as ApiClient;
    const lines: string[] = [];
    const final = await watchJob(client, "j1", (s) => lines.push(s), 1);
    expect(final.status).toBe("failed");
    expect(lines[0]).toMatch(/^round 1\/1 attempt 1: aborted \[committee aaaaaaaa bbbbbbbb cccccccc\] — declined \(culprits bbbbbbbb\): party 1 declined: policy: submitter-not-trusted: the spec's submitter key/);
    expect(lines.slice(1)).toEqual(["job j1: failed — insufficient-nodes: 2 eligible", "  declined: policy: submitter-not-trusted"]);
  });

  it("names a learning job's evaluation-only last round, prints metrics with rounds counted from 1, and reports progress with an ETA", async () => {
    const t = 1_000_000;
    const rounds = [
      { round: 0, attempt: 0, status: "accepted", committee: ["aaaaaaaaaaaa"], abort: null, startedAt: t, endedAt: t + 10_000 },
      { round: 1, attempt: 0, status: "accepted", committee: ["aaaaaaaaaaaa"], abort: null, startedAt: t + 10_000, endedAt: t + 30_000 },
      { round: 2, attempt: 0, status: "running", committee: ["aaaaaaaaaaaa"], abort: null, startedAt: Date.now(), endedAt: null },
    ];
    let polls = 0;
    const client = {
      job: async () => ({ job: { id: "j2", status: polls++ < 1 ? "running" : "completed", error: null, round: 2 }, spec: { maxRounds: 2, type: "learning" } }),
      rounds: async () => rounds,
      result: async () => ({ result: { history: [{ round: 0, loss: 0.69, accuracy: 0.5 }, { round: 1, loss: 0.4, accuracy: 0.8 }], latestModelRound: 2, final: "evaluating" } }),
    } as unknown as ApiClient;
    const lines: string[] = [];
    const progress: ProgressState[] = [];
    const events: WatchEvent[] = [];
    await watchJob(client, "j2", (s) => lines.push(s), { intervalMs: 1, onProgress: (p) => progress.push(p), onEvent: (e, text) => { events.push(e); lines.push(text); } });
    expect(lines[0]).toMatch(/^round 1\/2 attempt 1: accepted \[committee aaaaaaaa\] loss 0\.6900 accuracy 50\.00%$/);
    expect(lines[1]).toMatch(/^round 2\/2 attempt 1: accepted .* loss 0\.4000 accuracy 80\.00%$/);
    expect(lines[2]).toMatch(/^final evaluation of model 2 attempt 1: running/);
    expect(events[2]).toMatchObject({ kind: "round", round: 2, finalEvaluation: true });
    expect(events.at(-1)).toEqual({ kind: "job", id: "j2", status: "completed", error: null });
    expect(progress[0]).toMatchObject({ done: 2, total: 2, phase: "final evaluation of model 2 running (attempt 1)" });
    expect(progress[0]!.etaMs).not.toBeNull();
  });
});
