/**
 * The browser node's platform pieces, run in Node (WebCrypto is the same API): the data
 * check and commitment equal the CLI node's, the IndexedDB key store (over an in-memory
 * KvStore) wraps keys under a non-extractable key and refuses corrupt or swapped records, the
 * host pins the coordinator's key, the page's progress lines and its CSP.
 */
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkDataText, parseSchemaText } from "../../../client/browser/dataset.ts";
import { IdbKeyStore, KEY_RECORD } from "../../../client/browser/idb-key-store.ts";
import { idbLedgerStore } from "../../../client/browser/idb-ledger-store.ts";
import { browserHost, pinRecord } from "../../../client/browser/host.ts";
import { describeEvent, foldProgress, type RoundProgress } from "../../../client/browser/progress.ts";
import type { KvStore } from "../../../client/browser/idb.ts";
import { Ledger } from "../../../client/agent/ledger.ts";
import type { NodeClient } from "../../../client/agent/node-client.ts";
import { loadDataSource, memoryAdapter } from "../../../client/data/source.ts";
import { generateNodeKeys, identityPublicKey } from "../../../protocol/crypto/identity.ts";
import { DEV_COORDINATOR_PUBLIC_KEY } from "../../../protocol/crypto/dev-key.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { nodePage } from "../../../functions/node-page/routes.ts";
import { NODE_LEARNING_SCRIPT, NODE_PAGE_SCRIPT, QUERIER_PAGE_SCRIPT } from "../../../functions/node-page/bundle.ts";
import { nodePageRoutes, querierPage } from "../../../functions/node-page/routes.ts";
import { parseFeatureRows } from "../../../client/browser/feature-rows.ts";
import { acceptConsortium as loadMembership, consortiumRecord, signConsortium } from "../../../protocol/consortium.ts";
import { nodeIdFromPublicKey } from "../../../protocol/crypto/identity.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const SCHEMA_TEXT = readFileSync(path.join(ROOT, "examples/schemas/adult.json"), "utf8");
const CSV = readFileSync(path.join(ROOT, "examples/data/adult-train.csv"), "utf8").split("\n").slice(0, 200).join("\n") + "\n";

/** An in-memory KvStore with IndexedDB's structured-clone semantics. */
function memoryKv(): KvStore & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async <T>(k: string) => (map.has(k) ? (structuredClone(map.get(k)) as T) : undefined),
    put: async (k, v) => { map.set(k, structuredClone(v)); },
    delete: async (k) => { map.delete(k); },
  };
}

describe("browser data source", () => {
  const schema = parseSchemaText(SCHEMA_TEXT, "adult.json");

  it("gives the same rows and commitment as the CLI node's loadDataSource for the same file", async () => {
    const r = checkDataText("a.csv", CSV, schema);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const cli = await loadDataSource(memoryAdapter({ "a.csv": CSV }), { path: "a.csv", schema });
    expect(r.rows).toBe(200);
    expect(r.dataset.commitment).toEqual(cli.commitment);
    expect(r.columns).toEqual(schema.columns.map((c) => c.name));
  });

  it("a changed cell changes the commitment", () => {
    const a = checkDataText("a.csv", CSV, schema);
    const b = checkDataText("a.csv", CSV.replace(/^39,/, "40,"), schema);
    expect(a.ok && b.ok && a.dataset.commitment.digest !== b.dataset.commitment.digest).toBe(true);
  });

  it("reports every bad row with file, line and column, and returns no dataset", () => {
    const bad = CSV.split("\n");
    bad[2] = bad[2]!.replace(/^\d+,/, "forty,");
    bad[5] = bad[5]!.replace("Private", "Privat");
    const r = checkDataText("b.csv", bad.join("\n"), schema);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^b\.csv:3: column "age": "forty" is not a number/);
    expect(r.errors[1]).toMatch(/^b\.csv:6: column "workclass": /);
    expect("dataset" in r).toBe(false);
  });

  it("refuses a schema that is not JSON or not a schema, naming the file", () => {
    expect(() => parseSchemaText("{", "s.json")).toThrow(/s\.json: not valid JSON/);
    expect(() => parseSchemaText("{}", "s.json")).toThrow(/s\.json/);
  });
});

describe("IndexedDB key store", () => {
  it("round-trips the keys; the stored record holds no secret in the clear and a non-extractable wrapping key", async () => {
    const kv = memoryKv();
    const store = new IdbKeyStore(kv);
    expect(await store.load()).toBeNull();
    const { keys, created } = await store.loadOrCreate();
    expect(created).toBe(true);
    const again = await new IdbKeyStore(kv).loadOrCreate();
    expect(again.created).toBe(false);
    expect(again.keys).toEqual(keys);
    expect(await store.wrapKeyExtractable()).toBe(false);
    const rec = kv.map.get(KEY_RECORD) as { wrapKey: CryptoKey; sealed: Uint8Array };
    await expect(crypto.subtle.exportKey("raw", rec.wrapKey)).rejects.toThrow();
    const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");
    expect(hex(rec.sealed).includes(hex(keys.identitySecretKey))).toBe(false);
    expect(hex(rec.sealed).includes(hex(keys.kxSecretKey))).toBe(false);
  });

  it("never overwrites stored keys", async () => {
    const kv = memoryKv();
    const store = new IdbKeyStore(kv);
    await store.save(generateNodeKeys(seededRng("a")));
    await expect(store.save(generateNodeKeys(seededRng("b")))).rejects.toThrow(/keys-exist/);
    expect((await store.load())!.identityPublicKey).toEqual(generateNodeKeys(seededRng("a")).identityPublicKey);
  });

  it("refuses a tampered ciphertext and a swapped public key (keys-corrupt), never returning half-valid keys", async () => {
    const kv = memoryKv();
    await new IdbKeyStore(kv).save(generateNodeKeys(seededRng("c")));
    const rec = kv.map.get(KEY_RECORD) as { sealed: Uint8Array; identityPublicKey: Uint8Array };
    const tampered = { ...rec, sealed: rec.sealed.slice() };
    tampered.sealed[3]! ^= 1;
    kv.map.set(KEY_RECORD, tampered);
    await expect(new IdbKeyStore(kv).load()).rejects.toThrow(/keys-corrupt: .*do not decrypt/);
    kv.map.set(KEY_RECORD, { ...rec, identityPublicKey: identityPublicKey(new Uint8Array(32).fill(7)) });
    await expect(new IdbKeyStore(kv).load()).rejects.toThrow(/keys-corrupt: the stored public keys do not match/);
  });

  it("keeps the ledger across opens", async () => {
    const kv = memoryKv();
    const l = await Ledger.open(idbLedgerStore(kv));
    await l.join("job-1", "adult", 0, 0, ["a", "b", "c"], 1000);
    await l.settle("job-1", 0, 0, true);
    const l2 = await Ledger.open(idbLedgerStore(kv));
    expect(l2.releasedAttempt("job-1", 0)).toEqual({ attempt: 0, committee: ["a", "b", "c"] });
  });
});

describe("browser host: the coordinator's log key", () => {
  const client = (key: Uint8Array) => ({ coordinatorKey: async () => ({ publicKey: toBase64Url(key) }) }) as unknown as NodeClient;
  const k1 = identityPublicKey(new Uint8Array(32).fill(1));
  const k2 = identityPublicKey(new Uint8Array(32).fill(2));

  it("pins the key on first use and refuses a changed key afterwards", async () => {
    const kv = memoryKv();
    const host = browserHost(kv, "https://coord.example/x", { allowDevKey: false });
    expect(await host.coordinatorKey(client(k1))).toEqual(k1);
    expect(kv.map.has(pinRecord("https://coord.example"))).toBe(true);
    expect(await host.coordinatorKey(client(k1))).toEqual(k1);
    await expect(host.coordinatorKey(client(k2))).rejects.toThrow(/coordinator-key-changed/);
    // A different coordinator has its own pin.
    expect(await browserHost(kv, "https://other.example", { allowDevKey: false }).coordinatorKey(client(k2))).toEqual(k2);
  });

  it("refuses the public development key unless told to accept it", async () => {
    const dev = Uint8Array.from(Buffer.from(DEV_COORDINATOR_PUBLIC_KEY, "base64url"));
    await expect(browserHost(memoryKv(), "https://c.example", { allowDevKey: false }).coordinatorKey(client(dev))).rejects.toThrow(/coordinator-key-refused/);
    expect(await browserHost(memoryKv(), "https://c.example", { allowDevKey: true }).coordinatorKey(client(dev))).toEqual(dev);
  });
});

describe("browser node progress", () => {
  it("prints the CLI's lines and folds events into a per-round table", () => {
    const id = { jobId: "J", round: 0, attempt: 1 };
    expect(describeEvent({ kind: "assignment", ...id, index: 1, committee: 3 })).toBe("J round 1 attempt 2: selected as party 1 of 3");
    expect(describeEvent({ kind: "round-aborted", ...id, code: "timeout", culprits: [2], detail: "" })).toBe("J round 1 attempt 2: aborted: timeout (culprits 2)");
    const t = new Map<string, RoundProgress>();
    foldProgress(t, { kind: "assignment", ...id, index: 1, committee: 3 });
    foldProgress(t, { kind: "phase", ...id, phase: "open.sum" });
    expect(t.get("J/0/1")).toMatchObject({ party: "2 of 3", phase: "open.sum", phases: 1, status: "running" });
    foldProgress(t, { kind: "round-done", ...id, excluded: [], ms: 1500, bytesSent: 10, bytesReceived: 20 });
    expect(t.get("J/0/1")!.status).toBe("accepted");
    foldProgress(t, { kind: "warning", detail: "x" });
    expect(t.size).toBe(1);
  });
});

describe("browser node page", () => {
  it("allows exactly its inline script and the learning bundle (by hash), no external resource, and says the data never leaves the page", async () => {
    const { html, csp } = await nodePage();
    expect(csp).toContain(`script-src 'sha256-${createHashB64(NODE_PAGE_SCRIPT)}' 'sha256-${createHashB64(NODE_LEARNING_SCRIPT)}';`);
    // The page loads the learning bundle with that hash as its Subresource Integrity value.
    expect(NODE_PAGE_SCRIPT).toContain(`"sha256-${createHashB64(NODE_LEARNING_SCRIPT)}"`);
    expect(csp).toMatch(/default-src 'none'/);
    expect(html).toContain(`<script>${NODE_PAGE_SCRIPT}</script>`);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(/\s(src|href)=/.test(html.replace(NODE_PAGE_SCRIPT, ""))).toBe(false);
    expect(html).toMatch(/Your data never leaves this page/);
  });

  it("serves /node/ with its CSP, /node redirects, and /node/learning.js is the learning bundle", async () => {
    const page = await nodePageRoutes.request("/node/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe((await nodePage()).csp);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const redirect = await nodePageRoutes.request("/node");
    expect([redirect.status, redirect.headers.get("location")]).toEqual([308, "/node/"]);
    const js = await nodePageRoutes.request("/node/learning.js");
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await js.text()).toBe(NODE_LEARNING_SCRIPT);
  });
});

describe("browser consortium list", () => {
  const admin = new Uint8Array(32).fill(9);
  const adminKey = toBase64Url(identityPublicKey(admin));
  const member = identityPublicKey(new Uint8Array(32).fill(3));
  const list = (issuedAt: number, members = [member]) => JSON.stringify(signConsortium({ version: 1, kind: "2pm-consortium", name: "hospitals", issuedAt, members: members.map((k) => ({ identityKey: toBase64Url(k) })) }, admin));

  it("verifies the signed list against the pinned admin key and answers membership", async () => {
    const m = await loadMembership(memoryKv(), list(1000), "c.json", adminKey);
    expect([m.name, m.size, m.has(nodeIdFromPublicKey(member), toBase64Url(member))]).toEqual(["hospitals", 1, true]);
  });

  it("refuses bad JSON, another admin's list and a forged signature", async () => {
    await expect(loadMembership(memoryKv(), "{", "c.json", adminKey)).rejects.toThrow(/c\.json is not valid JSON/);
    const other = toBase64Url(identityPublicKey(new Uint8Array(32).fill(8)));
    await expect(loadMembership(memoryKv(), list(1000), "c.json", other)).rejects.toThrow(/another admin key/);
    const forged = JSON.parse(list(1000)) as { list: { members: Array<{ identityKey: string }> } };
    forged.list.members.push({ identityKey: toBase64Url(identityPublicKey(new Uint8Array(32).fill(4))) });
    await expect(loadMembership(memoryKv(), JSON.stringify(forged), "c.json", adminKey)).rejects.toThrow(/signature does not verify/);
  });

  it("refuses a list older than one it already accepted (rollback), accepts the same or a newer one", async () => {
    const kv = memoryKv();
    await loadMembership(kv, list(2000), "c.json", adminKey);
    expect(kv.map.get(consortiumRecord(adminKey))).toEqual({ issuedAt: 2000 });
    await expect(loadMembership(kv, list(1000), "old.json", adminKey)).rejects.toThrow(/old\.json was issued .*before the list this node already accepted/);
    await loadMembership(kv, list(2000), "c.json", adminKey);
    await loadMembership(kv, list(3000), "c.json", adminKey);
    expect(kv.map.get(consortiumRecord(adminKey))).toEqual({ issuedAt: 3000 });
  });
});

describe("browser querier", () => {
  it("parses rows of exactly the model's width, naming the first bad line", () => {
    expect(parseFeatureRows("1,2,3\n\n 4, 5 ,6 \r\n7 8 9\n", 3)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    expect(() => parseFeatureRows("1,2,3\n1,2\n", 3)).toThrow(/rows line 2: 2 values, the model takes 3/);
    expect(() => parseFeatureRows("1,x,3\n", 3)).toThrow(/rows line 1: value 2 \("x"\) is not a finite number/);
    expect(() => parseFeatureRows("1,,3\n", 3)).toThrow(/rows line 1: value 2/);
    expect(() => parseFeatureRows("1,Infinity,3\n", 3)).toThrow(/not a finite number/);
    expect(() => parseFeatureRows("\n\n", 3)).toThrow(/no rows given/);
    expect(() => parseFeatureRows("1\n2\n3\n", 1, 2)).toThrow(/more than 2 rows/);
  });

  it("serves /querier/ with its script by hash and WebAssembly allowed, connections to this origin only, and node-seal's WebAssembly", async () => {
    const { html, csp } = await querierPage();
    expect(csp).toContain(`script-src 'sha256-${createHashB64(QUERIER_PAGE_SCRIPT)}' 'wasm-unsafe-eval';`);
    expect(csp).toContain("connect-src 'self';");
    expect(html).toContain(`<script>${QUERIER_PAGE_SCRIPT}</script>`);
    expect(html).toMatch(/secret key never leave this page/);
    const page = await nodePageRoutes.request("/querier/");
    expect(page.headers.get("content-security-policy")).toBe(csp);
    const wasm = await nodePageRoutes.request("/querier/seal.wasm");
    expect(wasm.headers.get("content-type")).toBe("application/wasm");
    const bytes = new Uint8Array(await wasm.arrayBuffer());
    expect(Buffer.from(bytes).equals(readFileSync(path.join(ROOT, "node_modules/node-seal/dist/seal_throws.wasm")))).toBe(true);
    // The page pins exactly these bytes.
    expect(QUERIER_PAGE_SCRIPT).toContain(`"sha256-${createHash("sha256").update(bytes).digest("base64")}"`);
  });
});

function createHashB64(s: string): string {
  return createHash("sha256").update(s).digest("base64");
}
