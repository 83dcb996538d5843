import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, spec, submitJob, tokenFetch } from "./helpers.ts";

type P = { code: string; status: number; issues?: Array<{ path: string; message: string }> };

describe("job submission", () => {
  it("refuses submission without a token or with a wrong one", async () => {
    const body = JSON.stringify(spec());
    const none = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(none.status).toBe(401);
    expect(((await none.json()) as P).code).toBe("unauthorized");
    const wrong = await tokenFetch("POST", "/v1/jobs", spec(), "test-api-tokeN");
    expect(wrong.status).toBe(401);
    const basic = await SELF.fetch(`${BASE}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json", authorization: "Basic dGVzdA==" }, body });
    expect(basic.status).toBe(401);
    expect((await SELF.fetch(`${BASE}/v1/jobs`)).status).toBe(401);
  });

  it("reports spec validation errors with paths", async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...spec(), committee: { size: 3, min: 4 } }, "committee.min"],
      [{ ...spec(), type: "sql" }, "type"],
      [{ ...spec(), extra: 1 }, ""],
      [{ ...spec(), committee: { size: 3, min: 2, max: 9 } }, "committee"],
      [{ ...spec(), maxRounds: 0 }, "maxRounds"],
      [{ ...spec(), fixedPoint: { fracBits: 40, bound: 2 ** 30 } }, "fixedPoint"],
      [{ ...spec(), mode: "linear-only", validation: { predicates: [{ kind: "bits" }] } }, "validation.predicates"],
      [{ ...spec(), deadlines: { join: -1 } }, "deadlines.join"],
      [{ ...spec(), task: "mean" }, "task"],
      [{ ...spec(), retryBudget: 1.5 }, "retryBudget"],
    ];
    for (const [body, path] of cases) {
      const r = await tokenFetch("POST", "/v1/jobs", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      const p = (await r.json()) as P;
      expect(p.code).toBe("validation-failed");
      expect(p.issues!.some((i) => i.path === path), `${path} in ${JSON.stringify(p.issues)}`).toBe(true);
    }
  });

  it("accepts a valid spec; without nodes the job stays pending; get, list, rounds, result, log, cancel", async () => {
    const job = await submitJob({ schemaId: "nobody/has/this" });
    expect(job.status).toBe("pending");
    const got = (await (await tokenFetch("GET", `/v1/jobs/${job.id}`)).json()) as { job: { status: string }; spec: { retryBudget: number } };
    expect(got.job.status).toBe("pending");
    expect(got.spec.retryBudget).toBe(3); // default applied
    const list = (await (await tokenFetch("GET", "/v1/jobs?status=pending")).json()) as { jobs: Array<{ id: string }> };
    expect(list.jobs.some((j) => j.id === job.id)).toBe(true);
    expect(((await (await tokenFetch("GET", `/v1/jobs/${job.id}/rounds`)).json()) as { rounds: unknown[] }).rounds).toEqual([]);
    expect(await (await tokenFetch("GET", `/v1/jobs/${job.id}/result`)).json()).toEqual({ status: "pending", result: null, error: null });
    const log = (await (await tokenFetch("GET", `/v1/jobs/${job.id}/log`)).json()) as { entries: Array<{ body: { kind: string } }> };
    expect(log.entries.map((e) => e.body.kind)).toEqual(["job"]);
    const c1 = await tokenFetch("POST", `/v1/jobs/${job.id}/cancel`);
    expect(((await c1.json()) as { job: { status: string } }).job.status).toBe("cancelled");
    const c2 = await tokenFetch("POST", `/v1/jobs/${job.id}/cancel`);
    expect(c2.status).toBe(200); // idempotent
    expect(((await (await tokenFetch("GET", `/v1/jobs/${job.id}`)).json()) as { job: { status: string } }).job.status).toBe("cancelled");
  });

  it("404s unknown jobs with problem details", async () => {
    for (const p of ["/v1/jobs/nope", "/v1/jobs/nope/rounds", "/v1/jobs/nope/result", "/v1/jobs/nope/log", "/v1/jobs/a.b"]) {
      const r = await tokenFetch("GET", p);
      expect(r.status, p).toBe(404);
      expect(((await r.json()) as P).code).toBe("not-found");
    }
    expect((await tokenFetch("POST", "/v1/jobs/nope/cancel")).status).toBe(404);
  });
});
