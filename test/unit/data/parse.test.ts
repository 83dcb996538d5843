import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DataError, parseCsv, parseJsonLines, rowsFromObjects } from "../../../client/data/parse.ts";
import { parseDatasetSchema, SchemaError } from "../../../protocol/stats/schema.ts";
import { rowsOf, schemaOf } from "../stats/helpers.ts";

const tiny = parseDatasetSchema({
  version: 1,
  name: "tiny",
  missing: ["?"],
  columns: [
    { name: "age", type: "numeric", integer: true },
    { name: "w", type: "numeric", missing: ["NA"] },
    { name: "sex", type: "categorical", levels: ["F", "M"] },
    { name: "y", type: "label", levels: ["no", "yes"], stripSuffix: "." },
  ],
});

function dataError(f: () => unknown): DataError {
  try { f(); } catch (e) { if (e instanceof DataError) return e; throw e; }
  throw new Error("expected a DataError");
}

describe("parseCsv", () => {
  it("parses values, missing markers, quotes, CRLF and the label suffix", () => {
    const rows = parseCsv('30, 1.5, F, yes\r\n\n?, NA, "M", no.\n41,"2e3",M,yes\n', tiny);
    expect(rows).toEqual([[30, 1.5, "F", "yes"], [null, null, "M", "no"], [41, 2000, "M", "yes"]]);
  });

  it("reads every shipped dataset with its schema", () => {
    expect(rowsOf(schemaOf("adult"), "adult-test.csv").length).toBe(16281);
    expect(rowsOf(schemaOf("wdbc"), "wdbc.data").length).toBe(569);
    expect(rowsOf(schemaOf("optdigits"), "optdigits.tra").length).toBe(3823);
    expect(rowsOf(schemaOf("optdigits"), "optdigits.tes").length).toBe(1797);
    const pima = rowsOf(schemaOf("pima"), "pima-indians-diabetes.csv");
    expect(pima.length).toBe(768);
    expect(pima[0]![4]).toBeNull(); // insulin 0 = missing
    const test = rowsOf(schemaOf("adult"), "adult-test.csv");
    expect(new Set(test.map((r) => r[14]))).toEqual(new Set(["<=50K", ">50K"]));
  });

  it("names file, line and column for a bad number", () => {
    const e = dataError(() => parseCsv("30,1,F,yes\n3x,1,F,yes\n", tiny, { file: "a.csv" }));
    expect(e.issues).toEqual([{ file: "a.csv", line: 2, column: "age", code: "bad-number", message: '"3x" is not a number' }]);
    expect(e.message).toBe('a.csv:2: column "age": "3x" is not a number');
  });

  it("rejects non-integers, unknown levels, wrong field counts, and reports them all", () => {
    const e = dataError(() => parseCsv("30.5,1,F,yes\n30,1,X,yes\n30,1,F\n30,1,F,maybe\n", tiny, { file: "b.csv" }));
    expect(e.issues.map((i) => [i.line, i.code, i.column])).toEqual([
      [1, "not-integer", "age"], [2, "unknown-level", "sex"], [3, "wrong-field-count", undefined], [4, "unknown-level", "y"],
    ]);
    expect(e.message).toContain("b.csv:3: expected 4 fields, found 3");
  });

  it("rejects an empty field unless it is a declared marker, and Infinity", () => {
    expect(dataError(() => parseCsv(",1,F,yes\n", tiny)).issues[0]!.code).toBe("bad-number");
    expect(dataError(() => parseCsv("Infinity,1,F,yes\n", tiny)).issues[0]!.code).toBe("bad-number");
  });

  it("rejects an unterminated quote and junk after a quote", () => {
    expect(dataError(() => parseCsv('30,1,"F,yes\n', tiny)).issues[0]!.code).toBe("unterminated-quote");
    expect(dataError(() => parseCsv('30,1,"F"x,yes\n', tiny)).issues[0]!.code).toBe("unterminated-quote");
  });

  it("caps the number of reported problems", () => {
    const text = "x,1,F,yes\n".repeat(100);
    const e = dataError(() => parseCsv(text, tiny, { maxIssues: 5 }));
    expect(e.issues.length).toBe(5);
    expect(e.message).toContain("further problems not shown");
  });

  it("handles tab-delimited files with quoted and empty fields", () => {
    const t = parseDatasetSchema({ version: 1, name: "t", missing: [""], csv: { delimiter: "\t" }, columns: [{ name: "a", type: "numeric" }, { name: "b", type: "numeric" }, { name: "c", type: "categorical", levels: ["x y"] }] });
    expect(parseCsv('1\t\t"x y"\n\t2\t x y \n', t)).toEqual([[1, null, "x y"], [null, 2, "x y"]]);
  });

  it("checks a declared header row", () => {
    const h = parseDatasetSchema({ version: 1, name: "h", csv: { header: true }, columns: [{ name: "a", type: "numeric" }] });
    expect(parseCsv("a\n1\n2\n", h)).toEqual([[1], [2]]);
    expect(dataError(() => parseCsv("b\n1\n", h)).issues[0]!.code).toBe("header-mismatch");
  });
});

describe("robustness (property)", () => {
  it("arbitrary text either parses or throws a DataError, never anything else", () => {
    const alphabet = fc.constantFrom("1", "2.5", "F", "M", "yes", "no.", "?", "NA", ",", '"', "\n", "\r", " ", "x");
    const text = fc.array(alphabet, { maxLength: 60 }).map((a) => a.join(""));
    fc.assert(fc.property(text, (t) => {
      for (const f of [() => parseCsv(t, tiny), () => parseJsonLines(t, tiny)]) {
        try {
          const rows = f();
          for (const r of rows) expect(r.length).toBe(4);
        } catch (e) {
          expect(e).toBeInstanceOf(DataError);
          expect((e as DataError).issues.length).toBeGreaterThan(0);
        }
      }
    }), { numRuns: 500 });
  });
});

describe("parseJsonLines and rowsFromObjects", () => {
  it("parses objects; absent keys and null are missing; numbers accepted for levels", () => {
    const s = parseDatasetSchema({ version: 1, name: "j", columns: [{ name: "a", type: "numeric" }, { name: "d", type: "label", levels: ["0", "1"] }] });
    expect(parseJsonLines('{"a": 1, "d": 1}\n\n{"d": "0"}\n{"a": null, "d": 0}\n', s)).toEqual([[1, "1"], [null, "0"], [null, "0"]]);
  });

  it("rejects bad JSON, unknown fields and wrong types with line numbers", () => {
    const e = dataError(() => parseJsonLines('{"age": 1, "sex": "F", "y": "no", "w": 2}\n{oops\n{"age": 1, "zzz": 2, "sex":"F","y":"no","w":1}\n{"age": [1], "sex":"F","y":"no","w":1}\n', tiny, { file: "d.jsonl" }));
    expect(e.issues.map((i) => [i.line, i.code])).toEqual([[2, "bad-json"], [3, "unknown-field"], [4, "wrong-type"]]);
  });

  it("validates browser-supplied objects the same way", () => {
    expect(rowsFromObjects([{ age: 3, w: 1, sex: "M", y: "yes" }], tiny)).toEqual([[3, 1, "M", "yes"]]);
    expect(dataError(() => rowsFromObjects([{ age: 3.5, w: 1, sex: "M", y: "yes" }], tiny)).issues[0]!.line).toBe(1);
  });
});

describe("dataset schemas", () => {
  it("rejects malformed schemas with paths", () => {
    const bad = () => parseDatasetSchema({ version: 1, name: "x", columns: [{ name: "a", type: "categorical", levels: [] }, { name: "a", type: "numeric", extra: 1 }] }, "x.json");
    expect(bad).toThrow(SchemaError);
    try { bad(); } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain("x.json");
      expect(msg).toContain("columns.0.levels");
      expect(msg).toContain("columns.1");
    }
    expect(() => parseDatasetSchema({ version: 1, name: "x", columns: [{ name: "a", type: "numeric" }, { name: "a", type: "numeric" }] })).toThrow(/duplicate column name "a"/);
  });
});
