import { readFileSync } from "node:fs";
import { parseDatasetSchema, type DatasetSchema, type Row } from "../../../protocol/stats/schema.ts";
import { parseCsv } from "../../../client/data/parse.ts";

const root = new URL("../../../examples/", import.meta.url);
export const schemaOf = (name: string): DatasetSchema =>
  parseDatasetSchema(JSON.parse(readFileSync(new URL(`schemas/${name}.json`, root), "utf8")), name);
export const rowsOf = (schema: DatasetSchema, file: string): Row[] =>
  parseCsv(readFileSync(new URL(`data/${file}`, root), "utf8"), schema, { file });
export const queryJson = (name: string): unknown => JSON.parse(readFileSync(new URL(`queries/${name}.json`, root), "utf8"));
