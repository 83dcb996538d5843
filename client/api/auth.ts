/**
 * Credentials of API requests: the operator's bearer token, or a node's Ed25519 signature
 * over method, path?query, body hash, timestamp and nonce (protocol/crypto/request.ts) —
 * exactly what functions/auth.ts verifies. A `fetch` wrapper adds them to every request.
 */
import type { NodeKeys } from "../../protocol/crypto/identity.ts";
import { nodeIdFromPublicKey } from "../../protocol/crypto/identity.ts";
import { signRequest, signUrl } from "../../protocol/crypto/request.ts";

/** A node's signing identity. */
export type NodeSigner = Pick<NodeKeys, "identitySecretKey" | "identityPublicKey" | "kxPublicKey">;

export type Credentials =
  | { kind: "token"; token: string }
  | { kind: "node"; node: NodeSigner; nodeId: string }
  | { kind: "none" };

/** The credentials of a client given a token (preferred) or node keys; `none` without either. */
export function credentials(o: { token?: string; node?: NodeSigner }): Credentials {
  if (o.token) return { kind: "token", token: o.token };
  if (o.node) return { kind: "node", node: o.node, nodeId: nodeIdFromPublicKey(o.node.identityPublicKey) };
  return { kind: "none" };
}

/**
 * `fetch` that authenticates every request with `creds`. A signed request covers the exact
 * body bytes sent (a string or bytes; streams cannot be signed: TypeError).
 */
export function authenticatedFetch(creds: Credentials, base: typeof fetch): typeof fetch {
  return async (input, init = {}) => {
    if (input instanceof Request) throw new TypeError("authenticatedFetch: pass the URL and the RequestInit, not a Request");
    const url = String(input);
    const headers = new Headers(init.headers);
    if (creds.kind === "token") headers.set("authorization", `Bearer ${creds.token}`);
    if (creds.kind === "node") {
      const body = init.body ?? null;
      if (body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) throw new TypeError("authenticatedFetch: a signed request body must be a string or bytes");
      const method = (init.method ?? "GET").toUpperCase();
      for (const [k, v] of Object.entries(signRequest({ method, url, body, nodeId: creds.nodeId, identitySecretKey: creds.node.identitySecretKey }))) headers.set(k, v);
    }
    return base(url, { ...init, headers });
  };
}

/** A signed ws:// or wss:// URL for a round's WebSocket (single use, valid for the signature window). */
export function signedSocketUrl(creds: Credentials, baseUrl: string, wsPath: string): string {
  if (creds.kind !== "node") throw new TypeError("signedSocketUrl: needs node keys");
  return signUrl({ url: baseUrl + wsPath, nodeId: creds.nodeId, identitySecretKey: creds.node.identitySecretKey }).replace(/^http/, "ws");
}
