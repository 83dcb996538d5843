/** The dashboard's metric charts (client/dashboard/chart.ts): real model numbers on a titled x axis, a titled y axis, no overlapping labels. */
import { describe, expect, it } from "vitest";
import { chartLayout, textWidth, type ChartLayout, type ChartText } from "../../../client/dashboard/chart.ts";

/** The box a label occupies (rotated labels: swapped extents). */
function box(t: ChartText): { x0: number; x1: number; y0: number; y1: number } {
  const w = textWidth(t.text), h = 11;
  const [ww, hh] = t.rotate ? [h, w] : [w, h];
  const x0 = t.rotate ? t.x - ww / 2 : t.anchor === "start" ? t.x : t.anchor === "end" ? t.x - ww : t.x - ww / 2;
  const y0 = t.rotate ? t.y - hh / 2 : t.y - h + 2;
  return { x0, x1: x0 + ww, y0, y1: y0 + hh };
}
const overlap = (a: ReturnType<typeof box>, b: ReturnType<typeof box>) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

function checkNoOverlap(L: ChartLayout): void {
  const labels = [L.title, L.xTitle, L.yTitle, ...L.xTicks, ...L.yTicks];
  for (const t of labels) {
    const b = box(t);
    expect(b.x0, t.text).toBeGreaterThanOrEqual(0);
    expect(b.x1, t.text).toBeLessThanOrEqual(L.width);
    expect(b.y0, t.text).toBeGreaterThanOrEqual(0);
    expect(b.y1, t.text).toBeLessThanOrEqual(L.height);
  }
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) expect(overlap(box(labels[i]!), box(labels[j]!)), `${labels[i]!.text} / ${labels[j]!.text}`).toBe(false);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

describe("dashboard metric chart", () => {
  it("labels the x axis with the models' numbers, first to last, and titles both axes", () => {
    const L = chartLayout([0, 1, 2, 3, 4, 5].map((m) => ({ model: m, value: 0.5 + m / 20 })), "accuracy", pct);
    expect(L.xTicks.map((t) => t.text)).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(L.xTitle.text).toBe("model after k rounds (k)");
    expect(L.yTitle).toMatchObject({ text: "accuracy", rotate: -90 });
    expect(L.yTicks.map((t) => t.text)).toEqual(["50.0%", "62.5%", "75.0%"]);
    expect(L.points[0]!.x).toBe(L.plot.x0);
    expect(L.points[5]!.x).toBe(L.plot.x1);
    expect(L.points[5]!.y).toBeLessThan(L.points[0]!.y); // higher accuracy is higher up
    checkNoOverlap(L);
  });

  it("thins the x ticks of long jobs (keeping the first and last model) and places models by number, not index", () => {
    const L = chartLayout(Array.from({ length: 61 }, (_, m) => ({ model: m, value: 1 / (m + 1) })), "loss", (v) => v.toFixed(3));
    const ticks = L.xTicks.map((t) => Number(t.text));
    expect(ticks[0]).toBe(0);
    expect(ticks.at(-1)).toBe(60);
    expect(ticks.length).toBeLessThan(61);
    checkNoOverlap(L);
    const gap = chartLayout([{ model: 0, value: 1 }, { model: 1, value: 2 }, { model: 4, value: 3 }], "loss", String);
    expect(gap.points[1]!.x - gap.points[0]!.x).toBeCloseTo((gap.points[2]!.x - gap.points[0]!.x) / 4, 9);
  });

  it("a single point or equal values: one y tick, the point centred, nothing overlapping", () => {
    const one = chartLayout([{ model: 3, value: 0.8 }], "accuracy", pct);
    expect(one.xTicks.map((t) => t.text)).toEqual(["3"]);
    expect(one.yTicks).toHaveLength(1);
    checkNoOverlap(one);
    expect(() => chartLayout([], "loss", String)).toThrow(RangeError);
  });
});
