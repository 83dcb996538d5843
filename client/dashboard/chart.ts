/**
 * Geometry of the dashboard's metric charts (accuracy, loss per model), pure so it can be
 * tested without a browser. The x axis counts rounds as everywhere else: model k is the global
 * model after k aggregated rounds (0 = the initial model), placed at k, with an axis title;
 * the y axis is titled with the metric and has three labelled ticks (one if all values agree). Tick labels are thinned
 * so that none overlap, and every label stays inside the chart's box.
 */

export interface ChartText { x: number; y: number; text: string; anchor: "start" | "middle" | "end"; rotate?: number }

export interface ChartLayout {
  width: number;
  height: number;
  /** The plotting area: x0..x1 (left to right), y0..y1 (top to bottom). */
  plot: { x0: number; y0: number; x1: number; y1: number };
  title: ChartText;
  xTitle: ChartText;
  yTitle: ChartText;
  xTicks: ChartText[];
  yTicks: ChartText[];
  /** One per point, in model order. */
  points: Array<{ x: number; y: number; model: number; value: number }>;
}

/** Approximate width in px of `text` at the dashboard's 11 px chart font. */
export function textWidth(text: string): number {
  return text.length * 6.5;
}

/**
 * Lays out a chart of `values` (model k → metric), sorted by k; `text` overrides the title
 * ("<metric> of each model") and the x-axis title. Throws RangeError when there is no point. Pure.
 */
export function chartLayout(values: ReadonlyArray<{ model: number; value: number }>, metric: string, fmt: (v: number) => string, width = 360, height = 220, text: { title?: string; xTitle?: string } = {}): ChartLayout {
  if (values.length === 0) throw new RangeError("chartLayout: no points");
  const pts = [...values].sort((a, b) => a.model - b.model);
  const ys = pts.map((p) => p.value);
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo;
  const yVals = span === 0 ? [lo] : [lo, (lo + hi) / 2, hi];
  const yLabels = yVals.map(fmt);
  const left = 30 + Math.max(...yLabels.map(textWidth)), right = 14, top = 26, bottom = 40;
  const plot = { x0: left, y0: top, x1: width - right, y1: height - bottom };
  const m0 = pts[0]!.model, m1 = pts[pts.length - 1]!.model;
  const X = (m: number): number => (m1 === m0 ? (plot.x0 + plot.x1) / 2 : plot.x0 + ((plot.x1 - plot.x0) * (m - m0)) / (m1 - m0));
  const Y = (v: number): number => (span === 0 ? (plot.y0 + plot.y1) / 2 : plot.y1 - ((plot.y1 - plot.y0) * (v - lo)) / span);
  // x ticks: integer models from first to last, every `step`-th, always the last; thinned until labels have room.
  const labelRoom = textWidth(String(m1)) + 10;
  let step = 1;
  while (m1 > m0 && ((plot.x1 - plot.x0) * step) / (m1 - m0) < labelRoom) step++;
  const ticks: number[] = [];
  for (let m = m0; m <= m1; m += step) ticks.push(m);
  if (ticks[ticks.length - 1] !== m1) {
    // keep the last model labelled; drop the previous tick if it would collide with it
    if (ticks.length > 1 && X(m1) - X(ticks[ticks.length - 1]!) < labelRoom) ticks.pop();
    ticks.push(m1);
  }
  return {
    width, height, plot,
    title: { x: plot.x0, y: 14, text: `${text.title ?? `${metric} of each model`} — last ${fmt(ys[ys.length - 1]!)}`, anchor: "start" },
    xTitle: { x: (plot.x0 + plot.x1) / 2, y: height - 6, text: text.xTitle ?? "model after k rounds (k)", anchor: "middle" },
    yTitle: { x: 12, y: (plot.y0 + plot.y1) / 2, text: metric, anchor: "middle", rotate: -90 },
    xTicks: ticks.map((m) => ({ x: X(m), y: plot.y1 + 16, text: String(m), anchor: "middle" })),
    yTicks: yVals.map((v, i) => ({ x: plot.x0 - 6, y: Y(v) + 4, text: yLabels[i]!, anchor: "end" })),
    points: pts.map((p) => ({ x: X(p.model), y: Y(p.value), model: p.model, value: p.value })),
  };
}
