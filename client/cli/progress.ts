/**
 * Progress for long work (`job watch`, `job submit --wait`, `node start`): one status line
 * with a bar, the rounds done, the current phase and an ETA estimated from finished rounds,
 * redrawn in place on a terminal. When the stream is not a TTY (pipes, CI, tests) or under
 * `--json`, no status line is drawn: only the plain event lines are written.
 */

/** What the status line shows. */
export interface ProgressState {
  /** Rounds finished (accepted). */
  done: number;
  /** Rounds planned, or null when unknown. */
  total: number | null;
  /** What is happening now, e.g. "round 3/5 running (attempt 1)". */
  phase: string;
  /** Estimated time left in ms, or null when it cannot be estimated. */
  etaMs: number | null;
}

/** "45 s", "3 min 20 s", "1 h 5 min". Pure. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
}

/**
 * Time left for `remaining` rounds at the mean duration of the finished ones (ms), minus the
 * time the current round has already run. Null without a finished round or a known remainder.
 * Pure.
 */
export function estimateEta(finishedMs: readonly number[], remaining: number | null, currentElapsedMs = 0): number | null {
  if (!finishedMs.length || remaining === null || remaining < 0) return null;
  const mean = finishedMs.reduce((a, b) => a + b, 0) / finishedMs.length;
  return Math.max(0, remaining * mean - Math.min(currentElapsedMs, mean));
}

/** The status line: `[#######.......] 2/5 rounds · round 3/5 running · ETA 40 s`, at most `columns` wide. Pure. */
export function renderProgress(p: ProgressState, columns = 100, width = 20): string {
  const frac = p.total ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(frac * width);
  const bar = p.total ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.done}/${p.total} rounds · ` : "";
  const text = `${bar}${p.phase}${p.etaMs !== null ? ` · ETA ${formatDuration(p.etaMs)}` : ""}`;
  return text.length > columns - 1 ? `${text.slice(0, Math.max(0, columns - 2))}…` : text;
}

/** The stream a Progress writes to (process.stdout, or a fake in tests). */
export interface ProgressStream { isTTY?: boolean; columns?: number; write(s: string): unknown }

/**
 * Plain lines plus, on a TTY, one status line kept below them. `line()` prints an event
 * (clearing and redrawing the status line around it); `update()` replaces the status line
 * (nothing when not on a TTY); `end()` clears it.
 */
export class Progress {
  private status = "";
  private readonly live: boolean;
  constructor(private readonly stream: ProgressStream = process.stdout, enabled = true) {
    this.live = enabled && stream.isTTY === true;
  }

  /** Whether a status line is drawn (a TTY and not disabled). */
  get drawing(): boolean { return this.live; }

  line(text: string): void {
    if (this.live && this.status) this.stream.write("\r\x1b[2K");
    this.stream.write(`${text}\n`);
    if (this.live && this.status) this.stream.write(this.status);
  }

  update(p: ProgressState): void {
    if (!this.live) return;
    this.status = renderProgress(p, this.stream.columns ?? 100);
    this.stream.write(`\r\x1b[2K${this.status}`);
  }

  end(): void {
    if (this.live && this.status) this.stream.write("\r\x1b[2K");
    this.status = "";
  }
}
