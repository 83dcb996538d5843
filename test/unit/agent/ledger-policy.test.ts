/**
 * The node's ledger (write-ahead release records, budget) and policy defaults, as pure
 * modules: what a node persists survives a reload, "unknown" counts as released, and the
 * default policy takes part in nothing until a submitter is listed.
 */
import { describe, expect, it } from "vitest";
import { Ledger, memoryLedgerStore } from "../../../client/agent/ledger.ts";
import { DEFAULT_POLICY, NodePolicySchema } from "../../../client/agent/policy.ts";
import { parseNodeConfig } from "../../../client/agent/config.ts";

describe("node ledger", () => {
  it("a write-ahead join counts as released until settled, and survives a reload", async () => {
    const store = memoryLedgerStore();
    const l = await Ledger.open(store);
    await l.join("job-a", "adult", 0, 0, ["n1", "n2", "n3"], 1000);
    expect(l.releasedAttempt("job-a", 0)).toEqual({ attempt: 0, committee: ["n1", "n2", "n3"] });
    const reloaded = await Ledger.open(store); // a crash before settle: still "unknown"
    expect(reloaded.releasedAttempt("job-a", 0)?.attempt).toBe(0);
    await reloaded.settle("job-a", 0, 0, false);
    expect(reloaded.releasedAttempt("job-a", 0)).toBeUndefined();
    await reloaded.join("job-a", "adult", 0, 1, ["n1", "n2", "n4"], 2000);
    await reloaded.settle("job-a", 0, 1, true);
    expect((await Ledger.open(store)).releasedAttempt("job-a", 0)?.attempt).toBe(1);
    expect(reloaded.releasedAttempt("job-a", 1)).toBeUndefined();
  });

  it("counts distinct jobs per dataset within a window; a corrupt ledger is refused, not reset", async () => {
    const store = memoryLedgerStore();
    const l = await Ledger.open(store);
    await l.join("j1", "adult", 0, 0, [], 1000);
    await l.join("j1", "adult", 1, 0, [], 5000);
    await l.join("j2", "adult", 0, 0, [], 9000);
    await l.join("j3", "wdbc", 0, 0, [], 9000);
    expect(l.jobsUsing("adult", 0)).toBe(2);
    expect(l.jobsUsing("adult", 2000)).toBe(1);
    expect(l.knowsJob("j1")).toBe(true);
    store.text = "{\"version\":1,\"jobs\":[{\"jobId\":1}]}";
    await expect(Ledger.open(store)).rejects.toThrow(/ledger/);
    store.text = "not json";
    await expect(Ledger.open(store)).rejects.toThrow(/not valid JSON/);
  });
});

describe("node policy defaults", () => {
  it("safe defaults: no plaintext, committees of 3 or more, no submitter predicates, no accepted submitter", () => {
    expect(DEFAULT_POLICY.modes).toEqual(["validated", "linear-only"]);
    expect(DEFAULT_POLICY.minCommittee).toBe(3);
    expect(DEFAULT_POLICY.submitterPredicates).toBe(false);
    expect(DEFAULT_POLICY.submitters).toEqual([]);
    expect(() => NodePolicySchema.parse({ minCommittee: 1 })).toThrow();
    expect(() => NodePolicySchema.parse({ submitters: ["not-a-key"] })).toThrow();
  });

  it("a node.json without a policy gets the defaults; a bad policy field is named", () => {
    const base = { version: 1, coordinatorUrl: "http://127.0.0.1:8787", sources: [{ path: "a.csv", format: "csv", schema: "s.json" }], capabilities: { cores: 2, memoryMb: 1024, bandwidthMbps: 10, availability: { fromHourUtc: 0, toHourUtc: 24 } } };
    expect(parseNodeConfig(JSON.stringify(base)).policy).toEqual(DEFAULT_POLICY);
    expect(() => parseNodeConfig(JSON.stringify({ ...base, policy: { modes: ["mpc"] } }))).toThrow(/policy\.modes/);
  });
});
