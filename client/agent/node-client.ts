/**
 * The node's signed HTTP calls to the coordinator: register, heartbeat, fetch own record,
 * deregister, long-poll for assignments, read a job's transparency log and models.
 * Every request is signed (method, path, body hash, timestamp, nonce) with the node's
 * Ed25519 key; the coordinator refuses replays and stale timestamps.
 */
import { signRequest } from "../../protocol/crypto/request.ts";
import { nodeIdFromPublicKey, type NodeKeys } from "../../protocol/crypto/identity.ts";
import type { Assignment, Heartbeat, NodeRecord, NodeRegistration, Problem } from "../../protocol/api/schemas.ts";
import { toBase64Url } from "../../protocol/encoding.ts";

/** An HTTP error from the coordinator, with its problem-details `code`. */
export class CoordinatorError extends Error {
  constructor(readonly status: number, readonly code: string, detail: string) {
    super(`coordinator answered ${status} ${code}${detail ? `: ${detail}` : ""}`);
    this.name = "CoordinatorError";
  }
}

/** Throws CoordinatorError for a non-2xx response, using its problem details when present. */
export async function ensureOk(r: Response): Promise<Response> {
  if (r.ok) return r;
  let code = "http-error", detail = r.statusText;
  try {
    const p = (await r.json()) as Partial<Problem>;
    code = p.code ?? code;
    detail = p.detail ?? p.title ?? detail;
  } catch { /* not JSON */ }
  throw new CoordinatorError(r.status, code, detail);
}

export class NodeClient {
  readonly nodeId: string;
  constructor(readonly baseUrl: string, private readonly keys: NodeKeys, private readonly fetchImpl: typeof fetch = fetch) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.nodeId = nodeIdFromPublicKey(keys.identityPublicKey);
  }

  /** Sends a signed request; rejects with CoordinatorError on a non-2xx answer. */
  async signed(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = signRequest({ method, url: path, body: text ?? null, nodeId: this.nodeId, identitySecretKey: this.keys.identitySecretKey });
    if (text !== undefined) headers["content-type"] = "application/json";
    return ensureOk(await this.fetchImpl(this.baseUrl + path, { method, headers, body: text, signal }));
  }

  /** Registers (or re-registers) this node. Idempotent on the coordinator side. */
  async register(reg: Omit<NodeRegistration, "identityKey" | "kxKey">): Promise<NodeRecord> {
    const body: NodeRegistration = { ...reg, identityKey: toBase64Url(this.keys.identityPublicKey), kxKey: toBase64Url(this.keys.kxPublicKey) };
    return (await (await this.signed("POST", "/v1/nodes", body)).json()) as NodeRecord;
  }

  /** Reports current conditions (and, when they changed, dataset descriptors). */
  async heartbeat(hb: Heartbeat): Promise<void> {
    await this.signed("POST", `/v1/nodes/${this.nodeId}/heartbeat`, hb);
  }

  /** This node's record as the coordinator holds it. */
  async record(): Promise<NodeRecord> {
    return (await (await this.signed("GET", `/v1/nodes/${this.nodeId}`)).json()) as NodeRecord;
  }

  /** Removes this node from the registry. */
  async deregister(): Promise<void> {
    await this.signed("DELETE", `/v1/nodes/${this.nodeId}`);
  }

  /** Long-polls for open assignments (empty list when the poll times out). */
  async assignments(waitSeconds: number, signal?: AbortSignal): Promise<Assignment[]> {
    const r = await this.signed("GET", `/v1/nodes/${this.nodeId}/assignment?wait=${waitSeconds}`, undefined, signal);
    const body = (await r.json()) as { assignments?: Assignment[] } | Assignment[];
    return Array.isArray(body) ? body : (body.assignments ?? []);
  }

  /** GET of a public job resource (log, model) as the node, signed. */
  async get(path: string): Promise<Response> {
    return this.signed("GET", path);
  }
}
