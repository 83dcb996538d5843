/**
 * Dataset commitment: a Merkle root (SHA-256) over canonical row encodings, bound to the
 * schema digest and the row count. Registered in the job's transparency log when a node's
 * data changes. Pure (works in the browser): uses only @noble/hashes.
 *
 * Tree: RFC 6962 §2.1 shape — leaf = SHA-256(0x00 ‖ row), node = SHA-256(0x01 ‖ left ‖ right),
 * an unpaired last node is promoted unchanged; the empty tree's root is SHA-256("").
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, toHex, utf8 } from "../../protocol/encoding.ts";
import { canonicalSchemaJson, type DatasetSchema, type Row } from "../../protocol/stats/schema.ts";

/** What a node registers for one data source. */
export interface DatasetCommitment {
  version: 1;
  /** Hex SHA-256 of the canonical schema JSON. */
  schemaDigest: string;
  /** Number of rows committed to. */
  rows: number;
  /** Hex Merkle root over the canonical row encodings, in file order. */
  merkleRoot: string;
  /** Hex SHA-256("2pm/dataset/v1" ‖ schemaDigest ‖ rows as u64 BE ‖ merkleRoot): one value to log. */
  digest: string;
}

const TAG_MISSING = 0, TAG_NUMBER = 1, TAG_STRING = 2;
const enc = new TextEncoder();

/**
 * Canonical bytes of one row: the column count (u32 BE), then per column 0x00 for missing;
 * 0x01 ‖ float64 BE for a number (−0 written as +0); 0x02 ‖ u32 BE byte length ‖ UTF-8 for
 * a level. Equal rows ⇔ equal bytes. Throws TypeError for a non-finite number.
 */
export function encodeRow(row: Row): Uint8Array {
  let size = 4;
  const strs: (Uint8Array | undefined)[] = new Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v === null || v === undefined) size += 1;
    else if (typeof v === "number") size += 9;
    else { const s = enc.encode(v); strs[i] = s; size += 5 + s.length; }
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, row.length, false);
  let o = 4;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v === null || v === undefined) out[o++] = TAG_MISSING;
    else if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new TypeError(`encodeRow: non-finite number ${v} in column ${i}`);
      out[o] = TAG_NUMBER;
      dv.setFloat64(o + 1, v === 0 ? 0 : v, false);
      o += 9;
    } else {
      const s = strs[i]!;
      out[o] = TAG_STRING;
      dv.setUint32(o + 1, s.length, false);
      out.set(s, o + 5);
      o += 5 + s.length;
    }
  }
  return out;
}

const LEAF = Uint8Array.of(0), NODE = Uint8Array.of(1);

/** Leaf hash SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256.create().update(LEAF).update(data).digest();
}

/** Interior node hash SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.create().update(NODE).update(left).update(right).digest();
}

/** Merkle root of already-hashed leaves (RFC 6962 shape; see module comment). */
export function merkleRootOfLeaves(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  let level = leaves.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** Hex SHA-256 of the canonical schema JSON. */
export function schemaDigest(schema: DatasetSchema): string {
  return toHex(sha256(utf8(canonicalSchemaJson(schema))));
}

/**
 * The commitment to `rows` under `schema`. Deterministic: the same rows in the same order
 * under the same schema always give the same commitment; any change to a value, the order,
 * the row count or the schema changes `merkleRoot` or `digest`.
 */
export function datasetCommitment(schema: DatasetSchema, rows: readonly Row[]): DatasetCommitment {
  const root = toHex(merkleRootOfLeaves(rows.map((r) => leafHash(encodeRow(r)))));
  const sd = schemaDigest(schema);
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, BigInt(rows.length), false);
  const digest = toHex(sha256(concatBytes(utf8("2pm/dataset/v1"), utf8(sd), n, utf8(root))));
  return { version: 1, schemaDigest: sd, rows: rows.length, merkleRoot: root, digest };
}

/** Audit path for one row: sibling hashes from the leaf up (hex), with the tree size. */
export interface InclusionProof {
  index: number;
  size: number;
  path: string[];
}

/**
 * Inclusion proof for `rows[index]` against `datasetCommitment(schema, rows).merkleRoot`.
 * Throws RangeError for an index outside [0, rows.length).
 */
export function inclusionProof(rows: readonly Row[], index: number): InclusionProof {
  if (!Number.isInteger(index) || index < 0 || index >= rows.length) throw new RangeError(`index must be in [0, ${rows.length}), got ${index}`);
  let level = rows.map((r) => leafHash(encodeRow(r)));
  const path: string[] = [];
  let i = index;
  while (level.length > 1) {
    if (i % 2 === 1) path.push(toHex(level[i - 1]!));
    else if (i + 1 < level.length) path.push(toHex(level[i + 1]!));
    const next: Uint8Array[] = [];
    for (let k = 0; k + 1 < level.length; k += 2) next.push(nodeHash(level[k]!, level[k + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
    i >>= 1;
  }
  return { index, size: rows.length, path };
}

/**
 * True iff `row` is at `proof.index` of a dataset of `proof.size` rows whose Merkle root is
 * `merkleRoot` (hex). Never throws for a malformed proof; returns false.
 */
export function verifyInclusion(row: Row, proof: InclusionProof, merkleRoot: string): boolean {
  try {
    let h = leafHash(encodeRow(row));
    let i = proof.index, n = proof.size, k = 0;
    if (!Number.isInteger(i) || !Number.isInteger(n) || i < 0 || i >= n) return false;
    while (n > 1) {
      if (i % 2 === 1) h = nodeHash(fromHexStrict(proof.path[k++]), h);
      else if (i + 1 < n) h = nodeHash(h, fromHexStrict(proof.path[k++]));
      i >>= 1;
      n = Math.ceil(n / 2);
    }
    return k === proof.path.length && toHex(h) === merkleRoot.toLowerCase();
  } catch {
    return false;
  }
}

function fromHexStrict(s: string | undefined): Uint8Array {
  if (s === undefined || !/^[0-9a-fA-F]{64}$/.test(s)) throw new TypeError("bad hash");
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
