/**
 * GET /v1/openapi.json: an OpenAPI 3.1 document of the HTTP API, generated from the zod
 * schemas the routes validate with (protocol/api/schemas.ts, protocol/jobs/signed-spec.ts) by
 * `z.toJSONSchema`. Request bodies and queries are described as accepted (defaults optional),
 * responses as sent. test/workers/openapi.test.ts checks that every route of the app is here.
 */
import { z } from "zod";
import {
  Assignment, AssignmentQuery, Decline, Heartbeat, JobListQuery, JobSpec, JobSummary, LogQuery, NodeRecord, NodeRegistration, PageQuery, Problem, RoundInfo,
} from "../protocol/api/schemas.ts";
import { SignedJobSpec } from "../protocol/jobs/signed-spec.ts";

type Auth = "token" | "node" | "token-or-node" | "public";
interface Operation {
  summary: string;
  auth: Auth;
  query?: z.ZodObject;
  body?: { schema: string } | { binary: string };
  /** Status and body of the success answer: a named schema, an inline zod schema, binary, or empty. */
  ok: [number, { schema: string } | { inline: z.ZodType } | { binary: string } | null];
}

const LOG_PAGE = z.strictObject({
  entries: z.array(z.strictObject({ seq: z.number().int(), prevHash: z.string(), timestamp: z.number(), body: z.record(z.string(), z.unknown()), hash: z.string(), signature: z.string() })),
  publicKey: z.string(),
});
const RESULT = z.strictObject({ status: z.string(), result: z.unknown(), error: z.string().nullable() });

/** Named schemas under components.schemas (requests as input, responses as output). */
const SCHEMAS: Record<string, { schema: z.ZodType; io: "input" | "output" }> = {
  NodeRegistration: { schema: NodeRegistration, io: "input" },
  Heartbeat: { schema: Heartbeat, io: "input" },
  Decline: { schema: Decline, io: "input" },
  JobSubmission: { schema: z.union([SignedJobSpec, JobSpec]), io: "input" },
  NodeRecord: { schema: NodeRecord, io: "output" },
  JobSpec: { schema: JobSpec, io: "output" },
  JobSummary: { schema: JobSummary, io: "output" },
  RoundInfo: { schema: RoundInfo, io: "output" },
  Assignment: { schema: Assignment, io: "output" },
  Problem: { schema: Problem, io: "output" },
};

/** The routes, by path (OpenAPI syntax) and method. */
const ROUTES: Record<string, Record<string, Operation>> = {
  "/v1/health": { get: { summary: "liveness", auth: "public", ok: [200, { inline: z.strictObject({ ok: z.literal(true) }) }] } },
  "/v1/openapi.json": { get: { summary: "this document", auth: "public", ok: [200, { inline: z.record(z.string(), z.unknown()) }] } },
  "/v1/coordinator/key": { get: { summary: "the Ed25519 key that signs every log entry", auth: "public", ok: [200, { inline: z.strictObject({ algorithm: z.literal("Ed25519"), publicKey: z.string(), insecureDevKey: z.boolean() }) }] } },
  "/v1/nodes": {
    post: { summary: "register (or re-register) a node, signed with the key being registered", auth: "node", body: { schema: "NodeRegistration" }, ok: [201, { inline: z.strictObject({ node: NodeRecord }) }] },
    get: { summary: "list nodes, newest activity first", auth: "token", query: PageQuery, ok: [200, { inline: z.strictObject({ nodes: z.array(NodeRecord), limit: z.number(), offset: z.number() }) }] },
  },
  "/v1/nodes/{id}": {
    get: { summary: "a node's record (its own, or any with the token)", auth: "token-or-node", ok: [200, { inline: z.strictObject({ node: NodeRecord }) }] },
    delete: { summary: "deregister (the node itself, or any node with the token)", auth: "token-or-node", ok: [200, { inline: z.strictObject({ ok: z.literal(true) }) }] },
  },
  "/v1/nodes/{id}/heartbeat": { post: { summary: "current conditions (optionally new dataset descriptors)", auth: "node", body: { schema: "Heartbeat" }, ok: [200, { inline: z.strictObject({ ok: z.literal(true), lastSeen: z.number() }) }] } },
  "/v1/nodes/{id}/assignment": { get: { summary: "long-poll for round assignments (wait ≤ 25 s)", auth: "node", query: AssignmentQuery, ok: [200, { inline: z.strictObject({ assignments: z.array(Assignment) }) }] } },
  "/v1/jobs": {
    post: { summary: "submit a submitter-signed job spec (a bare spec is accepted, nodes decline it)", auth: "token", body: { schema: "JobSubmission" }, ok: [201, { inline: z.strictObject({ job: JobSummary }) }] },
    get: { summary: "list jobs, newest first", auth: "token", query: JobListQuery, ok: [200, { inline: z.strictObject({ jobs: z.array(JobSummary), limit: z.number(), offset: z.number() }) }] },
  },
  "/v1/jobs/{id}": { get: { summary: "a job's summary and spec", auth: "token", ok: [200, { inline: z.strictObject({ job: JobSummary, spec: JobSpec }) }] } },
  "/v1/jobs/{id}/cancel": { post: { summary: "cancel (409 job-not-cancellable when it ended)", auth: "token", ok: [200, { inline: z.strictObject({ job: JobSummary }) }] } },
  "/v1/jobs/{id}/rounds": { get: { summary: "every round attempt", auth: "token", ok: [200, { inline: z.strictObject({ rounds: z.array(RoundInfo) }) }] } },
  "/v1/jobs/{id}/result": { get: { summary: "status and result (statistics tables or learning history)", auth: "token", ok: [200, { inline: RESULT }] } },
  "/v1/jobs/{id}/log": { get: { summary: "the transparency log (verify it with protocol/log verifyLog)", auth: "token-or-node", query: LogQuery, ok: [200, { inline: LOG_PAGE }] } },
  "/v1/jobs/{id}/models/{round}": {
    put: { summary: "store the model round `round` starts from; logs its SHA-256", auth: "token", body: { binary: "application/octet-stream" }, ok: [201, { inline: z.strictObject({ hash: z.string() }) }] },
    get: { summary: "a logged model (header x-2pm-model-hash)", auth: "token-or-node", ok: [200, { binary: "application/octet-stream" }] },
  },
  "/v1/rounds/{job}/{round}/{attempt}": { get: { summary: "operator view of a round attempt", auth: "token", ok: [200, { inline: z.strictObject({ round: z.record(z.string(), z.unknown()) }) }] } },
  "/v1/rounds/{job}/{round}/{attempt}/ws": { get: { summary: "the round's relay (WebSocket upgrade; auth values may be in the query)", auth: "node", ok: [101, null] } },
  "/v1/rounds/{job}/{round}/{attempt}/decline": { post: { summary: "a committee member declines before taking part", auth: "node", body: { schema: "Decline" }, ok: [204, null] } },
  "/v1/models/{id}/package": {
    put: { summary: "store an FHE model package", auth: "token", body: { binary: "application/json" }, ok: [201, { inline: z.strictObject({ modelId: z.string(), version: z.number(), hash: z.string(), depth: z.number() }) }] },
    get: { summary: "an FHE model's public information (the full package with the token)", auth: "public", ok: [200, { inline: z.record(z.string(), z.unknown()) }] },
  },
  "/v1/models/{id}/keys": { post: { summary: "upload public evaluation keys (binary frame)", auth: "token", body: { binary: "application/x-2pm-frame" }, ok: [201, { inline: z.strictObject({ keyId: z.string(), paramsKey: z.string(), expiresAt: z.number() }) }] } },
  "/v1/models/{id}/keys/{keyId}": { delete: { summary: "drop an uploaded key set", auth: "token", ok: [204, null] } },
  "/v1/models/{id}/infer": { post: { summary: "ciphertexts in, ciphertexts out (binary frames)", auth: "token", body: { binary: "application/x-2pm-frame" }, ok: [200, { binary: "application/x-2pm-frame" }] } },
  "/v1/fhe/train/keys": { post: { summary: "upload a training key set (binary frame)", auth: "token", body: { binary: "application/x-2pm-frame" }, ok: [201, { inline: z.strictObject({ keyId: z.string() }) }] } },
  "/v1/fhe/train/keys/{keyId}": { delete: { summary: "drop a training key set", auth: "token", ok: [204, null] } },
  "/v1/fhe/train/block": { post: { summary: "one block of encrypted LR training (degree 3, N ≤ 8192)", auth: "token", body: { binary: "application/x-2pm-frame" }, ok: [200, { binary: "application/x-2pm-frame" }] } },
  "/dashboard": { get: { summary: "the operator dashboard (HTML)", auth: "public", ok: [200, { binary: "text/html" }] } },
  "/node": { get: { summary: "redirect to /node/", auth: "public", ok: [308, null] } },
  "/node/": { get: { summary: "the browser node page (HTML)", auth: "public", ok: [200, { binary: "text/html" }] } },
  "/node/learning.js": { get: { summary: "the browser node's learning bundle (tfjs cpu)", auth: "public", ok: [200, { binary: "text/javascript" }] } },
  "/querier": { get: { summary: "redirect to /querier/", auth: "public", ok: [308, null] } },
  "/querier/": { get: { summary: "the browser querier page (HTML)", auth: "public", ok: [200, { binary: "text/html" }] } },
  "/querier/seal.wasm": { get: { summary: "node-seal's WebAssembly for the querier page", auth: "public", ok: [200, { binary: "application/wasm" }] } },
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

const SECURITY: Record<Auth, unknown[]> = {
  token: [{ bearer: [] }],
  node: [{ signedNode: [] }],
  "token-or-node": [{ bearer: [] }, { signedNode: [] }],
  public: [],
};

function operation(path: string, op: Operation): Record<string, unknown> {
  const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
  if (op.query) {
    const q = jsonSchema(op.query, "input") as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) params.push({ name, in: "query", required: q.required?.includes(name) ?? false, schema } as never);
  }
  const [status, body] = op.ok;
  const content = (b: NonNullable<Operation["ok"][1]> | NonNullable<Operation["body"]>) =>
    "binary" in b ? { [b.binary]: { schema: { type: "string", format: "binary" } } }
      : "schema" in b ? { "application/json": { schema: { $ref: `#/components/schemas/${b.schema}` } } }
        : { "application/json": { schema: jsonSchema(b.inline, "output") } };
  return {
    summary: op.summary,
    security: SECURITY[op.auth],
    ...(params.length ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: true, content: content(op.body) } } : {}),
    responses: {
      [String(status)]: { description: op.summary, ...(body ? { content: content(body) } : {}) },
      default: { description: "problem details (RFC 9457) with a stable `code`", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } },
    },
  };
}

let cached: Record<string, unknown> | undefined;

/** The OpenAPI document (built once per isolate). */
export function openApiDocument(): Record<string, unknown> {
  cached ??= {
    openapi: "3.1.0",
    info: { title: "2PM coordinator", version: "1", description: "Federated statistics and learning with MASCOT secure aggregation; CKKS encrypted inference. Errors are problem details with a stable `code`. `round` and `attempt` are 0-based indices in paths and bodies; texts meant for people count from 1; `/models/{round}` is model k, the global model after k rounds." },
    paths: Object.fromEntries(Object.entries(ROUTES).map(([path, ops]) => [path, Object.fromEntries(Object.entries(ops).map(([m, op]) => [m, operation(path, op)]))])),
    components: {
      schemas: {
        ...Object.fromEntries(Object.entries(SCHEMAS).map(([name, s]) => [name, jsonSchema(s.schema, s.io)])),
      },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "the coordinator's API token (submitters, operators)" },
        signedNode: { type: "apiKey", in: "header", name: "x-2pm-signature", description: "Ed25519 signature of the node over method, path?query, body hash, x-2pm-timestamp and x-2pm-nonce, with x-2pm-node (protocol/crypto/request.ts)" },
      },
    },
  };
  return cached;
}
