/**
 * Relay envelopes (docs/ARCHITECTURE.md "Relay"). One binary layout for both kinds:
 *
 *   header  = version u8 (=1) ‖ kind u8 (1 direct, 2 broadcast) ‖ round u32 ‖ attempt u16 ‖
 *             from u16 ‖ to u16 (0xffff for broadcast) ‖ seq u32 ‖
 *             len u8 ‖ jobId utf8 ‖ len u8 ‖ phase utf8 ‖ nonce (24 bytes, zero for broadcast) ‖
 *             payloadLength u32                                      (all integers big-endian)
 *   envelope = header ‖ payload ‖ signature(64)
 *
 * Direct: payload = XChaCha20-Poly1305(key, nonce, plaintext, AD = header), key =
 * HKDF-SHA256(X25519(sk_from, pk_to), salt = sessionId, info = "2pm/relay/v1"). The header
 * therefore binds (jobId, round, attempt, phase, from, to, seq) into the AEAD tag.
 * Broadcast: payload is a public value in the clear. Both are signed by the sender's Ed25519
 * identity key over header ‖ payload, so the relay can check the sender without any
 * decryption key, and a recipient can prove what it was sent.
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8 } from "../encoding.ts";
import { cryptoRng, type Rng } from "../rng.ts";
import { sharedSecret, sign, signAsync, verify, verifyAsync } from "./identity.ts";

export const ENVELOPE_VERSION = 1;
export const BROADCAST = 0xffff;
/** Largest payload the relay accepts (bytes). */
export const MAX_PAYLOAD = 1 << 20;
const NONCE_LEN = 24;
const SIG_LEN = 64;
const INFO = utf8("2pm/relay/v1");

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

/** Why an envelope was refused. */
export type EnvelopeErrorCode = "bad-encoding" | "bad-signature" | "decrypt-failed" | "wrong-context";

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
  const dec = new TextDecoder("utf-8", { fatal: true });
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
 * The symmetric key a pair of parties uses for direct envelopes:
 * HKDF-SHA256(X25519(mySecret, peerPublic), salt = sessionId, info = "2pm/relay/v1").
 * Both directions of a pair derive the same key; the AD's (from, to) prevents reflection.
 */
export function pairKey(myKxSecretKey: Uint8Array, peerKxPublicKey: Uint8Array, sessionId: Uint8Array): Uint8Array {
  if (sessionId.length < 16) throw new RangeError("pairKey: sessionId must be at least 16 bytes");
  return hkdf(sha256, sharedSecret(myKxSecretKey, peerKxPublicKey), sessionId, INFO, 32);
}

function assemble(header: Uint8Array, payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return concatBytes(header, payload, signature);
}

/** Encrypts and signs a point-to-point message. `key` comes from {@link pairKey}. */
export function sealDirect(h: Omit<EnvelopeHeader, "kind">, plaintext: Uint8Array, key: Uint8Array, identitySecretKey: Uint8Array, rng: Rng = cryptoRng): Uint8Array {
  if (h.to === "all") throw new TypeError("sealDirect: recipient must be a party index");
  if (key.length !== 32) throw new RangeError("sealDirect: key must be 32 bytes");
  const nonce = rng.bytes(NONCE_LEN);
  const header = encodeHeader({ ...h, kind: "direct" }, nonce, plaintext.length + 16);
  const ct = xchacha20poly1305(key, nonce, header).encrypt(plaintext);
  return assemble(header, ct, sign(identitySecretKey, concatBytes(header, ct)));
}

/** Signs a broadcast (public value, sent in the clear). */
export function sealBroadcast(h: Omit<EnvelopeHeader, "kind" | "to">, payload: Uint8Array, identitySecretKey: Uint8Array): Uint8Array {
  const header = encodeHeader({ ...h, kind: "broadcast", to: "all" }, new Uint8Array(NONCE_LEN), payload.length);
  return assemble(header, payload, sign(identitySecretKey, concatBytes(header, payload)));
}

/** As {@link sealDirect}/{@link sealBroadcast} but signing with WebCrypto (much faster for large payloads). */
export async function sealAsync(h: EnvelopeHeader, payload: Uint8Array, identitySecretKey: Uint8Array, key?: Uint8Array, rng: Rng = cryptoRng): Promise<Uint8Array> {
  let header: Uint8Array, body: Uint8Array;
  if (h.kind === "direct") {
    if (!key || key.length !== 32) throw new RangeError("sealAsync: direct envelopes need a 32-byte pair key");
    const nonce = rng.bytes(NONCE_LEN);
    header = encodeHeader(h, nonce, payload.length + 16);
    body = xchacha20poly1305(key, nonce, header).encrypt(payload);
  } else {
    header = encodeHeader(h, new Uint8Array(NONCE_LEN), payload.length);
    body = payload;
  }
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

/**
 * Verifies the sender's signature, the context, and decrypts a direct envelope addressed to
 * `ctx.me`. Throws EnvelopeError with code bad-encoding | bad-signature | wrong-context |
 * decrypt-failed. Sequence-number checks are the caller's (the relay and the party both track them).
 */
export function openDirect(bytes: Uint8Array, ctx: ExpectedContext, senderIdentityPublicKey: Uint8Array, key: Uint8Array): { phase: string; from: number; seq: number; payload: Uint8Array } {
  const env = parseEnvelope(bytes);
  if (env.kind !== "direct" || env.to !== ctx.me) throw new EnvelopeError("wrong-context", "envelope: not a direct message to me");
  checkContext(env, ctx);
  if (!verifyEnvelopeSignature(env, senderIdentityPublicKey)) throw new EnvelopeError("bad-signature", "envelope: bad signature");
  let payload: Uint8Array;
  try {
    payload = xchacha20poly1305(key, env.nonce, env.header).decrypt(env.payload);
  } catch {
    throw new EnvelopeError("decrypt-failed", "envelope: authentication tag mismatch");
  }
  return { phase: env.phase, from: env.from, seq: env.seq, payload };
}

/** Verifies a broadcast's signature and context. Throws EnvelopeError like {@link openDirect}. */
export function openBroadcast(bytes: Uint8Array, ctx: ExpectedContext, senderIdentityPublicKey: Uint8Array): { phase: string; from: number; seq: number; payload: Uint8Array } {
  const env = parseEnvelope(bytes);
  if (env.kind !== "broadcast") throw new EnvelopeError("wrong-context", "envelope: not a broadcast");
  checkContext(env, ctx);
  if (!verifyEnvelopeSignature(env, senderIdentityPublicKey)) throw new EnvelopeError("bad-signature", "envelope: bad signature");
  return { phase: env.phase, from: env.from, seq: env.seq, payload: env.payload };
}
