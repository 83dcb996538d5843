/**
 * The node's configuration file (`<dir>/node.json`): which coordinator to talk to and which
 * local data sources it offers. Holds no secrets (keys live in `<dir>/keys.json`).
 */
import { z } from "zod";
import { NodePolicySchema } from "./policy.ts";
import { parseJsonText } from "../../protocol/api/schemas.ts";

export const DataSourceConfigSchema = z.strictObject({
  /** Path of the CSV or JSON-lines file, relative to the config file or absolute. */
  path: z.string().min(1),
  format: z.enum(["csv", "jsonl"]),
  /** Path of the declared schema (JSON), relative to the config file or absolute. */
  schema: z.string().min(1),
});

export const NodeConfigSchema = z.strictObject({
  version: z.literal(1),
  coordinatorUrl: z.url(),
  /** A human label shown in the dashboard; not an identity. */
  label: z.string().max(64).default(""),
  sources: z.array(DataSourceConfigSchema).min(1).max(16),
  capabilities: z.strictObject({
    cores: z.number().int().min(1).max(1024),
    memoryMb: z.number().int().min(64),
    bandwidthMbps: z.number().positive(),
    availability: z.strictObject({ fromHourUtc: z.number().int().min(0).max(23), toHourUtc: z.number().int().min(0).max(24) }),
  }),
  heartbeatSeconds: z.number().int().min(1).max(3600).default(10),
  /** What this node agrees to take part in (client/agent/policy.ts); safe defaults, but no submitter is accepted until one is listed. */
  policy: NodePolicySchema.prefault({}),
});

export type NodeConfig = z.infer<typeof NodeConfigSchema>;
export type DataSourceConfig = z.infer<typeof DataSourceConfigSchema>;

/** Parses a config file's text; throws TypeError naming the first bad field. */
export function parseNodeConfig(text: string): NodeConfig {
  return parseJsonText(NodeConfigSchema, text, "config");
}
