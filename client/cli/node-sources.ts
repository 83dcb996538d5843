/**
 * Data sources of a node (`node.json` `sources`): resolved from `--source`/`--schema`/`--format`
 * options by `2pm node init` and appended by `2pm node add-source`. A node offers each
 * dataset schema (by its `name`) from exactly one source: jobs name a schema, not a file.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { loadSchemaFile } from "../data/node-fs.ts";
import { formatFromPath } from "../data/parse.ts";
import type { DataSourceConfig } from "../agent/config.ts";
import { parseNodeConfig } from "../agent/config.ts";
import { parse, required } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { jsonOption, outputFor } from "./output.ts";

/** The largest number of sources a node.json holds (NodeConfigSchema). */
export const MAX_SOURCES = 16;

function formatOf(file: string, given: string | undefined): "csv" | "jsonl" {
  const f = given ?? formatFromPath(file);
  if (f !== "csv" && f !== "jsonl") throw new UsageError(`--format must be csv or jsonl, got ${f}`);
  return f;
}

/**
 * Pairs repeated `--source` with `--schema` (one schema for all sources, or one per source)
 * and checks each file is readable and each schema parses. `--format` (one for all) defaults
 * by extension (.jsonl/.ndjson → jsonl, else csv). Returns absolute paths and each source's
 * schema name. Throws UsageError for mismatched counts or a bad format, CliError for an
 * unreadable file, a bad schema or two sources with the same schema name.
 */
export async function resolveSources(sources: string[], schemas: string[], format: string | undefined): Promise<Array<DataSourceConfig & { dataset: string }>> {
  if (sources.length === 0) throw new UsageError("missing --source");
  if (schemas.length === 0) throw new UsageError("missing --schema");
  if (schemas.length !== 1 && schemas.length !== sources.length) {
    throw new UsageError(`give one --schema for all sources or one per --source (${sources.length} sources, ${schemas.length} schemas)`);
  }
  const out: Array<DataSourceConfig & { dataset: string }> = [];
  for (let i = 0; i < sources.length; i++) {
    const src = path.resolve(sources[i]!), sch = path.resolve(schemas[schemas.length === 1 ? 0 : i]!);
    for (const f of [src, sch]) await fs.access(f).catch(() => { throw new CliError(`cannot read ${f}`); });
    const schema = await loadSchemaFile(sch).catch((e: unknown) => { throw new CliError((e as Error).message.split("\n")[0]!); });
    out.push({ path: src, format: formatOf(src, format), schema: sch, dataset: schema.name });
  }
  checkDistinct(out);
  return out;
}

function checkDistinct(sources: ReadonlyArray<{ path: string; dataset: string }>): void {
  const seen = new Map<string, string>();
  for (const s of sources) {
    const other = seen.get(s.dataset);
    if (other !== undefined) throw new CliError(`${other} and ${s.path} both offer dataset "${s.dataset}"; a node offers each schema from one source (merge the files or use another node directory)`);
    seen.set(s.dataset, s.path);
  }
  if (sources.length > MAX_SOURCES) throw new CliError(`at most ${MAX_SOURCES} sources per node, got ${sources.length}`);
}

/**
 * `2pm node add-source --source <file> --schema <schema.json> [--format csv|jsonl] [--dir .2pm]`:
 * appends one or more sources to an existing node.json (takes effect at the next
 * `node start`). Refuses a dataset the node already offers. Exit 0 on success.
 */
export async function nodeAddSource(args: string[]): Promise<number> {
  const { values } = parse(args, {
    dir: { type: "string", default: ".2pm" },
    source: { type: "string", multiple: true, default: [] },
    schema: { type: "string", multiple: true, default: [] },
    format: { type: "string" },
    ...jsonOption,
  }, false);
  const dir = path.resolve(required(values.dir, "dir"));
  const file = path.join(dir, "node.json");
  let text: string;
  try { text = await fs.readFile(file, "utf8"); } catch { throw new CliError(`no node.json in ${dir}; run 2pm node init first`); }
  let config;
  try { config = parseNodeConfig(text); } catch (e) { throw new CliError(`${file}: ${(e as Error).message}`); }
  const added = await resolveSources(values.source as string[], values.schema as string[], values.format);
  const base = path.dirname(file);
  const existing = await Promise.all(config.sources.map(async (s) => {
    const schemaPath = path.resolve(base, s.schema);
    const schema = await loadSchemaFile(schemaPath).catch(() => undefined);
    return { path: path.resolve(base, s.path), dataset: schema?.name ?? `(unreadable schema ${schemaPath})` };
  }));
  checkDistinct([...existing, ...added]);
  const raw = JSON.parse(text) as { sources: DataSourceConfig[] };
  raw.sources = [...raw.sources, ...added.map(({ path: p, format, schema }) => ({ path: p, format, schema }))];
  parseNodeConfig(JSON.stringify(raw)); // still a valid config
  await fs.writeFile(file, JSON.stringify(raw, null, 2) + "\n", { mode: 0o644 });
  outputFor(values).result({ added: added.map((a) => ({ dataset: a.dataset, path: a.path, format: a.format })) },
    added.map((a) => `added ${a.path} (dataset ${a.dataset}, ${a.format}); restart the node to offer it`));
  return 0;
}
