import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { sha256 } from "@noble/hashes/sha2.js";
import { datasetCommitment, encodeRow, inclusionProof, leafHash, merkleRootOfLeaves, nodeHash, verifyInclusion } from "../../../client/data/commitment.ts";
import { rowsOf, schemaOf } from "../stats/helpers.ts";
import { datasetFromObjects, memoryAdapter, watchDataSource, loadDataSource } from "../../../client/data/source.ts";
import { DataError } from "../../../client/data/parse.ts";
import { toHex } from "../../../protocol/encoding.ts";
import { parseDatasetSchema, type Row } from "../../../protocol/stats/schema.ts";

const schema = parseDatasetSchema({ version: 1, name: "c", missing: ["?"], columns: [{ name: "x", type: "numeric" }, { name: "s", type: "categorical", levels: ["a", "b"] }] });
const value = fc.oneof(fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom("a", "b"));

describe("Merkle commitment", () => {
  it("matches the RFC 6962 tree shape on small trees", () => {
    const l = [1, 2, 3, 4, 5].map((i) => leafHash(Uint8Array.of(i)));
    expect(toHex(merkleRootOfLeaves([]))).toBe(toHex(sha256(new Uint8Array(0))));
    expect(merkleRootOfLeaves([l[0]!])).toEqual(l[0]);
    expect(merkleRootOfLeaves(l.slice(0, 3))).toEqual(nodeHash(nodeHash(l[0]!, l[1]!), l[2]!));
    expect(merkleRootOfLeaves(l)).toEqual(nodeHash(nodeHash(nodeHash(l[0]!, l[1]!), nodeHash(l[2]!, l[3]!)), l[4]!));
  });

  it("row encoding is injective (property) and −0 equals +0", () => {
    fc.assert(fc.property(fc.array(value, { minLength: 2, maxLength: 2 }), fc.array(value, { minLength: 2, maxLength: 2 }), (a, b) => {
      const same = a.every((v, i) => Object.is(v === 0 ? 0 : v, b[i] === 0 ? 0 : b[i]));
      expect(toHex(encodeRow(a)) === toHex(encodeRow(b))).toBe(same);
    }));
    expect(encodeRow([-0, "a"])).toEqual(encodeRow([0, "a"]));
    expect(encodeRow(["1"])).not.toEqual(encodeRow([1]));
  });

  it("is deterministic and changes with any value, the order, the row count or the schema", () => {
    const rows: Row[] = [[1, "a"], [2, null], [null, "b"]];
    const c = datasetCommitment(schema, rows);
    expect(c).toEqual(datasetCommitment(schema, rows.map((r) => [...r])));
    expect(c.rows).toBe(3);
    expect(c.merkleRoot).toMatch(/^[0-9a-f]{64}$/);
    const other = [
      datasetCommitment(schema, [[1, "a"], [2, null], [null, "a"]]),
      datasetCommitment(schema, [[2, null], [1, "a"], [null, "b"]]),
      datasetCommitment(schema, rows.slice(0, 2)),
      datasetCommitment({ ...schema, name: "d" }, rows),
    ];
    for (const o of other) expect(o.digest).not.toBe(c.digest);
    expect(other[3]!.merkleRoot).toBe(c.merkleRoot);
  });

  it("a browser-supplied dataset commits like the same file", async () => {
    const a = memoryAdapter({ "d.csv": "1,a\n?,b\n" });
    const f = await loadDataSource(a, { path: "d.csv", schema });
    const b = datasetFromObjects(schema, [{ x: 1, s: "a" }, { s: "b" }]);
    expect(b.commitment).toEqual(f.commitment);
  });
});

describe("inclusion proofs", () => {
  it("every row of every small tree size proves against the root; tampering fails", () => {
    for (let n = 1; n <= 9; n++) {
      const rows: Row[] = Array.from({ length: n }, (_, i) => [i, i % 2 ? "a" : "b"]);
      const root = datasetCommitment(schema, rows).merkleRoot;
      for (let i = 0; i < n; i++) {
        const p = inclusionProof(rows, i);
        expect(verifyInclusion(rows[i]!, p, root)).toBe(true);
        expect(verifyInclusion([i + 0.5, "a"], p, root)).toBe(false);
        expect(verifyInclusion(rows[i]!, { ...p, index: (i + 1) % n }, root)).toBe(n === 1);
        if (p.path.length > 0) expect(verifyInclusion(rows[i]!, { ...p, path: p.path.slice(1) }, root)).toBe(false);
        expect(verifyInclusion(rows[i]!, { ...p, path: [...p.path, "00".repeat(32)] }, root)).toBe(false);
      }
    }
    expect(() => inclusionProof([], 0)).toThrow(RangeError);
  });
});

describe("pinned commitments (format changes must be deliberate)", () => {
  it("pima and a tiny dataset", () => {
    const pima = schemaOf("pima");
    const c = datasetCommitment(pima, rowsOf(pima, "pima-indians-diabetes.csv"));
    expect(c.rows).toBe(768);
    expect({ merkleRoot: c.merkleRoot.slice(0, 16), digest: c.digest.slice(0, 16) }).toMatchInlineSnapshot(`
      {
        "digest": "a88d91cc1cea36d2",
        "merkleRoot": "d8cda0003c0c74a8",
      }
    `);
    expect(toHex(encodeRow([1.5, "a", null]))).toBe("00000003" + "01" + "3ff8000000000000" + "02" + "00000001" + "61" + "00");
  });
});

describe("watchDataSource", () => {
  it("recomputes the commitment on change, ignores no-op writes, survives a bad write", async () => {
    const fs = memoryAdapter({ "d.csv": "1,a\n" });
    const changes: string[] = [];
    const errors: unknown[] = [];
    const w = watchDataSource(fs, { path: "d.csv", schema }, { onChange: (d) => changes.push(d.commitment.digest), onError: (e) => errors.push(e), debounceMs: 5 });
    const first = await w.ready;
    expect(first.rows.length).toBe(1);
    const settle = () => new Promise((r) => setTimeout(r, 40));
    fs.write("d.csv", "1,a\n"); // same content
    await settle();
    expect(changes).toEqual([]);
    fs.write("d.csv", "1,a\n2,b\n");
    await settle();
    expect(changes.length).toBe(1);
    expect(w.current()!.rows.length).toBe(2);
    fs.write("d.csv", "1,a\nzz,b\n");
    await settle();
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(DataError);
    expect(w.current()!.rows.length).toBe(2);
    w.stop();
    fs.write("d.csv", "5,a\n");
    await settle();
    expect(changes.length).toBe(1);
  });

  it("rejects ready when the first load fails", async () => {
    const w = watchDataSource(memoryAdapter({ "d.csv": "x,a\n" }), { path: "d.csv", schema }, { onChange: () => {} });
    await expect(w.ready).rejects.toThrow(/d\.csv:1: column "x"/);
    w.stop();
  });
});
