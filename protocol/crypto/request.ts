/**
 * Signed HTTP requests from nodes to the coordinator.
 *
 * canonical = "2pm-request/v1" \n METHOD \n path?query \n hex(SHA-256(body)) \n timestamp \n nonce \n nodeId
 *
 * The signature (Ed25519, base64url) and its inputs travel in headers `x-2pm-node`,
 * `x-2pm-timestamp` (Unix milliseconds), `x-2pm-nonce` (base64url, ≥ 16 bytes of entropy) and
 * `x-2pm-signature`. Clients that cannot set headers (WebSocket upgrades in browsers and
 * Node) put the same four values in query parameters of the same names; the signed
 * path?query is the URL without those four parameters. The server refuses timestamps outside
 * ±{@link SIGNATURE_WINDOW_MS} and remembers nonces for that window, so a captured request
 * cannot be replayed.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64Url, toBase64Url, toHex, utf8 } from "../encoding.ts";
import { cryptoRng, type Rng } from "../rng.ts";
import { sign, verifyAsync } from "./identity.ts";

export const HEADER_NODE = "x-2pm-node";
export const HEADER_TIMESTAMP = "x-2pm-timestamp";
export const HEADER_NONCE = "x-2pm-nonce";
export const HEADER_SIGNATURE = "x-2pm-signature";
export const AUTH_PARAMS = [HEADER_NODE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE] as const;
/** Maximum clock skew / replay window, milliseconds. */
export const SIGNATURE_WINDOW_MS = 60_000;

/** The four authentication values of a signed request. */
export interface RequestAuth {
  node: string;
  timestamp: string;
  nonce: string;
  signature: string;
}

/** Hex SHA-256 of a body (empty body → hash of zero bytes). */
export function bodyHash(body: Uint8Array | string | undefined | null): string {
  const b = body == null ? new Uint8Array(0) : typeof body === "string" ? utf8(body) : body;
  return toHex(sha256(b));
}

/** The canonical string that is signed. `pathWithQuery` must not contain the auth parameters. */
export function canonicalRequest(method: string, pathWithQuery: string, bodyHashHex: string, timestamp: string, nonce: string, nodeId: string): string {
  return ["2pm-request/v1", method.toUpperCase(), pathWithQuery, bodyHashHex, timestamp, nonce, nodeId].join("\n");
}

/** Splits a URL (absolute or path) into the signed path?query, dropping the auth parameters. */
export function signedTarget(url: string): string {
  const u = new URL(url, "http://x");
  const kept = new URLSearchParams();
  for (const [k, v] of u.searchParams) if (!(AUTH_PARAMS as readonly string[]).includes(k.toLowerCase())) kept.append(k, v);
  const q = kept.toString();
  return u.pathname + (q ? `?${q}` : "");
}

export interface SignRequestInput {
  method: string;
  /** Absolute URL or path (with query). */
  url: string;
  body?: Uint8Array | string | null;
  nodeId: string;
  identitySecretKey: Uint8Array;
  /** Unix ms; defaults to Date.now(). */
  now?: number;
  rng?: Rng;
}

/** Computes the auth values for a request (client side: the node agent). */
export function signRequestAuth(input: SignRequestInput): RequestAuth {
  const timestamp = String(Math.floor(input.now ?? Date.now()));
  const nonce = toBase64Url((input.rng ?? cryptoRng).bytes(16));
  const canon = canonicalRequest(input.method, signedTarget(input.url), bodyHash(input.body), timestamp, nonce, input.nodeId);
  const signature = toBase64Url(sign(input.identitySecretKey, utf8(canon)));
  return { node: input.nodeId, timestamp, nonce, signature };
}

/** Returns the four `x-2pm-*` headers to add to a request. */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const a = signRequestAuth(input);
  return { [HEADER_NODE]: a.node, [HEADER_TIMESTAMP]: a.timestamp, [HEADER_NONCE]: a.nonce, [HEADER_SIGNATURE]: a.signature };
}

/** Returns `url` with the auth values appended as query parameters (for WebSocket upgrades). */
export function signUrl(input: Omit<SignRequestInput, "method" | "body">): string {
  const a = signRequestAuth({ ...input, method: "GET", body: null });
  const u = new URL(input.url, "http://x");
  u.searchParams.set(HEADER_NODE, a.node);
  u.searchParams.set(HEADER_TIMESTAMP, a.timestamp);
  u.searchParams.set(HEADER_NONCE, a.nonce);
  u.searchParams.set(HEADER_SIGNATURE, a.signature);
  return /^[a-z]+:\/\//i.test(input.url) ? u.toString() : u.pathname + u.search;
}

/** Why a signature check failed. */
export type RequestAuthError = "missing-signature" | "bad-signature" | "stale-timestamp";

/**
 * Checks a signed request's timestamp and signature (not the nonce: replay memory is the
 * server's). Returns null when valid, else the reason. Never throws.
 */
export async function verifyRequestAuth(o: {
  method: string; url: string; bodyHashHex: string; auth: Partial<RequestAuth>; publicKey: Uint8Array; now?: number; windowMs?: number;
}): Promise<RequestAuthError | null> {
  const { node, timestamp, nonce, signature } = o.auth;
  if (!node || !timestamp || !nonce || !signature) return "missing-signature";
  if (!/^[0-9]{1,16}$/.test(timestamp) || !/^[A-Za-z0-9_-]{16,86}$/.test(nonce)) return "bad-signature";
  const skew = Math.abs((o.now ?? Date.now()) - Number(timestamp));
  if (skew > (o.windowMs ?? SIGNATURE_WINDOW_MS)) return "stale-timestamp";
  let sig: Uint8Array;
  try { sig = fromBase64Url(signature); } catch { return "bad-signature"; }
  const canon = canonicalRequest(o.method, signedTarget(o.url), o.bodyHashHex, timestamp, nonce, node);
  return (await verifyAsync(o.publicKey, utf8(canon), sig)) ? null : "bad-signature";
}
