/**
 * Line charts: axes with ticks and tick labels, grid, axis labels, title and legend, drawn as
 * SVG ({@linkcode lineChartSvg}) and rendered to pixels with resvg ({@linkcode lineChart},
 * {@linkcode writeLineChart}). Used for PR curves, ROC curves and learning curves.
 *
 * Series may hold NaN (a gap in the line); points outside the ranges are clipped. Ranges
 * default to the data, widened to round tick values. Short series (up to 40 points, as
 * per-epoch learning curves) get a marker at each point.
 *
 * @example
 * ```ts
 * import { writeLineChart } from "./chart.ts";
 * await writeLineChart("out/loss.png", {
 *   title: "PNet training",
 *   xLabel: "epoch",
 *   yLabel: "loss",
 *   series: [
 *     { name: "train", xs: [1, 2, 3], ys: [0.9, 0.6, 0.5] },
 *     { name: "val", xs: [1, 2, 3], ys: [1.0, 0.7, 0.65], dashed: true },
 *   ],
 * });
 * ```
 * @module
 */
import { writeImage } from "../image/encode.ts";
import type { RgbImage } from "../image/types.ts";
import { FONT_FAMILY, renderSvg } from "./render.ts";

/** One line of a chart. */
export interface Series {
  name: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  /** CSS colour; default: the next colour of {@linkcode PALETTE}. */
  color?: string;
  dashed?: boolean;
  /** A marker at each point; default: when the series has at most 40 points. */
  markers?: boolean;
  /** Line width in pixels (default 2). */
  width?: number;
}

/** Where the legend goes; `auto` picks the corner with the fewest points under it. */
export type LegendPosition =
  | "auto"
  | "upper right"
  | "upper left"
  | "lower right"
  | "lower left"
  | "none";

/** Options of {@linkcode lineChart}. */
export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  series: Series[];
  /** `[min, max]` of the x axis; default: the data, widened to round ticks. */
  xRange?: [number, number];
  /** `[min, max]` of the y axis; default: the data, widened to round ticks. */
  yRange?: [number, number];
  /** `log` plots y on a base-10 log scale (values <= 0 are left out). Default `linear`. */
  yScale?: "linear" | "log";
  /** Image size in pixels (default 800 x 560). */
  width?: number;
  height?: number;
  legend?: LegendPosition;
  /** Grid lines at the ticks (default true). */
  grid?: boolean;
}

/** The default series colours (matplotlib's tab10). */
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

const TITLE_SIZE = 17, LABEL_SIZE = 14, TICK_SIZE = 12, LEGEND_SIZE = 13;
/** DejaVu Sans advance widths average about 0.6 em for digits and lower case. */
const EM = 0.62;

/**
 * Round tick values covering `[lo, hi]`: steps of 1, 2, 2.5 or 5 times a power of ten, about
 * `target` of them. Returns the ticks inside the range and the step.
 *
 * @example
 * ```ts
 * niceTicks(0, 1).ticks;   // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 */
export function niceTicks(lo: number, hi: number, target = 6): { ticks: number[]; step: number } {
  if (!(hi > lo)) return { ticks: [lo], step: 1 };
  const raw = (hi - lo) / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw * 0.85) ?? 10 * p;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let k = first; k * step <= hi + step * 1e-9; k++) ticks.push(roundTo(k * step, step));
  return { ticks, step };
}

function roundTo(v: number, step: number): number {
  const d = decimalsFor(step);
  return Number(v.toFixed(Math.min(d + 2, 20)));
}

/** Decimals needed to print multiples of `step` exactly (0.25 -> 2, 5 -> 0). */
function decimalsFor(step: number): number {
  for (let d = 0; d <= 12; d++) {
    const s = step * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-6 * Math.max(1, s)) return d;
  }
  return 12;
}

/** A tick label for `v` on an axis with tick `step`: `0.25`, `1000`, `1.5e+6`. */
export function formatTick(v: number, step: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) {
    return v.toExponential(Math.min(3, decimalsFor(step / 10 ** Math.floor(Math.log10(a)))))
      .replace(/\.?0+e/, "e");
  }
  return v.toFixed(decimalsFor(step));
}

function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

function textWidth(s: string, size: number): number {
  return s.length * size * EM;
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  labels: string[];
  minor: number[];
  log: boolean;
}

function dataRange(series: Series[], key: "xs" | "ys", log: boolean): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const s of series) {
    const v = s[key];
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (!Number.isFinite(x) || (log && x <= 0)) continue;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  if (lo > hi) return log ? [1, 10] : [0, 1];
  return [lo, hi];
}

function linearAxis(
  range: [number, number] | undefined,
  data: [number, number],
  snap: boolean,
): Axis {
  let [lo, hi] = range ?? data;
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let { ticks, step } = niceTicks(lo, hi);
  if (!range && snap) {
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
    ({ ticks, step } = niceTicks(lo, hi));
  }
  return { lo, hi, ticks, labels: ticks.map((t) => formatTick(t, step)), minor: [], log: false };
}

function logAxis(range: [number, number] | undefined, data: [number, number]): Axis {
  let [lo, hi] = range ?? data;
  if (!range) {
    // a little room above and below the data, in log space
    lo /= 1.15;
    hi *= 1.15;
  }
  if (!(lo > 0)) {
    throw new RangeError(`lineChart: a log axis needs a positive range, got [${lo}, ${hi}]`);
  }
  if (!(hi > lo)) hi = lo * 10;
  const decades = Math.log10(hi / lo);
  // Label 1, 2 and 5 times each power of ten when the axis spans few decades.
  const labelled = decades <= 1.2 ? [1, 2, 3, 5] : decades <= 2.5 ? [1, 2, 5] : [1];
  const ticks: number[] = [], minor: number[] = [];
  for (let k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)); k++) {
    for (let m = 1; m <= 9; m++) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      (labelled.includes(m) ? ticks : minor).push(v);
    }
  }
  const labels = ticks.map((t) => {
    const k = Math.floor(Math.log10(t) + 1e-9);
    return k >= -4 && k <= 5 ? String(t) : t.toExponential(0).replace("+", "");
  });
  return { lo, hi, ticks, labels, minor, log: true };
}

/**
 * The chart as an SVG document (`width` x `height` pixels, DejaVu Sans text).
 *
 * @example
 * ```ts
 * const svg = lineChartSvg({ title: "ROC", series: [{ name: "disc", xs: fp, ys: tpr }] });
 * ```
 */
export function lineChartSvg(options: LineChartOptions): string {
  const W = options.width ?? 800, H = options.height ?? 560;
  if (
    !(Number.isInteger(W) && Number.isInteger(H) && W >= 100 && H >= 80 && W <= 8000 && H <= 8000)
  ) {
    throw new RangeError(`lineChart: bad size ${W}x${H} (100x80 to 8000x8000)`);
  }
  const series = options.series;
  for (const s of series) {
    if (s.xs.length !== s.ys.length) {
      throw new RangeError(
        `lineChart: series "${s.name}" has ${s.xs.length} x and ${s.ys.length} y values`,
      );
    }
  }
  const logY = options.yScale === "log";
  let xData = dataRange(series, "xs", false);
  if (!options.xRange && series.some((s) => s.markers ?? s.xs.length <= 40)) {
    // room for the markers at both ends
    const pad = (xData[1] - xData[0]) * 0.02;
    xData = [xData[0] - pad, xData[1] + pad];
  }
  const xAxis = linearAxis(options.xRange, xData, false);
  const yAxis = logY
    ? logAxis(options.yRange, dataRange(series, "ys", true))
    : linearAxis(options.yRange, dataRange(series, "ys", false), true);

  const yTickWidth = Math.max(...yAxis.labels.map((l) => textWidth(l, TICK_SIZE)), 10);
  const left = Math.round(16 + (options.yLabel ? LABEL_SIZE + 10 : 0) + yTickWidth + 10);
  const top = options.title ? 16 + TITLE_SIZE + 12 : 20;
  const bottom = 14 + TICK_SIZE + 8 + (options.xLabel ? LABEL_SIZE + 12 : 0);
  const right = Math.round(Math.max(24, textWidth(xAxis.labels.at(-1) ?? "", TICK_SIZE) / 2 + 8));
  const pw = W - left - right, ph = H - top - bottom;
  if (pw < 20 || ph < 20) throw new RangeError(`lineChart: ${W}x${H} leaves no room to plot`);
  const fx = (x: number) => left + ((x - xAxis.lo) / (xAxis.hi - xAxis.lo)) * pw;
  const fy = logY
    ? (y: number) =>
      top + ph -
      ((Math.log10(y) - Math.log10(yAxis.lo)) / (Math.log10(yAxis.hi) - Math.log10(yAxis.lo))) * ph
    : (y: number) => top + ph - ((y - yAxis.lo) / (yAxis.hi - yAxis.lo)) * ph;
  const r = (v: number) => Math.round(v * 100) / 100;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT_FAMILY}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<defs><clipPath id="plot"><rect x="${left}" y="${top}" width="${pw}" height="${ph}"/></clipPath></defs>`,
  );
  // grid
  if (options.grid ?? true) {
    const g: string[] = [];
    for (const t of xAxis.ticks) g.push(`M${r(fx(t))} ${top}V${top + ph}`);
    for (const t of yAxis.ticks) g.push(`M${left} ${r(fy(t))}H${left + pw}`);
    out.push(`<path d="${g.join("")}" stroke="#e3e3e3" stroke-width="1" fill="none"/>`);
    if (yAxis.minor.length) {
      const m = yAxis.minor.map((t) => `M${left} ${r(fy(t))}H${left + pw}`).join("");
      out.push(`<path d="${m}" stroke="#f1f1f1" stroke-width="1" fill="none"/>`);
    }
  }
  // series
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const width = s.width ?? 2;
    const parts: string[] = [];
    let pen = false;
    const pts: [number, number][] = [];
    for (let k = 0; k < s.xs.length; k++) {
      const x = s.xs[k], y = s.ys[k];
      if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) {
        pen = false;
        continue;
      }
      const px = r(fx(x)), py = r(fy(y));
      parts.push(`${pen ? "L" : "M"}${px} ${py}`);
      pts.push([px, py]);
      pen = true;
    }
    const dash = s.dashed ? ` stroke-dasharray="${3 * width} ${2 * width}"` : "";
    out.push(
      `<path d="${
        parts.join("")
      }" stroke="${color}" stroke-width="${width}" fill="none" stroke-linejoin="round" stroke-linecap="round"${dash} clip-path="url(#plot)"/>`,
    );
    if (s.markers ?? s.xs.length <= 40) {
      const dots = pts.map(([px, py]) => `<circle cx="${px}" cy="${py}" r="${width + 1.5}"/>`);
      out.push(`<g fill="${color}" clip-path="url(#plot)">${dots.join("")}</g>`);
    }
  });
  // frame and ticks
  out.push(
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333" stroke-width="1"/>`,
  );
  const tickPath: string[] = [];
  const texts: string[] = [];
  xAxis.ticks.forEach((t, k) => {
    const x = r(fx(t));
    tickPath.push(`M${x} ${top + ph}v5`);
    texts.push(
      `<text x="${x}" y="${
        top + ph + 8 + TICK_SIZE
      }" text-anchor="middle" font-size="${TICK_SIZE}" fill="#333">${
        escapeXml(xAxis.labels[k])
      }</text>`,
    );
  });
  yAxis.ticks.forEach((t, k) => {
    const y = r(fy(t));
    tickPath.push(`M${left} ${y}h-5`);
    texts.push(
      `<text x="${left - 8}" y="${
        r(y + TICK_SIZE * 0.35)
      }" text-anchor="end" font-size="${TICK_SIZE}" fill="#333">${
        escapeXml(yAxis.labels[k])
      }</text>`,
    );
  });
  out.push(`<path d="${tickPath.join("")}" stroke="#333" stroke-width="1"/>`, ...texts);
  // labels and title
  if (options.xLabel) {
    out.push(
      `<text x="${r(left + pw / 2)}" y="${
        H - 12
      }" text-anchor="middle" font-size="${LABEL_SIZE}" fill="#111">${
        escapeXml(options.xLabel)
      }</text>`,
    );
  }
  if (options.yLabel) {
    const cx = 14 + LABEL_SIZE * 0.8, cy = r(top + ph / 2);
    out.push(
      `<text x="${cx}" y="${cy}" text-anchor="middle" font-size="${LABEL_SIZE}" fill="#111" transform="rotate(-90 ${cx} ${cy})">${
        escapeXml(options.yLabel)
      }</text>`,
    );
  }
  if (options.title) {
    out.push(
      `<text x="${r(left + pw / 2)}" y="${
        16 + TITLE_SIZE
      }" text-anchor="middle" font-size="${TITLE_SIZE}" font-weight="bold" fill="#111">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  // legend
  const where = options.legend ?? "auto";
  if (where !== "none" && series.length > 0) {
    const rowH = LEGEND_SIZE + 8;
    const boxW = 16 + 28 + 8 + Math.max(...series.map((s) => textWidth(s.name, LEGEND_SIZE)));
    const boxH = 10 + rowH * series.length;
    const corners: Record<string, [number, number]> = {
      "upper right": [left + pw - boxW - 10, top + 10],
      "upper left": [left + 10, top + 10],
      "lower right": [left + pw - boxW - 10, top + ph - boxH - 10],
      "lower left": [left + 10, top + ph - boxH - 10],
    };
    const corner = where === "auto" ? bestCorner(corners, boxW, boxH, series, fx, fy, logY) : where;
    const [bx, by] = corners[corner];
    out.push(
      `<rect x="${r(bx)}" y="${r(by)}" width="${
        r(boxW)
      }" height="${boxH}" rx="3" fill="white" fill-opacity="0.9" stroke="#bbb"/>`,
    );
    series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const width = s.width ?? 2;
      const y = by + 5 + rowH * i + rowH / 2;
      const dash = s.dashed ? ` stroke-dasharray="${3 * width} ${2 * width}"` : "";
      out.push(
        `<path d="M${r(bx + 10)} ${r(y)}h28" stroke="${color}" stroke-width="${width}"${dash}/>`,
        `<text x="${r(bx + 10 + 28 + 8)}" y="${
          r(y + LEGEND_SIZE * 0.35)
        }" font-size="${LEGEND_SIZE}" fill="#111">${escapeXml(s.name)}</text>`,
      );
    });
  }
  out.push("</svg>");
  return out.join("\n");
}

function bestCorner(
  corners: Record<string, [number, number]>,
  w: number,
  h: number,
  series: Series[],
  fx: (x: number) => number,
  fy: (y: number) => number,
  logY: boolean,
): string {
  let best = "upper right", fewest = Infinity;
  for (const [name, [x0, y0]] of Object.entries(corners)) {
    let n = 0;
    for (const s of series) {
      const step = Math.max(1, Math.floor(s.xs.length / 2000));
      for (let k = 0; k < s.xs.length; k += step) {
        const y = s.ys[k];
        if (!Number.isFinite(y) || (logY && y <= 0)) continue;
        const px = fx(s.xs[k]), py = fy(y);
        if (px >= x0 - 6 && px <= x0 + w + 6 && py >= y0 - 6 && py <= y0 + h + 6) n += step;
      }
    }
    if (n < fewest) {
      fewest = n;
      best = name;
    }
  }
  return best;
}

/**
 * The chart as an RGB image.
 *
 * @example
 * ```ts
 * const img = lineChart({
 *   title: "WIDER FACE val",
 *   xLabel: "Recall",
 *   yLabel: "Precision",
 *   xRange: [0, 1],
 *   yRange: [0, 1],
 *   series: [{ name: "easy 0.912", xs: recall, ys: precision }],
 * });
 * ```
 */
export function lineChart(options: LineChartOptions): RgbImage {
  return renderSvg(lineChartSvg(options));
}

/**
 * Renders the chart and writes it as PNG (or JPEG, by extension) atomically.
 *
 * @example
 * ```ts
 * await writeLineChart("out/pr.png", { series: [{ name: "hard", xs: recall, ys: precision }] });
 * ```
 */
export async function writeLineChart(path: string, options: LineChartOptions): Promise<void> {
  await writeImage(path, lineChart(options));
}

/**
 * Series for learning curves from a per-epoch log (one record per epoch, as trainers write
 * them): one series per key, x from `xKey` (default `epoch`). Keys that differ only by a
 * `train`/`val` prefix share a colour, the `val` one dashed.
 *
 * @example
 * ```ts
 * const log = [{ epoch: 1, train_loss: 0.9, val_loss: 1.0 }, { epoch: 2, train_loss: 0.6, val_loss: 0.7 }];
 * await writeLineChart("out/loss.png", {
 *   xLabel: "epoch",
 *   yLabel: "loss",
 *   series: learningCurveSeries(log, ["train_loss", "val_loss"]),
 * });
 * ```
 */
export function learningCurveSeries(
  log: readonly Record<string, number | undefined>[],
  keys: readonly string[],
  xKey = "epoch",
): Series[] {
  const metric = (k: string) => k.replace(/^(train|val|valid|validation|test)[_\-. ]?/i, "");
  const metrics = [...new Set(keys.map(metric))];
  return keys.map((k) => {
    const rows = log.filter((r) => r[xKey] !== undefined);
    return {
      name: k,
      xs: rows.map((r) => r[xKey] as number),
      ys: rows.map((r) => r[k] ?? NaN),
      color: PALETTE[metrics.indexOf(metric(k)) % PALETTE.length],
      dashed: /^(val|valid|validation|test)/i.test(k),
    };
  });
}
