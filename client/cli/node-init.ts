/** `2pm node init`: makes the node's keys (mode 0600, never sent) and its config file. */
import { promises as fs } from "node:fs";
import path from "node:path";
import os from "node:os";
import { cryptoRng } from "../../protocol/rng.ts";
import { toBase64Url } from "../../protocol/encoding.ts";
import { generateNodeKeys, nodeIdFromPublicKey } from "../../protocol/crypto/identity.ts";
import { FileKeyStore } from "../agent/node-key-store.ts";
import { NodeConfigSchema } from "../agent/config.ts";
import { parse, required } from "./args.ts";
import { UsageError } from "./errors.ts";
import { resolveSources } from "./node-sources.ts";
import { jsonOption, outputFor } from "./output.ts";
import { firstIssue } from "../../protocol/api/schemas.ts";

export async function nodeInit(args: string[]): Promise<number> {
  const { values } = parse(args, {
    dir: { type: "string", default: ".2pm" },
    coordinator: { type: "string", default: process.env.TWOPM_COORDINATOR },
    source: { type: "string", multiple: true, default: [] },
    schema: { type: "string", multiple: true, default: [] },
    format: { type: "string" },
    label: { type: "string", default: "" },
    "trust-submitter": { type: "string", multiple: true, default: [] },
    "min-committee": { type: "string" },
    consortium: { type: "string" },
    "consortium-admin": { type: "string" },
    ...jsonOption,
  }, false);
  const submitters = (values["trust-submitter"] as string[]).flatMap((k) => k.split(",")).map((k) => k.trim()).filter(Boolean);
  if ((values.consortium === undefined) !== (values["consortium-admin"] === undefined)) throw new UsageError("--consortium and --consortium-admin go together");
  const dir = path.resolve(values.dir!);
  const sources = await resolveSources(values.source as string[], values.schema as string[], values.format);
  const config = NodeConfigSchema.safeParse({
    version: 1,
    coordinatorUrl: required(values.coordinator, "coordinator"),
    label: values.label,
    sources: sources.map(({ path: p, format, schema }) => ({ path: p, format, schema })),
    capabilities: {
      cores: os.availableParallelism(),
      memoryMb: Math.floor(os.totalmem() / 2 ** 20),
      bandwidthMbps: 100,
      availability: { fromHourUtc: 0, toHourUtc: 24 },
    },
    policy: {
      submitters,
      ...(values["min-committee"] !== undefined ? { minCommittee: Number(values["min-committee"]) } : {}),
      ...(values.consortium !== undefined ? { consortium: { adminKey: values["consortium-admin"], list: path.resolve(values.consortium) } } : {}),
    },
  });
  if (!config.success) throw new UsageError(`bad option: ${firstIssue(config.error)}`);
  const store = new FileKeyStore(path.join(dir, "keys.json"));
  const keys = generateNodeKeys(cryptoRng);
  await store.save(keys);
  await fs.writeFile(path.join(dir, "node.json"), JSON.stringify(config.data, null, 2) + "\n", { mode: 0o644 });
  const nodeId = nodeIdFromPublicKey(keys.identityPublicKey), identityKey = toBase64Url(keys.identityPublicKey);
  const out = outputFor(values);
  out.result({ nodeId, dir, identityKey, datasets: sources.map((s) => ({ dataset: s.dataset, path: s.path, format: s.format })), submitters }, [
    `node ${nodeId} initialised in ${dir} (keys.json mode 0600, node.json)`,
    ...sources.map((s) => `offers dataset ${s.dataset} from ${s.path}`),
    `identity key ${identityKey} (give it to your consortium admin)`,
  ]);
  if (submitters.length === 0) out.note("note: no submitter is trusted yet; add keys to policy.submitters in node.json (or pass --trust-submitter) or the node declines every job");
  return 0;
}
