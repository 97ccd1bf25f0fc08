/**
 * Evaluation speed: WIDER AP on ~120k jittered predictions over the real ground truth
 * (skipped when ../shared is absent), FDDB ROC on a synthetic 2845-image set, and chart
 * rendering: `deno bench -A tests/eval_bench.ts`.
 */
import { evaluateFddb, type FddbImage } from "../src/eval/fddb.ts";
import {
  evaluateWider,
  readWiderGroundTruth,
  type ScoredBox,
  type WiderPredictions,
} from "../src/eval/wider.ts";
import { lineChart } from "../src/plot/chart.ts";
import { Rng } from "../src/util/random.ts";
import { SHARED } from "./assert.ts";

if (SHARED) {
  const gt = await readWiderGroundTruth(`${SHARED}wider`);
  const rng = new Rng(1);
  let n = 0;
  const preds: WiderPredictions = gt.settings[2].boxes.map((b) => {
    const rows: number[] = [];
    for (let k = 0; k < b.length / 4; k++) {
      const [x, y, w, h] = b.subarray(4 * k, 4 * k + 4);
      const j = () => rng.uniform(-0.1, 0.1);
      rows.push(x + j() * w, y + j() * h, w * (1 + j()), h * (1 + j()), rng.next());
    }
    for (let k = rng.int(0, 50); k > 0; k--) {
      rows.push(
        rng.uniform(0, 1000),
        rng.uniform(0, 800),
        rng.uniform(5, 100),
        rng.uniform(5, 100),
      );
      rows.push(rng.next() * 0.7);
    }
    n += rows.length / 5;
    return new Float64Array(rows);
  });
  Deno.bench(`evaluateWider(): 3226 images, ${n} predictions, 3 settings`, () => {
    evaluateWider(gt, preds);
  });
}

const rng = new Rng(2);
const images: FddbImage[] = [];
const dets = new Map<string, ScoredBox[]>();
for (let i = 0; i < 2845; i++) {
  const faces = Array.from({ length: rng.int(0, 4) }, () => ({
    majorRadius: rng.uniform(15, 90),
    minorRadius: rng.uniform(10, 60),
    angle: rng.uniform(1.2, 1.9),
    cx: rng.uniform(0, 400),
    cy: rng.uniform(0, 400),
  }));
  images.push({ name: `img/${i}`, fold: 1, faces });
  const d: ScoredBox[] = faces.map((f) => ({
    x: f.cx - f.minorRadius + rng.uniform(-5, 5),
    y: f.cy - f.majorRadius + rng.uniform(-5, 5),
    w: 2 * f.minorRadius,
    h: 2 * f.majorRadius,
    score: Math.round(rng.next() * 100) / 100,
  }));
  for (let k = rng.int(0, 4); k > 0; k--) {
    d.push({ x: rng.uniform(0, 400), y: rng.uniform(0, 400), w: 50, h: 60, score: rng.next() });
  }
  dets.set(images[i].name, d);
}
Deno.bench("evaluateFddb(): 2845 images, synthetic faces and detections", () => {
  evaluateFddb(images, dets);
});

const xs = Array.from({ length: 1000 }, (_, i) => i / 999);
Deno.bench("lineChart(): 800x560, 3 series of 1000 points", () => {
  lineChart({
    title: "PR",
    xLabel: "Recall",
    yLabel: "Precision",
    series: [0, 1, 2].map((s) => ({ name: `s${s}`, xs, ys: xs.map((x) => 1 - x ** (s + 2)) })),
  });
});
