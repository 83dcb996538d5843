/**
 * Submitter-signed job specs at the coordinator: a signed spec is verified and its signature
 * logged in the job's first entry (nodes check it there); a bad signature or a spec altered
 * after signing is refused with `bad-spec-signature` and no job is created.
 */
import { describe, expect, it } from "vitest";
import { spec, tokenFetch } from "./helpers.ts";
import { signJobSpec, verifySpecSignature } from "../../protocol/jobs/signed-spec.ts";
import { objectHash, type LogEntry } from "../../protocol/log/index.ts";

const submitter = crypto.getRandomValues(new Uint8Array(32));

describe("submitter-signed job specs", () => {
  it("a signed spec is accepted and its signature is logged with the spec", async () => {
    const body = signJobSpec(spec({ schemaId: "signed/a" }), submitter);
    const r = await tokenFetch("POST", "/v1/jobs", body);
    expect(r.status).toBe(201);
    const { job } = (await r.json()) as { job: { id: string } };
    const log = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[] };
    const first = log.entries[0]!.body;
    expect(first.kind).toBe("job");
    if (first.kind !== "job") return;
    expect(first.submitter).toEqual(body.submitter);
    expect(first.specHash).toBe(objectHash(body.spec));
    expect(verifySpecSignature(first.specHash, first.submitter!)).toBe(true);
  });

  it("refuses a spec altered after signing, a signature by another key, and a malformed signature", async () => {
    const before = ((await (await tokenFetch("GET", "/v1/jobs?limit=200")).json()) as { jobs: unknown[] }).jobs.length;
    const good = signJobSpec(spec({ schemaId: "signed/b" }), submitter);
    const altered = { ...good, spec: { ...good.spec, mode: "linear-only" } };
    const other = signJobSpec(spec({ schemaId: "signed/b" }), crypto.getRandomValues(new Uint8Array(32)));
    const swapped = { ...good, submitter: { ...good.submitter, key: other.submitter.key } };
    for (const body of [altered, swapped]) {
      const r = await tokenFetch("POST", "/v1/jobs", body);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { code: string }).code).toBe("bad-spec-signature");
    }
    const malformed = await tokenFetch("POST", "/v1/jobs", { ...good, submitter: { key: "short", signature: "x" } });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("validation-failed");
    const after = ((await (await tokenFetch("GET", "/v1/jobs?limit=200")).json()) as { jobs: unknown[] }).jobs.length;
    expect(after).toBe(before);
  });

  it("an unsigned spec is still accepted by the coordinator but logged without a submitter (nodes decline it)", async () => {
    const r = await tokenFetch("POST", "/v1/jobs", spec({ schemaId: "signed/c" }));
    expect(r.status).toBe(201);
    const { job } = (await r.json()) as { job: { id: string } };
    const log = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: LogEntry[] };
    const first = log.entries[0]!.body;
    expect(first.kind === "job" && first.submitter).toBeNull();
  });
});
