/**
 * Relay envelopes (docs/ARCHITECTURE.md "Relay"), version 2. One binary layout for both kinds:
 *
 *   header   = version u8 (=2) ‖ kind u8 (1 direct, 2 broadcast) ‖ round u32 ‖ attempt u16 ‖
 *              from u16 ‖ to u16 (0xffff for broadcast) ‖ seq u32 ‖
 *              len u8 ‖ jobId utf8 ‖ len u8 ‖ phase utf8 ‖ nonce (24 random bytes) ‖
 *              payloadLength u32                                     (all integers big-endian)
 *   envelope = header ‖ payload ‖ signature(64)
 *
 * Pair keys: k_ij = HKDF-SHA256(X25519(sk_i, pk_j), salt, info = "2pm/relay/v1"), the same
 * for both directions of a pair ({@link pairKey}; the relay session's salt binds the round's
 * session id and the members' view of the log, client/agent/relay-session.ts).
 *
 * Direct (kind 1): payload = XChaCha20-Poly1305(k_from,to, nonce, plaintext, AD = header). The
 * header therefore binds (jobId, round, attempt, phase, from, to, seq) into the AEAD tag.
 *
 * Broadcast (kind 2), end-to-end encrypted to the committee of n members, one envelope with the
 * same bytes for every recipient:
 *
 *   K        = 32 fresh random bytes (the content key of this one envelope)
 *   payload  = count u16 (= n − 1) ‖ wrap_j for every member j ≠ from, in index order ‖ C ‖ body
 *   wrap_j   = XChaCha20-Poly1305(k_from,j, nonce, K, AD = "2pm/bcast-wrap/v1" ‖ j u16 ‖ header)  (48 bytes)
 *   C        = SHA-256("2pm/bcast-key/v1" ‖ K)                                              (32 bytes)
 *   body     = XChaCha20-Poly1305(K, nonce, plaintext, AD = header)              (plaintext + 16 bytes)
 *
 * Overhead: 2 + 48·(n − 1) + 32 + 16 bytes per broadcast. Recipient j unwraps K from its slot,
 * checks C (XChaCha20-Poly1305 is not key-committing: without C a malicious sender could wrap
 * different keys for different recipients under which the same body decrypts to different
 * plaintexts; with C every recipient that accepts holds the same K, hence the same plaintext),
 * then decrypts the body. The nonce is random per envelope; pair keys are used with random
 * 24-byte nonces only (direct payloads and wraps alike), and the wrap's AD prefix keeps a wrap
 * from ever opening as a direct payload or vice versa.
 *
 * Both kinds are signed by the sender's Ed25519 identity key over header ‖ payload, so the
 * relay checks the sender and delivers identical broadcast bytes to everyone without any
 * decryption key, and MASCOT's hash echo compares what every member decrypted. (The RoundDO
 * authenticates the sender by its connection and checks a signature only when a recipient
 * disputes it: every recipient verifies every envelope, docs/coordinator.md "Relay: sender
 * authentication and disputes".)
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, concatBytes, utf8 } from "../encoding.ts";
import { cryptoRng, type Rng } from "../rng.ts";
import { sharedSecret, sign, signAsync, verify, verifyAsync } from "./identity.ts";

/** An XChaCha20-Poly1305 instance for one (key, 24-byte nonce, AD): `decrypt` throws on a bad tag. */
export interface XChaChaAead { encrypt(plaintext: Uint8Array): Uint8Array; decrypt(ciphertext: Uint8Array): Uint8Array }
/** Makes an {@link XChaChaAead}; noble's by default, a platform's once installed. */
export type XChaChaFactory = (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array) => XChaChaAead;

let aead: XChaChaFactory = xchacha20poly1305;

/**
 * Installs a platform XChaCha20-Poly1305 for sealing and opening envelopes (null: back to
 * noble); node processes install OpenSSL's (client/agent/native-xchacha.ts). It must produce
 * exactly noble's bytes (the construction is deterministic) and throw on a bad tag. Process-wide.
 */
export function setNativeXChaCha20Poly1305(factory: XChaChaFactory | null): void {
  aead = factory ?? xchacha20poly1305;
}

export const ENVELOPE_VERSION = 2;
export const BROADCAST = 0xffff;
/** Largest payload the relay accepts (bytes). */
export const MAX_PAYLOAD = 1 << 20;
const NONCE_LEN = 24;
const SIG_LEN = 64;
const INFO = utf8("2pm/relay/v1");
const WRAP_LABEL = utf8("2pm/bcast-wrap/v1");
const KEY_COMMIT_LABEL = utf8("2pm/bcast-key/v1");
const TAG_LEN = 16;
/** Bytes of one recipient's wrap of the content key (32-byte key + tag). */
export const BROADCAST_WRAP_BYTES = 32 + TAG_LEN;
/** Fixed broadcast overhead besides the wraps: count u16, key commitment, body tag. */
const BCAST_FIXED = 2 + 32 + TAG_LEN;

export type EnvelopeKind = "direct" | "broadcast";

/** The addressing fields of an envelope. Party indices are committee positions (0..n-1). */
export interface EnvelopeHeader {
  kind: EnvelopeKind;
  jobId: string;
  round: number;
  attempt: number;
  phase: string;
  from: number;
  /** Recipient index, or "all" for a broadcast. */
  to: number | "all";
  seq: number;
}

/** A parsed (not yet verified) envelope. `signed` is the exact byte range the signature covers. */
export interface ParsedEnvelope extends EnvelopeHeader {
  nonce: Uint8Array;
  header: Uint8Array;
  payload: Uint8Array;
  signed: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

/**
 * Why an envelope was refused. `bad-key-commitment`: a broadcast's content key (unwrapped
 * fine) does not match the key commitment C, i.e. the sender wrapped different keys for
 * different recipients.
 */
export type EnvelopeErrorCode = "bad-encoding" | "bad-signature" | "decrypt-failed" | "wrong-context" | "bad-key-commitment";

/** Thrown by {@link openDirect} / {@link openBroadcast} with a stable code. */
export class EnvelopeError extends Error {
  constructor(readonly code: EnvelopeErrorCode, message: string) {
    super(message);
    this.name = "EnvelopeError";
  }
}

function checkU(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`envelope: ${name} must be an integer in [0, ${max}], got ${v}`);
}

function encodeHeader(h: EnvelopeHeader, nonce: Uint8Array, payloadLength: number): Uint8Array {
  checkU("round", h.round, 0xffffffff);
  checkU("attempt", h.attempt, 0xffff);
  checkU("from", h.from, 0xfffe);
  checkU("seq", h.seq, 0xffffffff);
  const to = h.to === "all" ? BROADCAST : h.to;
  checkU("to", to, 0xffff);
  if ((h.kind === "broadcast") !== (to === BROADCAST)) throw new TypeError("envelope: broadcast iff to === \"all\"");
  const job = utf8(h.jobId);
  const phase = utf8(h.phase);
  if (job.length === 0 || job.length > 255) throw new RangeError("envelope: jobId must be 1..255 bytes");
  if (phase.length === 0 || phase.length > 255) throw new RangeError("envelope: phase must be 1..255 bytes");
  if (payloadLength > MAX_PAYLOAD) throw new RangeError(`envelope: payload larger than ${MAX_PAYLOAD} bytes`);
  const out = new Uint8Array(2 + 4 + 2 + 2 + 2 + 4 + 1 + job.length + 1 + phase.length + NONCE_LEN + 4);
  const dv = new DataView(out.buffer);
  let o = 0;
  out[o++] = ENVELOPE_VERSION;
  out[o++] = h.kind === "direct" ? 1 : 2;
  dv.setUint32(o, h.round); o += 4;
  dv.setUint16(o, h.attempt); o += 2;
  dv.setUint16(o, h.from); o += 2;
  dv.setUint16(o, to); o += 2;
  dv.setUint32(o, h.seq); o += 4;
  out[o++] = job.length; out.set(job, o); o += job.length;
  out[o++] = phase.length; out.set(phase, o); o += phase.length;
  out.set(nonce, o); o += NONCE_LEN;
  dv.setUint32(o, payloadLength);
  return out;
}

/** One strict UTF-8 decoder for every envelope header (a new TextDecoder per envelope showed in the relay profile). */
const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses an envelope without verifying anything. Throws EnvelopeError("bad-encoding") on a
 * malformed or truncated input. The returned views alias `bytes`.
 */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  const bad = (m: string) => new EnvelopeError("bad-encoding", `envelope: ${m}`);
  if (!(bytes instanceof Uint8Array)) throw bad("expected bytes");
  if (bytes.length < 16 + 2 + NONCE_LEN + 4 + SIG_LEN) throw bad("too short");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  if (bytes[o++] !== ENVELOPE_VERSION) throw bad("unknown version");
  const k = bytes[o++];
  if (k !== 1 && k !== 2) throw bad("unknown kind");
  const round = dv.getUint32(o); o += 4;
  const attempt = dv.getUint16(o); o += 2;
  const from = dv.getUint16(o); o += 2;
  const to = dv.getUint16(o); o += 2;
  const seq = dv.getUint32(o); o += 4;
  const dec = UTF8_STRICT;
  const jl = bytes[o++]!;
  if (o + jl + 1 > bytes.length) throw bad("truncated jobId");
  let jobId: string, phase: string;
  try { jobId = dec.decode(bytes.subarray(o, o + jl)); } catch { throw bad("jobId not utf-8"); }
  o += jl;
  const pl = bytes[o++]!;
  if (o + pl + NONCE_LEN + 4 > bytes.length) throw bad("truncated phase");
  try { phase = dec.decode(bytes.subarray(o, o + pl)); } catch { throw bad("phase not utf-8"); }
  o += pl;
  const nonce = bytes.subarray(o, o + NONCE_LEN); o += NONCE_LEN;
  const len = dv.getUint32(o); o += 4;
  if (jl === 0 || pl === 0) throw bad("empty jobId or phase");
  if (len > MAX_PAYLOAD) throw bad("payload too large");
  if (o + len + SIG_LEN !== bytes.length) throw bad("length mismatch");
  const kind: EnvelopeKind = k === 1 ? "direct" : "broadcast";
  if ((kind === "broadcast") !== (to === BROADCAST)) throw bad("broadcast iff to = 0xffff");
  if (from === BROADCAST) throw bad("bad sender");
  return {
    kind, jobId, round, attempt, phase, from, to: to === BROADCAST ? "all" : to, seq,
    nonce,
    header: bytes.subarray(0, o),
    payload: bytes.subarray(o, o + len),
    signed: bytes.subarray(0, o + len),
    signature: bytes.subarray(o + len),
    bytes,
  };
}

/**
 * The symmetric key a pair of parties uses for direct envelopes and broadcast key wraps:
 * HKDF-SHA256(X25519(mySecret, peerPublic), salt, info = "2pm/relay/v1"). `salt` binds the
 * session (at least 16 bytes: the round's session id, or the relay session's salt over the
 * session id and the members' view hash). Both directions of a pair derive the same key; the
 * AD's (from, to) prevents reflection. Throws RangeError on a short salt, and on a low-order
 * or malformed peer key.
 */
export function pairKey(myKxSecretKey: Uint8Array, peerKxPublicKey: Uint8Array, salt: Uint8Array): Uint8Array {
  if (salt.length < 16) throw new RangeError("pairKey: salt (session id) must be at least 16 bytes");
  return hkdf(sha256, sharedSecret(myKxSecretKey, peerKxPublicKey), salt, INFO, 32);
}

/** The key commitment C = SHA-256("2pm/bcast-key/v1" ‖ K) of a broadcast content key. */
export function broadcastKeyCommitment(contentKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(KEY_COMMIT_LABEL, contentKey));
}

function wrapAd(recipient: number, header: Uint8Array): Uint8Array {
  const j = new Uint8Array(2);
  new DataView(j.buffer).setUint16(0, recipient);
  return concatBytes(WRAP_LABEL, j, header);
}

type Sealed = { header: Uint8Array; body: Uint8Array };

function buildDirect(h: EnvelopeHeader, plaintext: Uint8Array, key: Uint8Array | undefined, rng: Rng, who: string): Sealed {
  if (h.to === "all") throw new TypeError(`${who}: recipient must be a party index`);
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new RangeError(`${who}: direct envelopes need a 32-byte pair key`);
  const nonce = rng.bytes(NONCE_LEN);
  const header = encodeHeader({ ...h, kind: "direct" }, nonce, plaintext.length + TAG_LEN);
  return { header, body: aead(key, nonce, header).encrypt(plaintext) };
}

function buildBroadcast(h: EnvelopeHeader, plaintext: Uint8Array, pairKeys: ReadonlyArray<Uint8Array | undefined> | undefined, rng: Rng, who: string): Sealed {
  if (!Array.isArray(pairKeys)) throw new TypeError(`${who}: broadcasts need the pair keys in committee order`);
  const n = pairKeys.length;
  if (n < 2 || n > 0xffff) throw new RangeError(`${who}: committee of ${n} members`);
  if (h.from >= n) throw new RangeError(`${who}: sender ${h.from} is not in a committee of ${n}`);
  for (let j = 0; j < n; j++) {
    if (j === h.from) continue;
    const k = pairKeys[j];
    if (!(k instanceof Uint8Array) || k.length !== 32) throw new RangeError(`${who}: no 32-byte pair key for member ${j}`);
  }
  const nonce = rng.bytes(NONCE_LEN);
  const contentKey = rng.bytes(32);
  const header = encodeHeader({ ...h, kind: "broadcast", to: "all" }, nonce, BCAST_FIXED + (n - 1) * BROADCAST_WRAP_BYTES + plaintext.length);
  const parts: Uint8Array[] = [];
  const count = new Uint8Array(2);
  new DataView(count.buffer).setUint16(0, n - 1);
  parts.push(count);
  for (let j = 0; j < n; j++) {
    if (j === h.from) continue;
    parts.push(aead(pairKeys[j]!, nonce, wrapAd(j, header)).encrypt(contentKey));
  }
  parts.push(broadcastKeyCommitment(contentKey));
  parts.push(aead(contentKey, nonce, header).encrypt(plaintext));
  contentKey.fill(0);
  return { header, body: concatBytes(...parts) };
}

function assemble(header: Uint8Array, payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return concatBytes(header, payload, signature);
}

/** Encrypts and signs a point-to-point message. `key` comes from {@link pairKey}. Throws RangeError/TypeError on bad arguments. */
export function sealDirect(h: Omit<EnvelopeHeader, "kind">, plaintext: Uint8Array, key: Uint8Array, identitySecretKey: Uint8Array, rng: Rng = cryptoRng): Uint8Array {
  const { header, body } = buildDirect({ ...h, kind: "direct" }, plaintext, key, rng, "sealDirect");
  return assemble(header, body, sign(identitySecretKey, concatBytes(header, body)));
}

/**
 * Encrypts a broadcast to the committee and signs it (layout in the module comment).
 * `pairKeys[j]` is the sender's pair key with member j, in committee order (the sender's own
 * slot is ignored); the committee size is `pairKeys.length`. Throws RangeError/TypeError on
 * bad arguments (a missing pair key, a sender outside the committee).
 */
export function sealBroadcast(h: Omit<EnvelopeHeader, "kind" | "to">, plaintext: Uint8Array, pairKeys: ReadonlyArray<Uint8Array | undefined>, identitySecretKey: Uint8Array, rng: Rng = cryptoRng): Uint8Array {
  const { header, body } = buildBroadcast({ ...h, kind: "broadcast", to: "all" }, plaintext, pairKeys, rng, "sealBroadcast");
  return assemble(header, body, sign(identitySecretKey, concatBytes(header, body)));
}

/**
 * As {@link sealDirect}/{@link sealBroadcast} but signing with WebCrypto (much faster for large
 * payloads). `key`: the 32-byte pair key for a direct envelope; the pair keys in committee
 * order for a broadcast.
 */
export async function sealAsync(h: EnvelopeHeader, payload: Uint8Array, identitySecretKey: Uint8Array, key: Uint8Array | ReadonlyArray<Uint8Array | undefined>, rng: Rng = cryptoRng): Promise<Uint8Array> {
  const { header, body } = h.kind === "direct"
    ? buildDirect(h, payload, key instanceof Uint8Array ? key : undefined, rng, "sealAsync")
    : buildBroadcast(h, payload, key instanceof Uint8Array ? undefined : key, rng, "sealAsync");
  const signed = concatBytes(header, body);
  const sig = await signAsync(identitySecretKey, signed);
  return concatBytes(signed, sig);
}

/** Checks an envelope's signature against the sender's identity key (sync, noble). */
export function verifyEnvelopeSignature(env: ParsedEnvelope, senderIdentityPublicKey: Uint8Array): boolean {
  return verify(senderIdentityPublicKey, env.signed, env.signature);
}

/** Checks an envelope's signature with WebCrypto when available (the relay's path). */
export function verifyEnvelopeSignatureAsync(env: ParsedEnvelope, senderIdentityPublicKey: Uint8Array): Promise<boolean> {
  return verifyAsync(senderIdentityPublicKey, env.signed, env.signature);
}

/** What a recipient expects: the envelope must belong to this session and be addressed to `me`. */
export interface ExpectedContext {
  jobId: string;
  round: number;
  attempt: number;
  me: number;
}

function checkContext(env: ParsedEnvelope, ctx: ExpectedContext): void {
  if (env.jobId !== ctx.jobId || env.round !== ctx.round || env.attempt !== ctx.attempt) {
    throw new EnvelopeError("wrong-context", "envelope: belongs to another job, round or attempt");
  }
  if (env.from === ctx.me) throw new EnvelopeError("wrong-context", "envelope: sent by myself");
}

/** An opened envelope: what the sender signed and (for us) encrypted. */
export interface OpenedEnvelope { phase: string; from: number; seq: number; payload: Uint8Array }

/**
 * Verifies the sender's signature, the context, and decrypts a direct envelope addressed to
 * `ctx.me`. Throws EnvelopeError with code bad-encoding | bad-signature | wrong-context |
 * decrypt-failed. Sequence-number checks are the caller's (the relay and the party both track them).
 */
export function openDirect(bytes: Uint8Array, ctx: ExpectedContext, senderIdentityPublicKey: Uint8Array, key: Uint8Array): OpenedEnvelope {
  const env = parseEnvelope(bytes);
  if (env.kind !== "direct" || env.to !== ctx.me) throw new EnvelopeError("wrong-context", "envelope: not a direct message to me");
  checkContext(env, ctx);
  if (!verifyEnvelopeSignature(env, senderIdentityPublicKey)) throw new EnvelopeError("bad-signature", "envelope: bad signature");
  let payload: Uint8Array;
  try {
    payload = aead(key, env.nonce, env.header).decrypt(env.payload);
  } catch {
    throw new EnvelopeError("decrypt-failed", "envelope: authentication tag mismatch");
  }
  return { phase: env.phase, from: env.from, seq: env.seq, payload };
}

/**
 * Verifies a broadcast's signature and context, unwraps the content key from `ctx.me`'s slot
 * with the pair key shared with the sender (`pairKeys[from]`; `pairKeys` in committee order,
 * its length is the committee size), checks the key commitment and decrypts. Guarantees: any
 * two recipients that accept the same envelope obtain the same plaintext. Throws
 * EnvelopeError: bad-encoding (layout), bad-signature, wrong-context (not a broadcast,
 * another session, a recipient outside the committee or a wrap count that does not match
 * it), decrypt-failed (our wrap or the body does not authenticate: a wrong pair key, e.g. a
 * different view of the committee's keys), bad-key-commitment (the sender wrapped a
 * different key for us than the one it committed to).
 */
export function openBroadcast(bytes: Uint8Array, ctx: ExpectedContext, senderIdentityPublicKey: Uint8Array, pairKeys: ReadonlyArray<Uint8Array | undefined>): OpenedEnvelope {
  const env = parseEnvelope(bytes);
  if (env.kind !== "broadcast") throw new EnvelopeError("wrong-context", "envelope: not a broadcast");
  checkContext(env, ctx);
  if (!verifyEnvelopeSignature(env, senderIdentityPublicKey)) throw new EnvelopeError("bad-signature", "envelope: bad signature");
  const n = pairKeys.length;
  if (!Number.isInteger(ctx.me) || ctx.me < 0 || ctx.me >= n || env.from >= n) throw new EnvelopeError("wrong-context", "envelope: sender or recipient outside the committee");
  const p = env.payload;
  if (p.length < BCAST_FIXED) throw new EnvelopeError("bad-encoding", "envelope: broadcast payload too short");
  const count = (p[0]! << 8) | p[1]!;
  if (count !== n - 1) throw new EnvelopeError("wrong-context", `envelope: broadcast wrapped for ${count + 1} members, committee has ${n}`);
  const wrapsEnd = 2 + count * BROADCAST_WRAP_BYTES;
  if (p.length < wrapsEnd + 32 + TAG_LEN) throw new EnvelopeError("bad-encoding", "envelope: broadcast payload too short");
  const key = pairKeys[env.from];
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new RangeError("openBroadcast: no 32-byte pair key for the sender");
  const slot = ctx.me < env.from ? ctx.me : ctx.me - 1;
  const wrap = p.subarray(2 + slot * BROADCAST_WRAP_BYTES, 2 + (slot + 1) * BROADCAST_WRAP_BYTES);
  let contentKey: Uint8Array;
  try {
    contentKey = aead(key, env.nonce, wrapAd(ctx.me, env.header)).decrypt(wrap);
  } catch {
    throw new EnvelopeError("decrypt-failed", "envelope: broadcast key wrap does not authenticate");
  }
  if (!bytesEqual(broadcastKeyCommitment(contentKey), p.subarray(wrapsEnd, wrapsEnd + 32))) {
    throw new EnvelopeError("bad-key-commitment", "envelope: broadcast content key does not match its commitment");
  }
  let payload: Uint8Array;
  try {
    payload = aead(contentKey, env.nonce, env.header).decrypt(p.subarray(wrapsEnd + 32));
  } catch {
    throw new EnvelopeError("decrypt-failed", "envelope: broadcast body does not authenticate");
  } finally {
    contentKey.fill(0);
  }
  return { phase: env.phase, from: env.from, seq: env.seq, payload };
}
