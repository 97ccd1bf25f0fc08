import {
  encodeMat,
  type MatArray,
  matCellOf,
  matFromRows,
  matFromString,
} from "../src/data/mat.ts";
import {
  evaluateWider,
  formatWiderPrediction,
  normalizeWiderScores,
  parseWiderPrediction,
  readWiderGroundTruth,
  readWiderPredictions,
  vocAp,
  type WiderGroundTruth,
  type WiderPredictions,
} from "../src/eval/wider.ts";
import { writeWiderPredictions } from "../src/eval/wider_predict.ts";
import { readImage } from "../src/image/decode.ts";
import evalWider from "../tasks/eval_wider.ts";
import { createImage } from "../src/image/draw.ts";
import { encodePng } from "../src/image/encode.ts";
import { Rng } from "../src/util/random.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
  maxAbsDiff,
  needsShared,
  SHARED,
} from "./assert.ts";

// ---------------------------------------------------------------------------------------------
// A slow, literal transcription of the official MATLAB (read_pred's sort, norm_score,
// evaluation, image_evaluation, image_pr_info, dataset_pr_info, boxoverlap, VOCap), loop by
// loop, used as the reference. float32 (`single`) values are kept in a Float32Array.

function matlabReference(gt: WiderGroundTruth, preds: WiderPredictions) {
  // read_pred: [~, s_index] = sort(bbx(:,5), 'descend') (stable)
  const predList = preds.map((p) => {
    if (!p || p.length === 0) return undefined;
    const rows: number[][] = [];
    for (let k = 0; k < p.length / 5; k++) rows.push(Array.from(p.subarray(5 * k, 5 * k + 5)));
    const idx = rows.map((_, k) => k);
    for (let a = 1; a < idx.length; a++) { // insertion sort: stable, descending
      const v = idx[a];
      let b = a - 1;
      while (b >= 0 && rows[idx[b]][4] < rows[v][4]) {
        idx[b + 1] = idx[b];
        b--;
      }
      idx[b + 1] = v;
    }
    return idx.map((k) => rows[k].slice());
  });
  // norm_score
  const single = new Float32Array(4); // max_score, min_score, scratch, scratch
  single[0] = 1.1754943508222875e-38; // realmin('single')
  single[1] = 3.4028234663852886e38; // realmax('single')
  for (const bbx of predList) {
    if (!bbx) continue;
    let mx = -Infinity, mn = Infinity;
    for (const r of bbx) {
      if (r[4] > mx) mx = r[4];
      if (r[4] < mn) mn = r[4];
    }
    single[0] = Math.max(single[0], mx);
    single[1] = Math.min(single[1], mn);
  }
  for (const bbx of predList) {
    if (!bbx) continue;
    for (const r of bbx) {
      single[2] = r[4];
      single[2] = single[2] - single[1];
      single[3] = single[0] - single[1];
      single[2] = single[2] / single[3];
      r[4] = single[2];
    }
  }
  const threshNum = 1000;
  return gt.settings.map((setting) => {
    const org = Array.from({ length: threshNum }, () => [0, 0]);
    let countFace = 0;
    for (let j = 0; j < gt.images.length; j++) {
      const g = setting.boxes[j];
      const gtBbx: number[][] = [];
      for (let k = 0; k < g.length / 4; k++) gtBbx.push(Array.from(g.subarray(4 * k, 4 * k + 4)));
      const predInfo = predList[j];
      const keepIndex = setting.keep[j];
      countFace += keepIndex.length;
      if (gtBbx.length === 0 || !predInfo) continue;
      const ignore = gtBbx.map(() => 0);
      for (let k = 0; k < keepIndex.length; k++) ignore[keepIndex[k] - 1] = 1;
      const [predRecall, proposalList] = imageEvaluation(predInfo, gtBbx, ignore, 0.5);
      const info = imagePrInfo(threshNum, predInfo, proposalList, predRecall);
      for (let t = 0; t < threshNum; t++) {
        org[t][0] += info[t][0];
        org[t][1] += info[t][1];
      }
    }
    const precision: number[] = [], recall: number[] = [];
    for (let i = 0; i < threshNum; i++) {
      precision.push(org[i][1] / org[i][0]);
      recall.push(org[i][1] / countFace);
    }
    return { ap: vocApLiteral(recall, precision), precision, recall, faces: countFace };
  });
}

function imageEvaluation(predIn: number[][], gtIn: number[][], ignore: number[], iou: number) {
  const pred = predIn.map((r) => [r[0], r[1], r[0] + r[2], r[1] + r[3], r[4]]);
  const gt = gtIn.map((r) => [r[0], r[1], r[0] + r[2], r[1] + r[3]]);
  const predRecall = pred.map(() => 0);
  const recallList = gt.map(() => 0);
  const proposalList = pred.map(() => 1);
  for (let h = 0; h < pred.length; h++) {
    const overlapList = boxOverlap(gt, pred[h]);
    let maxOverlap = overlapList[0], idx = 0;
    for (let k = 1; k < overlapList.length; k++) {
      if (overlapList[k] > maxOverlap) {
        maxOverlap = overlapList[k];
        idx = k;
      }
    }
    if (maxOverlap >= iou) {
      if (ignore[idx] === 0) {
        recallList[idx] = -1;
        proposalList[h] = -1;
      } else if (recallList[idx] === 0) {
        recallList[idx] = 1;
      }
    }
    predRecall[h] = recallList.filter((v) => v === 1).length;
  }
  return [predRecall, proposalList];
}

function boxOverlap(a: number[][], b: number[]): number[] {
  return a.map((r) => {
    const x1 = Math.max(r[0], b[0]), y1 = Math.max(r[1], b[1]);
    const x2 = Math.min(r[2], b[2]), y2 = Math.min(r[3], b[3]);
    const w = x2 - x1 + 1, h = y2 - y1 + 1;
    const inter = w * h;
    const aarea = (r[2] - r[0] + 1) * (r[3] - r[1] + 1);
    const barea = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
    let o = inter / (aarea + barea - inter);
    if (w <= 0) o = 0;
    if (h <= 0) o = 0;
    return o;
  });
}

function imagePrInfo(n: number, pred: number[][], proposal: number[], predRecall: number[]) {
  const info: number[][] = [];
  for (let t = 1; t <= n; t++) {
    const thresh = 1 - t / n;
    let rIndex = -1;
    for (let k = 0; k < pred.length; k++) if (pred[k][4] >= thresh) rIndex = k;
    if (rIndex < 0) info.push([0, 0]);
    else {
      info.push([proposal.slice(0, rIndex + 1).filter((v) => v === 1).length, predRecall[rIndex]]);
    }
  }
  return info;
}

function vocApLiteral(rec: number[], prec: number[]): number {
  const mrec = [0, ...rec, 1], mpre = [0, ...prec, 0];
  const max = (a: number, b: number) => (isNaN(a) ? b : isNaN(b) ? a : Math.max(a, b));
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = max(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 1; i < mrec.length; i++) {
    if (mrec[i] !== mrec[i - 1] || isNaN(mrec[i])) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  }
  return ap;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/** A random image set: faces (some duplicated, some degenerate), gt_lists, predictions. */
function randomCase(seed: number, scoreMode: "ties" | "negative" | "equal" | "wide") {
  const rng = new Rng(seed);
  const images: string[] = [];
  const boxes: Float64Array[] = [];
  const keeps: number[][][] = [[], [], []];
  const preds: WiderPredictions = [];
  for (let i = 0; i < 40; i++) {
    images.push(`${i % 3}--E/img_${i}.jpg`);
    const m = rng.int(0, 8);
    const g = new Float64Array(4 * m);
    for (let k = 0; k < m; k++) {
      if (k > 0 && rng.next() < 0.1) g.set(g.subarray(4 * (k - 1), 4 * k), 4 * k); // duplicate
      else {
        const size = rng.next() < 0.1 ? rng.int(-2, 3) : rng.int(8, 60);
        g.set([rng.int(0, 200), rng.int(0, 200), size, size + rng.int(-3, 4)], 4 * k);
      }
    }
    boxes.push(g);
    const hard = Array.from({ length: m }, (_, k) => k + 1).filter(() => rng.next() < 0.8);
    const medium = hard.filter(() => rng.next() < 0.7);
    const easy = medium.filter(() => rng.next() < 0.6);
    keeps[0].push(easy), keeps[1].push(medium), keeps[2].push(hard);
    const n = rng.next() < 0.15 ? 0 : rng.int(0, 12);
    const p = new Float64Array(5 * n);
    for (let k = 0; k < n; k++) {
      if (m > 0 && rng.next() < 0.6) {
        const f = rng.int(0, m);
        const j = () => rng.int(-2, 3);
        p.set([g[4 * f] + j(), g[4 * f + 1] + j(), g[4 * f + 2] + j(), g[4 * f + 3] + j()], 5 * k);
      } else {
        p.set(
          [rng.uniform(0, 250), rng.uniform(0, 250), rng.uniform(1, 60), rng.uniform(1, 60)],
          5 * k,
        );
      }
      p[5 * k + 4] = scoreMode === "ties"
        ? rng.int(0, 20) / 19
        : scoreMode === "negative"
        ? -rng.uniform(1, 5)
        : scoreMode === "equal"
        ? 0.7
        : rng.uniform(-1e3, 1e4);
    }
    preds.push(n ? p : undefined);
  }
  const gt: WiderGroundTruth = {
    images,
    settings: ["easy", "medium", "hard"].map((name, s) => ({ name, boxes, keep: keeps[s] })),
  };
  return { gt, preds };
}

/** The ground truth of a WIDER-shaped .mat, laid out as the eval tools' files are. */
interface FakeImage {
  file: string;
  faces: number[][];
  /** 1-based kept faces per setting: easy, medium, hard. */
  keep: [number[], number[], number[]];
}

async function writeGroundTruth(dir: string, events: { name: string; images: FakeImage[] }[]) {
  const perImage = (f: (im: FakeImage) => MatArray) =>
    matCellOf(events.map((e) => matCellOf(e.images.map(f))));
  const base: Record<string, MatArray> = {
    event_list: matCellOf(events.map((e) => matFromString(e.name))),
    file_list: perImage((im) => matFromString(im.file)),
    face_bbx_list: perImage((im) => matFromRows("int32", im.faces, 4)),
  };
  await Deno.writeFile(`${dir}/wider_face_val.mat`, encodeMat(base));
  for (const [s, name] of ["easy", "medium", "hard"].entries()) {
    const gtList = perImage((im) => matFromRows("double", im.keep[s].map((k) => [k]), 1));
    await Deno.writeFile(`${dir}/wider_${name}_val.mat`, encodeMat({ ...base, gt_list: gtList }));
  }
}

async function writePred(dir: string, path: string, text: string) {
  const file = `${dir}/${path}`;
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(file, text);
}

function gtAsPredictions(gt: WiderGroundTruth, score: number): WiderPredictions {
  return gt.settings[0].boxes.map((b) => {
    if (b.length === 0) return undefined;
    const p = new Float64Array((b.length / 4) * 5);
    for (let k = 0; k < b.length / 4; k++) {
      p.set(b.subarray(4 * k, 4 * k + 4), 5 * k);
      p[5 * k + 4] = score;
    }
    return p;
  });
}

// ---------------------------------------------------------------------------------------------
// Hand-computed cases

Deno.test("vocAp() is the area under the precision envelope where recall changes", () => {
  // recall 0.5 at precision 1 then 1/3; recall 1 at precision 0.5: 0.5*1 + 0.5*0.5
  assertEquals(vocAp([0.5, 0.5, 1, 1], [1, 1 / 3, 0.5, 0.4]), 0.75);
  // leading NaN precisions (nothing proposed) are skipped by MATLAB's max
  assertEquals(vocAp([0, 0, 0.25, 1], [NaN, NaN, 0.5, 0.25]), 0.25 * 0.5 + 0.75 * 0.25);
  // nothing found at all
  assertEquals(vocAp([0, 0], [NaN, 0]), 0);
});

/** The hand-built case: ground truth .mat files in `dir`, predictions in `dir/pred`. */
async function writeHandCase(dir: string): Promise<string> {
  // img1: F1 counted everywhere, F2 counted in medium/hard, F3 counted in hard only.
  // img2: G1 counted everywhere. img3: no faces. img4: H1 counted in hard, no prediction file.
  await writeGroundTruth(dir, [
    {
      name: "0--A",
      images: [
        {
          file: "img1",
          faces: [[0, 0, 9, 9], [100, 100, 9, 9], [200, 200, 9, 9]],
          keep: [[1], [1, 2], [1, 2, 3]],
        },
        { file: "img3", faces: [], keep: [[], [], []] },
      ],
    },
    {
      name: "1--B",
      images: [
        { file: "img2", faces: [[50, 50, 19, 19]], keep: [[1], [1], [1]] },
        { file: "img4", faces: [[10, 10, 30, 30]], keep: [[], [], [1]] },
      ],
    },
  ]);
  const pred = `${dir}/pred`;
  // Scores are binary fractions in [0, 1] with 0 and 1 present: normalisation keeps them.
  await writePred(
    pred,
    "0--A/img1.txt",
    "img1\n5\n1 0 9 9 0.75\n0 0 9 9 1\n500 500 9 9 0.5\n100 100 9 9 0.875\n200 200 9 9 0.625\n",
  );
  await writePred(pred, "0--A/img3.txt", "img3\n1\n0 0 50 50 0.9375\n"); // no faces: not counted
  await writePred(pred, "1--B/img2.txt", "img2\n2\n300 300 5 5 0\n50 50 19 19 0.25\n");
  await writePred(pred, "1--B/stray.txt", "stray\n0\n");
  await Deno.writeTextFile(`${pred}/wider_ap.json`, "{}"); // top-level files are not read
  return pred;
}

Deno.test("evaluateWider() on a hand-built .mat ground truth gives the hand-computed APs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pred = await writeHandCase(dir);
    const gt = await readWiderGroundTruth(dir);
    assertEquals(gt.images, ["0--A/img1.jpg", "0--A/img3.jpg", "1--B/img2.jpg", "1--B/img4.jpg"]);
    const set = await readWiderPredictions(pred, gt.images);
    assertEquals(set.missing, ["1--B/img4.jpg"]);
    assertEquals(set.unknown, ["1--B/stray.txt"]);
    assertEquals(set.boxes, 8);
    const r = evaluateWider(gt, set.predictions);
    // In score order: F1 found (1), F2 (0.875: ignored in easy), second hit on F1 = false alarm
    // (0.75), F3 (0.625: ignored in easy/medium), miss (0.5), G1 found (0.25), miss (0).
    // easy (2 faces): P/R 1/.5, 1/.5, .5/.5, .5/.5, 1/3/.5, .5/1, .4/1 -> .5*1 + .5*.5
    // medium (3 faces): 1/3 at 1, 2/3 at 1, 1 at max(3/5, 3/6) -> 1/3 + 1/3 + .6/3
    // hard (5 faces, H1 never predicted): 1/5, 2/5 at 1; 3/5 at 3/4; 4/5 at max(4/6, 4/7)
    assertEquals(r.settings.map((s) => s.faces), [2, 3, 5]);
    assertAlmostEquals(r.settings[0].ap, 0.75, 1e-15);
    assertAlmostEquals(r.settings[1].ap, 13 / 15, 1e-15);
    assertAlmostEquals(r.settings[2].ap, 0.2 + 0.2 + 0.2 * 0.75 + 0.2 * (4 / 6), 1e-15);
    // t = 1 (threshold 0.999): only the score-1 box; t = 1000 (threshold 0): all of them.
    assertEquals([r.settings[2].proposals[0], r.settings[2].found[0]], [1, 1]);
    assertEquals([r.settings[2].proposals[999], r.settings[2].found[999]], [7, 4]);
    assertEquals([r.settings[0].proposals[999], r.settings[0].found[999]], [5, 2]);
    const ref = matlabReference(gt, set.predictions);
    r.settings.forEach((s, i) => assertEquals(s.ap, ref[i].ap));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("normalizeWiderScores() sorts stably and normalises in float32 like MATLAB's single", () => {
  const p = new Float64Array([0, 0, 1, 1, 0.3, 1, 1, 1, 1, 0.7, 2, 2, 1, 1, 0.3, 3, 3, 1, 1, 0.1]);
  const { predictions, min, max } = normalizeWiderScores([p, undefined]);
  const q = predictions[0]!;
  assertEquals([q[0], q[5], q[10], q[15]], [1, 0, 2, 3]); // 0.7, then the two 0.3 in file order
  assertEquals([min, max], [Math.fround(0.1), Math.fround(0.7)]);
  const f = Math.fround;
  assertEquals(q[9], f(f(f(0.3) - f(0.1)) / f(f(0.7) - f(0.1))));
  assert(q[9] !== (0.3 - 0.1) / (0.7 - 0.1), "float64 arithmetic would give another number");
  assertEquals([q[4], q[19]], [1, 0]);
  assertEquals(predictions[1], undefined);
});

// ---------------------------------------------------------------------------------------------
// Against the literal MATLAB transcription

Deno.test("evaluateWider() equals a literal transcription of the MATLAB loops on random cases", () => {
  for (const [seed, mode] of [[1, "ties"], [2, "wide"], [3, "negative"], [4, "ties"]] as const) {
    const { gt, preds } = randomCase(seed, mode);
    const r = evaluateWider(gt, preds);
    const ref = matlabReference(gt, preds);
    r.settings.forEach((s, i) => {
      assertAlmostEquals(s.ap, ref[i].ap, 1e-12, `seed ${seed} ${s.name}`);
      assertEquals(Array.from(s.recall), ref[i].recall, `seed ${seed} ${s.name} recall`);
      assertEquals(Array.from(s.precision), ref[i].precision, `seed ${seed} ${s.name} precision`);
      assertEquals(s.faces, ref[i].faces);
    });
    assert(r.settings.some((s) => s.ap > 0.05), `seed ${seed}: ${r.settings.map((s) => s.ap)}`);
  }
});

Deno.test("evaluateWider() gives AP 0 when every score is equal (0/0 in the normalisation)", () => {
  const { gt, preds } = randomCase(5, "equal");
  const r = evaluateWider(gt, preds);
  assertEquals(r.settings.map((s) => s.ap), [0, 0, 0]);
  assertEquals(r.settings.map((s) => s.ap), matlabReference(gt, preds).map((s) => s.ap));
});

Deno.test("evaluateWider() on jittered real ground truth equals the MATLAB transcription", {
  ...needsShared("wider_*_val.mat"),
}, async () => {
  const full = await readWiderGroundTruth(`${SHARED}/wider`);
  // Every 10th image keeps the literal reference fast.
  const pick = full.images.map((_, i) => i).filter((i) => i % 10 === 3);
  const gt: WiderGroundTruth = {
    images: pick.map((i) => full.images[i]),
    settings: full.settings.map((s) => ({
      name: s.name,
      boxes: pick.map((i) => s.boxes[i]),
      keep: pick.map((i) => s.keep[i]),
    })),
  };
  const rng = new Rng(11);
  const preds: WiderPredictions = gt.settings[0].boxes.map((b) => {
    const rows: number[] = [];
    for (let k = 0; k < b.length / 4; k++) {
      if (rng.next() < 0.2) continue;
      const [x, y, w, h] = b.subarray(4 * k, 4 * k + 4);
      const j = () => rng.uniform(-0.15, 0.15);
      rows.push(x + j() * w, y + j() * h, w * (1 + j()), h * (1 + j()), rng.next());
    }
    for (let k = rng.int(0, 5); k > 0; k--) {
      rows.push(rng.uniform(0, 900), rng.uniform(0, 700), rng.uniform(5, 80), rng.uniform(5, 80));
      rows.push(rng.next() * 0.6);
    }
    return rows.length ? new Float64Array(rows) : undefined;
  });
  const r = evaluateWider(gt, preds);
  const ref = matlabReference(gt, preds);
  r.settings.forEach((s, i) => {
    assertAlmostEquals(s.ap, ref[i].ap, 1e-9, s.name);
    assert(maxAbsDiff(s.recall, ref[i].recall) === 0, `${s.name} recall`);
    assert(s.ap > 0.3 && s.ap < 0.95, `${s.name}: AP ${s.ap} is in a plausible range`);
  });
});

// ---------------------------------------------------------------------------------------------
// The ground truth itself as predictions (real files)

Deno.test("evaluateWider() on the ground truth itself gives the APs the protocol implies", {
  ...needsShared("wider_*_val.mat"),
}, async () => {
  const gt = await readWiderGroundTruth(`${SHARED}/wider`);
  assertEquals(gt.images.length, 3226);
  assertEquals(gt.settings.map((s) => s.keep.reduce((n, k) => n + k.length, 0)), [
    7211,
    13319,
    31958,
  ]);
  // 1. Every face predicted with score 1: max = min, so norm_score divides 0 by 0 and every
  //    score is NaN; no prediction passes any threshold and the AP is 0 in every setting.
  const preds = gtAsPredictions(gt, 1);
  assertEquals(evaluateWider(gt, preds).settings.map((s) => s.ap), [0, 0, 0]);

  // 2. The same plus one far-away box of score 0 (so min = 0, max = 1): every face box scores
  //    1 and matches itself with IoU 1, except where the data says otherwise. Check the two
  //    facts the derivation rests on:
  const hard = gt.settings[2];
  const odd: string[] = [];
  hard.boxes.forEach((b, i) => {
    for (let k = 0; k < b.length / 4; k++) {
      const counted = (s: number) => Array.from(gt.settings[s].keep[i]).includes(k + 1);
      if (b[4 * k + 2] < -1 || b[4 * k + 3] < -1) {
        odd.push(`empty ${gt.images[i]} ${k + 1} ${[0, 1, 2].map(counted)}`);
      }
      for (let j = 0; j < k; j++) {
        if ([0, 1, 2, 3].every((c) => b[4 * j + c] === b[4 * k + c])) {
          odd.push(`dup ${gt.images[i]} ${j + 1}=${k + 1} ${[0, 1, 2].map(counted)}`);
        }
      }
    }
  });
  assertEquals(odd.sort(), [
    // faces 65 and 104 have identical boxes, both counted in hard only;
    // face 8 has w = -2: its own box overlaps nothing (IoU 0), counted in hard only
    "dup 21--Festival/21_Festival_Festival_21_604.jpg 65=104 false,false,true",
    "empty 39--Ice_Skating/39_Ice_Skating_iceskiing_39_583.jpg 8 false,false,true",
  ]);
  const p0 = preds[0]!;
  const q = new Float64Array(p0.length + 5);
  q.set(p0);
  q.set([1e5, 1e5, 10, 10, 0], p0.length);
  preds[0] = q;
  const r = evaluateWider(gt, preds);
  // - The w = -2 box, predicted, matches nothing: a false alarm in every setting (in easy and
  //   medium its face is ignored, but an unmatched prediction is still a proposal).
  // - Of the identical pair (65, 104), both predictions go to face 65 (the first of equal
  //   IoUs): 104 is never found, and its prediction is a second hit on 65, a false alarm
  //   where 65 is counted (hard), swallowed where it is ignored (easy, medium).
  // - The score-0 box only adds a false alarm at the last threshold (0), below the envelope.
  // So precision = found / proposals and recall = found / faces are constant, AP = P * R:
  //   easy   7211 / (7211 + 1) * 7211 / 7211
  //   medium 13319 / (13319 + 1) * 13319 / 13319
  //   hard   (31958 - 2) / 31958 * (31958 - 2) / 31958
  assertEquals(r.settings[0].ap, 7211 / 7212);
  assertEquals(r.settings[1].ap, 13319 / 13320);
  assertAlmostEquals(r.settings[2].ap, (31956 / 31958) * (31956 / 31958), 1e-15);
  assertEquals(r.settings.map((s) => s.found[998]), [7211, 13319, 31956]);
  assertEquals(r.settings.map((s) => s.proposals[998]), [7212, 13320, 31958]);
  assertEquals(r.settings.map((s) => s.proposals[999]), [7213, 13321, 31959]);
});

// ---------------------------------------------------------------------------------------------
// Files and errors

Deno.test("parseWiderPrediction() reads the official layout and names file and line on errors", () => {
  const p = parseWiderPrediction("img\r\n2\r\n1 2 3 4 0.5\r\n5,6,7,8,0.25, 9\n\n", "a.txt");
  assertEquals(Array.from(p), [1, 2, 3, 4, 0.5, 5, 6, 7, 8, 0.25]);
  assertEquals(parseWiderPrediction("img\n0\n", "a.txt").length, 0);
  const bad: [string, string][] = [
    ["", 'Cannot read "a.txt": line 1: empty file, expected the image name'],
    ["img\n", 'Cannot read "a.txt": line 2: expected the number of boxes, got the end of the file'],
    ["img\nx\n", 'Cannot read "a.txt": line 2: expected the number of boxes, got "x"'],
    ["1 2 3 4 0.9\n", "line 2: expected the number of boxes, got the end of the file"],
    ["img\n2\n1 2 3 4 0.5\n", "line 4: expected box 2 of 2, got the end of the file"],
    ["img\n1\n1 2 3 4\n", "line 3: expected 5 numbers (x y w h score), got 4"],
    ["img\n1\n1 2 3 nan 0.5\n", 'line 3: "nan" is not a finite number'],
    [
      "img\n1\n1 2 3 4 0.5\n5 6 7 8 0.5\n",
      "line 4: more lines than the 1 boxes announced on line 2",
    ],
  ];
  for (const [text, msg] of bad) {
    assertThrows(() => parseWiderPrediction(text, "a.txt"), TypeError, msg);
  }
  // lenient: what read_pred.m accepts
  const l = parseWiderPrediction("img\n1.0\n1 2 3 4 0.5\ntrailing\n", "a.txt", { lenient: true });
  assertEquals(Array.from(l), [1, 2, 3, 4, 0.5]);
});

Deno.test("readWiderPredictions() throws on a malformed file, or drops it when lenient", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = ["0--A/a.jpg", "0--A/b.jpg", "0--A/c.jpg"];
    await writePred(dir, "0--A/a.txt", "a\n1\n1 2 3 4 0.5\n");
    await writePred(dir, "0--A/b.txt", "b\n2\n1 2 3 4 0.5\n1 2 3\n");
    await writePred(dir, "0--A/c.txt", "c\n"); // also malformed, but after b in image order
    await assertRejects(
      () => readWiderPredictions(dir, images),
      TypeError,
      `Cannot read "${dir}/0--A/b.txt": line 4: expected 5 numbers (x y w h score), got 3`,
    );
    const set = await readWiderPredictions(dir, images, { lenient: true });
    assertEquals(set.predictions.map((p) => p && Array.from(p)), [
      [1, 2, 3, 4, 0.5],
      undefined,
      undefined,
    ]);
    assertEquals(set.invalid.map((x) => x.file), [`${dir}/0--A/b.txt`, `${dir}/0--A/c.txt`]);
    await assertRejects(
      () => readWiderPredictions(`${dir}/nope`, images),
      TypeError,
      "no such directory",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeWiderPredictions() writes the official layout, readable back, and resumes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = ["0--A/p.png", "1--B/q.png"];
    for (const p of images) {
      await writePred(`${dir}/images`, p, "");
      await Deno.writeFile(`${dir}/images/${p}`, encodePng(createImage(8, 6, [9, 9, 9])));
    }
    const seen: string[] = [];
    const detect = (img: { width: number; height: number }, path: string) => {
      seen.push(path);
      return [{ x: 0.5, y: 1, w: img.width, h: img.height, score: 1 / 3 }];
    };
    const out = `${dir}/pred`;
    const first = await writeWiderPredictions({
      images,
      imagesDir: `${dir}/images`,
      outDir: out,
      detect,
    });
    assertEquals(first, { written: 2, skipped: 0 });
    assertEquals(await Deno.readTextFile(`${out}/0--A/p.txt`), `p\n1\n0.5 1 8 6 ${1 / 3}\n`);
    const back = await readWiderPredictions(out, images);
    assertEquals(Array.from(back.predictions[1]!), [0.5, 1, 8, 6, 1 / 3]);
    await Deno.remove(`${out}/1--B/q.txt`);
    const again = await writeWiderPredictions({
      images,
      imagesDir: `${dir}/images`,
      outDir: out,
      detect,
    });
    assertEquals(again, { written: 1, skipped: 1 });
    assertEquals(seen, ["0--A/p.png", "1--B/q.png", "1--B/q.png"]);
    assertEquals(
      formatWiderPrediction("x", []),
      "x\n0\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval:wider writes the JSON summary and a PR-curve PNG", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pred = await writeHandCase(dir);
    const log = console.log, error = console.error;
    const lines: string[] = [];
    console.log = console.error = (...a: unknown[]) => void lines.push(a.join(" "));
    try {
      await evalWider.run({
        flags: { gt: dir, pred, plot: `${dir}/pr.png`, lenient: false },
        positionals: [],
      });
    } finally {
      console.log = log;
      console.error = error;
    }
    assert(lines.some((l) => l === "Easy   Val AP: 0.750000"), lines.join("\n"));
    assert(lines.some((l) => l.includes("1 of 4 images have no prediction file")), "missing");
    const summary = JSON.parse(await Deno.readTextFile(`${pred}/wider_ap.json`));
    assertEquals(summary.ap.easy, 0.75);
    assertEquals(summary.faces, { easy: 2, medium: 3, hard: 5 });
    assertEquals(summary.unknown, ["1--B/stray.txt"]);
    assertEquals(summary.curves.hard.precision.length, 1000);
    assertEquals(summary.curves.hard.recall[999], 0.8);
    const png = await readImage(`${dir}/pr.png`);
    assertEquals([png.width, png.height], [800, 560]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
