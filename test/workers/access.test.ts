/**
 * DESIGN §5: a job's log, results and models are readable by its submitter (API token) and
 * its committee only. A registered node that never sat on one of the job's committees gets
 * 403 not-a-member; unsigned requests 401.
 */
import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signRequest } from "../../protocol/crypto/request.ts";
import { utf8 } from "../../protocol/encoding.ts";
import type { LogEntry } from "../../protocol/log/index.ts";
import { assignments, BASE, makeNode, register, signedFetch, submitJob, tokenFetch, until, type TestNode } from "./helpers.ts";

const problemCode = async (r: Response) => ((await r.json()) as { code: string }).code;
const anonymous = (path: string) => SELF.fetch(BASE + path);

/** Two nodes form the committee of a fresh job; a third, registered for another schema, is an outsider. */
async function jobWithCommittee(): Promise<{ jobId: string; members: TestNode[]; outsider: TestNode }> {
  const schemaId = `access/${crypto.randomUUID()}`;
  const members = [makeNode(), makeNode()];
  for (const m of members) expect((await register(m, { schemaId })).status).toBe(201);
  const outsider = makeNode();
  expect((await register(outsider, { schemaId: `access/other/${crypto.randomUUID()}` })).status).toBe(201);
  const job = await submitJob({ schemaId, committee: { size: 2, min: 2 } });
  await until(async () => (await assignments(members[0]!)).some((a) => a.jobId === job.id), 5000, "assignment");
  const put = await SELF.fetch(`${BASE}/v1/jobs/${job.id}/models/1`, { method: "PUT", headers: { authorization: "Bearer test-api-token", "content-type": "application/octet-stream" }, body: utf8("weights for round 1") as Uint8Array<ArrayBuffer> });
  expect(put.status).toBe(201);
  return { jobId: job.id, members, outsider };
}

describe("job log and models: submitter and committee only", () => {
  it("an outsider node (registered, signed, never on a committee) gets 403 not-a-member on another job's log and model", async () => {
    const { jobId, outsider } = await jobWithCommittee();
    const log = await signedFetch(outsider, "GET", `/v1/jobs/${jobId}/log`);
    expect(log.status).toBe(403);
    expect(log.headers.get("content-type")).toContain("application/problem+json");
    expect(await problemCode(log)).toBe("not-a-member");
    const model = await signedFetch(outsider, "GET", `/v1/jobs/${jobId}/models/1`);
    expect(model.status).toBe(403);
    expect(await problemCode(model)).toBe("not-a-member");
    // and cannot probe for job ids: an unknown job is the same 403
    expect(await problemCode(await signedFetch(outsider, "GET", `/v1/jobs/no-such-job/log`))).toBe("not-a-member");
  });

  it("a committee member gets 200 on the log and the model", async () => {
    const { jobId, members } = await jobWithCommittee();
    for (const m of members) {
      const log = await signedFetch(m, "GET", `/v1/jobs/${jobId}/log`);
      expect(log.status).toBe(200);
      const { entries } = (await log.json()) as { entries: LogEntry[] };
      expect(entries.map((e) => e.body.kind)).toContain("manifest");
      const model = await signedFetch(m, "GET", `/v1/jobs/${jobId}/models/1`);
      expect(model.status).toBe(200);
      expect(new TextDecoder().decode(await model.arrayBuffer())).toBe("weights for round 1");
    }
  });

  it("membership survives the assignment being closed (deregistration closes, never deletes)", async () => {
    const { jobId, members } = await jobWithCommittee();
    await env.DB.prepare("UPDATE assignments SET status = 'closed' WHERE job_id = ?").bind(jobId).run();
    expect((await signedFetch(members[0]!, "GET", `/v1/jobs/${jobId}/log`)).status).toBe(200);
  });

  it("unsigned requests get 401, the API token 200, a wrong token 401", async () => {
    const { jobId } = await jobWithCommittee();
    for (const path of [`/v1/jobs/${jobId}/log`, `/v1/jobs/${jobId}/models/1`]) {
      const r = await anonymous(path);
      expect(r.status).toBe(401);
      expect(await problemCode(r)).toBe("missing-signature");
      expect((await tokenFetch("GET", path)).status).toBe(200);
      expect((await tokenFetch("GET", path, undefined, "wrong-token")).status).toBe(401);
    }
  });

  it("a member's signed read is still replay-protected", async () => {
    const { jobId, members } = await jobWithCommittee();
    const m = members[0]!;
    const url = `${BASE}/v1/jobs/${jobId}/log`;
    const headers = signRequest({ method: "GET", url, nodeId: m.id, identitySecretKey: m.identitySecretKey });
    expect((await SELF.fetch(url, { headers })).status).toBe(200);
    const again = await SELF.fetch(url, { headers });
    expect(again.status).toBe(401);
    expect(await problemCode(again)).toBe("replay");
  });

  it("the membership lookup is an indexed read of assignments (node_id, job_id)", async () => {
    const plan = await env.DB.prepare("EXPLAIN QUERY PLAN SELECT 1 AS m FROM assignments WHERE node_id = ? AND job_id = ? LIMIT 1").bind("n", "j").all<{ detail: string }>();
    const detail = plan.results.map((r) => r.detail).join("; ");
    expect(detail).toMatch(/USING (COVERING )?INDEX/);
    expect(detail).not.toMatch(/^SCAN assignments$/);
  });
});

describe("other routes stay closed to nodes", () => {
  it("node list, job list, job, rounds, result and round status are token-only", async () => {
    const { jobId, members } = await jobWithCommittee();
    const m = members[0]!;
    for (const path of ["/v1/nodes", "/v1/jobs", `/v1/jobs/${jobId}`, `/v1/jobs/${jobId}/rounds`, `/v1/jobs/${jobId}/result`, `/v1/rounds/${jobId}/0/0`]) {
      expect((await signedFetch(m, "GET", path)).status, path).toBe(401);
      expect((await anonymous(path)).status, path).toBe(401);
      expect((await tokenFetch("GET", path)).status, path).toBe(200);
    }
    // a node reads only its own record
    expect((await signedFetch(m, "GET", `/v1/nodes/${members[1]!.id}`)).status).toBe(403);
    expect((await signedFetch(m, "GET", `/v1/nodes/${m.id}`)).status).toBe(200);
  });
});
