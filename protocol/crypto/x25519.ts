/**
 * X25519 (RFC 7748) as a scalar-multiplication backend for protocols that need more than a
 * Diffie–Hellman handshake (protocol/mascot/base-ot-mrr.ts): the same function, computed by
 * the fastest implementation the platform has, all giving the same bytes:
 *
 *  - "node-crypto": Node's OpenSSL X25519, synchronous (node:crypto reached through
 *    `process.getBuiltinModule`, Node ≥ 22.3: a runtime capability, not an import);
 *  - "webcrypto": `crypto.subtle` X25519, asynchronous (workerd, Chrome ≥ 133, Firefox ≥ 130,
 *    Safari ≥ 17; Node too, but node-crypto is cheaper there: no promise per operation);
 *  - "noble": @noble/curves' JavaScript ladder (everywhere; ≈ 30× slower).
 *
 *   x25519(k, u) = u-coordinate of clamp(k)·P for any P with u(P) = u (curve or twist),
 *   clamp(k) = k with bits 0..2 and 255 cleared and bit 254 set (a multiple of 8 in
 *   [2^254, 2^255)); bit 255 of u is ignored and u is reduced mod p.
 *
 * Every backend reports the all-zero output of a low-order u as `null` (WebCrypto and
 * OpenSSL refuse it, noble throws), so callers decide (protocols abort). Inputs are
 * canonicalised (bit 255 cleared, u reduced mod p) before any backend sees them. Each native
 * backend is enabled only after it reproduces RFC 7748 §5.2's first vector.
 */
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { bytesEqual } from "../encoding.ts";

/** p = 2^255 − 19. */
export const P25519 = 2n ** 255n - 19n;

/** u as a canonical 32-byte little-endian string (bit 255 cleared, reduced mod p); `u` itself when already canonical. */
export function canonicalU(u: Uint8Array): Uint8Array {
  if (u.length !== 32) throw new RangeError(`canonicalU: u must be 32 bytes, got ${u.length}`);
  return isCanonicalU(u) ? u : uToBytes(uFromBytes(u));
}

/** True iff u < p with bit 255 clear (no BigInt: p = 2^255 − 19 is 0x7fff…ffed). */
export function isCanonicalU(u: Uint8Array): boolean {
  if (u[31]! < 0x7f) return true;
  if (u[31]! > 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (u[i] !== 0xff) return true;
  return u[0]! < 0xed;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** The integer u of a 32-byte little-endian string, bit 255 cleared and reduced mod p (one BigInt parse, not 32 shifts). */
export function uFromBytes(u: Uint8Array): bigint {
  let h = "0x" + HEX[u[31]! & 0x7f]!;
  for (let i = 30; i >= 0; i--) h += HEX[u[i]!]!;
  const x = BigInt(h);
  return x >= P25519 ? x - P25519 : x; // x < 2^255 < 2p
}

/** A field element (0 ≤ x < p) as 32 little-endian bytes. Throws RangeError outside [0, 2^256). */
export function uToBytes(x: bigint): Uint8Array {
  if (x < 0n || x >= 1n << 256n) throw new RangeError("uToBytes: value out of range");
  const h = x.toString(16).padStart(64, "0");
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(h.slice(62 - 2 * i, 64 - 2 * i), 16);
  return out;
}

function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/** Sync backend (noble, pure JS, ≈ 1.5–2 ms). Returns null for an all-zero result (low-order u). */
export function x25519Sync(scalar: Uint8Array, u: Uint8Array): Uint8Array | null {
  if (scalar.length !== 32) throw new RangeError(`x25519Sync: scalar must be 32 bytes, got ${scalar.length}`);
  let out: Uint8Array;
  try {
    out = nobleX25519.scalarMult(scalar, canonicalU(u));
  } catch {
    return null; // noble refuses an all-zero shared secret
  }
  return isZero(out) ? null : out;
}

/** DER prefix of a PKCS#8 X25519 private key (RFC 8410): SEQUENCE{0, {1.3.101.110}, OCTET STRING{OCTET STRING(32)}}. */
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const ALG = { name: "X25519" } as const;

/** A scalar imported into WebCrypto (one import serves many multiplications). */
export interface NativeScalar { readonly key: CryptoKey }

/** The native backend: WebCrypto X25519. */
export interface NativeX25519 {
  /** Imports a 32-byte scalar (clamped by the platform, as by {@link x25519Sync}). */
  importScalar(scalar: Uint8Array): Promise<NativeScalar>;
  /** x25519(k, u); null for an all-zero result (low-order u). */
  mul(k: NativeScalar, u: Uint8Array): Promise<Uint8Array | null>;
}

const native: NativeX25519 = {
  async importScalar(scalar) {
    if (scalar.length !== 32) throw new RangeError(`importScalar: scalar must be 32 bytes, got ${scalar.length}`);
    const der = new Uint8Array(48);
    der.set(PKCS8_PREFIX, 0);
    der.set(scalar, 16);
    const key = await crypto.subtle.importKey("pkcs8", der, ALG, false, ["deriveBits"]);
    der.fill(0);
    return { key };
  },
  async mul(k, u) {
    const pub = await crypto.subtle.importKey("raw", canonicalU(u) as Uint8Array<ArrayBuffer>, ALG, false, []);
    let bits: ArrayBuffer;
    try {
      bits = await crypto.subtle.deriveBits({ name: "X25519", public: pub } as unknown as AlgorithmIdentifier, k.key, 256);
    } catch {
      return null; // OperationError: all-zero shared secret
    }
    const out = new Uint8Array(bits);
    return isZero(out) ? null : out;
  },
};

let probe: Promise<NativeX25519 | null> | undefined;
/** Known-answer check of RFC 7748 §5.2 (first vector). */
const KAT_K = "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4";
const KAT_U = "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c";
const KAT_OUT = "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552";
function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
}

/**
 * The native backend if this platform's WebCrypto computes X25519 correctly (checked once
 * against RFC 7748 §5.2), else null (callers fall back to {@link x25519Sync}).
 * {@link forceX25519BackendForTests} with a backend other than "webcrypto" makes it null.
 */
export function nativeX25519(): Promise<NativeX25519 | null> {
  if (forceSync) return Promise.resolve(null);
  probe ??= (async () => {
    try {
      if (typeof crypto === "undefined" || !crypto.subtle) return null;
      const out = await native.mul(await native.importScalar(hex(KAT_K)), hex(KAT_U));
      if (!out || out.length !== 32 || !out.every((b, i) => b === hex(KAT_OUT)[i])) return null;
      return native;
    } catch {
      return null;
    }
  })();
  return probe;
}

let forceSync = false;

// ------------------------------------------------------------------ batched API

/** One scalar and the u-coordinates to multiply by it. */
export interface X25519Job { scalar: Uint8Array; us: Uint8Array[] }
/** Per job, per u: x25519(scalar, u) or null (low-order u). */
export type X25519Results = Array<Array<Uint8Array | null>>;
export type X25519BackendName = "node-crypto" | "webcrypto" | "noble";

/** An X25519 key as a JWK (RFC 8037): `x` the public u, `d` the private scalar, both unpadded base64url. */
interface OkpJwk { kty: "OKP"; crv: "X25519"; x: string; d?: string }
interface NodeCrypto {
  createPrivateKey(o: { key: OkpJwk; format: "jwk" }): unknown;
  createPublicKey(o: { key: OkpJwk; format: "jwk" }): unknown;
  diffieHellman(o: { privateKey: unknown; publicKey: unknown }): Uint8Array;
}

function isBasePoint(u: Uint8Array): boolean {
  if (u[0] !== 9) return false;
  for (let i = 1; i < 32; i++) if (u[i] !== 0) return false;
  return true;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** Encodes unpadded base64url (a JWK field). */
function toB64url(b: Uint8Array): string {
  let s = "";
  let i = 0;
  for (; i + 3 <= b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64URL[v >> 18]! + B64URL[(v >> 12) & 63]! + B64URL[(v >> 6) & 63]! + B64URL[v & 63]!;
  }
  if (i + 1 === b.length) {
    const v = b[i]! << 16;
    s += B64URL[v >> 18]! + B64URL[(v >> 12) & 63]!;
  } else if (i + 2 === b.length) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8);
    s += B64URL[v >> 18]! + B64URL[(v >> 12) & 63]! + B64URL[(v >> 6) & 63]!;
  }
  return s;
}
/** Decodes unpadded base64url (a JWK field). */
function b64url(s: string): Uint8Array {
  const out = new Uint8Array(Math.floor((s.length * 6) / 8));
  let acc = 0, bits = 0, o = 0;
  for (const ch of s) {
    const v = B64URL.indexOf(ch);
    if (v < 0) throw new Error("x25519: bad base64url in a JWK");
    acc = (acc << 6) | v; bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 0xff; }
  }
  return out;
}

/**
 * Private keys imported on node:crypto, by scalar array object (WeakMap: dropped with the
 * scalar). A base-OT receiver half (base-ot-mrr.ts `mrrPrepare`) imports b_i to compute
 * b_i·G_z while the node is idle; the first meeting then multiplies the same b_i by the
 * sender's A_z, and the import (OpenSSL derives the public key on it: a fixed-base scalar
 * multiplication) is not repeated. The entry keeps a copy of the scalar and is used only while
 * the array still holds those bytes.
 */
const privateKeys = new WeakMap<Uint8Array, { scalar: Uint8Array; key: unknown }>();

function privateKey(nc: NodeCrypto, scalar: Uint8Array): unknown {
  const hit = privateKeys.get(scalar);
  if (hit && bytesEqual(hit.scalar, scalar)) return hit.key;
  const key = nc.createPrivateKey({ key: { kty: "OKP", crv: "X25519", x: "", d: toB64url(scalar) }, format: "jwk" });
  privateKeys.set(scalar, { scalar: scalar.slice(), key });
  return key;
}

/**
 * node:crypto backend. Keys are imported as JWKs, which OpenSSL takes as raw keys
 * (EVP_PKEY_new_raw_*_key): the same keys as the DER encodings, without OpenSSL 3's decoder
 * (≈ 10–25 µs less per import, and a round has ≈ 770 imports per party at N = 3 with fresh
 * base OTs). Node reads only `d` of a private X25519 JWK (it derives the public key itself),
 * so `x` is left empty there.
 */
function nodeMany(nc: NodeCrypto, jobs: X25519Job[]): X25519Results {
  // Public keys imported once per distinct array object (callers pass the same object for a repeated u).
  const pubs = new Map<Uint8Array, unknown>();
  const pub = (u: Uint8Array): unknown => {
    let k = pubs.get(u);
    if (k === undefined) { k = nc.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: toB64url(canonicalU(u)) }, format: "jwk" }); pubs.set(u, k); }
    return k;
  };
  return jobs.map((j) => {
    if (j.scalar.length !== 32) throw new RangeError(`x25519: scalar must be 32 bytes, got ${j.scalar.length}`);
    const priv = privateKey(nc, j.scalar);
    return j.us.map((u) => {
      let out: Uint8Array;
      // x25519(k, 9) is the public key OpenSSL computed on import: read it instead of a second multiplication.
      if (isBasePoint(u)) return b64url((priv as { export(o: { format: "jwk" }): { x: string } }).export({ format: "jwk" }).x);
      try { out = new Uint8Array(nc.diffieHellman({ privateKey: priv, publicKey: pub(u) })); } catch { return null; }
      return isZero(out) ? null : out;
    });
  });
}

let nodeProbe: NodeCrypto | null | undefined;
function nodeCrypto(): NodeCrypto | null {
  if (nodeProbe !== undefined) return nodeProbe;
  nodeProbe = null;
  try {
    const gbm = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
    const nc = typeof gbm === "function" ? (gbm("node:crypto") as NodeCrypto | undefined) : undefined;
    if (nc && typeof nc.diffieHellman === "function") {
      const out = nodeMany(nc, [{ scalar: hex(KAT_K), us: [hex(KAT_U)] }])[0]![0];
      if (out && out.every((b, i) => b === hex(KAT_OUT)[i])) nodeProbe = nc;
    }
  } catch {
    nodeProbe = null;
  }
  return nodeProbe;
}

function nobleMany(jobs: X25519Job[]): X25519Results {
  return jobs.map((j) => j.us.map((u) => x25519Sync(j.scalar, u)));
}

let forced: X25519BackendName | undefined;
/** TEST-ONLY: forces a backend (the same results are expected from each); undefined restores the default choice. */
export function forceX25519BackendForTests(name: X25519BackendName | undefined): void {
  forced = name;
  forceSync = name !== undefined && name !== "webcrypto";
  if (name === undefined || name === "webcrypto") probe = undefined;
}

/** The backend {@link x25519Many} uses here: node-crypto if present, else noble. */
export function x25519SyncBackend(): "node-crypto" | "noble" {
  if (forced === "noble" || forced === "webcrypto") return "noble";
  return nodeCrypto() ? "node-crypto" : "noble";
}

/** Synchronous batch: node-crypto when present, else noble. */
export function x25519Many(jobs: X25519Job[]): X25519Results {
  const nc = x25519SyncBackend() === "node-crypto" ? nodeCrypto() : null;
  return nc ? nodeMany(nc, jobs) : nobleMany(jobs);
}

/** The backend {@link x25519ManyAsync} uses here. */
export async function x25519AsyncBackend(): Promise<X25519BackendName> {
  if (forced === "noble") return "noble";
  if (forced === "webcrypto") return (await nativeX25519()) ? "webcrypto" : "noble";
  if (nodeCrypto()) return "node-crypto";
  if (forced === "node-crypto") return "noble";
  return (await nativeX25519()) ? "webcrypto" : "noble";
}

/** Asynchronous batch: node-crypto (sync, cheapest) when present, else WebCrypto, else noble. */
export async function x25519ManyAsync(jobs: X25519Job[]): Promise<X25519Results> {
  const backend = await x25519AsyncBackend();
  if (backend !== "webcrypto") return backend === "node-crypto" ? nodeMany(nodeCrypto()!, jobs) : nobleMany(jobs);
  const nat = (await nativeX25519())!;
  return Promise.all(jobs.map(async (j) => {
    const k = await nat.importScalar(j.scalar);
    return Promise.all(j.us.map((u) => nat.mul(k, u)));
  }));
}
