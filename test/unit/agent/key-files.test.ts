/** Secret key files (client/agent/node-key-store.ts): created 0600, never overwritten, refused when others can read them. */
import { chmod, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createSecretFile, FileKeyStore, KeyFileError, readSecretFile } from "../../../client/agent/node-key-store.ts";
import { createKeyFile, loadKeyFile } from "../../../client/cli/keyfile.ts";
import { CliError } from "../../../client/cli/errors.ts";
import { generateNodeKeys } from "../../../protocol/crypto/identity.ts";
import { cryptoRng } from "../../../protocol/rng.ts";

const tmp = () => mkdtemp(path.join(os.tmpdir(), "2pm-keys-"));
const posix = process.platform !== "win32";

describe("secret key files", () => {
  it("are created with mode 0600 in a new 0700 folder and never overwritten", async () => {
    const file = path.join(await tmp(), "sub", "k.json");
    await createSecretFile(file, "secret");
    if (posix) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    }
    await expect(createSecretFile(file, "other")).rejects.toThrow(new KeyFileError(`key file ${file} already exists; refusing to overwrite it`));
    expect(await readFile(file, "utf8")).toBe("secret");
  });

  it.runIf(posix)("are refused when group or others may read them, and read as null when absent", async () => {
    const dir = await tmp();
    expect(await readSecretFile(path.join(dir, "none.json"))).toBeNull();
    const file = path.join(dir, "k.json");
    await writeFile(file, "secret", { mode: 0o600 });
    expect(await readSecretFile(file)).toBe("secret");
    await chmod(file, 0o640);
    await expect(readSecretFile(file)).rejects.toThrow(/readable by other users \(mode 640\); run chmod 600/);
  });

  it.runIf(posix)("the node's store and the CLI's signing keys go through the same checks", async () => {
    const dir = await tmp();
    const store = new FileKeyStore(path.join(dir, "keys.json"));
    expect(await store.load()).toBeNull();
    const keys = generateNodeKeys(cryptoRng);
    await store.save(keys);
    expect((await store.load())!.identityPublicKey).toEqual(keys.identityPublicKey);
    await expect(store.save(keys)).rejects.toThrow(KeyFileError);
    await chmod(store.file, 0o604);
    await expect(store.load()).rejects.toThrow(KeyFileError);

    const sub = path.join(dir, "submitter.json");
    const made = await createKeyFile(sub, "2pm-submitter-key");
    expect((await loadKeyFile(sub, "2pm-submitter-key")).publicKeyB64).toBe(made.publicKeyB64);
    await expect(loadKeyFile(sub, "2pm-consortium-admin-key")).rejects.toThrow(CliError);
    await expect(createKeyFile(sub, "2pm-submitter-key")).rejects.toThrow(KeyFileError);
    await chmod(sub, 0o644);
    await expect(loadKeyFile(sub, "2pm-submitter-key")).rejects.toThrow(KeyFileError);
    await expect(loadKeyFile(path.join(dir, "missing.json"), "2pm-submitter-key")).rejects.toThrow(CliError);
  });
});
