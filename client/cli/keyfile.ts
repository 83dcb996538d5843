/**
 * Ed25519 key files for submitters and consortium admins: JSON `{version, kind, secretKey,
 * publicKey}` (base64url), written with mode 0600 and never overwritten; refused when other
 * users can read them. The secret key never leaves the machine.
 */
import { fromBase64Url, toBase64Url } from "../../protocol/encoding.ts";
import { identityPublicKey } from "../../protocol/crypto/identity.ts";
import { cryptoRng } from "../../protocol/rng.ts";
import { CliError } from "./errors.ts";
import { createSecretFile, readSecretFile } from "../agent/node-key-store.ts";

export type KeyKind = "2pm-submitter-key" | "2pm-consortium-admin-key";

export interface SigningKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  /** base64url of the public key (what nodes list in their policy). */
  publicKeyB64: string;
}

/** The text of a key file of `kind` for a 32-byte Ed25519 secret key. */
export function encodeKeyFile(kind: KeyKind, secretKey: Uint8Array): string {
  return JSON.stringify({ version: 1, kind, secretKey: toBase64Url(secretKey), publicKey: toBase64Url(identityPublicKey(secretKey)) }, null, 2) + "\n";
}

/** Creates a new key file (mode 0600). Throws KeyFileError if the file exists or cannot be written. */
export async function createKeyFile(file: string, kind: KeyKind): Promise<SigningKey> {
  const secretKey = cryptoRng.bytes(32);
  const publicKey = identityPublicKey(secretKey);
  await createSecretFile(file, encodeKeyFile(kind, secretKey));
  return { secretKey, publicKey, publicKeyB64: toBase64Url(publicKey) };
}

/** Loads a key file of the given kind. Throws KeyFileError if others can read it, CliError if it is missing, of another kind or inconsistent. */
export async function loadKeyFile(file: string, kind: KeyKind): Promise<SigningKey> {
  const text = await readSecretFile(file);
  if (text === null) throw new CliError(`cannot read key file ${file}`);
  let raw: { version?: unknown; kind?: unknown; secretKey?: unknown; publicKey?: unknown };
  try { raw = JSON.parse(text) as typeof raw; } catch { throw new CliError(`key file ${file} is not valid JSON`); }
  if (raw.version !== 1 || raw.kind !== kind || typeof raw.secretKey !== "string") throw new CliError(`key file ${file} is not a ${kind} file`);
  let secretKey: Uint8Array;
  try { secretKey = fromBase64Url(raw.secretKey); } catch { throw new CliError(`key file ${file}: secretKey is not base64url`); }
  if (secretKey.length !== 32) throw new CliError(`key file ${file}: secretKey must be 32 bytes`);
  const publicKey = identityPublicKey(secretKey);
  if (raw.publicKey !== undefined && raw.publicKey !== toBase64Url(publicKey)) throw new CliError(`key file ${file}: publicKey does not match secretKey`);
  return { secretKey, publicKey, publicKeyB64: toBase64Url(publicKey) };
}
