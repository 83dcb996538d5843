/**
 * The browser node's data source: a CSV or JSON-lines file the data holder opens with the
 * File API, parsed against the declared schema and committed to with exactly the code the
 * CLI node uses (client/data/parse.ts, client/data/commitment.ts), so the same file gives
 * the same commitment in both. Pure: text in, a checked dataset or the list of problems out.
 */
import { SchemaError, type DatasetSchema } from "../../protocol/stats/schema.ts";
import { DataError, formatIssue } from "../data/parse.ts";
import { datasetFromText, type LoadedDataset } from "../data/source.ts";

export { parseSchemaText } from "../data/source.ts";

/** What the page shows after checking a file against its schema. */
export type SchemaCheck =
  | { ok: true; dataset: LoadedDataset; rows: number; columns: string[] }
  | { ok: false; columns: string[]; errors: string[] };

/**
 * Checks `text` (the file named `fileName`; `.jsonl` → JSON lines, else CSV) against `schema`.
 * Never returns a partial dataset: any bad row makes it `ok: false` with every problem found
 * (file:line: column: message, at most 20). Does not throw for bad data; rethrows anything else.
 */
export function checkDataText(fileName: string, text: string, schema: DatasetSchema): SchemaCheck {
  const columns = schema.columns.map((c) => c.name);
  try {
    const dataset = datasetFromText(text, schema, fileName);
    return { ok: true, rows: dataset.rows.length, columns, dataset };
  } catch (e) {
    if (e instanceof DataError) return { ok: false, columns, errors: e.issues.map(formatIssue) };
    if (e instanceof SchemaError) return { ok: false, columns, errors: [e.message] };
    throw e;
  }
}
