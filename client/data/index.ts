/** Browser-safe data-source API (the Node file adapter is in `./node-fs.ts`). */
export * from "./parse.ts";
export * from "./commitment.ts";
export * from "./source.ts";
export { parseDatasetSchema, SchemaError, type DatasetSchema, type ColumnSpec, type Row, type Value } from "../../protocol/stats/schema.ts";
