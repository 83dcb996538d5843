/**
 * The node agent: registers with the coordinator, heartbeats its actual conditions, waits
 * for assignments, and for each round it is selected for: checks the manifest against the
 * job's transparency log, computes its local contribution (map), and runs its MASCOT party
 * over the RoundDO relay (reduce). Runs until stopped; a failed round never stops the agent.
 *
 * Node-only concerns (files, OS metrics) come in through {@link AgentHost} so the same agent
 * runs in a browser with another host.
 */
import type { Assignment, Predicate as ApiPredicate, RoundManifest } from "../../protocol/api/schemas.ts";
import type { NodeKeys } from "../../protocol/crypto/identity.ts";
import { concatBytes, fromBase64Url, fromHex, utf8 } from "../../protocol/encoding.ts";
import { fieldByName } from "../../protocol/field/index.ts";
import type { Field, FieldVec } from "../../protocol/field/types.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import { SecureSumParty, type OutboundMessage, type Predicate } from "../../protocol/mascot/party.ts";
import type { PartyThread, ThreadParty } from "./party-thread.ts";
import { cryptoRng, type Rng } from "../../protocol/rng.ts";
import type { LoadedDataset } from "../data/source.ts";
import { checkAssignment, VerifiedLogs } from "./manifest-check.ts";
import { NodeClient } from "./node-client.ts";
import { reconnectDelay, runRelaySession, RoundAborted, type RelayParty } from "./relay-session.ts";
import { ApiClientError } from "../../protocol/api/problem.ts";
import { BaseOtCache, baseOtCacheOptionsFromEnv } from "./base-ot-cache.ts";
import { statsInput, type LocalInput } from "./tasks/stats.ts";
import { checkPolicy, PolicyDeclined, type NodePolicy } from "./policy.ts";
import type { Ledger } from "./ledger.ts";
import type { Membership } from "../../protocol/consortium.ts";
import { sha256 } from "@noble/hashes/sha2.js";

/** What the agent reports as it works (the CLI prints these; tests read them). */
export type AgentEvent =
  | { kind: "registered"; nodeId: string; datasets: Array<{ schemaId: string; rows: number; commitment: string }> }
  | { kind: "assignment"; jobId: string; round: number; attempt: number; index: number; committee: number }
  | { kind: "computed"; jobId: string; round: number; attempt: number; length: number; ms: number }
  | { kind: "phase"; jobId: string; round: number; attempt: number; phase: string }
  | { kind: "round-done"; jobId: string; round: number; attempt: number; excluded: number[]; ms: number; bytesSent: number; bytesReceived: number }
  | { kind: "round-aborted"; jobId: string; round: number; attempt: number; code: string; culprits: number[]; detail: string }
  | { kind: "rejected"; jobId: string; round: number; attempt: number; detail: string; code?: string }
  | { kind: "warning"; detail: string };

/** Computes a local input for a round (map step), keyed by job type. */
export type TaskHandler = (manifest: RoundManifest, dataset: LoadedDataset, field: Field, client: NodeClient, log: readonly LogEntry[], index: number) => Promise<LocalInput>;

/** Node-specific services the agent needs. */
export interface AgentHost {
  conditions(): { load: number; freeMemoryMb: number; onBattery: boolean; online: boolean };
  capabilities: { cores: number; memoryMb: number; bandwidthMbps: number; availability?: { fromHourUtc: number; toHourUtc: number } };
  /** Pinned coordinator log key (trust on first use is the host's business). */
  coordinatorKey(client: NodeClient): Promise<Uint8Array>;
}

/**
 * Hooks that let a test make this node deviate, to prove the protocol catches it
 * (client/agent/testing/faults.ts builds them from TWOPM_FAULT). Production never sets them.
 */
export interface AgentHooks {
  /** Replaces the node's computed input before it enters the protocol. */
  input?(field: Field, input: FieldVec, predicates: readonly Predicate[]): FieldVec;
  /** Rewrites each outbound protocol message. */
  tamper?(m: OutboundMessage): OutboundMessage;
  /** Called when the party reaches a phase. */
  onPhase?(phase: string): void;
}

export interface AgentOptions {
  coordinatorUrl: string;
  keys: NodeKeys;
  label?: string;
  datasets: LoadedDataset[];
  host: AgentHost;
  heartbeatSeconds: number;
  onEvent: (e: AgentEvent) => void;
  tasks?: Partial<Record<RoundManifest["jobType"], TaskHandler>>;
  hooks?: AgentHooks;
  rng?: Rng;
  /** What this node agrees to take part in (policy.ts). */
  policy: NodePolicy;
  /** The node's own record of jobs and released rounds (ledger.ts), in its own storage. */
  ledger: Ledger;
  /** The verified consortium list, when the policy requires one. */
  membership?: Membership;
  /** Seconds without any relay progress after which the node leaves a round (default 120). */
  stallSeconds?: number;
  /**
   * Run the rounds' MASCOT parties in this thread (party-thread.ts, Node), so protocol steps
   * never block the relay session's pings. Absent: the parties run on the agent's own thread
   * (the browser node, in-process tests).
   */
  partyThread?: PartyThread;
}

/** Grace after a round's finalize deadline before the node leaves it on its own. */
const LOCAL_DEADLINE_GRACE_MS = 30_000;

/**
 * What a committee member binds into its session: SHA-256 over the hash of the log entry that
 * published the manifest. That entry hash chains the whole log before it (the signed spec, every
 * earlier manifest), so two members shown forked logs or different keys have different views.
 */
export function viewHash(logEntryHash: string): Uint8Array {
  return sha256(concatBytes(utf8("2pm/view/v1"), new Uint8Array([0]), fromHex(logEntryHash)));
}

/**
 * The node side of the job-type registry (protocol/jobs/registry.ts): one task per job type
 * (a type without one fails to compile); each parses its task and derives its predicates
 * through the registry entry of its type.
 */
const defaultTasks: Record<RoundManifest["jobType"], TaskHandler> = {
  stats: async (manifest, dataset, field) => statsInput(manifest, dataset, field),
  // tfjs is loaded only by nodes that actually run a learning round.
  learning: async (...args) => (await import("./tasks/learning.ts")).learningInput(...args),
};

/** Converts the API's predicate (bounds as decimal strings) to the MASCOT party's. */
export function toPartyPredicate(p: ApiPredicate): Predicate {
  if (p.kind === "l2-norm") return { kind: "l2-norm", bound: BigInt(p.bound), ...(p.projection ? { projection: p.projection } : {}), ...(p.indices ? { indices: p.indices } : {}) };
  if (p.kind === "range") return { kind: "range", bits: p.bits, ...(p.indices ? { indices: p.indices } : {}), ...(p.offset ? { offset: BigInt(p.offset) } : {}) };
  return p;
}

export class NodeAgent {
  readonly client: NodeClient;
  private datasets: LoadedDataset[];
  private stopped = false;
  private readonly handled = new Set<string>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private poll: AbortController | undefined;
  private coordinatorKey: Uint8Array | undefined;
  private readonly rng: Rng;
  /** KOS base OTs kept per peer node across rounds (see base-ot-cache.ts). */
  private readonly baseOts = new BaseOtCache(baseOtCacheOptionsFromEnv()); // throws at start on a malformed TWOPM_BASE_OT_* variable
  /** Rounds of {@link runRound} under way (base-OT receiver halves are prepared only at 0). */
  private roundsRunning = 0;
  /** Assignments taken so far (preparation that began before the latest one stops). */
  private assignmentsTaken = 0;
  /** Verified copies of the jobs' logs: each round checks only what was appended (manifest-check.ts). */
  private readonly logs = new VerifiedLogs();

  constructor(private readonly o: AgentOptions) {
    this.client = new NodeClient(o.coordinatorUrl, o.keys);
    this.datasets = o.datasets;
    this.rng = o.rng ?? cryptoRng;
  }

  private descriptors() {
    return this.datasets.map((d) => ({ schemaId: d.schema.name, rows: d.rows.length, commitment: d.commitment.digest }));
  }

  /**
   * Registers, starts heartbeats and serves assignments until {@link stop}. Survives an
   * unreachable or restarting coordinator: registration and the coordinator key are retried
   * with capped exponential backoff (transport errors and 5xx only; a refusal such as 400 or
   * 403, or a changed pinned key, is final and rejects), failed polls back off the same way,
   * and a heartbeat answered `unknown-node` (a coordinator that lost its registry) registers again.
   */
  async run(): Promise<void> {
    // the party thread compiles the protocol before the node becomes selectable (≈ 1 s, once);
    // a failure here is not fatal: the first round would only be slower (and report the thread's failure)
    await this.o.partyThread?.warm().catch(() => undefined);
    this.prepareWhileIdle();
    await this.retrying("registration", () => this.register());
    this.coordinatorKey = await this.retrying("coordinator key", () => this.o.host.coordinatorKey(this.client));
    if (this.stopped) return;
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.o.heartbeatSeconds * 1000);
    let failures = 0;
    while (!this.stopped) {
      let list: Assignment[] = [];
      try {
        this.poll = new AbortController();
        list = await this.client.assignments(20, this.poll.signal);
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        this.o.onEvent({ kind: "warning", detail: `assignment poll failed: ${(e as Error).message}` });
        await new Promise((r) => setTimeout(r, reconnectDelay(++failures, this.rng, 500, 5_000)));
        continue;
      }
      for (const a of list) {
        const key = `${a.jobId}/${a.round}/${a.attempt}`;
        if (this.handled.has(key)) continue;
        this.handled.add(key);
        await this.runRound(a);
      }
    }
  }

  /**
   * Stops polling and heartbeats and, with `deregister`, leaves the registry so the node is
   * no longer selected. A round in progress is abandoned (its deadline aborts it).
   */
  async stop(deregister = true): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.poll?.abort();
    if (deregister) await this.client.deregister().catch(() => undefined);
  }

  /** Replaces the datasets (their commitments changed); the next heartbeat re-registers them. */
  updateDatasets(ds: LoadedDataset[]): void {
    this.datasets = ds;
    void this.heartbeat(true);
  }

  private async register(): Promise<void> {
    await this.client.register({ capabilities: this.o.host.capabilities, datasets: this.descriptors(), ...(this.o.label ? { label: this.o.label } : {}) });
    this.o.onEvent({ kind: "registered", nodeId: this.client.nodeId, datasets: this.descriptors() });
  }

  /**
   * Runs `op` until it succeeds or the agent stops, backing off (capped, jittered) after
   * transport failures (TypeError from fetch) and 5xx answers; any other error is rethrown at once.
   */
  private async retrying<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (e) {
        // Transport failures only: fetch rejects with a TypeError when the network fails (Fetch
        // standard), and a 5xx is the coordinator's; anything else (a refusal, a changed pinned
        // key) is final.
        const transient = e instanceof TypeError || (e instanceof ApiClientError && e.status >= 500);
        if (this.stopped || !transient) throw e;
        this.o.onEvent({ kind: "warning", detail: `${what} failed, retrying: ${(e as Error).message}` });
        await new Promise((r) => setTimeout(r, reconnectDelay(attempt, this.rng, 500, 5_000)));
      }
    }
  }

  private async heartbeat(withDatasets = false): Promise<void> {
    try {
      await this.client.heartbeat({ ...this.o.host.conditions(), ...(withDatasets ? { datasets: this.descriptors() } : {}) });
    } catch (e) {
      this.o.onEvent({ kind: "warning", detail: `heartbeat failed: ${(e as Error).message}` });
      // A coordinator that lost its registry (a fresh deployment) no longer knows this node.
      if (e instanceof ApiClientError && e.code === "unknown-node" && !this.stopped) await this.register().catch(() => undefined);
    }
  }

  /** The job's log: the verified prefix this node holds plus what was appended since (not yet verified). */
  private async fetchLog(jobId: string): Promise<{ log: LogEntry[]; verified: number }> {
    const known = this.logs.verified(jobId);
    const { entries } = await this.client.log(jobId, known.length);
    return { log: known.length ? [...known, ...entries] : entries, verified: known.length };
  }

  /** Runs one assignment end to end; reports the outcome as events, never throws. */
  async runRound(a: Assignment): Promise<void> {
    // An assignment stops the preparation of base-OT halves at once (it would compete with the round for CPU).
    this.assignmentsTaken++;
    if (this.roundsRunning++ === 0) void this.o.partyThread?.setIdle(false);
    try {
      await this.runRoundOnce(a);
    } finally {
      this.roundsRunning--;
      if (this.roundsRunning === 0) this.prepareWhileIdle();
    }
  }

  private async runRoundOnce(a: Assignment): Promise<void> {
    const id = { jobId: a.jobId, round: a.round, attempt: a.attempt };
    const m = a.manifest;
    this.o.onEvent({ kind: "assignment", ...id, index: a.index, committee: m.committee.length });
    const t0 = performance.now();
    /** Set once the node has joined the relay session (from then on it never declines). */
    let joinedParty: RelayParty | undefined;
    let peers: string[] = [];
    let threadParty: ThreadParty | undefined;
    try {
      const { log, verified } = await this.fetchLog(a.jobId);
      checkAssignment(a, log, this.coordinatorKey!, this.client.nodeId, this.o.keys.identityPublicKey, this.o.keys.kxPublicKey, verified);
      this.logs.remember(a.jobId, log);
      checkPolicy(this.o.policy, { manifest: m, log, ...(this.o.membership ? { membership: this.o.membership } : {}), ledger: this.o.ledger, now: Date.now() });
      const dataset = this.datasets.find((d) => d.schema.name === m.schemaId);
      if (!dataset) throw new Error(`no local dataset for schema ${m.schemaId}`);
      const handler = this.o.tasks?.[m.jobType] ?? defaultTasks[m.jobType];
      if (!handler) throw new Error(`this node does not run ${m.jobType} jobs`);
      const field = fieldByName(m.field);
      const local = await handler(m, dataset, field, this.client, log, a.index);
      const input = this.o.hooks?.input ? this.o.hooks.input(field, local.input, local.predicates) : local.input;
      this.o.onEvent({ kind: "computed", ...id, length: input.length, ms: performance.now() - t0 });
      const predicates = [...m.validation.predicates.map(toPartyPredicate), ...local.predicates];
      const sessionId = fromBase64Url(m.sessionId);
      peers = m.committee.map((c) => c.nodeId).filter((n) => n !== this.client.nodeId);
      const partyConfig = { field, parties: m.committee.length, me: a.index, mode: m.mode, length: input.length, predicates: m.mode === "validated" ? predicates : [], sessionId, ...(m.mode === "validated" && local.noise ? { noise: local.noise } : {}) };
      const committeeIds = m.committee.map((c) => c.nodeId);
      const party: RelayParty = this.o.partyThread
        ? (threadParty = await this.o.partyThread.party(partyConfig, input, committeeIds))
        : new SecureSumParty(partyConfig, input, this.rng, { baseOts: this.baseOts.forSession(committeeIds) });
      const committee = m.committee.map((c) => ({ nodeId: c.nodeId, identityPublicKey: fromBase64Url(c.identityKey), kxPublicKey: fromBase64Url(c.kxKey) }));
      const hooks = this.o.hooks;
      const traffic = { sent: 0, received: 0 };
      // Write-ahead: from here on the output may be opened; a crash leaves "unknown" (= released).
      await this.o.ledger.join(a.jobId, m.schemaId, a.round, a.attempt, m.committee.map((c) => c.nodeId), Date.now());
      joinedParty = party;
      const result = await runRelaySession({
        traffic,
        coordinatorUrl: this.o.coordinatorUrl, nodeId: this.client.nodeId, keys: this.o.keys, field, party, rng: this.rng,
        announceSteps: !this.o.partyThread,
        ctx: { jobId: a.jobId, round: a.round, attempt: a.attempt, me: a.index, sessionId, committee, viewHash: viewHash(a.logEntryHash) },
        deadlineMs: m.deadlines.finalize + LOCAL_DEADLINE_GRACE_MS,
        // Peers may still be computing their input until the join deadline: never call that a stall.
        stallMs: Math.max((this.o.stallSeconds ?? 120) * 1000, m.deadlines.join - Date.now() + 30_000),
        onPhase: (phase) => {
          this.o.onEvent({ kind: "phase", ...id, phase });
          hooks?.onPhase?.(phase);
        },
        ...(hooks?.tamper ? { tamper: hooks.tamper } : {}),
      });
      await this.o.ledger.settle(a.jobId, a.round, a.attempt, party.outputReleased);
      await this.forgetBaseOts(result.excluded.map((j) => m.committee[j]?.nodeId ?? "")); // conservative: also forget peers whose input was excluded
      this.o.onEvent({ kind: "round-done", ...id, excluded: result.excluded, ms: performance.now() - t0, bytesSent: traffic.sent, bytesReceived: traffic.received });
    } catch (e) {
      if (joinedParty) await this.o.ledger.settle(a.jobId, a.round, a.attempt, joinedParty.outputReleased).catch((err: unknown) => {
        this.o.onEvent({ kind: "warning", detail: `ledger: ${(err as Error).message}` });
      });
      await this.forgetBaseOts(peers); // never retry a KOS check against the same Δ after a failure
      if (e instanceof RoundAborted) this.o.onEvent({ kind: "round-aborted", ...id, code: e.code, culprits: e.culprits, detail: e.message });
      else {
        this.o.onEvent({ kind: "rejected", ...id, detail: (e as Error).message, ...(e instanceof PolicyDeclined ? { code: e.code } : {}) });
        // Declined before taking part: tell the round, so it aborts now (naming us) instead of
        // waiting for its join deadline. Best effort: the deadline still covers a lost call.
        if (!joinedParty) {
          await this.client.decline(a.jobId, a.round, a.attempt, (e as Error).message).catch((err: unknown) => {
            this.o.onEvent({ kind: "warning", detail: `could not decline round ${a.round}.${a.attempt}: ${(err as Error).message}` });
          });
        }
      }
    } finally {
      await threadParty?.dispose();
    }
  }

  /**
   * Prepares base-OT receiver halves while no round runs (BaseOtCache.prepare; best effort): in
   * the party thread, which the agent tells when it is idle again, or else in this thread.
   */
  private prepareWhileIdle(): void {
    if (this.stopped) return;
    if (this.o.partyThread) { void this.o.partyThread.setIdle(true); return; }
    const since = this.assignmentsTaken;
    this.baseOts.prepareAfterIdle(() => this.roundsRunning === 0 && since === this.assignmentsTaken && !this.stopped);
  }

  /** Forgets the kept base OTs shared with these nodes, wherever the parties run. */
  private async forgetBaseOts(nodeIds: readonly string[]): Promise<void> {
    this.baseOts.forget(nodeIds);
    await this.o.partyThread?.forget(nodeIds);
  }

}
