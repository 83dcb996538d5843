import { describe, expect, it } from "vitest";
import { estimateEta, formatDuration, Progress, renderProgress } from "../../../client/cli/progress.ts";

describe("progress line", () => {
  it("renders a bar, rounds, phase and ETA, cut to the terminal width", () => {
    expect(renderProgress({ done: 2, total: 5, phase: "round 3/5 running (attempt 1)", etaMs: 45_000 }, 200, 10))
      .toBe("[####......] 2/5 rounds · round 3/5 running (attempt 1) · ETA 45 s");
    expect(renderProgress({ done: 0, total: null, phase: "waiting for a committee", etaMs: null })).toBe("waiting for a committee");
    const cut = renderProgress({ done: 1, total: 2, phase: "x".repeat(300), etaMs: null }, 40);
    expect(cut.length).toBeLessThanOrEqual(39);
    expect(cut.endsWith("…")).toBe(true);
  });

  it("estimates the time left from finished rounds only", () => {
    expect(estimateEta([], 3)).toBeNull();
    expect(estimateEta([10_000], null)).toBeNull();
    expect(estimateEta([10_000, 20_000], 3)).toBe(45_000);
    expect(estimateEta([10_000, 20_000], 3, 5_000)).toBe(40_000);
    expect(formatDuration(200_000)).toBe("3 min 20 s");
    expect(formatDuration(3_900_000)).toBe("1 h 5 min");
  });

  it("draws a status line only on a TTY; piped output is plain lines", () => {
    const piped: string[] = [];
    const p = new Progress({ isTTY: false, write: (s) => piped.push(s) });
    p.update({ done: 1, total: 2, phase: "round 2/2 running", etaMs: null });
    p.line("round 1/2 attempt 1: accepted");
    p.end();
    expect(piped).toEqual(["round 1/2 attempt 1: accepted\n"]);
    const tty: string[] = [];
    const q = new Progress({ isTTY: true, columns: 80, write: (s) => tty.push(s) });
    q.update({ done: 1, total: 2, phase: "round 2/2 running", etaMs: null });
    q.line("an event");
    q.end();
    expect(tty.join("")).toBe("\r\x1b[2K[##########..........] 1/2 rounds · round 2/2 running\r\x1b[2Kan event\n[##########..........] 1/2 rounds · round 2/2 running\r\x1b[2K");
    const off: string[] = [];
    new Progress({ isTTY: true, write: (s) => off.push(s) }, false).update({ done: 0, total: 1, phase: "x", etaMs: null });
    expect(off).toEqual([]);
  });
});
