/**
 * A small fetch-based client for the coordinator API, used by the node agent (signed
 * requests) and by operators / the CLI (bearer token). Every non-2xx answer becomes an
 * {@link ApiClientError} carrying the problem-details `code`. Pure: only `fetch`, which the
 * caller may inject. (A hono-typed alternative: `hc<AppType>` from "hono/client" with
 * `import type { AppType } from "functions/index.ts"`.)
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64Url, toBase64Url, toHex } from "../encoding.ts";
import { nodeIdFromPublicKey, type NodeKeys } from "../crypto/identity.ts";
import { signRequest, signUrl } from "../crypto/request.ts";
import { verifyLog, modelHashForRound, type LogEntry } from "../log/index.ts";
import type { Assignment, DatasetDescriptor, Heartbeat, JobSpecInput, JobSummary, NodeRecord, NodeRegistration, Problem, RoundInfo, JobSpec } from "./schemas.ts";

/** A non-2xx answer from the coordinator. */
export class ApiClientError extends Error {
  constructor(readonly status: number, readonly code: string, detail: string, readonly problem?: Problem) {
    super(`${status} ${code}: ${detail}`);
    this.name = "ApiClientError";
  }
}

export interface CoordinatorClientOptions {
  /** Base URL, e.g. "http://127.0.0.1:8787". */
  baseUrl: string;
  /** The node's keys, for signed node requests. */
  node?: Pick<NodeKeys, "identitySecretKey" | "identityPublicKey" | "kxPublicKey">;
  /** Bearer API token, for job and operator routes. */
  token?: string;
  fetch?: typeof fetch;
}

export class CoordinatorClient {
  readonly baseUrl: string;
  readonly nodeId: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: CoordinatorClientOptions) {
    if (!/^https?:\/\//.test(opts.baseUrl)) throw new TypeError("CoordinatorClient: baseUrl must be an http(s) URL");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.nodeId = opts.node ? nodeIdFromPublicKey(opts.node.identityPublicKey) : undefined;
    this.fetchFn = opts.fetch ?? ((...a) => fetch(...a));
  }

  private async request<T>(method: string, path: string, o: { body?: unknown; raw?: Uint8Array; auth: "node" | "token" | "none" }): Promise<{ res: Response; json: () => Promise<T> }> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = {};
    let body: string | Uint8Array | undefined;
    if (o.body !== undefined) { body = JSON.stringify(o.body); headers["content-type"] = "application/json"; }
    if (o.raw) { body = o.raw; headers["content-type"] = "application/octet-stream"; }
    if (o.auth === "node") {
      if (!this.opts.node || !this.nodeId) throw new TypeError("CoordinatorClient: this call needs node keys");
      Object.assign(headers, signRequest({ method, url, body: body ?? null, nodeId: this.nodeId, identitySecretKey: this.opts.node.identitySecretKey }));
    } else if (o.auth === "token") {
      if (!this.opts.token) throw new TypeError("CoordinatorClient: this call needs an API token");
      headers.authorization = `Bearer ${this.opts.token}`;
    }
    const res = await this.fetchFn(url, { method, headers, body: body as BodyInit | undefined });
    if (!res.ok) {
      let p: Problem | undefined;
      try { p = (await res.json()) as Problem; } catch { /* not JSON */ }
      throw new ApiClientError(res.status, p?.code ?? "http-error", p?.detail ?? res.statusText, p);
    }
    return { res, json: () => res.json() as Promise<T> };
  }

  // ------------------------------------------------------------ node (signed)

  /** POST /v1/nodes: registers (or re-registers) this node. */
  async register(o: { capabilities: NodeRegistration["capabilities"]; datasets: DatasetDescriptor[]; label?: string }): Promise<NodeRecord> {
    const n = this.opts.node;
    if (!n) throw new TypeError("CoordinatorClient.register: needs node keys");
    const body: NodeRegistration = { identityKey: toBase64Url(n.identityPublicKey), kxKey: toBase64Url(n.kxPublicKey), ...o };
    return (await (await this.request<{ node: NodeRecord }>("POST", "/v1/nodes", { body, auth: "node" })).json()).node;
  }

  /** POST /v1/nodes/:id/heartbeat. */
  async heartbeat(hb: Heartbeat): Promise<{ ok: true; lastSeen: number }> {
    return (await this.request<{ ok: true; lastSeen: number }>("POST", `/v1/nodes/${this.nodeId}/heartbeat`, { body: hb, auth: "node" })).json();
  }

  /** GET /v1/nodes/:id (own record). */
  async self(): Promise<NodeRecord> {
    return (await (await this.request<{ node: NodeRecord }>("GET", `/v1/nodes/${this.nodeId}`, { auth: "node" })).json()).node;
  }

  /** DELETE /v1/nodes/:id. */
  async deregister(): Promise<void> {
    await this.request("DELETE", `/v1/nodes/${this.nodeId}`, { auth: "node" });
  }

  /** GET /v1/nodes/:id/assignment?wait=: open assignments, waiting up to `waitSeconds` (≤ 25). */
  async assignments(waitSeconds = 20): Promise<Assignment[]> {
    return (await (await this.request<{ assignments: Assignment[] }>("GET", `/v1/nodes/${this.nodeId}/assignment?wait=${Math.max(0, Math.min(25, Math.floor(waitSeconds)))}`, { auth: "node" })).json()).assignments;
  }

  /** A signed ws:// or wss:// URL for a round's WebSocket (valid for the signature window, single use). */
  roundSocketUrl(wsPath: string): string {
    const n = this.opts.node;
    if (!n || !this.nodeId) throw new TypeError("CoordinatorClient.roundSocketUrl: needs node keys");
    return signUrl({ url: this.baseUrl + wsPath, nodeId: this.nodeId, identitySecretKey: n.identitySecretKey }).replace(/^http/, "ws");
  }

  // ------------------------------------------------------------ shared (node or token)

  private readAuth(): "node" | "token" {
    return this.opts.token ? "token" : "node";
  }

  /** GET /v1/jobs/:id/log (all entries, paged). Does not verify: see {@link verifiedLog}. */
  async log(jobId: string): Promise<{ entries: LogEntry[]; publicKey: string }> {
    const entries: LogEntry[] = [];
    let publicKey = "";
    for (;;) {
      const page = await (await this.request<{ entries: LogEntry[]; publicKey: string }>("GET", `/v1/jobs/${jobId}/log?from=${entries.length}`, { auth: this.readAuth() })).json();
      entries.push(...page.entries);
      publicKey = page.publicKey;
      if (page.entries.length < 1000) return { entries, publicKey };
    }
  }

  /** GET /v1/coordinator/key. */
  async coordinatorKey(): Promise<Uint8Array> {
    const r = await (await this.request<{ publicKey: string }>("GET", "/v1/coordinator/key", { auth: "none" })).json();
    return fromBase64Url(r.publicKey);
  }

  /**
   * The job's log, verified against `pinnedKey` (the coordinator key you trust; fetched
   * from /v1/coordinator/key when omitted — trust on first use). Throws ApiClientError
   * "log-invalid" listing the problems.
   */
  async verifiedLog(jobId: string, pinnedKey?: Uint8Array): Promise<LogEntry[]> {
    const key = pinnedKey ?? (await this.coordinatorKey());
    const { entries } = await this.log(jobId);
    const problems = verifyLog(entries, key);
    if (problems.length) throw new ApiClientError(0, "log-invalid", problems.join("; "));
    return entries;
  }

  /** GET /v1/jobs/:id/models/:round, re-hashed locally and checked against the verified log. */
  async model(jobId: string, round: number, pinnedKey?: Uint8Array): Promise<Uint8Array> {
    const logged = modelHashForRound(await this.verifiedLog(jobId, pinnedKey), round);
    if (!logged) throw new ApiClientError(404, "not-found", `no model logged for round ${round}`);
    const { res } = await this.request("GET", `/v1/jobs/${jobId}/models/${round}`, { auth: this.readAuth() });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (toHex(sha256(bytes)) !== logged) throw new ApiClientError(0, "model-hash-mismatch", "downloaded model does not match the log");
    return bytes;
  }

  // ------------------------------------------------------------ jobs (token)

  async submitJob(spec: JobSpecInput): Promise<JobSummary> {
    return (await (await this.request<{ job: JobSummary }>("POST", "/v1/jobs", { body: spec, auth: "token" })).json()).job;
  }
  async listJobs(o: { status?: string; limit?: number; offset?: number } = {}): Promise<JobSummary[]> {
    const q = new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return (await (await this.request<{ jobs: JobSummary[] }>("GET", `/v1/jobs${q.size ? `?${q}` : ""}`, { auth: "token" })).json()).jobs;
  }
  async getJob(id: string): Promise<{ job: JobSummary; spec: JobSpec }> {
    return (await this.request<{ job: JobSummary; spec: JobSpec }>("GET", `/v1/jobs/${id}`, { auth: "token" })).json();
  }
  async cancelJob(id: string): Promise<JobSummary> {
    return (await (await this.request<{ job: JobSummary }>("POST", `/v1/jobs/${id}/cancel`, { auth: "token" })).json()).job;
  }
  async rounds(id: string): Promise<RoundInfo[]> {
    return (await (await this.request<{ rounds: RoundInfo[] }>("GET", `/v1/jobs/${id}/rounds`, { auth: "token" })).json()).rounds;
  }
  async result(id: string): Promise<{ status: string; result: unknown; error: string | null }> {
    return (await this.request<{ status: string; result: unknown; error: string | null }>("GET", `/v1/jobs/${id}/result`, { auth: "token" })).json();
  }
  /** PUT /v1/jobs/:id/models/:round (token): returns the logged hash. */
  async putModel(id: string, round: number, bytes: Uint8Array): Promise<string> {
    return (await (await this.request<{ hash: string }>("PUT", `/v1/jobs/${id}/models/${round}`, { raw: bytes, auth: "token" })).json()).hash;
  }
  /** GET /v1/nodes (operator). */
  async listNodes(o: { limit?: number; offset?: number } = {}): Promise<NodeRecord[]> {
    return (await (await this.request<{ nodes: NodeRecord[] }>("GET", `/v1/nodes?limit=${o.limit ?? 100}&offset=${o.offset ?? 0}`, { auth: "token" })).json()).nodes;
  }
}
