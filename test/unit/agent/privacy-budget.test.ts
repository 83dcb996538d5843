/**
 * Privacy budgets enforced by the node (client/agent/policy.ts + ledger.ts): the node computes
 * each round's ρ from the submitter-signed spec, never from the coordinator's manifest; it
 * takes part while the dataset's budget holds and declines with `privacy-budget` once it is
 * spent; releases compose across jobs and rounds, drop out of a window, and count unless the
 * attempt provably released nothing.
 */
import { describe, expect, it } from "vitest";
import { checkPolicy, NodePolicySchema, PolicyDeclined, privacyBudgetFor, type NodePolicyInput } from "../../../client/agent/policy.ts";
import { Ledger, memoryLedgerStore } from "../../../client/agent/ledger.ts";
import { deriveSessionId, JobSpec, type RoundManifest } from "../../../protocol/api/schemas.ts";
import { generateNodeKeys, identityPublicKey, nodeIdFromPublicKey, type NodeKeys } from "../../../protocol/crypto/identity.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";
import { signJobSpec } from "../../../protocol/jobs/signed-spec.ts";
import { appendEntry, objectHash, type LogBody, type LogEntry } from "../../../protocol/log/index.ts";
import { cryptoRng } from "../../../protocol/rng.ts";
import { rhoFor } from "../../../protocol/dp/zcdp.ts";

const DAY = 86_400_000;
const coordinator = cryptoRng.bytes(32);
const submitter = cryptoRng.bytes(32);
const submitterKey = toBase64Url(identityPublicKey(submitter));
const committee = [generateNodeKeys(), generateNodeKeys(), generateNodeKeys()];

const query = (privacy?: unknown) => ({ version: 1, measures: [{ kind: "count" }], minCount: 0, ...(privacy === undefined ? {} : { privacy }) });
function statsSpec(privacy?: unknown, schemaId = "adult"): JobSpec {
  return JobSpec.parse({ type: "stats", schemaId, committee: { size: 3, min: 3 }, maxRounds: 1, fixedPoint: { bound: 1000 }, task: { query: query(privacy), schema: { name: schemaId } } });
}
/** A learning spec with the job's privacy in `task.privacy` (where learning plugs in; see protocol/dp/cost.ts). */
function learningSpec(privacy: unknown, rounds: number): JobSpec {
  return JobSpec.parse({ type: "learning", schemaId: "adult", committee: { size: 3, min: 3 }, maxRounds: rounds, fixedPoint: { bound: 1000 }, task: { model: {}, stopping: { maxRounds: rounds }, privacy } });
}

const member = (k: NodeKeys, index: number) => ({ index, nodeId: nodeIdFromPublicKey(k.identityPublicKey), identityKey: toBase64Url(k.identityPublicKey), kxKey: toBase64Url(k.kxPublicKey) });
let counter = 0;

interface Crafted { jobId: string; log: LogEntry[]; manifest: RoundManifest }

/**
 * A coordinator-signed log: the job entry (spec signed by the submitter, or `loggedSpec` put in
 * its place under the same signature) and the round's manifest; `edit` alters the manifest.
 */
function craft(spec: JobSpec, o: { jobId?: string; round?: number; attempt?: number; edit?: (m: RoundManifest) => void; loggedSpec?: JobSpec } = {}): Crafted {
  const jobId = o.jobId ?? `job-${++counter}`;
  const signed = signJobSpec(spec, submitter);
  const logged = o.loggedSpec ?? signed.spec;
  const round = o.round ?? 0, attempt = o.attempt ?? 0, now = Date.now();
  const manifest: RoundManifest = {
    version: 1, kind: "round-manifest", jobId, round, attempt, jobType: logged.type, schemaId: logged.schemaId,
    sessionId: toBase64Url(deriveSessionId(jobId, round, attempt)), committee: committee.map(member), mode: logged.mode, field: logged.field,
    fixedPoint: { fracBits: logged.fixedPoint.fracBits, bound: logged.fixedPoint.bound }, validation: logged.validation, task: logged.task, modelHash: null,
    deadlines: { join: now + 60_000, compute: now + 120_000, finalize: now + 180_000 }, createdAt: now,
  };
  o.edit?.(manifest);
  const bodies: LogBody[] = [
    { kind: "job", jobId, specHash: objectHash(logged), spec: logged, submitter: signed.submitter },
    { kind: "manifest", round, attempt, manifestHash: objectHash(manifest), manifest },
  ];
  const log: LogEntry[] = [];
  for (const b of bodies) log.push(appendEntry(log[log.length - 1] ?? null, b, now, coordinator));
  return { jobId, log, manifest };
}

const policy = (p: NodePolicyInput) => NodePolicySchema.parse({ submitters: [submitterKey], budget: { maxJobs: 1000, windowDays: 30 }, ...p });

/** Runs the policy check and, when it passes, the write-ahead join the agent does next. */
async function take(pol: ReturnType<typeof policy>, ledger: Ledger, c: Crafted, now = Date.now()): Promise<void> {
  checkPolicy(pol, { manifest: c.manifest, log: c.log, ledger, now });
  await ledger.join(c.jobId, c.manifest.schemaId, c.manifest.round, c.manifest.attempt, c.manifest.committee.map((m) => m.nodeId), now);
}

function declined(f: () => unknown): PolicyDeclined {
  try {
    f();
  } catch (e) {
    if (e instanceof PolicyDeclined) return e;
    throw e;
  }
  throw new Error("not declined");
}

describe("privacy budget in the node's policy", () => {
  it("policy.privacy: a policy-wide default, overridden per dataset field by field; none: no budget", () => {
    const p = policy({ privacy: { rho: 1, windowDays: 30, datasets: { wdbc: { rho: 0.2 }, census: { allowNonPrivate: true } } } });
    expect(privacyBudgetFor(p, "adult")).toEqual({ rho: 1, windowDays: 30, allowNonPrivate: false });
    expect(privacyBudgetFor(p, "wdbc")).toEqual({ rho: 0.2, windowDays: 30, allowNonPrivate: false });
    expect(privacyBudgetFor(p, "census")).toEqual({ rho: 1, windowDays: 30, allowNonPrivate: true });
    expect(privacyBudgetFor(policy({ privacy: { datasets: { wdbc: { rho: 0.2 } } } }), "adult")).toBeNull();
    expect(privacyBudgetFor(policy({}), "adult")).toBeNull();
    expect(() => NodePolicySchema.parse({ privacy: { rho: 0 } })).toThrow(/rho must be a positive number/);
    expect(() => NodePolicySchema.parse({ privacy: { rho: 1, cap: 2 } })).toThrow();
  });

  it("takes part while the budget holds, records the signed ρ with each join, and declines with privacy-budget once spent", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 1 } });
    for (let i = 0; i < 3; i++) await take(pol, ledger, craft(statsSpec({ rho: 0.3 })));
    expect(ledger.privacyCharges("adult").map((c) => c.rho)).toEqual([0.3, 0.3, 0.3]);
    const e = declined(() => checkPolicy(pol, { ...craftCtx(craft(statsSpec({ rho: 0.3 }))), ledger, now: Date.now() }));
    expect(e.code).toBe("privacy-budget");
    expect(e.message).toMatch(/would spend ρ 0\.3 on dataset adult, which has spent ρ 0\.9 in total of its ρ 1 \(0\.1 left\)/);
    // A smaller job still fits; another dataset has its own budget.
    await take(pol, ledger, craft(statsSpec({ rho: 0.1 })));
    await take(pol, ledger, craft(statsSpec({ rho: 0.9 }, "wdbc")));
    expect(declined(() => checkPolicy(pol, { ...craftCtx(craft(statsSpec({ rho: 1e-6 }))), ledger, now: Date.now() })).code).toBe("privacy-budget");
  });

  it("the (ε, δ) form is charged as its exact ρ, and jobs compose in ρ", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: rhoFor(1, 1e-6) } });
    await take(pol, ledger, craft(statsSpec({ epsilon: 0.5, delta: 1e-6 })));
    expect(ledger.privacyCharges("adult")[0]!.rho).toBe(rhoFor(0.5, 1e-6));
    // zCDP composes better than adding ε: three jobs of ε = 0.5 fit a budget of ε = 1 (at the same δ), a fourth does not.
    await take(pol, ledger, craft(statsSpec({ epsilon: 0.5, delta: 1e-6 })));
    await take(pol, ledger, craft(statsSpec({ epsilon: 0.5, delta: 1e-6 })));
    expect(declined(() => checkPolicy(pol, { ...craftCtx(craft(statsSpec({ epsilon: 0.5, delta: 1e-6 }))), ledger, now: Date.now() })).code).toBe("privacy-budget");
  });

  it("a window: releases older than windowDays stop counting", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 0.5, windowDays: 30 } });
    const t0 = Date.now() - 40 * DAY;
    await take(pol, ledger, craft(statsSpec({ rho: 0.5 })), t0);
    expect(declined(() => checkPolicy(pol, { ...craftCtx(craft(statsSpec({ rho: 0.5 }))), ledger, now: t0 + 29 * DAY })).code).toBe("privacy-budget");
    await take(pol, ledger, craft(statsSpec({ rho: 0.5 })), t0 + 31 * DAY);
    expect(ledger.privacyCharges("adult")).toHaveLength(2);
  });

  it("composition across the rounds of a multi-round job: ρ/R per round, the whole job fits a budget of exactly its ρ, a round beyond the signed plan is declined", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 0.8 } });
    const jobId = "learn-1";
    // 4 training rounds and the final evaluation round: R = 5.
    for (let r = 0; r < 5; r++) await take(pol, ledger, craft(learningSpec({ rho: 0.8 }, 4), { jobId, round: r }));
    const charges = ledger.privacyCharges("adult").map((c) => c.rho!);
    expect(charges).toHaveLength(5);
    expect(charges[0]).toBeCloseTo(0.16, 12);
    expect(charges.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(0.8);
    expect(declined(() => checkPolicy(policy({}), { ...craftCtx(craft(learningSpec({ rho: 0.8 }, 4), { jobId, round: 5 })), ledger, now: Date.now() })).message).toMatch(/beyond the 5 release/);
    expect(declined(() => checkPolicy(pol, { ...craftCtx(craft(statsSpec({ rho: 0.01 }))), ledger, now: Date.now() })).code).toBe("privacy-budget");
  });

  it("an attempt that provably released nothing is not counted; an unknown one (a crash) is", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 1 } });
    const a0 = craft(statsSpec({ rho: 0.6 }));
    await take(pol, ledger, a0);
    await ledger.settle(a0.jobId, 0, 0, false); // aborted before this node emitted its output share
    const a1 = craft(statsSpec({ rho: 0.6 }), { jobId: a0.jobId, attempt: 1 });
    await take(pol, ledger, a1); // the rerun is charged once, the first attempt not at all
    expect(ledger.privacyCharges("adult").map((c) => c.rho)).toEqual([0.6]);
    // a1 stays "unknown" (as after a crash): still counted.
    expect(declined(() => checkPolicy(pol, { ...craftCtx(craft(statsSpec({ rho: 0.6 }))), ledger, now: Date.now() })).code).toBe("privacy-budget");
    // Re-checking the attempt already recorded does not count it twice.
    expect(() => checkPolicy(pol, { ...craftCtx(a1), ledger, now: Date.now() })).not.toThrow();
  });

  it("a job without privacy is non-private: declined on a dataset with a budget unless allowNonPrivate; recorded, not charged", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const e = declined(() => checkPolicy(policy({ privacy: { rho: 1 } }), { ...craftCtx(craft(statsSpec())), ledger, now: Date.now() }));
    expect(e.code).toBe("privacy-budget");
    expect(e.message).toMatch(/no privacy field.*allowNonPrivate is false/);
    await take(policy({ privacy: { rho: 1, allowNonPrivate: true } }), ledger, craft(statsSpec()));
    await take(policy({ privacy: { datasets: { wdbc: { rho: 1 } } } }), ledger, craft(statsSpec())); // adult has no budget
    expect(ledger.privacyCharges("adult")).toEqual([expect.objectContaining({ rho: null }), expect.objectContaining({ rho: null })]);
    expect(ledger.snapshot().jobs.map((j) => j.privacy)).toEqual([null, null]);
  });

  it("a malformed privacy field is declined whatever the budget (the node cannot tell what it would spend)", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const e = declined(() => checkPolicy(policy({}), { ...craftCtx(craft(statsSpec({ rho: -1 }))), ledger, now: Date.now() }));
    expect(e.code).toBe("privacy-budget");
    expect(e.message).toMatch(/cannot account/);
  });

  it("two rounds admitted before either joined cannot both spend the last of the budget (re-checked at join)", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 1 } });
    const a = craft(statsSpec({ rho: 0.7 })), b = craft(statsSpec({ rho: 0.7 }));
    checkPolicy(pol, { ...craftCtx(a), ledger, now: Date.now() });
    checkPolicy(pol, { ...craftCtx(b), ledger, now: Date.now() });
    await ledger.join(a.jobId, "adult", 0, 0, [], Date.now());
    await expect(ledger.join(b.jobId, "adult", 0, 0, [], Date.now())).rejects.toMatchObject({ code: "privacy-budget" });
    expect(ledger.hasAttempt(b.jobId, 0, 0)).toBe(false);
  });
});

describe("a malicious coordinator cannot lower what a round costs", () => {
  it("a manifest claiming a smaller ρ, or none, is refused (spec-mismatch) and charges nothing", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 1 } });
    const smaller = craft(statsSpec({ rho: 0.9 }), { edit: (m) => { m.task = { ...m.task, query: query({ rho: 0.01 }) }; } });
    expect(declined(() => checkPolicy(pol, { ...craftCtx(smaller), ledger, now: Date.now() })).code).toBe("spec-mismatch");
    const stripped = craft(statsSpec({ rho: 0.9 }), { edit: (m) => { m.task = { ...m.task, query: query() }; } });
    expect(declined(() => checkPolicy(policy({ privacy: { rho: 1, allowNonPrivate: true } }), { ...craftCtx(stripped), ledger, now: Date.now() })).code).toBe("spec-mismatch");
    expect(ledger.privacyCharges("adult")).toEqual([]);
  });

  it("a logged spec with a smaller ρ under the submitter's real signature is refused (bad-spec-signature)", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const forged = craft(statsSpec({ rho: 0.9 }), { loggedSpec: statsSpec({ rho: 0.01 }) });
    expect(declined(() => checkPolicy(policy({ privacy: { rho: 1 } }), { ...craftCtx(forged), ledger, now: Date.now() })).code).toBe("bad-spec-signature");
  });

  it("the ρ charged is the signed one even when the budget would admit the coordinator's figure", async () => {
    const ledger = await Ledger.open(memoryLedgerStore());
    const pol = policy({ privacy: { rho: 1 } });
    await take(pol, ledger, craft(statsSpec({ rho: 0.5 })));
    // Signed 0.6 (does not fit 0.5 left); the coordinator shows 0.4 (would fit): declined either way.
    const c = craft(statsSpec({ rho: 0.6 }), { edit: (m) => { m.task = { ...m.task, query: query({ rho: 0.4 }) }; } });
    expect(declined(() => checkPolicy(pol, { ...craftCtx(c), ledger, now: Date.now() })).code).toBe("spec-mismatch");
    const honest = craft(statsSpec({ rho: 0.6 }));
    expect(declined(() => checkPolicy(pol, { ...craftCtx(honest), ledger, now: Date.now() })).code).toBe("privacy-budget");
  });
});

function craftCtx(c: Crafted) {
  return { manifest: c.manifest, log: c.log };
}
