/**
 * The CLI node's consortium list (client/cli/node-start.ts loadMembership): verified against
 * the pinned admin key, and refused when older than the newest list this node directory has
 * accepted from that admin — a rollback could restore members removed since. Same rule as the
 * browser node (protocol/consortium.ts acceptConsortium).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ACCEPTED_LISTS_FILE, loadMembership } from "../../../client/cli/node-start.ts";
import { CliError } from "../../../client/cli/errors.ts";
import type { NodePolicy } from "../../../client/agent/policy.ts";
import { consortiumRecord, signConsortium } from "../../../protocol/consortium.ts";
import { identityPublicKey } from "../../../protocol/crypto/identity.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";

const admin = new Uint8Array(32).fill(7);
const adminKey = toBase64Url(identityPublicKey(admin));
const member = toBase64Url(identityPublicKey(new Uint8Array(32).fill(5)));
const removed = toBase64Url(identityPublicKey(new Uint8Array(32).fill(6)));

let dir: string;
beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), "2pm-consortium-")); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

async function writeList(issuedAt: number, members: string[]): Promise<void> {
  const signed = signConsortium({ version: 1, kind: "2pm-consortium", name: "banks", issuedAt, members: members.map((identityKey) => ({ identityKey })) }, admin);
  await writeFile(path.join(dir, "consortium.json"), JSON.stringify(signed));
}
const policy = { consortium: { adminKey, list: "consortium.json" } } as unknown as NodePolicy;

describe("CLI node consortium list", () => {
  it("accepts a verified list and remembers its issue time per admin key", async () => {
    await writeList(2000, [member, removed]);
    const m = await loadMembership(policy, dir);
    expect(m?.size).toBe(2);
    const saved = JSON.parse(await readFile(path.join(dir, ACCEPTED_LISTS_FILE), "utf8")) as Record<string, { issuedAt: number }>;
    expect(saved[consortiumRecord(adminKey)]).toEqual({ issuedAt: 2000 });
  });

  it("refuses an older list (rollback to a list with a member since removed), accepts newer ones", async () => {
    await writeList(3000, [member]);
    expect((await loadMembership(policy, dir))?.size).toBe(1);
    await writeList(2000, [member, removed]); // the old list, still validly signed by the admin
    const err = await loadMembership(policy, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(/refusing the older list/);
    await writeList(3000, [member]); // the same list again is fine
    expect((await loadMembership(policy, dir))?.size).toBe(1);
    await writeList(4000, [member, removed]); // a newer list may add members back
    expect((await loadMembership(policy, dir))?.size).toBe(2);
    await writeList(3000, [member]);
    await expect(loadMembership(policy, dir)).rejects.toThrow(/refusing the older list/);
  });

  it("refuses to start with a damaged memory file instead of forgetting it", async () => {
    await writeList(2000, [member]);
    await writeFile(path.join(dir, ACCEPTED_LISTS_FILE), "{not json");
    await expect(loadMembership(policy, dir)).rejects.toThrow(/damaged/);
  });

  it("refuses a list signed by another key or not JSON, naming the file", async () => {
    await writeFile(path.join(dir, "consortium.json"), "{");
    await expect(loadMembership(policy, dir)).rejects.toThrow(/consortium\.json.*not valid JSON/);
    const other = signConsortium({ version: 1, kind: "2pm-consortium", name: "x", issuedAt: 1, members: [{ identityKey: member }] }, new Uint8Array(32).fill(8));
    await writeFile(path.join(dir, "consortium.json"), JSON.stringify(other));
    await expect(loadMembership(policy, dir)).rejects.toThrow(CliError);
    expect(await loadMembership({} as NodePolicy, dir)).toBeUndefined();
  });
});
