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
}
