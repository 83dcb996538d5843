/**
 * The ledger is tamper-evident (client/agent/ledger.ts): every entry hash-chained and signed by
 * the node's key, closed by a signed head. A modified, removed or added entry, a dropped tail,
 * a re-chained file without the key, or a file signed by another key is refused on load; the
 * version-1 format is imported and signed from then on.
 */
import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { Ledger, LedgerError, memoryLedgerStore } from "../../../client/agent/ledger.ts";
import { generateNodeKeys } from "../../../protocol/crypto/identity.ts";
import { concatBytes, toBase64Url, toHex, utf8 } from "../../../protocol/encoding.ts";
import { canonicalJson } from "../../../protocol/log/index.ts";

const node = generateNodeKeys();
const other = generateNodeKeys();

interface FileEntry { seq: number; prev: string; at: number; body: Record<string, unknown>; hash: string; sig: string | null }
interface File { version: 2; key: string | null; entries: FileEntry[]; head: { count: number; hash: string; sig: string | null } }

/** A ledger with three jobs: two private (ρ 0.5 released, ρ 0.25 unknown), one settled false. */
async function filled(signingKey?: Uint8Array) {
  const store = memoryLedgerStore();
  const l = await Ledger.open(store, signingKey ? { signingKey } : {});
  for (const [jobId, rho] of [["j1", 0.5], ["j2", 0.25], ["j3", 0.125]] as const) {
    l.admit({ jobId, round: 0, attempt: 0, schemaId: "adult", rho, privacy: { rho } });
    await l.join(jobId, "adult", 0, 0, ["a", "b", "c"], 1000);
  }
  await l.settle("j1", 0, 0, true);
  await l.settle("j3", 0, 0, false);
  return { store, l };
}

const read = (text: string | null) => JSON.parse(text!) as File;
/** What an attacker without the key can do: recompute every hash and the head (signatures stay as they were). */
function rechain(f: File): File {
  let prev = "0".repeat(64);
  f.entries.forEach((e, i) => {
    e.seq = i;
    e.prev = prev;
    e.hash = toHex(sha256(concatBytes(utf8("2pm/ledger/v1"), new Uint8Array([0]), utf8(canonicalJson({ seq: e.seq, prev: e.prev, at: e.at, body: e.body })))));
    prev = e.hash;
  });
  f.head = { ...f.head, count: f.entries.length, hash: prev };
  return f;
}

async function refused(text: string, keys: Parameters<typeof Ledger.open>[1], code: string, msg: RegExp): Promise<void> {
  const store = memoryLedgerStore();
  store.text = text;
  const e = await Ledger.open(store, keys).then(() => undefined, (err: unknown) => err);
  expect(e, "the ledger was accepted").toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code).toBe(code);
  expect((e as Error).message).toMatch(msg);
}

describe("a signed, hash-chained ledger", () => {
  it("round-trips: reopened with the node's key it holds the same jobs, ρ and settlements", async () => {
    const { store, l } = await filled(node.identitySecretKey);
    const again = await Ledger.open(store, { signingKey: node.identitySecretKey });
    expect(again.snapshot()).toEqual(l.snapshot());
    expect(again.snapshot().signedBy).toBe(toBase64Url(node.identityPublicKey));
    expect(again.privacyCharges("adult").map((c) => c.rho)).toEqual([0.5, 0.25]);
    expect(read(store.text).entries.every((e) => e.sig !== null)).toBe(true);
  });

  it("a modified entry (a lowered ρ) is detected, and so is the same edit re-chained without the key", async () => {
    const { store } = await filled(node.identitySecretKey);
    const f = read(store.text);
    f.entries[0]!.body.rho = 0.05;
    await refused(JSON.stringify(f), { signingKey: node.identitySecretKey }, "ledger-tampered", /entry 0: content does not match its hash/);
    // Re-chained without the key: the head's signature (which commits to every entry) fails; an audit also names the entry.
    await refused(JSON.stringify(rechain(f)), { signingKey: node.identitySecretKey }, "ledger-tampered", /head signature does not verify/);
    await refused(JSON.stringify(rechain(f)), { signingKey: node.identitySecretKey, audit: true }, "ledger-tampered", /entry 0: signature does not verify/);
  });

  it("an audit checks every entry's own signature; a missing one is refused even without an audit", async () => {
    const { store } = await filled(node.identitySecretKey);
    const f = read(store.text);
    f.entries[2]!.sig = read(store.text).entries[1]!.sig; // a valid signature, over another entry
    await expect(Ledger.open({ load: async () => JSON.stringify(f), save: async () => {} }, { signingKey: node.identitySecretKey })).resolves.toBeInstanceOf(Ledger);
    await refused(JSON.stringify(f), { verifyKey: node.identityPublicKey, audit: true }, "ledger-tampered", /entry 2: signature does not verify/);
    f.entries[2]!.sig = null;
    await refused(JSON.stringify(f), { signingKey: node.identitySecretKey }, "ledger-tampered", /entry 2: signature does not verify/);
  });

  it("a removed entry is detected (middle: the chain breaks; tail: the head no longer matches; re-chained: signatures)", async () => {
    const { store } = await filled(node.identitySecretKey);
    const middle = read(store.text);
    middle.entries.splice(1, 1);
    await refused(JSON.stringify(middle), { signingKey: node.identitySecretKey }, "ledger-tampered", /entry 1: sequence number 2/);
    const tail = read(store.text);
    tail.entries.pop();
    await refused(JSON.stringify(tail), { signingKey: node.identitySecretKey }, "ledger-tampered", /head names 5 entries .* holds 4/);
    await refused(JSON.stringify(rechain(tail)), { signingKey: node.identitySecretKey }, "ledger-tampered", /head signature does not verify/);
    const reordered = read(store.text);
    [reordered.entries[1], reordered.entries[2]] = [reordered.entries[2]!, reordered.entries[1]!];
    await refused(JSON.stringify(rechain(reordered)), { signingKey: node.identitySecretKey }, "ledger-tampered", /head signature does not verify/);
  });

  it("a ledger signed by another key, or pinned to another key, is refused; a read-only opener cannot write", async () => {
    const { store } = await filled(node.identitySecretKey);
    await refused(store.text!, { signingKey: other.identitySecretKey }, "ledger-key", /not by this node's key/);
    await refused(store.text!, { verifyKey: other.identityPublicKey }, "ledger-key", /not by this node's key/);
    const ro = await Ledger.open(store, { verifyKey: node.identityPublicKey });
    expect(ro.privacyCharges("adult")).toHaveLength(2);
    await expect(ro.join("j9", "adult", 0, 0, [], 2000)).rejects.toMatchObject({ code: "ledger-key" });
    await expect(ro.settle("j2", 0, 0, false)).rejects.toMatchObject({ code: "ledger-key" });
  });

  it("an unsigned ledger still detects an edit that breaks the chain, and replays its entries: a forged second settle is refused", async () => {
    const { store } = await filled();
    const f = read(store.text);
    expect(f.key).toBeNull();
    f.entries[1]!.body.rho = 0;
    await refused(JSON.stringify(f), {}, "ledger-tampered", /entry 1: content does not match/);
    const g = read(store.text);
    g.entries.push({ seq: 0, prev: "", at: 3000, body: { kind: "settle", jobId: "j1", round: 0, attempt: 0, released: false }, hash: "", sig: null });
    await refused(JSON.stringify(rechain(g)), {}, "ledger-tampered", /settles attempt 0\.0 of j1 twice/);
  });

  it("an unsigned ledger: a removed entry with the rest re-hashed but not re-chained is caught by the chain; a replayed join or an orphan settle by the replay", async () => {
    const { store } = await filled();
    const f = read(store.text);
    f.entries.splice(1, 1);
    let prev = f.entries[0]!.hash;
    for (const [i, e] of f.entries.entries()) {
      if (i === 0) continue;
      e.seq = i; // prev left pointing at the removed entry
      e.hash = toHex(sha256(concatBytes(utf8("2pm/ledger/v1"), new Uint8Array([0]), utf8(canonicalJson({ seq: e.seq, prev: e.prev, at: e.at, body: e.body })))));
      prev = e.hash;
    }
    f.head = { ...f.head, count: f.entries.length, hash: prev };
    await refused(JSON.stringify(f), {}, "ledger-tampered", /entry 1: does not chain to the previous entry/);
    const dup = read(store.text);
    dup.entries.push({ ...dup.entries[0]! });
    await refused(JSON.stringify(rechain(dup)), {}, "ledger-tampered", /attempt 0\.0 of j1 joined twice/);
    const orphan = read(store.text);
    orphan.entries.push({ seq: 0, prev: "", at: 1, body: { kind: "settle", jobId: "nope", round: 0, attempt: 0, released: false }, hash: "", sig: null });
    await refused(JSON.stringify(rechain(orphan)), {}, "ledger-tampered", /never joined/);
  });

  it("released stays released; only an unknown attempt is settled", async () => {
    const { store, l } = await filled(node.identitySecretKey);
    const before = read(store.text).entries.length;
    await l.settle("j1", 0, 0, false);
    expect(l.releasedAttempt("j1", 0)?.attempt).toBe(0);
    expect(read(store.text).entries.length).toBe(before);
  });

  it("a version-1 ledger is imported (no ρ: its releases were non-private) and signed from the next write on", async () => {
    const store = memoryLedgerStore();
    store.text = JSON.stringify({ version: 1, jobs: [{ jobId: "old", schemaId: "adult", firstAt: 500, attempts: [{ round: 0, attempt: 0, committee: ["a"], released: true }, { round: 1, attempt: 0, committee: ["a"], released: "unknown" }] }] });
    const l = await Ledger.open(store, { signingKey: node.identitySecretKey });
    expect(l.releasedAttempt("old", 1)?.attempt).toBe(0);
    expect(l.privacyCharges("adult")).toEqual([{ at: 500, rho: null }, { at: 500, rho: null }]);
    await l.join("new", "adult", 0, 0, [], 1000);
    expect(read(store.text).version).toBe(2);
    const again = await Ledger.open(store, { signingKey: node.identitySecretKey });
    expect(again.snapshot().jobs.map((j) => j.jobId)).toEqual(["old", "new"]);
  });

  it("an unsigned ledger opened with the node's key is signed from then on", async () => {
    const { store } = await filled();
    const l = await Ledger.open(store, { signingKey: node.identitySecretKey });
    await l.join("j4", "adult", 0, 0, [], 4000);
    const f = read(store.text);
    expect(f.key).toBe(toBase64Url(node.identityPublicKey));
    expect(f.entries.every((e) => e.sig !== null)).toBe(true);
    await expect(Ledger.open(store, { verifyKey: node.identityPublicKey })).resolves.toBeInstanceOf(Ledger);
  });

  it("a join without an admission is recorded as non-private (rho null), never as free private", async () => {
    const l = await Ledger.open(memoryLedgerStore());
    await l.join("x", "adult", 0, 0, [], 1);
    expect(l.snapshot().jobs[0]!.attempts[0]!.rho).toBeNull();
  });
});
