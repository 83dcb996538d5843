/**
 * Wire schemas (zod, strict: unknown fields are rejected) shared by the Worker, the Durable
 * Objects and the node agent. Binary values travel as base64url strings.
 */
import { z } from "zod";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8 } from "../encoding.ts";

/** A zod error's first issue as "path: message" ("(root)" for the whole value): the one-line form every caller prints. */
export function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.map(String).join(".") || "(root)"}: ${i.message}` : "invalid";
}

/**
 * Parses `text` as JSON, then with `schema` (the files and fields people write: node.json, a
 * policy, a key file). Throws TypeError `<what> is not valid JSON` or `<what> field <path>: <message>`.
 */
export function parseJsonText<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { throw new TypeError(`${what} is not valid JSON`); }
  const r = schema.safeParse(raw);
  if (!r.success) throw new TypeError(`${what} field ${firstIssue(r.error)}`);
  return r.data;
}

/** Unpadded base64url text, of exactly `bytes` bytes when given (keys, signatures, hashes everywhere in 2PM). */
export const b64url = (bytes?: number) =>
  z.string().regex(/^[A-Za-z0-9_-]*$/, "must be base64url").refine((s) => bytes === undefined || Math.floor((s.length * 3) / 4) === bytes, {
    message: `must encode ${bytes} bytes`,
  });
export const Key32 = b64url(32);
export const NodeId = z.string().regex(/^[0-9a-f]{32}$/, "must be 32 lower-case hex characters");
export const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must match [A-Za-z0-9_-]{1,64}");
export const SchemaId = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:/@-]+$/, "must be a simple identifier");
export const Hash32Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex characters");

// ---------------------------------------------------------------- nodes

export const Capabilities = z.strictObject({
  cores: z.number().int().min(1).max(1024),
  memoryMb: z.number().int().min(1).max(16_777_216),
  bandwidthMbps: z.number().min(0).max(1_000_000),
  /** Hours of the UTC day in which the node accepts work, [fromHourUtc, toHourUtc); wraps past midnight. Absent = always. */
  availability: z.strictObject({ fromHourUtc: z.number().int().min(0).max(23), toHourUtc: z.number().int().min(0).max(24) }).optional(),
});
export type Capabilities = z.infer<typeof Capabilities>;

export const DatasetDescriptor = z.strictObject({
  schemaId: SchemaId,
  rows: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Hash or Merkle root of the dataset (hex SHA-256), recorded in the transparency log of jobs using it. */
  commitment: Hash32Hex,
});
export type DatasetDescriptor = z.infer<typeof DatasetDescriptor>;

export const NodeRegistration = z.strictObject({
  identityKey: Key32,
  kxKey: Key32,
  capabilities: Capabilities,
  datasets: z.array(DatasetDescriptor).max(64).refine((ds) => new Set(ds.map((d) => d.schemaId)).size === ds.length, "schemaId must be unique"),
  label: z.string().max(128).optional(),
});
export type NodeRegistration = z.infer<typeof NodeRegistration>;

export const Heartbeat = z.strictObject({
  load: z.number().min(0).max(1024),
  freeMemoryMb: z.number().int().min(0).max(16_777_216),
  onBattery: z.boolean(),
  online: z.boolean(),
  /** Optional dataset update; replaces the registered descriptors. */
  datasets: z.array(DatasetDescriptor).max(64).optional(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const NodeRecord = z.strictObject({
  id: NodeId,
  identityKey: Key32,
  kxKey: Key32,
  capabilities: Capabilities,
  datasets: z.array(DatasetDescriptor),
  conditions: z.strictObject({ load: z.number(), freeMemoryMb: z.number(), onBattery: z.boolean(), online: z.boolean() }).nullable(),
  registeredAt: z.number(),
  lastSeen: z.number(),
  reliability: z.number(),
  label: z.string().nullable(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

// ---------------------------------------------------------------- jobs

export const Predicate = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({ kind: z.literal("bits") }),
  z.strictObject({ kind: z.literal("one-hot"), groups: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])).min(1), exact: z.boolean().optional() }),
  z.strictObject({ kind: z.literal("range"), bits: z.number().int().min(1).max(60), indices: z.tuple([z.number().int().min(0), z.number().int().min(0)]).optional(), offset: z.string().regex(/^[0-9]{1,40}$/, "decimal integer string").optional() }),
  z.strictObject({ kind: z.literal("l2-norm"), bound: z.string().regex(/^[0-9]{1,40}$/, "decimal integer string"), projection: z.strictObject({ rows: z.number().int().min(169, "projection rows must be ≥ 169 (tail bound e^-42 ≈ 2^-60, docs/mascot.md)").max(4096) }).optional(), indices: z.tuple([z.number().int().min(0), z.number().int().min(0)]).optional() }),
]);
export type Predicate = z.infer<typeof Predicate>;

export const Deadlines = z.strictObject({
  /** Seconds for the whole committee to connect to the round. */
  join: z.number().int().min(1).max(86_400).default(60),
  /** Seconds for the protocol (setup, input, compute, opening, MAC check). */
  compute: z.number().int().min(1).max(86_400).default(600),
  /** Seconds, after the first party submits its result, for all others to submit. */
  finalize: z.number().int().min(1).max(86_400).default(60),
  /** Seconds the job may wait for enough eligible nodes before it fails. */
  select: z.number().int().min(0).max(604_800).default(300),
});
export type Deadlines = z.infer<typeof Deadlines>;

const M61_HALF = 2 ** 60; // (2^61 − 1) / 2, rounded

export const JobSpec = z
  .strictObject({
    version: z.literal(1).default(1),
    type: z.enum(["stats", "learning"]),
    schemaId: SchemaId,
    label: z.string().max(256).optional(),
    committee: z.strictObject({ size: z.number().int().min(2).max(64), min: z.number().int().min(2).max(64) }),
    maxRounds: z.number().int().min(1).max(10_000),
    deadlines: Deadlines.default({ join: 60, compute: 600, finalize: 60, select: 300 }),
    retryBudget: z.number().int().min(0).max(100).default(3),
    field: z.enum(["m61", "p128"]).default("m61"),
    fixedPoint: z.strictObject({ fracBits: z.number().int().min(0).max(40).default(16), bound: z.number().positive().max(2 ** 40) }),
    mode: z.enum(["validated", "linear-only", "plaintext"]).default("validated"),
    validation: z.strictObject({ predicates: z.array(Predicate).max(32).default([]), excludeFailing: z.boolean().default(true) }).default({ predicates: [], excludeFailing: true }),
    eligibility: z
      .strictObject({
        minRows: z.number().int().min(0).default(1),
        minCores: z.number().int().min(0).default(0),
        minMemoryMb: z.number().int().min(0).default(0),
        minBandwidthMbps: z.number().min(0).default(0),
        allowOnBattery: z.boolean().default(true),
      })
      .default({ minRows: 1, minCores: 0, minMemoryMb: 0, minBandwidthMbps: 0, allowOnBattery: true }),
    /** Type-specific configuration (stats query / learning config), validated by its engine's own schema. */
    task: z.record(z.string(), z.unknown()),
  })
  .superRefine((s, ctx) => {
    if (s.committee.min > s.committee.size) ctx.addIssue({ code: "custom", path: ["committee", "min"], message: "min must be ≤ size" });
    if (s.mode !== "validated" && s.validation.predicates.some((p) => p.kind !== "none")) {
      ctx.addIssue({ code: "custom", path: ["validation", "predicates"], message: `${s.mode} mode cannot validate inputs` });
    }
    // Fixed-point overflow (DESIGN §6): n · bound · 2^f < p/2.
    const half = s.field === "m61" ? M61_HALF : 2 ** 126;
    if (s.committee.size * s.fixedPoint.bound * 2 ** s.fixedPoint.fracBits >= half) {
      ctx.addIssue({ code: "custom", path: ["fixedPoint"], message: "committee.size · bound · 2^fracBits must be < p/2" });
    }
  });
export type JobSpec = z.infer<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;
export type JobType = JobSpec["type"];

export const JobStatus = z.enum(["pending", "running", "completed", "failed", "cancelled"]);
export type JobStatus = z.infer<typeof JobStatus>;

export const JobSummary = z.strictObject({
  id: JobId,
  type: z.enum(["stats", "learning"]),
  schemaId: z.string(),
  status: JobStatus,
  round: z.number().int(),
  attempt: z.number().int(),
  createdAt: z.number(),
  updatedAt: z.number(),
  error: z.string().nullable(),
});
export type JobSummary = z.infer<typeof JobSummary>;

export const RoundInfo = z.strictObject({
  round: z.number().int(),
  attempt: z.number().int(),
  status: z.enum(["running", "accepted", "aborted"]),
  /** Node ids in committee order. */
  committee: z.array(z.string()),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  abort: z.strictObject({ code: z.string(), culprits: z.array(z.string()), detail: z.string() }).nullable(),
  aggregateHash: z.string().nullable(),
});
export type RoundInfo = z.infer<typeof RoundInfo>;

// ---------------------------------------------------------------- rounds

export const CommitteeMember = z.strictObject({ index: z.number().int().min(0), nodeId: NodeId, identityKey: Key32, kxKey: Key32 });
export type CommitteeMember = z.infer<typeof CommitteeMember>;

export const RoundManifest = z.strictObject({
  version: z.literal(1),
  kind: z.literal("round-manifest"),
  jobId: JobId,
  round: z.number().int().min(0),
  attempt: z.number().int().min(0),
  jobType: z.enum(["stats", "learning"]),
  schemaId: SchemaId,
  /** base64url(SHA-256("2pm/session/v1" ‖ jobId ‖ round ‖ attempt)); binds MASCOT and the relay keys. */
  sessionId: b64url(32),
  committee: z.array(CommitteeMember).min(2),
  mode: z.enum(["validated", "linear-only", "plaintext"]),
  field: z.enum(["m61", "p128"]),
  fixedPoint: z.strictObject({ fracBits: z.number().int(), bound: z.number() }),
  validation: z.strictObject({ predicates: z.array(Predicate), excludeFailing: z.boolean() }),
  task: z.record(z.string(), z.unknown()),
  /** Hex SHA-256 of the global model this round starts from, or null (stats, first round without a model). */
  modelHash: Hash32Hex.nullable(),
  /** Absolute Unix-ms deadlines. */
  deadlines: z.strictObject({ join: z.number(), compute: z.number(), finalize: z.number() }),
  createdAt: z.number(),
});
export type RoundManifest = z.infer<typeof RoundManifest>;

/** `POST /v1/rounds/:job/:round/:attempt/decline` body: why the member declines. */
export const Decline = z.strictObject({ reason: z.string().min(1).max(512) });

/** What GET /v1/nodes/:id/assignment returns per open assignment. */
export const Assignment = z.strictObject({
  jobId: JobId,
  round: z.number().int(),
  attempt: z.number().int(),
  /** This node's party index in the committee. */
  index: z.number().int(),
  manifest: RoundManifest,
  /** Hash of the log entry that published the manifest (check it with GET /v1/jobs/:id/log). */
  logEntryHash: Hash32Hex,
  /** Path of the round's WebSocket; sign it with signUrl. */
  wsPath: z.string(),
});
export type Assignment = z.infer<typeof Assignment>;

/** The session id of a round attempt (32 bytes). */
export function deriveSessionId(jobId: string, round: number, attempt: number): Uint8Array {
  const ra = new Uint8Array(6);
  const dv = new DataView(ra.buffer);
  dv.setUint32(0, round);
  dv.setUint16(4, attempt);
  return sha256(concatBytes(utf8("2pm/session/v1"), utf8(jobId), new Uint8Array([0]), ra));
}

// ---------------------------------------------------------------- query parameters

/** A non-negative integer query parameter (decimal, ≤ 9 digits). */
const Count = z.string().regex(/^[0-9]{1,9}$/, "must be a non-negative integer").transform(Number);
/** `?limit=&offset=` of a list. */
export const PageQuery = z.object({ limit: Count.optional(), offset: Count.optional() });
/** `GET /v1/jobs?status=&limit=&offset=`. */
export const JobListQuery = PageQuery.extend({ status: JobStatus.optional() });
/** `GET /v1/jobs/:id/log?from=&limit=`. */
export const LogQuery = z.object({ from: Count.optional(), limit: Count.optional() });
/** `GET /v1/nodes/:id/assignment?wait=` (seconds). */
export const AssignmentQuery = z.object({ wait: Count.optional() });

// ---------------------------------------------------------------- problems

/** RFC 9457 problem details with a stable machine-readable `code`. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof Problem>;
