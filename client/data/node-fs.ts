/**
 * Node.js file adapter for data sources (not for browsers: imports node:fs).
 */
import { readFile } from "node:fs/promises";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import type { DatasetSchema } from "../../protocol/stats/schema.ts";
import { parseSchemaText, type DataFileAdapter } from "./source.ts";

/**
 * Reads files with `fs.promises.readFile`; watches by polling `stat` (`fs.watchFile`), which,
 * unlike `fs.watch`, survives editors and tools that replace a file by renaming over it.
 */
export function nodeFsAdapter(opts: { pollMs?: number } = {}): DataFileAdapter {
  const interval = opts.pollMs ?? 500;
  return {
    readText: (path) => readFile(path, "utf8"),
    watch(path, onChange) {
      const listener = (cur: Stats, prev: Stats): void => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) onChange();
      };
      watchFile(path, { interval, persistent: false }, listener);
      return () => unwatchFile(path, listener);
    },
  };
}

/** Reads and validates a dataset schema file. Throws `SchemaError` (naming the file) or the read error. */
export async function loadSchemaFile(path: string): Promise<DatasetSchema> {
  return parseSchemaText(await readFile(path, "utf8"), path);
}
