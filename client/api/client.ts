/**
 * The coordinator's API client, used by the node agent, the CLI, the dashboard and the tests:
 * hono's typed client `hc<AppType>` (request and response types come from the routes in
 * functions/, so they cannot drift from what the server sends), with the caller's
 * credentials on every request (./auth.ts) and every non-2xx answer turned into the one
 * error type, {@link ApiClientError}. The methods below are one call each of the typed client.
 */
import { hc, type ClientResponse } from "hono/client";
import { sha256 } from "@noble/hashes/sha2.js";
import type { AppType } from "../../functions/index.ts";
import type { Assignment, Heartbeat, JobSpec, JobSpecInput, JobSummary, NodeRecord, NodeRegistration, RoundInfo } from "../../protocol/api/schemas.ts";
import { fromBase64Url, toBase64Url, toHex } from "../../protocol/encoding.ts";
import { modelHashForRound, verifyLog, type LogEntry } from "../../protocol/log/index.ts";
import { signJobSpec } from "../../protocol/jobs/signed-spec.ts";
import { authenticatedFetch, credentials, signedSocketUrl, type Credentials, type NodeSigner } from "./auth.ts";
import { ApiClientError, ensureOk } from "../../protocol/api/problem.ts";

export interface ApiClientOptions {
  /** Base URL of the coordinator, e.g. "http://127.0.0.1:8787". */
  baseUrl: string;
  /** Bearer API token (job submitters, operators). Takes precedence over `node`. */
  token?: string;
  /** The node's keys: every request is signed (node routes; log and models of its jobs). */
  node?: NodeSigner;
  /** The submitter's Ed25519 key that signs job specs ({@link ApiClient.submitJob}). */
  submitterSecretKey?: Uint8Array;
  fetch?: typeof fetch;
}

/** hono's typed client of the coordinator app: paths, inputs and answers from functions/. */
type Rpc = ReturnType<typeof hc<AppType>>;

/** The JSON body of a 2xx answer, or ApiClientError. */
async function json<T>(res: Promise<ClientResponse<T>>): Promise<T> {
  return (await ensureOk(await res)).json() as Promise<T>;
}

export class ApiClient {
  readonly baseUrl: string;
  /**
   * The typed hono client, authenticated like every call of this client. Private, and every
   * method declares its answer type: the compiler checks the server's (inferred) answers
   * against it, and the client's declarations never reference functions/.
   */
  private readonly rpc: Rpc;
  private readonly creds: Credentials;
  private submitterSecretKey: Uint8Array | undefined;

  /** Throws TypeError for a base URL that is not http(s). */
  constructor(opts: ApiClientOptions) {
    if (!/^https?:\/\//.test(opts.baseUrl)) throw new TypeError("ApiClient: baseUrl must be an http(s) URL");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.creds = credentials(opts);
    this.submitterSecretKey = opts.submitterSecretKey;
    this.rpc = hc<AppType>(this.baseUrl, { fetch: authenticatedFetch(this.creds, opts.fetch ?? ((...a) => fetch(...a))) });
  }

  /** The bearer token, when this is an operator's client. */
  get token(): string | undefined {
    return this.creds.kind === "token" ? this.creds.token : undefined;
  }

  /** The node id, when this is a node's client. */
  get nodeId(): string {
    if (this.creds.kind !== "node") throw new TypeError("ApiClient: this client has no node keys");
    return this.creds.nodeId;
  }

  /** Sets the key that signs submitted specs. */
  setSubmitterKey(secretKey: Uint8Array): void {
    this.submitterSecretKey = secretKey;
  }

  // ------------------------------------------------------------ public

  /** GET /v1/coordinator/key: the key that signs every log entry. */
  async coordinatorKey(): Promise<{ algorithm: "Ed25519"; publicKey: string; insecureDevKey: boolean }> {
    return json(this.rpc.v1.coordinator.key.$get());
  }

  // ------------------------------------------------------------ node (signed)

  /** POST /v1/nodes: registers (or re-registers) this node; idempotent. */
  async register(o: Omit<NodeRegistration, "identityKey" | "kxKey">): Promise<NodeRecord> {
    const n = this.creds.kind === "node" ? this.creds.node : undefined;
    if (!n) throw new TypeError("ApiClient.register: needs node keys");
    const body: NodeRegistration = { ...o, identityKey: toBase64Url(n.identityPublicKey), kxKey: toBase64Url(n.kxPublicKey) };
    return (await json(this.rpc.v1.nodes.$post({ json: body }))).node;
  }

  /** POST /v1/nodes/:id/heartbeat: current conditions (and, when they changed, dataset descriptors). */
  async heartbeat(hb: Heartbeat): Promise<{ ok: true; lastSeen: number }> {
    return json(this.rpc.v1.nodes[":id"].heartbeat.$post({ param: { id: this.nodeId }, json: hb }));
  }

  /** GET /v1/nodes/:id: a node's record (its own, or any with the token). */
  async node(id = this.nodeId): Promise<NodeRecord> {
    return (await json(this.rpc.v1.nodes[":id"].$get({ param: { id } }))).node;
  }

  /** DELETE /v1/nodes/:id: leaves the registry (a node itself, or any node with the token). */
  async deregister(id = this.nodeId): Promise<void> {
    await json(this.rpc.v1.nodes[":id"].$delete({ param: { id } }));
  }

  /** GET /v1/nodes/:id/assignment?wait=: open assignments, waiting up to `waitSeconds` (≤ 25). */
  async assignments(waitSeconds = 20, signal?: AbortSignal): Promise<Assignment[]> {
    const wait = Math.max(0, Math.min(25, Math.floor(waitSeconds)));
    return (await json(this.rpc.v1.nodes[":id"].assignment.$get({ param: { id: this.nodeId }, query: { wait } }, signal ? { init: { signal } } : undefined))).assignments;
  }

  /** POST /v1/rounds/:job/:round/:attempt/decline: a member declines before taking part. */
  async decline(jobId: string, round: number, attempt: number, reason: string): Promise<void> {
    const init = { body: JSON.stringify({ reason: reason.slice(0, 512) || "declined" }), headers: { "content-type": "application/json" } };
    await ensureOk(await this.rpc.v1.rounds[":job"][":round"][":attempt"].decline.$post({ param: { job: jobId, round: String(round), attempt: String(attempt) } }, { init }));
  }

  /** A signed ws:// or wss:// URL for a round's WebSocket (`Assignment.wsPath`). */
  roundSocketUrl(wsPath: string): string {
    return signedSocketUrl(this.creds, this.baseUrl, wsPath);
  }

  // ------------------------------------------------------------ a job's log and models (token, or a member node)

  /**
   * GET /v1/jobs/:id/log, every page from entry `from` (default: the whole log). Does not
   * verify: see {@link verifiedLog}, or protocol/log `verifyLog` with `after` for a suffix.
   */
  async log(jobId: string, from = 0): Promise<{ entries: LogEntry[]; publicKey: string }> {
    const entries: LogEntry[] = [];
    for (;;) {
      const page = await json(this.rpc.v1.jobs[":id"].log.$get({ param: { id: jobId }, query: { from: from + entries.length } }));
      entries.push(...page.entries);
      if (page.entries.length < 1000) return { entries, publicKey: page.publicKey };
    }
  }

  /**
   * The job's log, verified against `pinnedKey` (the coordinator key you trust; fetched from
   * /v1/coordinator/key when omitted: trust on first use). Throws ApiClientError `log-invalid`.
   */
  async verifiedLog(jobId: string, pinnedKey?: Uint8Array): Promise<LogEntry[]> {
    const key = pinnedKey ?? fromBase64Url((await this.coordinatorKey()).publicKey);
    const { entries } = await this.log(jobId);
    const problems = verifyLog(entries, key);
    if (problems.length) throw new ApiClientError(0, "log-invalid", problems.join("; "));
    return entries;
  }

  /** GET /v1/jobs/:id/models/:round: the model bytes as stored (not checked; see {@link model}). */
  async modelBytes(jobId: string, round: number): Promise<Uint8Array> {
    const res = await ensureOk(await this.rpc.v1.jobs[":id"].models[":round"].$get({ param: { id: jobId, round: String(round) } }));
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * The model of `round`, re-hashed here and checked against the verified log (see
   * {@link verifiedLog}). Throws ApiClientError `not-found` (nothing logged) or `model-hash-mismatch`.
   */
  async model(jobId: string, round: number, pinnedKey?: Uint8Array): Promise<Uint8Array> {
    const logged = modelHashForRound(await this.verifiedLog(jobId, pinnedKey), round);
    if (!logged) throw new ApiClientError(404, "not-found", `no model logged for round ${round}`);
    const bytes = await this.modelBytes(jobId, round);
    if (toHex(sha256(bytes)) !== logged) throw new ApiClientError(0, "model-hash-mismatch", `model of round ${round} does not match the hash in the log`);
    return bytes;
  }

  // ------------------------------------------------------------ jobs and operators (token)

  /**
   * Signs `spec` with the submitter key and submits it (POST /v1/jobs). Throws TypeError
   * without a submitter key, the zod error for an invalid spec, ApiClientError on a non-2xx answer.
   */
  async submitJob(spec: JobSpecInput): Promise<JobSummary> {
    if (!this.submitterSecretKey) throw new TypeError("ApiClient.submitJob: needs a submitter key (options.submitterSecretKey)");
    const body = signJobSpec(spec, this.submitterSecretKey);
    return (await json(this.rpc.v1.jobs.$post({ json: body }))).job;
  }

  /** GET /v1/jobs: newest first. */
  async jobs(query: { status?: JobSummary["status"]; limit?: number; offset?: number } = {}): Promise<JobSummary[]> {
    return (await json(this.rpc.v1.jobs.$get({ query }))).jobs;
  }

  /** GET /v1/jobs/:id: the summary and the (defaults-filled) spec. */
  async job(id: string): Promise<{ job: JobSummary; spec: JobSpec }> {
    return json(this.rpc.v1.jobs[":id"].$get({ param: { id } }));
  }

  /** POST /v1/jobs/:id/cancel. */
  async cancelJob(id: string): Promise<JobSummary> {
    return (await json(this.rpc.v1.jobs[":id"].cancel.$post({ param: { id } }))).job;
  }

  /** GET /v1/jobs/:id/rounds: every round attempt so far. */
  async rounds(id: string): Promise<RoundInfo[]> {
    return (await json(this.rpc.v1.jobs[":id"].rounds.$get({ param: { id } }))).rounds;
  }

  /**
   * GET /v1/jobs/:id/result: the status and the job type's result, null before the first
   * accepted round (`R`: the shape the caller expects, e.g. `{ stats: StatsResult }` or a
   * LearningResult; named by the caller, not checked here).
   */
  async result<R = unknown>(id: string): Promise<{ status: JobSummary["status"]; result: R; error: string | null }> {
    return json(this.rpc.v1.jobs[":id"].result.$get({ param: { id } })) as Promise<{ status: JobSummary["status"]; result: R; error: string | null }>;
  }

  /** PUT /v1/jobs/:id/models/:round: stores the model round `round` starts from; returns the logged hash. */
  async putModel(id: string, round: number, bytes: Uint8Array): Promise<string> {
    const init = { method: "PUT", body: bytes as BodyInit, headers: { "content-type": "application/octet-stream" } };
    return (await json(this.rpc.v1.jobs[":id"].models[":round"].$put({ param: { id, round: String(round) } }, { init }))).hash;
  }

  /** GET /v1/nodes (operator): registered nodes, newest activity first. */
  async nodes(query: { limit?: number; offset?: number } = {}): Promise<NodeRecord[]> {
    return (await json(this.rpc.v1.nodes.$get({ query }))).nodes;
  }

  /** PUT /v1/models/:id/package: stores an FHE model package (functions/fhe). */
  async putFhePackage(modelId: string, pkg: unknown): Promise<{ modelId: string; version: number; hash: string; depth: number }> {
    const init = { method: "PUT", body: JSON.stringify(pkg), headers: { "content-type": "application/json" } };
    return json(this.rpc.v1.models[":id"].package.$put({ param: { id: modelId } }, { init }));
  }
}
