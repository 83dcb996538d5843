import { describe, expect, it } from "vitest";
import { appendEntry, canonicalJson, GENESIS_HASH, modelHashForRound, objectHash, verifyLog, type LogEntry } from "../../../protocol/log/index.ts";
import { generateNodeKeys } from "../../../protocol/crypto/identity.ts";
import { seededRng } from "../../../protocol/rng.ts";

const coord = generateNodeKeys(seededRng("coordinator"));
const other = generateNodeKeys(seededRng("someone"));

function build(): LogEntry[] {
  const manifest = { jobId: "j", round: 0, committee: ["a", "b"] };
  const out: LogEntry[] = [];
  const push = (b: LogEntry["body"]) => out.push(appendEntry(out.at(-1) ?? null, b, 1000 + out.length, coord.identitySecretKey));
  push({ kind: "job", jobId: "j", specHash: objectHash({ x: 1 }), spec: { x: 1 } });
  push({ kind: "manifest", round: 0, attempt: 0, manifestHash: objectHash(manifest), manifest });
  push({ kind: "dataset-commitments", round: 0, attempt: 0, commitments: [{ nodeId: "a", schemaId: "s", rows: 3, commitment: "00".repeat(32) }] });
  push({ kind: "model", round: 1, modelHash: "ab".repeat(32), bytes: 10 });
  push({ kind: "result", round: 0, attempt: 0, aggregateHash: "cd".repeat(32), transcriptHash: "t", excluded: [], done: true });
  push({ kind: "abort", round: 1, attempt: 0, code: "timeout", culprits: ["b"], detail: "x" });
  return out;
}

describe("canonicalJson", () => {
  it("sorts keys, drops undefined, refuses non-finite numbers", () => {
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: "x" }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
    expect(() => canonicalJson({ a: NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});

describe("transparency log", () => {
  it("a well-formed log verifies", () => {
    const log = build();
    expect(log[0]!.prevHash).toBe(GENESIS_HASH);
    expect(verifyLog(log, coord.identityPublicKey)).toEqual([]);
    expect(modelHashForRound(log, 1)).toBe("ab".repeat(32));
    expect(modelHashForRound(log, 0)).toBeNull();
  });
  it("detects a wrong coordinator key", () => {
    expect(verifyLog(build(), other.identityPublicKey).length).toBe(6);
  });
  it("detects altered content, a removed entry, reordering, a forged signature and a bad manifest hash", () => {
    const altered = build();
    (altered[4]!.body as { aggregateHash: string }).aggregateHash = "ee".repeat(32);
    expect(verifyLog(altered, coord.identityPublicKey).join()).toMatch(/entry 4: hash mismatch/);

    const removed = build();
    removed.splice(2, 1);
    expect(verifyLog(removed, coord.identityPublicKey).join()).toMatch(/seq is 3|does not chain/);

    const swapped = build();
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    expect(verifyLog(swapped, coord.identityPublicKey).length).toBeGreaterThan(0);

    const forged = build();
    const f = appendEntry(forged[4]!, { kind: "status", status: "completed", detail: "" }, 9999, other.identitySecretKey);
    forged[5] = f;
    expect(verifyLog(forged, coord.identityPublicKey).join()).toMatch(/entry 5: bad coordinator signature/);

    const badManifest = build();
    const b = badManifest[1]!;
    const body = { ...(b.body as Extract<LogEntry["body"], { kind: "manifest" }>), manifest: { evil: true } };
    badManifest[1] = appendEntry(badManifest[0]!, body, b.timestamp, coord.identitySecretKey);
    expect(verifyLog(badManifest, coord.identityPublicKey).join()).toMatch(/manifestHash does not match/);
  });
  it("never throws on garbage", () => {
    expect(verifyLog([{ seq: 0 } as unknown as LogEntry], coord.identityPublicKey).length).toBeGreaterThan(0);
  });
});

describe("verifying only what was appended (verifyLog with `after`)", () => {
  it("a suffix that continues the verified prefix verifies; its seqs count on from the anchor", () => {
    const log = build();
    expect(verifyLog(log.slice(3), coord.identityPublicKey, log[2]!)).toEqual([]);
    expect(verifyLog([], coord.identityPublicKey, log[5]!)).toEqual([]);
  });
  it("a suffix that does not chain onto the anchor (a forked or rewritten log), skips or repeats an entry, or is altered is refused", () => {
    const log = build();
    // Another log with the same first entries but a different entry 2: its entry 3 does not chain onto ours.
    const fork = build().slice(0, 2);
    const push = (b: LogEntry["body"]) => fork.push(appendEntry(fork.at(-1)!, b, 5000 + fork.length, coord.identitySecretKey));
    push({ kind: "status", status: "running", detail: "forked" });
    push({ kind: "model", round: 1, modelHash: "ff".repeat(32), bytes: 10 });
    expect(verifyLog(fork.slice(3), coord.identityPublicKey, log[2]!).join()).toMatch(/entry 3: prevHash does not chain/);
    expect(verifyLog(log.slice(4), coord.identityPublicKey, log[2]!).join()).toMatch(/entry 3: seq is 4/);
    expect(verifyLog(log.slice(2), coord.identityPublicKey, log[2]!).join()).toMatch(/entry 3: seq is 2/);
    const altered = build();
    (altered[4]!.body as { aggregateHash: string }).aggregateHash = "ee".repeat(32);
    expect(verifyLog(altered.slice(3), coord.identityPublicKey, altered[2]!).join()).toMatch(/entry 4: hash mismatch/);
  });
});
