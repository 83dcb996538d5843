/**
 * Red team: a malicious coordinator. The real NodeAgent talks HTTP to a coordinator the
 * attacker runs (a small node:http server here): it signs its log correctly with its own key,
 * so every manifest below is "coordinator-signed". The node must still refuse every manifest
 * outside its own policy or the submitter-signed spec, decline it with a named reason, and
 * never connect to the round's relay. A well-formed manifest (the control) passes the policy,
 * so the test can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { readFileSync } from "node:fs";
import { NodeAgent, type AgentEvent } from "../../../client/agent/agent.ts";
import { Ledger, memoryLedgerStore } from "../../../client/agent/ledger.ts";
import { NodePolicySchema, type NodePolicyInput } from "../../../client/agent/policy.ts";
import { datasetCommitment } from "../../../client/data/commitment.ts";
import { parseData } from "../../../client/data/parse.ts";
import { loadJobSpec } from "../../../client/cli/job.ts";
import { deriveSessionId, type Assignment, type JobSpec, type RoundManifest } from "../../../protocol/api/schemas.ts";
import { generateNodeKeys, identityPublicKey, nodeIdFromPublicKey, type NodeKeys } from "../../../protocol/crypto/identity.ts";
import { signConsortium, verifyConsortium } from "../../../protocol/consortium.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";
import { signJobSpec } from "../../../protocol/jobs/signed-spec.ts";
import { appendEntry, objectHash, type LogBody, type LogEntry } from "../../../protocol/log/index.ts";
import { cryptoRng } from "../../../protocol/rng.ts";
import { parseDatasetSchema } from "../../../protocol/stats/schema.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const coordinatorSecret = cryptoRng.bytes(32);
const submitterSecret = cryptoRng.bytes(32);
const strangerSecret = cryptoRng.bytes(32);
const submitterKey = toBase64Url(identityPublicKey(submitterSecret));

interface Job { log: LogEntry[]; assignment: Assignment }

/** The attacker's coordinator: serves crafted logs and assignments, records declines and relay connections. */
class EvilCoordinator {
  readonly declines: Array<{ path: string; reason: string }> = [];
  readonly relayConnects: string[] = [];
  private queue: Assignment[] = [];
  private readonly logs = new Map<string, LogEntry[]>();
  private server!: http.Server;
  url = "";

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("upgrade", (req, socket) => { this.relayConnects.push(req.url ?? ""); socket.destroy(); });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> { return new Promise((r) => this.server.close(() => r())); }
  offer(job: Job): void {
    this.logs.set(job.assignment.jobId, job.log);
    this.queue.push(job.assignment);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url ?? "/", this.url);
    const json = (status: number, v: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(v)); };
    if (url.pathname === "/v1/coordinator/key") return json(200, { algorithm: "Ed25519", publicKey: toBase64Url(identityPublicKey(coordinatorSecret)) });
    if (req.method === "POST" && url.pathname === "/v1/nodes") return json(201, { node: {} });
    if (url.pathname.endsWith("/heartbeat")) return json(200, { ok: true });
    const poll = /^\/v1\/nodes\/([0-9a-f]+)\/assignment$/.exec(url.pathname);
    if (poll) {
      const mine = (a: Assignment) => a.manifest.committee[a.index]?.nodeId === poll[1];
      if (!this.queue.some(mine)) await new Promise((r) => setTimeout(r, 100));
      const i = this.queue.findIndex(mine);
      return json(200, { assignments: i < 0 ? [] : this.queue.splice(i, 1) });
    }
    const log = /^\/v1\/jobs\/([^/]+)\/log$/.exec(url.pathname);
    if (log) return json(200, { entries: (this.logs.get(decodeURIComponent(log[1]!)) ?? []).slice(Number(url.searchParams.get("from") ?? 0)) });
    if (url.pathname.endsWith("/decline")) {
      this.declines.push({ path: url.pathname, reason: (JSON.parse(body) as { reason: string }).reason });
      return json(200, { ok: true });
    }
    if (req.method === "DELETE") return json(200, { ok: true });
    json(404, { code: "not-found" });
  }
}

let spec: JobSpec;
let evil: EvilCoordinator;
let agent: NodeAgent;
let me: NodeKeys;
const peers = [generateNodeKeys(), generateNodeKeys(), generateNodeKeys()];
const events: AgentEvent[] = [];
const ledger = await Ledger.open(memoryLedgerStore());
let counter = 0;

function member(k: NodeKeys, index: number) {
  return { index, nodeId: nodeIdFromPublicKey(k.identityPublicKey), identityKey: toBase64Url(k.identityPublicKey), kxKey: toBase64Url(k.kxPublicKey) };
}

/**
 * A coordinator-signed log with the job entry (spec signed by `signer`, or unsigned) and a
 * manifest for round 0; `edit` lets the attacker alter the manifest after the spec was signed.
 */
function craft(o: { spec?: JobSpec; signer?: Uint8Array | null; committee?: NodeKeys[]; edit?: (m: RoundManifest) => void; round?: number; attempt?: number; jobId?: string }): Job {
  const jobId = o.jobId ?? `evil-${++counter}`;
  const s = o.spec ?? spec;
  const signed = o.signer === null ? null : signJobSpec(s, o.signer ?? submitterSecret);
  const bodies: LogBody[] = [{ kind: "job", jobId, specHash: objectHash(signed?.spec ?? s), spec: signed?.spec ?? s, submitter: signed?.submitter ?? null }];
  const round = o.round ?? 0, attempt = o.attempt ?? 0;
  const committee = (o.committee ?? [me, ...peers.slice(0, 2)]).map(member);
  const now = Date.now();
  const manifest: RoundManifest = {
    version: 1, kind: "round-manifest", jobId, round, attempt, jobType: s.type, schemaId: s.schemaId,
    sessionId: toBase64Url(deriveSessionId(jobId, round, attempt)), committee, mode: s.mode, field: s.field,
    fixedPoint: { fracBits: s.fixedPoint.fracBits, bound: s.fixedPoint.bound }, validation: s.validation, task: s.task, modelHash: null,
    deadlines: { join: now + 60_000, compute: now + 120_000, finalize: now + 180_000 }, createdAt: now,
  };
  o.edit?.(manifest);
  bodies.push({ kind: "manifest", round, attempt, manifestHash: objectHash(manifest), manifest });
  const log: LogEntry[] = [];
  for (const b of bodies) log.push(appendEntry(log[log.length - 1] ?? null, b, now, coordinatorSecret));
  return { log, assignment: { jobId, round, attempt, index: 0, manifest, logEntryHash: log[log.length - 1]!.hash, wsPath: `/v1/rounds/${jobId}/${round}/${attempt}/ws` } };
}

/** Offers a crafted job and waits for the agent's verdict on it. */
async function verdict(job: Job): Promise<AgentEvent> {
  evil.offer(job);
  const id = job.assignment.jobId;
  for (let t = 0; t < 300; t++) {
    const e = events.find((x) => "jobId" in x && x.jobId === id && (x.kind === "rejected" || x.kind === "computed"));
    if (e) return e;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no verdict for ${id}`);
}

async function expectDeclined(job: Job, code: string): Promise<void> {
  const e = await verdict(job);
  expect(e.kind, JSON.stringify(e)).toBe("rejected");
  expect((e as { code?: string }).code).toBe(code);
  await expect.poll(() => evil.declines.find((d) => d.path.includes(`/${job.assignment.jobId}/`))?.reason).toMatch(new RegExp(`policy: ${code}`));
  expect(evil.relayConnects.filter((u) => u.includes(`/${job.assignment.jobId}/`))).toEqual([]);
}

const consortiumAdmin = cryptoRng.bytes(32);

let restrictedKeys: NodeKeys | undefined;
async function startAgent(policy: NodePolicyInput, membership?: ReturnType<typeof verifyConsortium>, keys: NodeKeys = me, own: Ledger = ledger): Promise<NodeAgent> {
  if (keys !== me) restrictedKeys = keys;
  const schema = parseDatasetSchema(JSON.parse(readFileSync(path.join(ROOT, "examples/schemas/adult.json"), "utf8")), "adult.json");
  const text = readFileSync(path.join(ROOT, "examples/data/adult-test.csv"), "utf8").split("\n").slice(0, 40).join("\n");
  const rows = parseData(text, schema, "csv", { file: "adult-test.csv" });
  const a = new NodeAgent({
    coordinatorUrl: evil.url, keys, datasets: [{ source: "adult-test.csv", schema, rows, commitment: datasetCommitment(schema, rows) }], heartbeatSeconds: 60, onEvent: (e) => events.push(e),
    host: { capabilities: { cores: 2, memoryMb: 4096, bandwidthMbps: 100 }, conditions: () => ({ load: 0, freeMemoryMb: 1000, onBattery: false, online: true }), coordinatorKey: async () => identityPublicKey(coordinatorSecret) },
    policy: NodePolicySchema.parse(policy), ledger: own, ...(membership ? { membership } : {}),
  });
  void a.run();
  return a;
}

beforeAll(async () => {
  me = generateNodeKeys();
  spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
  evil = new EvilCoordinator();
  await evil.start();
});
afterAll(async () => { await evil?.stop(); });

describe("a node against a malicious coordinator (signed logs, crafted manifests)", () => {
  beforeAll(async () => { agent = await startAgent({ submitters: [submitterKey] }); });
  afterAll(async () => { await agent?.stop(false); });

  it("refuses plaintext mode even when the submitter signed it", async () => {
    await expectDeclined(craft({ spec: { ...spec, mode: "plaintext" } }), "mode-not-accepted");
  });

  it("refuses a committee below the policy minimum (an honest node and one sybil)", async () => {
    await expectDeclined(craft({ spec: { ...spec, committee: { size: 3, min: 2 } }, committee: [me, peers[0]!] }), "committee-too-small");
  });

  it("refuses a manifest whose mode differs from the signed spec", async () => {
    await expectDeclined(craft({ edit: (m) => { m.mode = "linear-only"; } }), "spec-mismatch");
  });

  it("refuses a manifest whose predicates differ from the signed spec", async () => {
    await expectDeclined(craft({ edit: (m) => { m.validation = { ...m.validation, predicates: [{ kind: "l2-norm", bound: "1", indices: [0, 2] }] }; } }), "spec-mismatch");
  });

  it("refuses a manifest whose task differs from the signed spec, or a committee larger than signed", async () => {
    await expectDeclined(craft({ edit: (m) => { m.task = { ...m.task, extra: 1 }; } }), "spec-mismatch");
    await expectDeclined(craft({ committee: [me, ...peers] }), "spec-mismatch");
  });

  it("refuses a spec signed by a submitter it does not accept, and an unsigned spec", async () => {
    await expectDeclined(craft({ signer: strangerSecret }), "submitter-not-accepted");
    await expectDeclined(craft({ signer: null }), "unsigned-spec");
  });

  it("refuses a forged submitter signature (coordinator swaps the spec under a real signature)", async () => {
    const job = craft({});
    const entry0 = job.log[0]!.body as Extract<LogBody, { kind: "job" }>;
    const forged = { ...spec, mode: "linear-only" as const };
    const bodies: LogBody[] = [{ ...entry0, spec: forged, specHash: objectHash(forged) }, { ...(job.log[1]!.body as Extract<LogBody, { kind: "manifest" }>) }];
    const m = { ...(bodies[1] as Extract<LogBody, { kind: "manifest" }>).manifest as RoundManifest, mode: "linear-only" as const };
    bodies[1] = { kind: "manifest", round: 0, attempt: 0, manifestHash: objectHash(m), manifest: m };
    const log: LogEntry[] = [];
    for (const b of bodies) log.push(appendEntry(log[log.length - 1] ?? null, b, Date.now(), coordinatorSecret));
    await expectDeclined({ log, assignment: { ...job.assignment, manifest: m, logEntryHash: log[1]!.hash } }, "bad-spec-signature");
  });

  it("refuses validation predicates chosen by the submitter unless the policy allows them", async () => {
    await expectDeclined(craft({ spec: { ...spec, validation: { predicates: [{ kind: "l2-norm", bound: "100", indices: [0, 2] }], excludeFailing: true } } }), "submitter-predicates");
  });

  it("never joins a rerun of a round whose output it may have helped open (its own ledger, across restarts)", async () => {
    const first = craft({});
    // As if attempt 0 crashed right after the write-ahead record ("unknown" counts as released).
    await ledger.join(first.assignment.jobId, "adult", 0, 0, [], Date.now());
    await expectDeclined(craft({ jobId: first.assignment.jobId, attempt: 1 }), "output-released");
  });

  it("refuses a manifest that carries another key-agreement key for this node", async () => {
    const e = await verdict(craft({ edit: (m) => { m.committee[0] = { ...m.committee[0]!, kxKey: toBase64Url(peers[2]!.kxPublicKey) }; } }));
    expect(e.kind).toBe("rejected");
    expect((e as { detail: string }).detail).toMatch(/key-agreement key/);
  });

  it("refuses a job that reads a column outside the policy's allowed columns (a second agent with policy.columns)", async () => {
    const restricted = await startAgent({ submitters: [submitterKey], columns: { adult: ["age", "sex"] } }, undefined, generateNodeKeys());
    try {
      const job = craft({ committee: [restrictedKeys!, ...peers.slice(0, 2)] });
      await expectDeclined(job, "column-not-accepted");
      expect(events.find((e) => "jobId" in e && e.jobId === job.assignment.jobId && e.kind === "rejected")).toMatchObject({ detail: expect.stringMatching(/income/) });
    } finally {
      await restricted.stop(false);
    }
  });

  it("refuses a job type or dataset outside policy.jobTypes / policy.schemas", async () => {
    const cases: Array<[NodePolicyInput, string]> = [[{ jobTypes: ["learning"] }, "job-type-not-accepted"], [{ schemas: ["wdbc"] }, "schema-not-accepted"]];
    for (const [policy, code] of cases) {
      const restricted = await startAgent({ submitters: [submitterKey], ...policy }, undefined, generateNodeKeys());
      try {
        await expectDeclined(craft({ committee: [restrictedKeys!, ...peers.slice(0, 2)] }), code);
      } finally {
        await restricted.stop(false);
      }
    }
  });

  it("control: a manifest that matches the signed spec and the policy is accepted (the node computes its input)", async () => {
    const e = await verdict(craft({}));
    expect(e.kind, JSON.stringify(e)).toBe("computed");
  });

});

describe("consortium membership and budgets", () => {
  let agent2: NodeAgent;
  beforeAll(async () => {
    const list = signConsortium({ version: 1, kind: "2pm-consortium", name: "test", issuedAt: Date.now(), members: [me, peers[0]!, peers[1]!].map((k) => ({ identityKey: toBase64Url(k.identityPublicKey) })) }, consortiumAdmin);
    const membership = verifyConsortium(list, toBase64Url(identityPublicKey(consortiumAdmin)));
    agent2 = await startAgent({ submitters: [submitterKey], consortium: { adminKey: toBase64Url(identityPublicKey(consortiumAdmin)), list: "unused" }, budget: { maxJobs: 3, windowDays: 1 } }, membership);
  });
  afterAll(async () => { await agent2?.stop(false); });

  it("refuses a committee with a member outside the consortium (a sybil the coordinator registered)", async () => {
    await expectDeclined(craft({ committee: [me, peers[0]!, peers[2]!] }), "not-a-member");
  });

  it("refuses a member whose key the coordinator substituted (same node id, another key)", async () => {
    await expectDeclined(craft({ edit: (m) => { m.committee[1] = { ...m.committee[1]!, identityKey: toBase64Url(peers[2]!.identityPublicKey) }; } }), "not-a-member");
  });

  it("a list signed by another admin key is refused", () => {
    const list = signConsortium({ version: 1, kind: "2pm-consortium", name: "x", issuedAt: 1, members: [] }, cryptoRng.bytes(32));
    expect(() => verifyConsortium(list, toBase64Url(identityPublicKey(consortiumAdmin)))).toThrow(/another admin key/);
    const tampered = { ...signConsortium({ version: 1, kind: "2pm-consortium", name: "x", issuedAt: 1, members: [] }, consortiumAdmin) };
    tampered.list = { ...tampered.list, members: [{ identityKey: toBase64Url(peers[2]!.identityPublicKey) }] };
    expect(() => verifyConsortium(tampered, toBase64Url(identityPublicKey(consortiumAdmin)))).toThrow(/does not verify/);
  });

  it("declines once the dataset's query budget is spent", async () => {
    // The ledger already holds jobs from the first suite (the control and the rerun): fill it up.
    while (ledger.jobsUsing("adult", 0) < 3) await ledger.join(`filler-${ledger.jobsUsing("adult", 0)}`, "adult", 0, 0, [], Date.now());
    await expectDeclined(craft({}), "budget-exhausted");
  });
});

describe("privacy budgets: the node charges the signed ρ to its own signed ledger", () => {
  const dpKeys = generateNodeKeys();
  let dpLedger: Ledger;
  let dpAgent: NodeAgent;
  let privateSpec: JobSpec;
  const dpJob = (o: Parameters<typeof craft>[0] = {}) => craft({ spec: privateSpec, committee: [dpKeys, ...peers.slice(0, 2)], ...o });
  beforeAll(async () => {
    privateSpec = { ...spec, task: { ...spec.task, query: { ...(spec.task.query as object), minCount: 0, privacy: { rho: 0.3 } } } };
    dpLedger = await Ledger.open(memoryLedgerStore(), { signingKey: dpKeys.identitySecretKey });
    dpAgent = await startAgent({ submitters: [submitterKey], privacy: { rho: 0.5 } }, undefined, dpKeys, dpLedger);
  });
  afterAll(async () => { await dpAgent?.stop(false); });

  it("a job without privacy is declined on a dataset with a privacy budget", async () => {
    await expectDeclined(craft({ committee: [dpKeys, ...peers.slice(0, 2)] }), "privacy-budget");
  });

  it("a coordinator that lowers or strips the ρ in the manifest is refused; the signed ρ is what counts", async () => {
    const q = privateSpec.task.query as Record<string, unknown>;
    await expectDeclined(dpJob({ edit: (m) => { m.task = { ...m.task, query: { ...q, privacy: { rho: 0.01 } } }; } }), "spec-mismatch");
    const { privacy: _drop, ...stripped } = q;
    await expectDeclined(dpJob({ edit: (m) => { m.task = { ...m.task, query: stripped }; } }), "spec-mismatch");
    expect(dpLedger.privacyCharges("adult")).toEqual([]);
  });

  it("once the budget is spent it declines privacy-budget, and the submitter sees the reason", async () => {
    dpLedger.admit({ jobId: "earlier", round: 0, attempt: 0, schemaId: "adult", rho: 0.3, privacy: { rho: 0.3 } });
    await dpLedger.join("earlier", "adult", 0, 0, [], Date.now());
    await expectDeclined(dpJob(), "privacy-budget"); // 0.3 spent + 0.3 > 0.5
  });

  it("within the budget it takes part: the policy admits the signed ρ, and any write-ahead record of the round carries exactly it (last: the agent then waits on the relay)", async () => {
    const small = { ...privateSpec, task: { ...privateSpec.task, query: { ...(privateSpec.task.query as object), privacy: { rho: 0.2 } } } };
    const job = craft({ spec: small, committee: [dpKeys, ...peers.slice(0, 2)] });
    const e = await verdict(job);
    expect(e.kind, JSON.stringify(e)).toBe("computed"); // past the policy: 0.3 spent + 0.2 ≤ 0.5
    const record = () => dpLedger.snapshot().jobs.find((j) => j.jobId === job.assignment.jobId);
    const ended = () => events.find((x) => "jobId" in x && x.jobId === job.assignment.jobId && (x.kind === "rejected" || x.kind === "round-aborted"));
    await expect.poll(() => record() ?? ended(), { timeout: 10_000 }).toBeTruthy();
    const r = record();
    if (r) {
      expect(r.attempts[0]).toMatchObject({ rho: 0.2 });
      expect(r.privacy).toEqual({ rho: 0.2 });
      expect(dpLedger.snapshot().signedBy).toBe(toBase64Url(dpKeys.identityPublicKey));
    } else {
      // The party could not be built (the agent does not hand its task's noise to the party yet): nothing joined, nothing charged.
      expect(ended()).not.toHaveProperty("code");
      expect(dpLedger.privacyCharges("adult").map((c) => c.rho)).toEqual([0.3]);
    }
  });

  it("the admission reaches the ledger through the real agent: a non-private job on a dataset that allows them is recorded with no ρ", async () => {
    const keys = generateNodeKeys();
    const own = await Ledger.open(memoryLedgerStore(), { signingKey: keys.identitySecretKey });
    const a = await startAgent({ submitters: [submitterKey], privacy: { rho: 0.5, allowNonPrivate: true } }, undefined, keys, own);
    try {
      const job = craft({ committee: [keys, ...peers.slice(0, 2)] });
      expect((await verdict(job)).kind).toBe("computed");
      await expect.poll(() => own.snapshot().jobs.find((j) => j.jobId === job.assignment.jobId)?.attempts[0]).toMatchObject({ rho: null });
      expect(own.snapshot().jobs[0]!.privacy).toBeNull();
    } finally {
      await a.stop(false);
    }
  });
});

describe("a node keeps the log it verified", () => {
  const k = generateNodeKeys();
  let agent3: NodeAgent;
  beforeAll(async () => { agent3 = await startAgent({ submitters: [submitterKey] }, undefined, k); });
  afterAll(async () => { await agent3?.stop(false); });

  it("a coordinator that rewrites a job's history between two rounds is refused; the honest continuation is accepted", async () => {
    // Round 0 is declined by policy (a committee of two, outside the signed bounds), after its log verified: the node keeps that log.
    const first = craft({ committee: [k, peers[0]!] });
    const jobId = first.assignment.jobId;
    const r0 = await verdict(first);
    expect((r0 as { code?: string }).code, JSON.stringify(r0)).toBe("spec-mismatch");
    /** The next round's assignment (a committee of three), appended to `history`: the log the coordinator now shows. */
    const nextRound = (history: LogEntry[], round: number): Job => {
      const m: RoundManifest = { ...first.assignment.manifest, round, committee: [k, ...peers.slice(0, 2)].map(member), sessionId: toBase64Url(deriveSessionId(jobId, round, 0)) };
      const log = [...history];
      log.push(appendEntry(log.at(-1)!, { kind: "manifest", round, attempt: 0, manifestHash: objectHash(m), manifest: m }, Date.now(), coordinatorSecret));
      return { log, assignment: { ...first.assignment, round, manifest: m, logEntryHash: log.at(-1)!.hash, wsPath: `/v1/rounds/${jobId}/${round}/0/ws` } };
    };
    // Rewritten: round 0's manifest entry replaced by another (validly signed) one.
    const m0 = { ...first.assignment.manifest, committee: [k, peers[2]!].map(member) };
    const rewritten = [first.log[0]!, appendEntry(first.log[0]!, { kind: "manifest", round: 0, attempt: 0, manifestHash: objectHash(m0), manifest: m0 }, Date.now(), coordinatorSecret)];
    evil.offer(nextRound(rewritten, 1));
    const r1 = await expect.poll(() => events.find((x) => x.kind === "rejected" && x.jobId === jobId && x.round === 1), { timeout: 15_000 }).toBeTruthy()
      .then(() => events.find((x) => x.kind === "rejected" && x.jobId === jobId && x.round === 1) as { detail: string });
    expect(r1.detail).toMatch(/transparency log does not verify: entry 2: prevHash does not chain/);
    expect(evil.relayConnects.filter((u) => u.includes(`/${jobId}/1/`))).toEqual([]);
    // Control: the same kind of round on the log the node verified is accepted (last: the agent then waits on the relay).
    evil.offer(nextRound(first.log, 2));
    await expect.poll(() => events.find((x) => "jobId" in x && x.jobId === jobId && x.round === 2 && (x.kind === "computed" || x.kind === "rejected"))?.kind, { timeout: 15_000 }).toBe("computed");
  });
});
