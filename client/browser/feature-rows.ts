/**
 * The querier page's rows: one row per line, `dim` numbers separated by commas (or
 * whitespace), in the model's feature order (raw values: the model carries its own
 * standardisation). Pure.
 */

/** The text is not `dim`-wide numeric rows. `line` is 1-based. */
export class FeatureRowsError extends Error {
  constructor(readonly line: number, detail: string) {
    super(line > 0 ? `rows line ${line}: ${detail}` : `rows: ${detail}`);
    this.name = "FeatureRowsError";
  }
}

/**
 * Parses `text` into rows of exactly `dim` finite numbers (blank lines skipped; at most
 * `maxRows`, default 8192). Throws FeatureRowsError naming the first bad line.
 */
export function parseFeatureRows(text: string, dim: number, maxRows = 8192): number[][] {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`parseFeatureRows: dim must be a positive integer, got ${dim}`);
  const rows: number[][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const cells = line.split(/\s*,\s*|\s+/);
    if (cells.length !== dim) throw new FeatureRowsError(i + 1, `${cells.length} values, the model takes ${dim}`);
    const row = cells.map((c, j) => {
      const x = c === "" ? NaN : Number(c);
      if (!Number.isFinite(x)) throw new FeatureRowsError(i + 1, `value ${j + 1} (${JSON.stringify(c.slice(0, 20))}) is not a finite number`);
      return x;
    });
    rows.push(row);
    if (rows.length > maxRows) throw new FeatureRowsError(i + 1, `more than ${maxRows} rows`);
  }
  if (rows.length === 0) throw new FeatureRowsError(0, "no rows given");
  return rows;
}
