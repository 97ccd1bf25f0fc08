/**
 * Iterative Taylor channel pruning that produces real, smaller nets: each
 * step ranks every prunable filter by its first-order Taylor score
 * (src/optimize/taylor.ts) on the validation data, removes the k globally
 * lowest (never the last filter of a layer, never a head), cuts the matching
 * input channels of the next layer (conv input channels, or the dense rows of
 * that channel at every spatial position in HWC order), and fine-tunes a few
 * epochs at a low learning rate with the trainer. It stops at a target
 * fraction of filters removed or when validation cls accuracy falls below a
 * floor (the last net above the floor is kept).
 *
 * With `distill` each fine-tuning run also learns from a teacher (typically
 * the unpruned input net: its softened face probabilities, boxes and
 * landmarks on the same augmented samples, see src/train/losses.ts
 * `distillLoss`), which keeps the pruned net close to the original where the
 * fine-tuning data alone would pull it elsewhere (e.g. pruning the original
 * MTCNN with only synthetic data at hand). The Taylor ranking and the
 * accuracies stay on the ground-truth loss.
 *
 * @example
 * ```ts
 * const r = await prune(await loadNetData("w/best_pnet.mtcnn"), {
 *   trainData: ["d/train"], valData: ["d/val"], out: "weights/pruned",
 * });
 * console.log(pruneTableMarkdown(r.steps));
 * ```
 */
import { type ConvLayer, type NetArch, paramCount, planArch } from "../nets/arch.ts";
import { type NetData, randomNetData } from "../nets/net.ts";
import { encodeWeights, loadNetData } from "../nets/weights_io.ts";
import { type Batch, readBatches } from "../data/shards.ts";
import { writeFileAtomic } from "../io/mod.ts";
import { packParams, TrainGraph } from "../train/backprop.ts";
import { type LossConfig, resolveLossConfig } from "../train/losses.ts";
import { MetricsAccumulator } from "../train/metrics.ts";
import { type NetName, resolveTrainConfig, train } from "../train/trainer.ts";
import { consumerIndex, prunableConvs, taylorScores } from "./taylor.ts";

/** Filters removed per step by default (the seed's references). */
export const DEFAULT_PRUNE_K: Record<NetName, number> = { pnet: 5, rnet: 20, onet: 36 };

/**
 * Removes filters `remove` (indices) of conv layer `conv`: its weights and
 * bias, the PReLU alphas after it, and the next layer's input channels (conv
 * input channels, dense rows at every position, or the 1×1 heads' rows).
 * Exact: the outputs only change by what the removed filters contributed.
 * Throws a RangeError for a head, a non-prunable layer, a bad index or when
 * no filter would remain.
 *
 * @example
 * ```ts
 * const smaller = removeFilters(data, "conv2", [3, 7]);
 * ```
 */
export function removeFilters(data: NetData, conv: string, remove: number[]): NetData {
  const p = prunableConvs(data.arch).find((x) => x.conv === conv);
  if (!p) throw new RangeError(`${data.arch.name}: "${conv}" is not a prunable conv layer`);
  const drop = new Set(remove);
  for (const i of drop) {
    if (!Number.isInteger(i) || i < 0 || i >= p.filters) {
      throw new RangeError(`${data.arch.name} ${conv}: no filter ${i} (it has ${p.filters})`);
    }
  }
  const keep: number[] = [];
  for (let c = 0; c < p.filters; c++) if (!drop.has(c)) keep.push(c);
  if (keep.length === 0) {
    throw new RangeError(`${data.arch.name} ${conv}: cannot remove all ${p.filters} filters`);
  }
  const params = { ...data.params };
  // the conv's own weight [kh, kw, cin, F] and bias [F]
  const w = data.params[`${conv}.weight`];
  const F = p.filters;
  const rows = w.length / F;
  const nw = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < keep.length; j++) nw[r * keep.length + j] = w[r * F + keep[j]];
  }
  params[`${conv}.weight`] = nw;
  params[`${conv}.bias`] = Float32Array.from(keep, (c) => data.params[`${conv}.bias`][c]);
  for (const name of p.perChannel) {
    params[name] = Float32Array.from(keep, (c) => data.params[name][c]);
  }
  for (const name of p.consumers) {
    const cw = data.params[name];
    const units = cw.length / (p.positions * F);
    const out = new Float32Array(p.positions * keep.length * units);
    for (let pos = 0; pos < p.positions; pos++) {
      for (let j = 0; j < keep.length; j++) {
        const src = consumerIndex(pos, keep[j], F, units, 0);
        const dst = consumerIndex(pos, j, keep.length, units, 0);
        out.set(cw.subarray(src, src + units), dst);
      }
    }
    params[name] = out;
  }
  const arch: NetArch = structuredClone(data.arch);
  (arch.layers[p.index] as ConvLayer).filters = keep.length;
  planArch(arch); // shapes must still work out
  return { arch, params, meta: data.meta };
}

/**
 * Floating-point operations (2 per multiply-add) of one forward pass at the
 * net's training size: convolutions, depthwise, dense layers and heads.
 *
 * @example
 * ```ts
 * archFlops(pnetArch()); // PNet at 12×12
 * ```
 */
export function archFlops(arch: NetArch): number {
  const plan = planArch(arch);
  let flops = 0;
  let inShape: number[] = [arch.input.size, arch.input.size, arch.input.channels];
  arch.layers.forEach((l, i) => {
    if (l.kind === "cls" || l.kind === "box" || l.kind === "landmarks") return;
    const s = plan.shapes[i];
    if (l.kind === "conv") flops += 2 * s[0] * (s[1] ?? 1) * l.filters * l.kh * l.kw * inShape[2];
    else if (l.kind === "depthwise") flops += 2 * s[0] * (s[1] ?? 1) * s[2]! * l.kh * l.kw;
    else if (l.kind === "gconv") {
      flops += 2 * s[0] * (s[1] ?? 1) * l.filters * inShape[2] / l.groups;
    } else if (l.kind === "dense") flops += 2 * inShape[0] * l.units;
    inShape = s;
  });
  const t = plan.trunkOut;
  const positions = t.length === 3 ? t[0] * t[1] : 1;
  const c = t[t.length - 1];
  for (const h of plan.heads) {
    const units = h.kind === "cls" ? 2 : h.kind === "box" ? 4 : 10;
    flops += 2 * positions * c * units;
  }
  return flops;
}

/** Filters per prunable conv layer, e.g. `{ conv1: 10, conv2: 16, conv3: 32 }`. */
export function filterCounts(arch: NetArch): Record<string, number> {
  return Object.fromEntries(prunableConvs(arch).map((p) => [p.conv, p.filters]));
}

/**
 * The `k` globally lowest-scored filters, never the last filter of a layer;
 * ties by layer order then index. Returns indices per layer.
 */
export function selectLowest(
  scores: Record<string, Float32Array>,
  k: number,
): Record<string, number[]> {
  const all: { conv: string; c: number; s: number; order: number }[] = [];
  Object.entries(scores).forEach(([conv, v], order) => {
    v.forEach((s, c) => all.push({ conv, c, s, order }));
  });
  all.sort((a, b) => a.s - b.s || a.order - b.order || a.c - b.c);
  const left: Record<string, number> = {};
  for (const [conv, v] of Object.entries(scores)) left[conv] = v.length;
  const res: Record<string, number[]> = {};
  let taken = 0;
  for (const f of all) {
    if (taken >= k) break;
    if (left[f.conv] <= 1) continue;
    left[f.conv]--;
    (res[f.conv] ??= []).push(f.c);
    taken++;
  }
  return res;
}

/** One row of the pruning table. */
export interface PruneStep {
  /** 0: the input net; "scratch": the final arch trained from zero. */
  step: number | "scratch";
  filters: Record<string, number>;
  /** Filters removed so far, as a fraction of the input net's prunable filters. */
  removed: number;
  params: number;
  flops: number;
  /** Validation cls accuracy right after the surgery, before fine-tuning. */
  clsAccPruned?: number;
  /** Validation cls accuracy (after fine-tuning). */
  clsAcc: number;
  clsLoss: number;
}

/** Options of {@linkcode prune}. */
export interface PruneOptions {
  trainData: string[];
  valData: string[];
  /** Folder for the step runs, pruned model and table. */
  out: string;
  /** Filters removed per step (default by net name: pnet 5, rnet 20, onet 36). */
  k?: number;
  /** Stop once this fraction of the prunable filters is removed (default 0.5). */
  target?: number;
  /** Stop when validation cls acc falls below this (default 0: never). */
  floor?: number;
  /** At most this many steps (default unlimited). */
  maxSteps?: number;
  /** Fine-tuning epochs per step (default 2) and learning rate (default 1e-4). */
  epochs?: number;
  lr?: number;
  batchSize?: number;
  /** Samples per fine-tuning epoch (default: as many as the scarcest label allows). */
  epochSize?: number;
  /** Fine-tune (and train from scratch) with knowledge distillation from this teacher. */
  distill?: { teacher: string; temperature?: number; alpha?: number };
  /** Validation batches used for the Taylor ranking (default all). */
  rankBatches?: number;
  seed?: number;
  /** Re-initialise the final pruned arch and train it from zero for this many epochs. */
  fromScratch?: { epochs: number; lr: number };
  onStep?: (s: PruneStep) => void;
}

/** What {@linkcode prune} returns. */
export interface PruneResult {
  net: NetData;
  steps: PruneStep[];
  stopped: "target" | "floor" | "maxSteps" | "nothing left";
  files: { model: string; markdown: string; json: string };
}

function netName(arch: NetArch): NetName {
  const n = arch.name;
  if (n === "pnet" || n === "rnet" || n === "onet") return n;
  throw new RangeError(`prune: net "${n}" is not pnet, rnet or onet`);
}

/** Validation metrics of `data` over `batches` (no OHEM), on the current backend. */
export async function validate(
  data: NetData,
  batches: AsyncIterable<Batch>,
  loss: LossConfig,
): Promise<{ clsAcc: number; clsLoss: number }> {
  const g = new TrainGraph(data.arch);
  const acc = new MetricsAccumulator(loss, data.arch.layers.some((l) => l.kind === "landmarks"));
  try {
    g.setParams(packParams(data.arch, data.params));
    for await (const b of batches) acc.add(g.forward(b.pixels, b.count, false), b);
  } finally {
    g.dispose();
  }
  const m = acc.result();
  return { clsAcc: m.clsAcc, clsLoss: m.clsLoss };
}

async function* take(it: AsyncIterable<Batch>, n: number): AsyncGenerator<Batch> {
  if (n <= 0) return;
  let i = 0;
  for await (const b of it) {
    yield b;
    if (++i >= n) return;
  }
}

/**
 * Prunes `input` iteratively (see the module comment); needs an initialised
 * training backend (`initTrainingBackend`). Writes `<out>/pruned_<net>.mtcnn`,
 * `<out>/prune_<net>.md` and `<out>/prune_<net>.json`; step runs go to
 * `<out>/steps/<i>/`.
 */
export async function prune(input: NetData, opts: PruneOptions): Promise<PruneResult> {
  const net = netName(input.arch);
  const k = opts.k ?? DEFAULT_PRUNE_K[net];
  const target = opts.target ?? 0.5;
  const floor = opts.floor ?? 0;
  const epochs = opts.epochs ?? 2;
  const lr = opts.lr ?? 1e-4;
  const batchSize = opts.batchSize ?? 256;
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`prune: k must be >= 1, got ${k}`);
  if (!(target > 0 && target < 1)) {
    throw new RangeError(`prune: target must be in (0, 1), got ${target}`);
  }
  const grouped = input.arch.layers.find((l) => l.kind === "gconv");
  if (grouped) {
    throw new RangeError(
      `prune(${input.arch.name}): layer ${
        (grouped as { name: string }).name
      } (gconv) cannot be pruned yet`,
    );
  }
  const loss = resolveLossConfig(net, {});
  const val = () => readBatches(opts.valData, { batchSize, seed: 0, shuffle: false });
  const total0 = prunableConvs(input.arch).reduce((a, p) => a + p.filters, 0);
  const row = (
    step: PruneStep["step"],
    d: NetData,
    m: { clsAcc: number; clsLoss: number },
    pruned?: number,
  ): PruneStep => {
    const filters = filterCounts(d.arch);
    const left = Object.values(filters).reduce((a, b) => a + b, 0);
    const s: PruneStep = {
      step,
      filters,
      removed: 1 - left / total0,
      params: paramCount(d.arch),
      flops: archFlops(d.arch),
      ...(pruned !== undefined ? { clsAccPruned: pruned } : {}),
      clsAcc: m.clsAcc,
      clsLoss: m.clsLoss,
    };
    opts.onStep?.(s);
    return s;
  };
  const fineTune = async (
    d: NetData,
    dir: string,
    init: boolean,
    ep: number,
    rate: number,
  ): Promise<NetData> => {
    await Deno.mkdir(dir, { recursive: true });
    let initPath: string | null = null;
    if (init) {
      initPath = `${dir}/init_${net}.mtcnn`;
      await writeFileAtomic(initPath, encodeWeights(d));
    }
    const cfg = resolveTrainConfig({
      net,
      arch: d.arch,
      trainData: opts.trainData,
      valData: opts.valData,
      epochs: ep,
      lr: rate,
      lrSteps: [],
      batchSize,
      epochSize: opts.epochSize ?? null,
      seed,
      init: initPath,
      distill: opts.distill ?? null,
    });
    const r = await train(cfg, { out: dir, overwrite: true, plot: false });
    return await loadNetData(r.files.best);
  };

  let cur = input;
  const steps: PruneStep[] = [row(0, cur, await validate(cur, val(), loss))];
  let stopped: PruneResult["stopped"] = "maxSteps";
  for (let i = 1;; i++) {
    if (opts.maxSteps !== undefined && i > opts.maxSteps) break;
    const left = Object.values(filterCounts(cur.arch)).reduce((a, b) => a + b, 0);
    const removedNow = total0 - left;
    const want = Math.ceil(target * total0 - 1e-9);
    if (removedNow >= want) {
      stopped = "target";
      break;
    }
    const scores = await taylorScores(
      cur,
      opts.rankBatches ? take(val(), opts.rankBatches) : val(),
      loss,
    );
    const pick = selectLowest(scores, Math.min(k, want - removedNow));
    if (Object.keys(pick).length === 0) {
      stopped = "nothing left";
      break;
    }
    let next = cur;
    for (const [conv, idx] of Object.entries(pick)) next = removeFilters(next, conv, idx);
    const before = await validate(next, val(), loss);
    next = await fineTune(next, `${opts.out}/steps/${i}`, true, epochs, lr);
    const m = await validate(next, val(), loss);
    const s = row(i, next, m, before.clsAcc);
    if (!(m.clsAcc >= floor)) {
      steps.push(s);
      stopped = "floor";
      break;
    }
    steps.push(s);
    cur = next;
  }
  if (opts.fromScratch) {
    const fresh = randomNetData(cur.arch, seed);
    const d = await fineTune(
      fresh,
      `${opts.out}/steps/scratch`,
      false,
      opts.fromScratch.epochs,
      opts.fromScratch.lr,
    );
    steps.push(row("scratch", d, await validate(d, val(), loss)));
    cur = d;
  }
  const final: NetData = {
    arch: cur.arch,
    params: cur.params,
    meta: {
      provenance: {
        source: `Taylor-pruned ${net} (deno task prune), ${
          Object.values(filterCounts(cur.arch)).join("/")
        } filters`,
        // the input's licence travels with the pruned weights (e.g. the original MTCNN's MIT note)
        ...(input.meta.provenance?.license ? { license: input.meta.provenance.license } : {}),
        ...(input.meta.provenance?.licenseNote
          ? { licenseNote: input.meta.provenance.licenseNote }
          : {}),
        notes: [
          `from ${input.meta.provenance?.source ?? "unknown"}`,
          ...(opts.fromScratch ? ["pruned arch re-initialised and trained from zero"] : []),
          ...(opts.distill ? [`fine-tuned with distillation from "${opts.distill.teacher}"`] : []),
        ],
      },
      metrics: { prune: steps } as unknown as Record<string, unknown>,
    },
  } as NetData;
  const files = {
    model: `${opts.out}/pruned_${net}.mtcnn`,
    markdown: `${opts.out}/prune_${net}.md`,
    json: `${opts.out}/prune_${net}.json`,
  };
  await Deno.mkdir(opts.out, { recursive: true });
  await writeFileAtomic(files.model, encodeWeights(final));
  const { writeJsonAtomic, writeTextFileAtomic } = await import("../io/mod.ts");
  await writeTextFileAtomic(files.markdown, pruneTableMarkdown(steps) + "\n");
  await writeJsonAtomic(files.json, {
    net,
    k,
    target,
    floor,
    epochs,
    lr,
    epochSize: opts.epochSize ?? null,
    distill: opts.distill ?? null,
    stopped,
    steps,
  });
  return { net: final, steps, stopped, files };
}

/**
 * The steps as a Markdown table: step, filters per layer, parameters, FLOPs,
 * cls acc after the cut and after fine-tuning.
 */
export function pruneTableMarkdown(steps: PruneStep[]): string {
  const pct = (x: number | undefined) => (x === undefined ? "" : (100 * x).toFixed(2) + "%");
  const lines = [
    "| step | filters | removed | params | FLOPs | cls acc (cut) | cls acc |",
    "| ---: | :--- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const s of steps) {
    lines.push(
      `| ${s.step} | ${Object.values(s.filters).join("/")} | ${
        pct(s.removed)
      } | ${s.params} | ${s.flops} | ${pct(s.clsAccPruned)} | ${pct(s.clsAcc)} |`,
    );
  }
  return lines.join("\n");
}
