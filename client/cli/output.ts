/**
 * The CLI's one way to print a result: human text by default, or with `--json` one JSON
 * document per line on stdout (a single document for a result, one per event for commands
 * that stream, like `job watch` and `node start`). Under `--json`, everything meant for a
 * person (notes, progress) goes to stderr, so stdout always parses; exit codes do not change.
 */

/** The `--json` option, for `parse()` option tables. */
export const jsonOption = { json: { type: "boolean", default: false } } as const;

export class Output {
  constructor(
    /** True under `--json`. */
    readonly json: boolean,
    private readonly out: (line: string) => void = (l) => console.log(l),
    private readonly err: (line: string) => void = (l) => console.error(l),
  ) {}

  /** The command's result: `data` as one JSON line under `--json`, else `text` (lines) on stdout. */
  result(data: unknown, text: string | readonly string[] | (() => string | readonly string[])): void {
    if (this.json) { this.out(JSON.stringify(data)); return; }
    const t = typeof text === "function" ? text() : text;
    for (const line of typeof t === "string" ? [t] : t) this.out(line);
  }

  /** A line for a person that is not the result (a note, a hint): stdout, or stderr under `--json`. */
  note(line: string): void {
    (this.json ? this.err : this.out)(line);
  }

  /** One streamed event: a JSON line under `--json`, else `text` on stdout. */
  event(data: Record<string, unknown>, text: string): void {
    this.out(this.json ? JSON.stringify(data) : text);
  }
}

/** The Output for parsed options that include {@link jsonOption}. */
export function outputFor(values: { json?: boolean | string | undefined }): Output {
  return new Output(values.json === true);
}
