/**
 * Data sources: a declared schema plus rows, with their commitment. File access goes through
 * a {@link DataFileAdapter} so the same code runs in Node (see `node-fs.ts`) and in the
 * browser (which supplies rows directly with {@link datasetFromObjects}, or an adapter of
 * its own over a picked file).
 */
import { parseDatasetSchema, type DatasetSchema, type Row } from "../../protocol/stats/schema.ts";
import { datasetCommitment, type DatasetCommitment } from "./commitment.ts";
import { formatFromPath, parseData, rowsFromObjects, type DataFormat } from "./parse.ts";

/** The I/O a data source needs. Node: `nodeFsAdapter`; tests and browsers: `memoryAdapter`. */
export interface DataFileAdapter {
  /** Reads the whole file as UTF-8. Rejects if it cannot be read. */
  readText(path: string): Promise<string>;
  /** Calls `onChange` whenever the file may have changed (spurious calls allowed). Returns an unsubscribe function. */
  watch(path: string, onChange: () => void): () => void;
}

/** One configured data source. `format` defaults to the file extension's (`.jsonl` → jsonl, else csv). */
export interface DataSourceConfig {
  path: string;
  schema: DatasetSchema;
  format?: DataFormat;
}

/** Parsed, validated rows with their commitment. */
export interface LoadedDataset {
  source: string;
  schema: DatasetSchema;
  rows: readonly Row[];
  commitment: DatasetCommitment;
}

/**
 * Reads, parses and commits to a data source. Throws `DataError` (file/line/column) for bad
 * data, or the adapter's error if the file cannot be read. Never returns a partial dataset.
 */
export async function loadDataSource(adapter: DataFileAdapter, cfg: DataSourceConfig): Promise<LoadedDataset> {
  return datasetFromText(await adapter.readText(cfg.path), cfg.schema, cfg.path, cfg.format);
}

/**
 * Parses and commits to the text of a data file named `source` (format by default from its
 * extension). Throws `DataError` (file/line/column) for bad data; never returns a partial dataset.
 */
export function datasetFromText(text: string, schema: DatasetSchema, source: string, format: DataFormat = formatFromPath(source)): LoadedDataset {
  const rows = parseData(text, schema, format, { file: source });
  return { source, schema, rows, commitment: datasetCommitment(schema, rows) };
}

/** Parses a schema file's text. Throws SchemaError (or SyntaxError for bad JSON) naming `source` and the problem. */
export function parseSchemaText(text: string, source: string): DatasetSchema {
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new SyntaxError(`${source}: not valid JSON (${(e as Error).message})`); }
  return parseDatasetSchema(json, source);
}

/**
 * A dataset from rows given as objects (browser path, no file). Same validation and errors
 * as a JSON-lines file; `source` names it in error messages.
 */
export function datasetFromObjects(schema: DatasetSchema, objects: readonly unknown[], source = "<rows>"): LoadedDataset {
  const rows = rowsFromObjects(objects, schema, { file: source });
  return { source, schema, rows, commitment: datasetCommitment(schema, rows) };
}

export interface WatchOptions {
  /** Called with the new dataset whenever its commitment changes (not for the initial load). */
  onChange: (ds: LoadedDataset) => void;
  /** Called when a reload fails (bad data, unreadable file); the previous dataset stays current. */
  onError?: (err: unknown) => void;
  /** Quiet time after the last change notification before reloading (default 200 ms). */
  debounceMs?: number;
}

export interface DatasetWatcher {
  /** Resolves with the initial dataset, or rejects if the first load fails. */
  readonly ready: Promise<LoadedDataset>;
  /** The last successfully loaded dataset. */
  current(): LoadedDataset | undefined;
  /** Stops watching; idempotent. */
  stop(): void;
}

/**
 * Loads a source and keeps its commitment current: on every change notification from the
 * adapter (debounced), re-reads and re-parses the file and calls `onChange` only if the
 * commitment digest differs. A failed reload (e.g. half-written file with bad rows) calls
 * `onError` and keeps the last good dataset; a later good write recovers.
 */
export function watchDataSource(adapter: DataFileAdapter, cfg: DataSourceConfig, opts: WatchOptions): DatasetWatcher {
  let cur: LoadedDataset | undefined;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let loading: Promise<void> = Promise.resolve();
  const debounce = opts.debounceMs ?? 200;

  const reload = (): void => {
    loading = loading.then(async () => {
      if (stopped) return;
      try {
        const ds = await loadDataSource(adapter, cfg);
        if (stopped) return;
        if (!cur || ds.commitment.digest !== cur.commitment.digest) {
          cur = ds;
          opts.onChange(ds);
        }
      } catch (e) {
        if (!stopped) opts.onError?.(e);
      }
    });
  };
  const unwatch = adapter.watch(cfg.path, () => {
    if (stopped) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => { timer = undefined; reload(); }, debounce);
  });
  const ready = loadDataSource(adapter, cfg).then((ds) => { if (!cur) cur = ds; return cur; });
  loading = ready.then(() => undefined, () => undefined);
  return {
    ready,
    current: () => cur,
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      unwatch();
    },
  };
}

/**
 * An in-memory adapter (tests, browsers): `files` maps path → text; `write` replaces a file
 * and notifies its watchers.
 */
export function memoryAdapter(files: Record<string, string> = {}): DataFileAdapter & { write(path: string, text: string): void } {
  const data = new Map(Object.entries(files));
  const watchers = new Map<string, Set<() => void>>();
  return {
    async readText(path) {
      const t = data.get(path);
      if (t === undefined) throw new Error(`${path}: no such file`);
      return t;
    },
    watch(path, onChange) {
      let set = watchers.get(path);
      if (!set) watchers.set(path, (set = new Set()));
      set.add(onChange);
      return () => { set.delete(onChange); };
    },
    write(path, text) {
      data.set(path, text);
      for (const f of watchers.get(path) ?? []) f();
    },
  };
}
