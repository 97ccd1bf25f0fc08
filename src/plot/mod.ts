/**
 * Plots: line charts (PR curves, ROC curves, learning curves) drawn as SVG and rendered to
 * PNG with resvg (WebAssembly) and the DejaVu Sans font, both from npm.
 *
 * - chart.ts: `lineChart`, `lineChartSvg`, `writeLineChart`, `learningCurveSeries`,
 *   `niceTicks`, `formatTick`, `PALETTE`
 * - render.ts: `renderSvg` (any SVG to an RGB image)
 *
 * @example
 * ```ts
 * import { writeLineChart } from "./mod.ts";
 * await writeLineChart("out/pr.png", {
 *   title: "WIDER FACE val",
 *   xLabel: "Recall",
 *   yLabel: "Precision",
 *   xRange: [0, 1],
 *   yRange: [0, 1],
 *   series: [{ name: "easy", xs: [0, 0.5, 0.9], ys: [1, 0.95, 0.6] }],
 * });
 * ```
 * @module
 */
export * from "./chart.ts";
export { FONT_FAMILY, renderSvg } from "./render.ts";
