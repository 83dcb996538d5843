/** Node.js key store: a JSON key file created with mode 0600 and refused if others can read it. */
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

export class FileKeyStore implements KeyStore {
  constructor(readonly file: string) {}

  /** Returns null if the file does not exist; throws KeyFileError if it is readable by group/others or malformed. */
  async load(): Promise<NodeKeys | null> {
    let st;
    try {
      st = await fs.stat(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
      throw new KeyFileError(`key file ${this.file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    try {
      return decodeKeyFile(await fs.readFile(this.file, "utf8"));
    } catch (e) {
      throw new KeyFileError(`key file ${this.file}: ${(e as Error).message}`);
    }
  }

  /** Writes the key file atomically with mode 0600; refuses to overwrite an existing one (KeyFileError). */
  async save(keys: NodeKeys): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await fs.writeFile(tmp, encodeKeyFile(keys), { mode: 0o600, flag: "wx" });
    try {
      await fs.link(tmp, this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new KeyFileError(`key file ${this.file} already exists; refusing to overwrite it`);
      throw e;
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
  }
}
