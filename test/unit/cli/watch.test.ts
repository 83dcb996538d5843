import { describe, expect, it } from "vitest";
import { watchJob } from "../../../client/cli/job.ts";
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
    expect(lines[1]).toBe("job j1: failed — insufficient-nodes: 2 eligible; declined: policy: submitter-not-trusted");
  });
});
