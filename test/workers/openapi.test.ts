/** GET /v1/openapi.json: generated from the zod schemas, and complete (every route of the app). */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../functions/index.ts";
import { BASE } from "./helpers.ts";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: unknown; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { type?: string; properties?: Record<string, unknown>; anyOf?: unknown[] }> };
};

async function doc(): Promise<Doc> {
  const r = await SELF.fetch(`${BASE}/v1/openapi.json`);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("application/json");
  return JSON.parse(await r.text()) as Doc; // valid JSON
}

describe("GET /v1/openapi.json", () => {
  it("is public OpenAPI 3.1 JSON listing every route of the app", async () => {
    const d = await doc();
    expect(d.openapi).toBe("3.1.0");
    const routes = app.routes.filter((r) => r.method !== "ALL").map((r) => [r.method.toLowerCase(), r.path.replace(/:(\w+)/g, "{$1}")] as const);
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter(([m, p]) => !d.paths[p]?.[m]).map(([m, p]) => `${m.toUpperCase()} ${p}`);
    expect(missing).toEqual([]);
    // and nothing that the app does not serve
    const served = new Set(routes.map(([m, p]) => `${m} ${p}`));
    const extra = Object.entries(d.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).filter((k) => !served.has(k));
    expect(extra).toEqual([]);
  });

  it("describes bodies, queries and answers from the zod schemas", async () => {
    const d = await doc();
    const s = d.components.schemas;
    expect(Object.keys(s.NodeRegistration!.properties!)).toEqual(expect.arrayContaining(["identityKey", "kxKey", "capabilities", "datasets"]));
    expect(Object.keys(s.JobSummary!.properties!)).toEqual(expect.arrayContaining(["id", "status", "round", "attempt"]));
    expect(s.JobSubmission!.anyOf).toHaveLength(2); // signed spec or bare spec
    expect(Object.keys(s.Problem!.properties!)).toEqual(expect.arrayContaining(["type", "title", "status", "code", "detail"]));
    expect(d.paths["/v1/nodes"]!.post!.requestBody).toMatchObject({ content: { "application/json": { schema: { $ref: "#/components/schemas/NodeRegistration" } } } });
    expect(d.paths["/v1/jobs"]!.get!.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(["query:limit", "query:offset", "query:status"]);
    expect(d.paths["/v1/nodes/{id}/assignment"]!.get!.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(["path:id", "query:wait"]);
    for (const ops of Object.values(d.paths)) for (const op of Object.values(ops)) expect(op.responses.default).toBeDefined();
  });
});
