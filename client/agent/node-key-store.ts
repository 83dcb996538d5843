/**
 * Secret key files on Node.js: created atomically with mode 0600 and never overwritten,
 * refused when other users can read them. The node's keys (FileKeyStore) and the CLI's
 * submitter and consortium-admin keys (client/cli/keyfile.ts) are stored this one way.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { decodeKeyFile, encodeKeyFile, type KeyStore, type NodeKeys } from "./keys.ts";

/** A key file that cannot be used as it is (others can read it, it is malformed, or it already exists on save). The message says which and what to do. */
export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyFileError";
  }
}

/** The text of a secret file, or null if it does not exist. Throws KeyFileError if group or others may read it. */
export async function readSecretFile(file: string): Promise<string | null> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    throw new KeyFileError(`key file ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
  }
  return fs.readFile(file, "utf8");
}

/** Creates a secret file atomically with mode 0600 (its folder 0700 if new). Throws KeyFileError if it exists or cannot be written. */
export async function createSecretFile(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await fs.writeFile(tmp, text, { mode: 0o600, flag: "wx" });
    await fs.link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new KeyFileError(`key file ${file} already exists; refusing to overwrite it`);
    throw new KeyFileError(`cannot write key file ${file}: ${(e as Error).message}`);
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

export class FileKeyStore implements KeyStore {
  constructor(readonly file: string) {}

  /** Returns null if the file does not exist; throws KeyFileError if it is readable by group/others or malformed. */
  async load(): Promise<NodeKeys | null> {
    const text = await readSecretFile(this.file);
    if (text === null) return null;
    try {
      return decodeKeyFile(text);
    } catch (e) {
      throw new KeyFileError(`key file ${this.file}: ${(e as Error).message}`);
    }
  }

  /** Writes the key file atomically with mode 0600; refuses to overwrite an existing one (KeyFileError). */
  async save(keys: NodeKeys): Promise<void> {
    await createSecretFile(this.file, encodeKeyFile(keys));
  }
}
