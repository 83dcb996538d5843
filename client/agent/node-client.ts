/**
 * The node's client of the coordinator: the one API client (client/api) with the node's keys,
 * so every request is signed (method, path, body hash, timestamp, nonce) the way
 * functions/auth.ts verifies it; the coordinator refuses replays and stale timestamps.
 */
import type { NodeKeys } from "../../protocol/crypto/identity.ts";
import { ApiClient } from "../api/client.ts";

export class NodeClient extends ApiClient {
  constructor(baseUrl: string, keys: NodeKeys, fetchImpl?: typeof fetch) {
    super({ baseUrl, node: keys, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
  }

  /** A signed GET of a job resource the node may read (raw response). */
  async get(path: string): Promise<Response> {
    return this.request("GET", path);
  }

  /** A signed JSON request (raw response); prefer the typed methods. */
  async signed(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    return this.request(method, path, { ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" }), ...(signal ? { signal } : {}) });
  }
}
