import { describe, expect, it } from "vitest";
import { ed25519 } from "@noble/curves/ed25519.js";
import { deriveSessionId } from "../../../protocol/api/schemas.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";
import { verifyJobLog } from "../../../protocol/jobs/audit.ts";
import { appendEntry, objectHash, type LogBody, type LogEntry } from "../../../protocol/log/index.ts";
import { seededRng } from "../../../protocol/rng.ts";

const sk = seededRng("audit").bytes(32);
const pk = ed25519.getPublicKey(sk);
const H = (c: string) => c.repeat(64).slice(0, 64);

function manifest(round: number, attempt: number, sessionJob = "job1", modelHash: string | null = null) {
  return { jobId: "job1", round, attempt, sessionId: toBase64Url(deriveSessionId(sessionJob, round, attempt)), committee: [{ index: 0, nodeId: "a".repeat(32) }, { index: 1, nodeId: "b".repeat(32) }], modelHash };
}
function build(bodies: LogBody[]): LogEntry[] {
  const out: LogEntry[] = [];
  for (const b of bodies) out.push(appendEntry(out[out.length - 1] ?? null, b, 1000 + out.length, sk));
  return out;
}
const job: LogBody = { kind: "job", jobId: "job1", specHash: objectHash({ a: 1 }), spec: { a: 1 } };
const m = (r: number, a: number, sessionJob?: string, modelHash: string | null = null): LogBody => { const man = manifest(r, a, sessionJob, modelHash); return { kind: "manifest", round: r, attempt: a, manifestHash: objectHash(man), manifest: man }; };
const result = (r: number, a: number): LogBody => ({ kind: "result", round: r, attempt: a, aggregateHash: H("ab"), transcriptHash: toBase64Url(new Uint8Array(32)), excluded: [], done: true });

describe("whole-job log audit", () => {
  it("accepts a sound job: manifest, abort, retry, result", () => {
    const log = build([job, m(0, 0), { kind: "abort", round: 0, attempt: 0, code: "timeout", culprits: ["b".repeat(32)], detail: "" }, m(0, 1), result(0, 1)]);
    const r = verifyJobLog(log, pk);
    expect(r.problems).toEqual([]);
    expect(r.summary[0]).toMatch(/2 round attempt\(s\), 1 accepted, 1 aborted/);
  });
  it("flags a round rerun after an attempt released its output (a coordinator differencing two sums)", () => {
    const abort = (released: boolean): LogBody => ({ kind: "abort", round: 0, attempt: 0, code: "mac-check-failed", culprits: [], detail: "", released });
    expect(verifyJobLog(build([job, m(0, 0), abort(true), m(0, 1), result(0, 1)]), pk).problems.join()).toMatch(/rerun after an attempt had released its output/);
    expect(verifyJobLog(build([job, m(0, 0), abort(false), m(0, 1), result(0, 1)]), pk).problems).toEqual([]);
  });
  it("flags a round counted twice", () => {
    expect(verifyJobLog(build([job, m(0, 0), result(0, 0), m(0, 1), result(0, 1)]), pk).problems.join()).toMatch(/counted twice/);
  });
  it("flags a result without a manifest", () => {
    expect(verifyJobLog(build([job, result(0, 0)]), pk).problems.join()).toMatch(/without a manifest/);
  });
  it("flags a manifest whose session id belongs to another job", () => {
    expect(verifyJobLog(build([job, m(0, 0, "other")]), pk).problems.join()).toMatch(/session id/);
  });
  it("checks that each learning round starts from the model logged for it", () => {
    const model = (r: number, h: string): LogBody => ({ kind: "model", round: r, modelHash: h, bytes: 8 });
    const good = build([job, model(0, H("a1")), m(0, 0, undefined, H("a1")), result(0, 0), model(1, H("b2")), m(1, 0, undefined, H("b2"))]);
    expect(verifyJobLog(good, pk).problems).toEqual([]);
    const stale = build([job, model(0, H("a1")), m(0, 0, undefined, H("a1")), result(0, 0), model(1, H("b2")), m(1, 0, undefined, H("a1"))]);
    expect(verifyJobLog(stale, pk).problems.join()).toMatch(/round 2 does not start from the model logged for it/);
  });
  it("flags an altered entry and a foreign signature", () => {
    const log = build([job, m(0, 0), result(0, 0)]);
    const altered = log.map((e, i) => (i === 2 ? { ...e, body: { ...e.body, excluded: [1] } as LogBody } : e));
    expect(verifyJobLog(altered, pk).problems.join()).toMatch(/hash mismatch/);
    expect(verifyJobLog(log, ed25519.getPublicKey(seededRng("other").bytes(32))).problems.join()).toMatch(/bad coordinator signature/);
  });
});
