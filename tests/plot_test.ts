import {
  formatTick,
  learningCurveSeries,
  lineChart,
  lineChartSvg,
  niceTicks,
  renderSvg,
  writeLineChart,
} from "../src/plot/mod.ts";
import { readImage } from "../src/image/decode.ts";
import type { RgbImage } from "../src/image/types.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

/** Dark pixels in the middle 40% of the columns, rows y0..y1-1. */
function darkPixels(img: RgbImage, y0: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = Math.round(img.width * 0.3); x < img.width * 0.7; x++) {
      if (pixel(img, x, y).every((c) => c < 128)) n++;
    }
  }
  return n;
}

Deno.test("niceTicks() picks round steps and formatTick() prints them exactly", () => {
  assertEquals(niceTicks(0, 1).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assertEquals(niceTicks(0, 2000).ticks, [0, 500, 1000, 1500, 2000]);
  assertEquals(niceTicks(0, 1000, 8).ticks, [0, 200, 400, 600, 800, 1000]);
  assertEquals(niceTicks(0, 100, 20).ticks.length, 21);
  assertEquals(niceTicks(0.35, 0.71), { ticks: [0.4, 0.5, 0.6, 0.7], step: 0.1 });
  assertEquals(niceTicks(0.35, 0.71, 8).ticks, [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]);
  assertEquals(niceTicks(1, 30).ticks, [5, 10, 15, 20, 25, 30]);
  assertEquals([formatTick(0.30000000000000004, 0.1), formatTick(1250, 250), formatTick(0, 1)], [
    "0.3",
    "1250",
    "0",
  ]);
  assertEquals(formatTick(2.5e6, 5e5), "2.5e+6");
});

Deno.test("lineChartSvg() has the title, axis labels, legend entries and one path per series", () => {
  const svg = lineChartSvg({
    title: "PR <easy & hard>",
    xLabel: "Recall",
    yLabel: "Precision",
    xRange: [0, 1],
    yRange: [0, 1],
    series: [
      { name: "easy", xs: [0, 0.5, 1], ys: [1, 0.9, NaN] },
      { name: "hard", xs: [0, 1], ys: [1, 0], dashed: true },
    ],
  });
  assert(svg.includes(">PR &lt;easy &amp; hard&gt;</text>"), "escaped title");
  assert(svg.includes(">Recall</text>") && svg.includes(">Precision</text>"), "axis labels");
  assert(svg.includes(">easy</text>") && svg.includes(">hard</text>"), "legend");
  assertEquals(svg.match(/clip-path="url\(#plot\)"\/>/g)?.length, 2);
  assert(svg.includes("stroke-dasharray"), "dashed series");
  assertEquals(svg.match(/>0\.6<\/text>/g)?.length, 2); // a tick label on each axis
  assertThrows(
    () => lineChartSvg({ series: [{ name: "bad", xs: [1, 2], ys: [1] }] }),
    RangeError,
    'series "bad" has 2 x and 1 y values',
  );
  assertThrows(() => lineChartSvg({ series: [], width: 10 }), RangeError, "bad size 10x560");
});

Deno.test("lineChart() renders lines where the axes say and text with a real font", () => {
  const opts = {
    xRange: [0, 1] as [number, number],
    yRange: [0, 1] as [number, number],
    legend: "none" as const,
    width: 400,
    height: 300,
    series: [
      { name: "half", xs: [0, 1], ys: [0.5, 0.5], color: "#ff0000", width: 4 },
      { name: "diag", xs: [0, 1], ys: [0, 1], color: "#0000ff", width: 4 },
    ],
  };
  const img = lineChart(opts);
  assertEquals([img.width, img.height], [400, 300]);
  assertEquals(pixel(img, 2, 2), [255, 255, 255]);
  // Find the frame: the plot box's left edge is the first dark column on the middle row.
  const svg = lineChartSvg(opts);
  const [, left, top, pw, ph] = svg.match(
    /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="none" stroke="#333"/,
  )!.map(Number);
  const cx = Math.round(left + pw * 0.25), cy = Math.round(top + ph * 0.5);
  const red = pixel(img, cx, cy);
  assert(red[0] > 200 && red[1] < 60 && red[2] < 60, `red line at y = 0.5: ${red}`);
  const blue = pixel(img, Math.round(left + pw * 0.75), Math.round(top + ph * 0.25));
  assert(blue[2] > 200 && blue[0] < 60, `blue diagonal at (0.75, 0.75): ${blue}`);
  assertEquals(pixel(img, Math.round(left + pw * 0.75), Math.round(top + ph * 0.75)), [
    255,
    255,
    255,
  ]);
  // A title draws glyphs: dark pixels appear above the plot, and more for longer text.
  const t1 = lineChart({ ...opts, title: "ROC" }),
    t2 = lineChart({ ...opts, title: "ROC ROC ROC" });
  const n0 = darkPixels(img, 0, 40), n1 = darkPixels(t1, 0, 40), n2 = darkPixels(t2, 0, 40);
  assert(n0 === 0 && n1 > 30 && n2 > 2.5 * n1, `title pixels ${n0} ${n1} ${n2}`);
  // Same input, same pixels.
  assertEquals(lineChart(opts).data, img.data);
});

Deno.test("lineChart() draws a log y axis and learning-curve series share colours per metric", () => {
  const log = Array.from({ length: 12 }, (_, i) => ({
    epoch: i + 1,
    train_loss: 2 / (i + 1),
    val_loss: 2.5 / (i + 1),
    train_acc: 1 - 0.5 / (i + 1),
  }));
  const series = learningCurveSeries(log, ["train_loss", "val_loss", "train_acc"]);
  assertEquals(series.map((s) => [s.name, s.dashed]), [
    ["train_loss", false],
    ["val_loss", true],
    ["train_acc", false],
  ]);
  assertEquals(series[0].color, series[1].color);
  assert(series[0].color !== series[2].color);
  assertEquals(series[1].ys[3], 2.5 / 4);
  const svg = lineChartSvg({ yScale: "log", series: series.slice(0, 2) });
  assert(svg.includes(">1</text>") && svg.includes(">0.2</text>"), "log tick labels");
  assertEquals(svg.match(/<circle /g)?.length, 24); // markers on short series
  const img = lineChart({ yScale: "log", series: series.slice(0, 2), width: 320, height: 240 });
  assertEquals(img.data.length, 320 * 240 * 3);
  assertThrows(() => renderSvg("<svg"), TypeError, "Cannot render SVG");
});

Deno.test("writeLineChart() writes a PNG that reads back as the rendered image", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opts = { series: [{ name: "a", xs: [0, 1, 2], ys: [3, 1, 2] }], width: 200, height: 150 };
    await writeLineChart(`${dir}/c.png`, opts);
    const back = await readImage(`${dir}/c.png`);
    assertEquals(back, lineChart(opts));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
